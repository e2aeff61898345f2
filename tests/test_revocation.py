"""Who a token belongs to is read on every request, in the request's own session: a
revoked token, a disabled user or a new role through one replica applies to the very next
request on the other. Two apps on one database stand for two replicas (on PostgreSQL, the
deployment with replicas); each has its own engines and pools."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from app.clock import FakeClock
from app.config import Settings
from app.main import create_app
from app.services import Services, build_services
from tests.conftest import PASSWORD, World

PROVIDERS = "/api/v1/providers"
VISIT = {"visited_on": "2026-11-18", "kind": "virtual", "purpose": "p", "outcome": "good"}


@pytest.fixture
async def other(settings: Settings, clock: FakeClock) -> AsyncIterator[httpx.AsyncClient]:
    """A second replica: another app, with services of its own, on the same database."""
    services = build_services(settings, clock=clock)
    transport = httpx.ASGITransport(app=create_app(settings, services))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client
    await services.database.dispose()


async def _both_serve(world: World, other: httpx.AsyncClient, headers: dict[str, str]) -> None:
    for replica in (world.client, other):
        assert (await replica.get(PROVIDERS, headers=headers)).status_code == 200


async def test_a_revoked_personal_token_fails_at_once_on_every_replica(
    world: World, other: httpx.AsyncClient
) -> None:
    issued = await world.client.post(
        "/api/v1/auth/tokens",
        json={"name": "reporting", "scope": "read", "expires_in_days": 30},
        headers=world.headers["manager"],
    )
    assert issued.status_code == 201, issued.text
    headers = {"Authorization": f"Bearer {issued.json()['token']}"}
    await _both_serve(world, other, headers)

    revoked = await world.client.delete(
        f"/api/v1/auth/tokens/{issued.json()['id']}", headers=world.headers["manager"]
    )
    assert revoked.status_code == 204
    for replica in (other, world.client):
        refused = await replica.get(PROVIDERS, headers=headers)
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"] == "Bearer"


async def test_a_disabled_user_is_refused_at_once_on_every_replica(
    world: World, other: httpx.AsyncClient
) -> None:
    officer = world.users["officer"]
    headers = world.headers["officer"]
    await _both_serve(world, other, headers)

    disabled = await other.patch(
        f"/api/v1/users/{officer.id}", json={"active": False}, headers=world.headers["admin"]
    )
    assert disabled.status_code == 200
    for replica in (world.client, other):
        assert (await replica.get(PROVIDERS, headers=headers)).status_code == 401
    signed_in = await world.client.post(
        "/api/v1/auth/token", data={"username": officer.email, "password": PASSWORD}
    )
    assert signed_in.status_code == 401


async def test_a_new_role_applies_at_once_on_every_replica(
    world: World, other: httpx.AsyncClient
) -> None:
    officer = world.users["officer"]
    headers = world.headers["officer"]
    provider = await world.provider()
    path = f"{PROVIDERS}/{provider['id']}/visits"
    assert (await other.post(path, json=VISIT, headers=headers)).status_code == 201

    changed = await world.client.patch(
        f"/api/v1/users/{officer.id}", json={"role": "viewer"}, headers=world.headers["admin"]
    )
    assert changed.status_code == 200
    for replica in (other, world.client):
        assert (await replica.post(path, json=VISIT, headers=headers)).status_code == 403
        assert (await replica.get(path, headers=headers)).status_code == 200


async def test_a_web_session_ended_on_one_replica_is_gone_on_the_other(
    world: World, other: httpx.AsyncClient, settings: Settings, services: Services
) -> None:
    from tests.web.conftest import csrf_of, sign_in

    transport = httpx.ASGITransport(app=create_app(settings, services))  # the first replica
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as browser:
        assert (await sign_in(browser, world.users["officer"].email)).status_code == 303
        cookie = browser.cookies["carewatch_session"]
        other.cookies.set("carewatch_session", cookie)
        assert (await other.get("/")).status_code == 200

        home = await browser.get("/")
        out = await browser.post("/logout", data={"csrf_token": csrf_of(home.text)})
        assert out.status_code == 303
    page = await other.get("/")
    assert page.status_code == 303 and page.headers["location"].startswith("/login")
