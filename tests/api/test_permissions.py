"""Every route x every role (and no credentials) against one explicit table. The test walks
the app's own route list: a new route without a rule here fails the suite."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.routing import BaseRoute

from app.auth.permissions import ROLE_PERMISSIONS, Permission
from app.models.base import Role
from tests.conftest import World
from tests.web.test_permissions import WEB_RULES

P = Permission
PUBLIC = "public"
LOGGED_IN = "logged_in"  # any valid token, whatever its role
RECORD_WRITERS = {
    "visits": P.write_records,
    "safeguardings": P.write_safeguardings,
    "complaints": P.write_records,
    "compliments": P.write_records,
    "financial-assurances": P.write_records,
    "concerns": P.write_safeguardings,
}
RULES: dict[tuple[str, str], Permission | str] = {
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/readyz"): PUBLIC,
    ("POST", "/api/v1/auth/token"): PUBLIC,
    ("GET", "/api/v1/auth/me"): LOGGED_IN,
    ("POST", "/api/v1/auth/password"): LOGGED_IN,
    ("POST", "/api/v1/auth/tokens"): LOGGED_IN,
    ("GET", "/api/v1/auth/tokens"): LOGGED_IN,
    ("DELETE", "/api/v1/auth/tokens/{token_id}"): LOGGED_IN,
    ("POST", "/api/v1/users"): P.manage_users,
    ("GET", "/api/v1/users"): P.manage_users,
    ("PATCH", "/api/v1/users/{user_id}"): P.manage_users,
    ("GET", "/api/v1/audit"): P.manage_users,
    ("POST", "/api/v1/providers"): P.manage_providers,
    ("GET", "/api/v1/providers"): P.read,
    ("GET", "/api/v1/providers/{provider_id}"): P.read,
    ("PATCH", "/api/v1/providers/{provider_id}"): P.manage_providers,
    ("POST", "/api/v1/providers/{provider_id}/locations"): P.manage_providers,
    ("GET", "/api/v1/providers/{provider_id}/locations"): P.read,
    ("DELETE", "/api/v1/providers/{provider_id}/locations/{location_id}"): P.manage_providers,
    ("POST", "/api/v1/providers/{provider_id}/ratings"): P.write_records,
    ("GET", "/api/v1/providers/{provider_id}/ratings"): P.read,
    **{
        ("POST", f"/api/v1/providers/{{provider_id}}/{kind}"): P.write_records
        for kind in ("visits", "complaints", "compliments", "financial-assurances")
    },
    ("POST", "/api/v1/providers/{provider_id}/safeguardings"): P.write_safeguardings,
    ("POST", "/api/v1/providers/{provider_id}/concerns"): P.write_safeguardings,
    **{
        ("GET", f"/api/v1/providers/{{provider_id}}/{kind}"): P.read
        for kind in (
            "visits",
            "complaints",
            "compliments",
            "financial-assurances",
            "safeguardings",
            "concerns",
        )
    },
    # Each record by id: read it and its changes; update or mark it entered in error with
    # the permission that records it.
    **{
        rule: permission
        for kind, writer in RECORD_WRITERS.items()
        for rule, permission in {
            ("GET", f"/api/v1/{kind}/{{record_id}}"): P.read,
            ("GET", f"/api/v1/{kind}/{{record_id}}/changes"): P.read,
            ("PATCH", f"/api/v1/{kind}/{{record_id}}"): writer,
            ("POST", f"/api/v1/{kind}/{{record_id}}/entered-in-error"): writer,
        }.items()
    },
    ("GET", "/api/v1/providers/{provider_id}/visit-actions"): P.read,
    ("POST", "/api/v1/visits/{visit_id}/actions"): P.write_records,
    ("PATCH", "/api/v1/visit-actions/{action_id}"): P.write_records,
    ("GET", "/api/v1/providers/{provider_id}/monitoring"): P.read,
    ("POST", "/api/v1/providers/{provider_id}/monitoring/de-escalate"): P.manage_monitoring,
    ("POST", "/api/v1/providers/{provider_id}/monitoring/placements"): P.manage_monitoring,
    ("GET", "/api/v1/providers/{provider_id}/improvement-plan"): P.read,
    ("GET", "/api/v1/providers/{provider_id}/improvement-plans"): P.read,
    ("POST", "/api/v1/providers/{provider_id}/improvement-plan/close"): P.manage_monitoring,
    ("POST", "/api/v1/providers/{provider_id}/improvement-plan/agree"): P.write_records,
    ("POST", "/api/v1/providers/{provider_id}/improvement-plan/actions"): P.write_records,
    ("PATCH", "/api/v1/improvement-actions/{action_id}"): P.write_records,
    ("GET", "/api/v1/providers/{provider_id}/timeline"): P.read,
    ("GET", "/api/v1/events"): P.read,
    ("GET", "/api/v1/deliveries"): P.read,
    ("POST", "/api/v1/deliveries/{delivery_id}/retry"): P.manage_monitoring,
    ("GET", "/api/v1/dashboard"): P.read,
    ("POST", "/api/v1/cqc/sync"): P.manage_monitoring,
    ("GET", "/api/v1/cqc/status"): P.read,
    ("GET", "/api/v1/localities"): P.read,
    ("POST", "/api/v1/localities"): P.manage_monitoring,
    ("GET", "/api/v1/localities/{locality_id}"): P.read,
    ("PATCH", "/api/v1/localities/{locality_id}"): P.manage_monitoring,
    ("POST", "/api/v1/localities/{locality_id}/lead"): P.manage_monitoring,
    ("POST", "/api/v1/localities/{locality_id}/waiting"): P.write_records,
    ("GET", "/api/v1/localities/{locality_id}/waiting"): P.read,
    ("POST", "/api/v1/providers/{provider_id}/capacity"): P.write_records,
    ("GET", "/api/v1/providers/{provider_id}/capacity"): P.read,
    ("POST", "/api/v1/providers/{provider_id}/kpis"): P.write_records,
    ("GET", "/api/v1/providers/{provider_id}/kpis"): P.read,
    ("GET", "/api/v1/exports/providers.csv"): P.read,
    ("GET", "/api/v1/exports/providers.xlsx"): P.read,
}
# Framework pages and the metrics endpoint (its own token rule: tests/test_metrics.py).
# Notify's delivery receipts have their own bearer token (tests/alerting/channels).
NOT_API = {
    "/docs",
    "/docs/oauth2-redirect",
    "/redoc",
    "/openapi.json",
    "/metrics",
    "/api/v1/notify/callbacks",
    # The council directory's, with its own bearer token (tests/api/test_scim.py).
    "/scim/v2/ServiceProviderConfig",
    "/scim/v2/Users",
    "/scim/v2/Users/{user_id}",
}


def served_routes(routes: list[Any], prefix: str = "") -> set[tuple[str, str]]:
    """(method, path) of every route the app serves. FastAPI 0.165 keeps included routers
    nested, so descend into them; static mounts are files, not routes."""
    found: set[tuple[str, str]] = set()
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            found |= served_routes(included.routes, prefix + route.include_context.prefix)
        elif isinstance(route, BaseRoute) and hasattr(route, "methods"):
            for method in route.methods or ():
                if method != "HEAD":
                    found.add((method, prefix + route.path))
    return found


def test_every_route_and_page_has_a_rule(world: World) -> None:
    app = world.client._transport.app
    routes = {(m, p) for m, p in served_routes(app.routes) if p not in NOT_API}
    assert len(routes) > 60
    rules = set(RULES) | set(WEB_RULES)
    assert routes - rules == set(), "routes without a permission rule"
    assert rules - routes == set(), "rules for routes that do not exist"


@pytest.mark.parametrize(
    ("method", "path"), sorted(RULES), ids=[f"{m} {p}" for m, p in sorted(RULES)]
)
async def test_each_role_gets_what_the_table_says(world: World, method: str, path: str) -> None:
    rule = RULES[(method, path)]
    url = path.replace("{", "").replace("}", "")
    for name in (
        "provider_id",
        "record_id",
        "visit_id",
        "action_id",
        "user_id",
        "token_id",
        "delivery_id",
        "location_id",
        "locality_id",
    ):
        url = url.replace(name, "999999")
    for role in [None, *Role]:
        headers = {} if role is None else world.headers[role.value]
        response = await world.client.request(method, url, headers=headers, json={})
        if rule == PUBLIC:
            assert response.status_code not in (401, 403), (role, response.text)
        elif role is None:
            assert response.status_code == 401, (method, path, response.status_code)
        elif rule == LOGGED_IN or rule in ROLE_PERMISSIONS[role]:
            assert response.status_code not in (401, 403), (role, method, path, response.text)
        else:
            assert response.status_code == 403, (role, method, path, response.status_code)
