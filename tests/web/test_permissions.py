"""Every web page x every role (and no session) against one explicit table, as the API's
table does for its routes; tests/api/test_permissions.py checks that together the two
tables cover every route the app serves."""

from __future__ import annotations

import pytest

from app.auth.permissions import ROLE_PERMISSIONS, Permission
from app.models.base import Role
from tests.conftest import World
from tests.web.conftest import SignIn, csrf_of

P = Permission
PUBLIC = "public"
SIGNED_IN = "signed_in"
WEB_RULES: dict[tuple[str, str], Permission | str] = {
    ("GET", "/login"): PUBLIC,
    ("POST", "/login"): PUBLIC,
    ("GET", "/login/oidc"): PUBLIC,
    ("GET", "/login/oidc/callback"): PUBLIC,
    ("POST", "/logout"): SIGNED_IN,
    ("GET", "/"): P.read,
    ("POST", "/"): P.manage_monitoring,  # fetch England's CQC figures now
    ("GET", "/alerts"): P.read,
    ("GET", "/export/providers.csv"): P.read,
    ("GET", "/export/providers.xlsx"): P.read,
    ("GET", "/reports"): P.manage_monitoring,
    ("GET", "/reports/quarterly"): P.manage_monitoring,
    ("GET", "/import"): P.manage_users,
    ("GET", "/import/template.xlsx"): P.manage_users,
    ("POST", "/import"): P.manage_users,
    ("POST", "/import/confirm"): P.manage_users,
    ("POST", "/alerts/{delivery_id:int}/retry"): P.manage_monitoring,
    ("GET", "/providers/{provider_id:int}"): P.read,
    ("GET", "/providers/{provider_id:int}/record/visit"): P.write_records,
    ("POST", "/providers/{provider_id:int}/record/visit"): P.write_records,
    ("GET", "/providers/{provider_id:int}/record/safeguarding"): P.write_safeguardings,
    ("POST", "/providers/{provider_id:int}/record/safeguarding"): P.write_safeguardings,
    ("GET", "/providers/{provider_id:int}/record/complaint"): P.write_records,
    ("POST", "/providers/{provider_id:int}/record/complaint"): P.write_records,
    ("GET", "/providers/{provider_id:int}/record/compliment"): P.write_records,
    ("POST", "/providers/{provider_id:int}/record/compliment"): P.write_records,
    ("GET", "/providers/{provider_id:int}/record/financial"): P.write_records,
    ("POST", "/providers/{provider_id:int}/record/financial"): P.write_records,
    ("GET", "/providers/{provider_id:int}/record/concern"): P.write_safeguardings,
    ("POST", "/providers/{provider_id:int}/record/concern"): P.write_safeguardings,
    ("GET", "/providers/{provider_id:int}/plan/actions/new"): P.write_records,
    ("POST", "/providers/{provider_id:int}/plan/actions/new"): P.write_records,
    ("POST", "/providers/{provider_id:int}/plan/actions/{action_id:int}"): P.write_records,
    ("GET", "/providers/{provider_id:int}/plan/agree"): P.write_records,
    ("POST", "/providers/{provider_id:int}/plan/agree"): P.write_records,
    ("GET", "/providers/{provider_id:int}/plan/close"): P.manage_monitoring,
    ("POST", "/providers/{provider_id:int}/plan/close"): P.manage_monitoring,
    ("GET", "/providers/{provider_id:int}/de-escalate"): P.manage_monitoring,
    ("POST", "/providers/{provider_id:int}/de-escalate"): P.manage_monitoring,
    ("GET", "/providers/{provider_id:int}/placements"): P.manage_monitoring,
    ("POST", "/providers/{provider_id:int}/placements"): P.manage_monitoring,
    # Each record's own page, and the forms on it, with the permission that records it.
    **{
        (method, f"/{kind}/{{record_id:int}}{form}"): (P.read if form == "" else writer)
        for kind, writer, forms in (
            ("visits", P.write_records, ("/correct", "/actions/new")),
            (
                "safeguardings",
                P.write_safeguardings,
                ("/enquiry", "/close", "/reopen", "/correct"),
            ),
            ("complaints", P.write_records, ("/close", "/reopen", "/correct")),
            ("compliments", P.write_records, ("/correct",)),
            ("financial-assurances", P.write_records, ("/correct",)),
            ("concerns", P.write_safeguardings, ("/resolve", "/reopen", "/correct")),
        )
        for form in ("", *forms, "/entered-in-error")
        for method in (("GET",) if form == "" else ("GET", "POST"))
    },
    ("GET", "/visit-actions/{record_id:int}"): P.write_records,
    ("POST", "/visit-actions/{record_id:int}"): P.write_records,
    ("GET", "/providers/new"): P.manage_providers,
    ("POST", "/providers/new"): P.manage_providers,
    ("GET", "/providers/{provider_id:int}/edit"): P.manage_providers,
    ("POST", "/providers/{provider_id:int}/edit"): P.manage_providers,
    ("GET", "/providers/{provider_id:int}/officer"): P.manage_providers,
    ("POST", "/providers/{provider_id:int}/officer"): P.manage_providers,
    ("GET", "/providers/{provider_id:int}/locations/new"): P.manage_providers,
    ("POST", "/providers/{provider_id:int}/locations/new"): P.manage_providers,
    ("GET", "/providers/{provider_id:int}/locations/{location_id:int}/remove"): (
        P.manage_providers
    ),
    ("POST", "/providers/{provider_id:int}/locations/{location_id:int}/remove"): (
        P.manage_providers
    ),
    ("GET", "/users"): P.manage_users,
    ("GET", "/users/new"): P.manage_users,
    ("POST", "/users/new"): P.manage_users,
    ("GET", "/users/{user_id:int}"): P.manage_users,
    ("POST", "/users/{user_id:int}"): P.manage_users,
    ("GET", "/my-work"): P.read,
    ("GET", "/providers/{provider_id:int}/record/capacity"): P.write_records,
    ("POST", "/providers/{provider_id:int}/record/capacity"): P.write_records,
    ("GET", "/providers/{provider_id:int}/record/kpis"): P.write_records,
    ("POST", "/providers/{provider_id:int}/record/kpis"): P.write_records,
    ("GET", "/localities"): P.read,
    ("GET", "/localities/new"): P.manage_monitoring,
    ("POST", "/localities/new"): P.manage_monitoring,
    ("GET", "/localities/{locality_id:int}"): P.read,
    ("GET", "/localities/{locality_id:int}/waiting"): P.write_records,
    ("POST", "/localities/{locality_id:int}/waiting"): P.write_records,
    ("GET", "/localities/{locality_id:int}/lead"): P.manage_monitoring,
    ("POST", "/localities/{locality_id:int}/lead"): P.manage_monitoring,
}


def concrete(path: str) -> str:
    for name in (
        "provider_id",
        "action_id",
        "delivery_id",
        "record_id",
        "location_id",
        "user_id",
        "locality_id",
    ):
        path = path.replace(f"{{{name}:int}}", "999999")
    return path


@pytest.mark.parametrize(
    ("method", "path"), sorted(WEB_RULES), ids=[f"{m} {p}" for m, p in sorted(WEB_RULES)]
)
async def test_each_role_gets_the_page_the_table_says(
    world: World, signed_in: SignIn, method: str, path: str
) -> None:
    rule = WEB_RULES[(method, path)]
    url = concrete(path)
    anonymous = await world.client.request(method, url, follow_redirects=False)
    if rule == PUBLIC:  # (a sign-in without its form's CSRF token is still refused: 403)
        assert anonymous.status_code not in (303, 401, 500), anonymous.text
        return
    assert anonymous.status_code == 303
    assert anonymous.headers["location"].startswith("/login?next=")
    for role in Role:
        browser = await signed_in(role.value)
        # A valid CSRF token, so that a refusal can only be the role's.
        token = csrf_of((await browser.get("/")).text)
        data = {"csrf_token": token} if method == "POST" else None
        response = await browser.request(method, url, data=data)
        allowed = rule == SIGNED_IN or rule in ROLE_PERMISSIONS[role]
        sent_to_login = response.headers.get("location", "").startswith("/login?next=")
        if allowed:
            assert response.status_code not in (401, 403, 500), (role, response.text[:300])
            assert not sent_to_login
        else:
            assert response.status_code == 403, (role, method, path, response.status_code)
