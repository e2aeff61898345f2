"""Tokens, roles and users through the API."""

from __future__ import annotations

from datetime import timedelta

from app.clock import FakeClock
from tests.conftest import PASSWORD, World


async def _token(world: World, email: str, password: str = PASSWORD) -> tuple[int, dict[str, str]]:
    response = await world.client.post(
        "/api/v1/auth/token", data={"username": email, "password": password}
    )
    if response.status_code != 200:
        return response.status_code, {}
    return 200, {"Authorization": f"Bearer {response.json()['access_token']}"}


async def test_every_endpoint_but_health_and_token_needs_a_token(world: World) -> None:
    assert (await world.client.get("/api/v1/providers")).status_code == 401
    assert (
        await world.client.get("/api/v1/providers", headers={"Authorization": "Bearer nonsense"})
    ).status_code == 401
    assert (await world.client.get("/healthz")).status_code == 200


async def test_wrong_credentials_get_one_generic_answer(world: World) -> None:
    wrong_password = await world.client.post(
        "/api/v1/auth/token", data={"username": "officer@council.gov.uk", "password": "nope"}
    )
    unknown_user = await world.client.post(
        "/api/v1/auth/token", data={"username": "nobody@council.gov.uk", "password": "nope"}
    )
    assert wrong_password.status_code == unknown_user.status_code == 401
    assert wrong_password.json() == unknown_user.json()


async def test_tokens_expire(world: World, clock: FakeClock) -> None:
    status, headers = await _token(world, "viewer@council.gov.uk")
    assert status == 200
    assert (await world.client.get("/api/v1/providers", headers=headers)).status_code == 200
    clock.advance(timedelta(hours=9))
    assert (await world.client.get("/api/v1/providers", headers=headers)).status_code == 401


async def test_roles_limit_writes_and_user_management(world: World) -> None:
    provider = await world.provider()
    visit = {"visited_on": "2026-11-18", "kind": "virtual", "purpose": "p", "outcome": "good"}
    assert (
        await world.post(f"/providers/{provider['id']}/visits", visit, role="viewer")
    ).status_code == 403
    assert (
        await world.post(f"/providers/{provider['id']}/visits", visit, role="safeguarding")
    ).status_code == 403
    for role in ("officer", "manager", "admin"):
        assert (
            await world.post(f"/providers/{provider['id']}/visits", visit, role=role)
        ).status_code == 201
    new_user = {
        "email": "new.officer@council.gov.uk",
        "name": "New Officer",
        "role": "officer",
        "password": "a sufficiently long password",
    }
    assert (await world.post("/users", new_user, role="manager")).status_code == 403
    created = await world.post("/users", new_user, role="admin")
    assert created.status_code == 201, created.text
    assert "password" not in created.text
    duplicate = await world.post("/users", new_user, role="admin")
    assert duplicate.status_code == 409
    assert duplicate.json()["errors"][0]["field"] == "email"
    status, _ = await _token(world, "new.officer@council.gov.uk", "a sufficiently long password")
    assert status == 200


async def test_disabling_a_user_revokes_their_tokens_at_once(world: World) -> None:
    officer = world.users["officer"]
    status, headers = await _token(world, officer.email)
    assert status == 200
    response = await world.patch(f"/users/{officer.id}", {"active": False}, role="admin")
    assert response.status_code == 200
    assert (await world.client.get("/api/v1/providers", headers=headers)).status_code == 401
    assert (
        await world.client.get("/api/v1/providers", headers=world.headers["officer"])
    ).status_code == 401
    status, _ = await _token(world, officer.email)
    assert status == 401


async def test_changing_your_password(world: World) -> None:
    status, headers = await _token(world, "manager@council.gov.uk")
    response = await world.client.post(
        "/api/v1/auth/password",
        headers=headers,
        json={"current_password": PASSWORD, "new_password": "an entirely new passphrase"},
    )
    assert response.status_code == 204
    assert (await world.client.get("/api/v1/auth/me", headers=headers)).status_code == 401
    assert (await _token(world, "manager@council.gov.uk"))[0] == 401
    assert (await _token(world, "manager@council.gov.uk", "an entirely new passphrase"))[0] == 200


async def test_every_event_records_who_acted(world: World) -> None:
    provider = await world.provider()
    events = (await world.get("/events", provider_id=provider["id"])).json()["items"]
    assert events and all(e["actor"] == f"user:{world.users['officer'].id}" for e in events)
