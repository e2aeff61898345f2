"""Signing in with the council's account: a real OpenID Connect provider on loopback
(tests/fakes/oidc_provider.py) signs real ID tokens; carewatch's authlib client talks to
it over HTTP. Roles come from the token's claim, accounts are matched by issuer and
subject, every bad token is refused, and a leaver is out on their next request."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from app.clock import FakeClock
from app.config import Settings
from app.models import ApiToken, Event, User
from app.models.base import Role
from app.services import Services
from tests.conftest import UserMaker
from tests.fakes.oidc_provider import FAULTS, FakeOidcProvider, Person
from tests.web.conftest import SCIM_TOKEN, council_settings, sign_in, sign_in_with_council

MANAGER = Person(
    sub="7c1d2e3f-manager",
    email="asha.patel@council.gov.uk",
    name="Asha Patel",
    roles=["Carewatch.Manager"],
)
OFFICER = Person(
    sub="9a8b7c6d-officer",
    email="sam.okafor@council.gov.uk",
    name="Sam Okafor",
    roles=["Carewatch.Officer", "SomeOtherApp.Reader"],
)
SCIM = {"Authorization": f"Bearer {SCIM_TOKEN}", "Content-Type": "application/scim+json"}


@pytest.fixture
def settings(settings: Settings, oidc_provider: FakeOidcProvider) -> Settings:
    # Cookies over plain http in the ASGI client; the provider sends people back here.
    return council_settings(settings, oidc_provider, base_url="http://test")


@pytest.fixture
async def browser(client: httpx.AsyncClient) -> Any:
    """A second cookie jar on the same app, like one person's browser."""
    async with httpx.AsyncClient(transport=client._transport, base_url="http://test") as jar:
        yield jar


async def _user(services: Services, email: str) -> User | None:
    async with services.database.sessions() as session:
        return (await session.execute(select(User).where(User.email == email))).scalar_one_or_none()


async def _events(services: Services, type_: str) -> list[Event]:
    async with services.database.sessions() as session:
        rows = await session.execute(select(Event).where(Event.type == type_).order_by(Event.id))
        return list(rows.scalars())


async def test_the_login_page_offers_the_council_account_first(
    browser: httpx.AsyncClient,
) -> None:
    page = await browser.get("/login")
    assert page.status_code == 200
    text = page.text
    assert "Sign in with your council account" in text
    assert text.index("Sign in with your council account") < text.index('name="password"')


@pytest.mark.parametrize(("person", "role"), [(MANAGER, Role.manager), (OFFICER, Role.officer)])
async def test_a_first_sign_in_makes_the_account_with_the_role_from_the_claim(
    browser: httpx.AsyncClient,
    oidc_provider: FakeOidcProvider,
    services: Services,
    person: Person,
    role: Role,
) -> None:
    oidc_provider.person = person
    answer = await sign_in_with_council(browser, next_path="/alerts")
    assert answer.status_code == 303 and answer.headers["location"] == "/alerts"
    assert oidc_provider.pkce_checked == 1  # the code was redeemed with its verifier
    dashboard = await browser.get("/")
    assert dashboard.status_code == 200 and person.name in dashboard.text
    user = await _user(services, person.email)
    assert user is not None and user.role == role
    assert (user.identity_issuer, user.identity_subject) == (oidc_provider.issuer, person.sub)
    assert user.source == oidc_provider.issuer
    [created] = await _events(services, "user.created")
    assert created.actor == f"oidc:{oidc_provider.issuer}"
    [signed] = await _events(services, "user.signed_in")
    assert signed.data == {"user_id": user.id, "method": "oidc"}
    assert signed.actor == f"oidc:{oidc_provider.issuer}"
    # The state cookie was for this one round trip.
    assert "carewatch_oidc" not in browser.cookies


async def test_the_role_is_set_from_the_claim_on_every_sign_in(
    browser: httpx.AsyncClient, oidc_provider: FakeOidcProvider, services: Services
) -> None:
    oidc_provider.person = MANAGER
    await sign_in_with_council(browser)
    # Moved to another team in the directory, and their email changed too: the same
    # person (issuer and subject), a new role.
    oidc_provider.person = Person(
        sub=MANAGER.sub,
        email="asha.patel@newcouncil.gov.uk",
        name="Asha Patel",
        roles=["Carewatch.Viewer"],
    )
    async with httpx.AsyncClient(transport=browser._transport, base_url="http://test") as other:
        assert (await sign_in_with_council(other)).status_code == 303
    user = await _user(services, MANAGER.email)
    assert user is not None and user.role == Role.viewer
    [change] = await _events(services, "user.role_changed")
    assert change.data == {"user_id": user.id, "from": "manager", "to": "viewer"}
    assert change.actor == f"oidc:{oidc_provider.issuer}"
    # The first browser's session follows the new role at once.
    alerts = await browser.get("/alerts")
    assert "Viewer" in alerts.text


async def test_an_unknown_role_is_refused_with_whom_to_ask(
    browser: httpx.AsyncClient, oidc_provider: FakeOidcProvider, services: Services
) -> None:
    oidc_provider.person = Person(
        sub="no-role", email="new.starter@council.gov.uk", name="New Starter", roles=["Other"]
    )
    answer = await sign_in_with_council(browser)
    assert answer.status_code == 403
    assert "You do not have access to carewatch yet" in answer.text
    assert "the commissioning team&#39;s systems lead" in answer.text
    assert await _user(services, "new.starter@council.gov.uk") is None
    assert (await browser.get("/")).status_code == 303  # not signed in
    [failed] = await _events(services, "user.sign_in_failed")
    assert failed.data == {"method": "oidc", "reason": "no_role", "user_id": None}


WHY_REFUSED = {
    "wrong_audience": "id_token_invalid_claim:aud",
    "wrong_audience_naming_us_as_azp": "id_token_invalid_claim:aud",
    "wrong_issuer": "id_token_invalid_claim:iss",
    "expired": "id_token_expired_token:exp",
    "wrong_nonce": "id_token_invalid_claim:nonce",
    "bad_signature": "id_token_bad_signature",
    "no_id_token": "no_id_token",
}


@pytest.mark.parametrize("fault", FAULTS)
async def test_a_bad_id_token_is_refused(
    browser: httpx.AsyncClient,
    oidc_provider: FakeOidcProvider,
    services: Services,
    fault: str,
) -> None:
    oidc_provider.person = MANAGER
    oidc_provider.fault = fault
    answer = await sign_in_with_council(browser)
    assert answer.status_code == 400, answer.text
    assert "Signing in with your council account did not work" in answer.text
    assert "govuk-error-summary" in answer.text
    assert await _user(services, MANAGER.email) is None
    assert (await browser.get("/")).status_code == 303
    [failed] = await _events(services, "user.sign_in_failed")
    assert failed.data == {"method": "oidc", "reason": WHY_REFUSED[fault], "user_id": None}
    assert MANAGER.email not in str(failed.data)
    # The same person, with a good token, gets in: the refusal was the token's fault.
    oidc_provider.fault = None
    assert (await sign_in_with_council(browser)).status_code == 303


async def test_a_callback_without_its_sign_in_is_refused(
    browser: httpx.AsyncClient, oidc_provider: FakeOidcProvider, services: Services
) -> None:
    """A forged or replayed redirect (no state cookie of ours) never reaches the token
    endpoint."""
    oidc_provider.person = MANAGER
    start = await browser.get("/login/oidc")
    async with httpx.AsyncClient() as at_provider:
        back = await at_provider.get(start.headers["location"])
    browser.cookies.clear()
    answer = await browser.get(back.headers["location"])
    assert answer.status_code == 400
    assert oidc_provider.token_requests == 0
    assert await _user(services, MANAGER.email) is None


async def test_accounts_are_matched_by_subject_never_by_email_alone(
    browser: httpx.AsyncClient,
    oidc_provider: FakeOidcProvider,
    services: Services,
    make_user: UserMaker,
) -> None:
    local = await make_user(Role.admin, email=MANAGER.email)
    oidc_provider.person = MANAGER
    answer = await sign_in_with_council(browser)
    assert answer.status_code == 403
    assert "You already have a carewatch account" in answer.text
    async with services.database.sessions() as session:
        kept = await session.get(User, local.id)
    assert kept is not None and kept.identity_subject is None and kept.role == Role.admin
    assert (await browser.get("/")).status_code == 303


async def test_an_account_the_directory_made_is_linked_by_its_object_id(
    browser: httpx.AsyncClient,
    client: httpx.AsyncClient,
    oidc_provider: FakeOidcProvider,
    services: Services,
) -> None:
    made = await client.post(
        "/scim/v2/Users",
        headers=SCIM,
        json={
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "sam.okafor@council.gov.uk",
            "externalId": "00aa-object-id",
            "displayName": "Sam Okafor",
            "active": True,
        },
    )
    assert made.status_code == 201, made.text
    oidc_provider.person = Person(
        sub="pairwise-subject-for-carewatch",
        email="sam.okafor@council.gov.uk",
        name="Sam Okafor",
        roles=["Carewatch.Officer"],
        oid="00aa-object-id",
    )
    assert (await sign_in_with_council(browser)).status_code == 303
    user = await _user(services, "sam.okafor@council.gov.uk")
    assert user is not None and user.id == int(made.json()["id"])
    assert user.identity_subject == "pairwise-subject-for-carewatch"
    assert user.role == Role.officer


async def test_a_directory_deactivation_ends_a_live_session_on_its_next_request(
    browser: httpx.AsyncClient,
    client: httpx.AsyncClient,
    oidc_provider: FakeOidcProvider,
    services: Services,
) -> None:
    oidc_provider.person = OFFICER
    await sign_in_with_council(browser)
    assert (await browser.get("/")).status_code == 200
    found = await client.get(
        "/scim/v2/Users", headers=SCIM, params={"filter": f'userName eq "{OFFICER.email}"'}
    )
    [resource] = found.json()["Resources"]
    leaver = await client.patch(
        f"/scim/v2/Users/{resource['id']}",
        headers=SCIM,
        json={
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "Replace", "path": "active", "value": "False"}],
        },
    )
    assert leaver.status_code == 200 and leaver.json()["active"] is False
    next_page = await browser.get("/")
    assert next_page.status_code == 303 and next_page.headers["location"].startswith("/login")
    async with services.database.sessions() as session:
        tokens = (await session.execute(select(ApiToken))).scalars().all()
    assert tokens and all(token.revoked_at is not None for token in tokens)
    # Signing in again through the provider (which still knows them) is refused.
    again = await sign_in_with_council(browser)
    assert again.status_code == 403 and "switched off" in again.text
    updated = await _events(services, "user.updated")
    assert [event.actor for event in updated] == ["scim:directory"]


async def test_a_session_ends_when_it_passes_its_lifetime(
    browser: httpx.AsyncClient,
    oidc_provider: FakeOidcProvider,
    clock: FakeClock,
    settings: Settings,
) -> None:
    oidc_provider.person = MANAGER
    await sign_in_with_council(browser)
    clock.advance(timedelta(minutes=settings.token_ttl_minutes - 1))
    assert (await browser.get("/")).status_code == 200
    clock.advance(timedelta(minutes=2))
    assert (await browser.get("/")).status_code == 303


async def test_the_users_api_says_where_each_account_comes_from(
    browser: httpx.AsyncClient,
    client: httpx.AsyncClient,
    oidc_provider: FakeOidcProvider,
    make_user: UserMaker,
    headers_for: Any,
) -> None:
    admin = await make_user(Role.admin, email="break.glass@council.gov.uk")
    oidc_provider.person = OFFICER
    await sign_in_with_council(browser)
    listed = await client.get("/api/v1/users", headers=await headers_for(admin))
    sources = {user["email"]: user["source"] for user in listed.json()["items"]}
    assert sources == {"break.glass@council.gov.uk": "local", OFFICER.email: oidc_provider.issuer}
    # And the admin's page says the same, in words.
    async with httpx.AsyncClient(transport=client._transport, base_url="http://test") as page:
        assert (await sign_in(page, "break.glass@council.gov.uk")).status_code == 303
        listed_page = (await page.get("/users")).text
    admin_row = listed_page.split("break.glass@council.gov.uk")[1].split("</tr>")[0]
    officer_row = listed_page.split(OFFICER.email)[1].split("</tr>")[0]
    assert "A carewatch password" in admin_row
    assert f"The council&#39;s account ({oidc_provider.issuer})" in officer_row


async def test_password_sign_in_switched_off(
    settings: Settings,
    clock: FakeClock,
    oidc_provider: FakeOidcProvider,
    make_user: UserMaker,
    headers_for: Any,
) -> None:
    from app.main import create_app
    from app.services import build_services
    from tests.conftest import PASSWORD

    off = settings.model_copy(update={"password_login": False})
    services = build_services(off, clock=clock)
    app = create_app(off, services)
    user = await make_user(Role.officer, email="officer@council.gov.uk")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as http:
        page = await http.get("/login")
        assert "Sign in with your council account" in page.text
        assert 'name="password"' not in page.text
        posted = await http.post(
            "/login", data={"email": user.email, "password": PASSWORD, "csrf_token": "x"}
        )
        assert posted.status_code == 403
        assert "sign in with your council account" in posted.text.lower()
        token = await http.post(
            "/api/v1/auth/token", data={"username": user.email, "password": PASSWORD}
        )
        assert token.status_code == 403 and "council" in token.json()["detail"]
        # A personal token made before still works, and new ones can be made.
        headers = await headers_for(user)
        personal = await http.post(
            "/api/v1/auth/tokens", headers=headers, json={"name": "feed", "scope": "read"}
        )
        assert personal.status_code == 201
        machine = {"Authorization": f"Bearer {personal.json()['token']}"}
        assert (await http.get("/api/v1/auth/me", headers=machine)).status_code == 200
        # And people still sign in through the provider.
        oidc_provider.person = MANAGER
        assert (await sign_in_with_council(http)).status_code == 303
    await services.database.dispose()


async def test_password_sign_ins_are_events_too(
    browser: httpx.AsyncClient, services: Services, make_user: UserMaker
) -> None:
    from tests.conftest import PASSWORD
    from tests.web.conftest import sign_in

    user = await make_user(Role.officer, email="local.officer@council.gov.uk")
    assert (await sign_in(browser, user.email, "not the password")).status_code == 400
    assert (await sign_in(browser, user.email, PASSWORD)).status_code == 303
    [failed] = await _events(services, "user.sign_in_failed")
    assert failed.data == {"method": "password", "reason": "wrong_credentials", "user_id": None}
    [signed] = await _events(services, "user.signed_in")
    assert signed.data == {"user_id": user.id, "method": "password"}
    assert signed.actor == f"user:{user.id}"


def test_settings_refuse_a_multi_tenant_issuer_and_no_way_in() -> None:
    from pydantic import ValidationError

    base: dict[str, Any] = {"_env_file": None, "oidc_client_id": "x"}
    with pytest.raises(ValidationError, match="tenant"):
        Settings(**base, oidc_issuer="https://login.microsoftonline.com/common/v2.0")
    with pytest.raises(ValidationError, match="nobody could sign in"):
        Settings(_env_file=None, password_login=False)
    with pytest.raises(ValidationError, match="must be one of"):
        Settings(**base, oidc_issuer="https://idp.example", oidc_role_map={"A": "boss"})
    with pytest.raises(ValidationError, match="https"):
        Settings(**base, oidc_issuer="http://idp.example")
    tenant = "https://login.microsoftonline.com/0e3c5a44-1111-2222-3333-444455556666/v2.0"
    assert Settings(**base, oidc_issuer=tenant).oidc_issuer == tenant


async def test_a_provider_out_of_reach_is_a_page_saying_so(
    settings: Settings, clock: FakeClock
) -> None:
    """Discovery fails (nothing listens there): a 503 page, no 500, nothing stored."""
    import socket

    from app.main import create_app
    from app.services import build_services

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    away = settings.model_copy(update={"oidc_issuer": closed})
    services = build_services(away, clock=clock)
    app = create_app(away, services)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as http:
        answer = await http.get("/login/oidc")
        assert answer.status_code == 503
        assert "could not reach your council" in answer.text
    await services.database.dispose()
