"""Tokens remembered for a few seconds per process: every revocation through this process
still takes effect on the next request, one through another process within the ttl.
(Sign-out, a bulk UPDATE of one token, is held by tests/web/test_pages.py.)"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from app.auth.principals import PrincipalCache
from app.auth.service import digest
from app.clock import FakeClock
from app.db import Database
from app.models import ApiToken
from app.services import Services
from tests.conftest import PASSWORD, World

PROVIDERS = "/api/v1/providers"


async def _fresh_token(world: World, email: str) -> dict[str, str]:
    response = await world.client.post(
        "/api/v1/auth/token", data={"username": email, "password": PASSWORD}
    )
    assert response.status_code == 200
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def _remembered(world: World, services: Services, headers: dict[str, str]) -> None:
    """Use the token once, so that the next request is answered from memory."""
    assert (await world.client.get(PROVIDERS, headers=headers)).status_code == 200
    token = headers["Authorization"].removeprefix("Bearer ")
    assert services.principals.get(digest(token), services.clock.now()) is not None


async def _remembered_login(world: World, services: Services, email: str) -> dict[str, str]:
    """A new login token, used once so that it is remembered."""
    headers = await _fresh_token(world, email)
    await _remembered(world, services, headers)
    return headers


async def test_a_remembered_token_disabled_through_this_process_is_refused_at_once(
    world: World, services: Services
) -> None:
    officer = world.users["officer"]
    headers = await _remembered_login(world, services, officer.email)
    response = await world.patch(f"/users/{officer.id}", {"active": False}, role="admin")
    assert response.status_code == 200
    assert (await world.client.get(PROVIDERS, headers=headers)).status_code == 401


async def test_a_remembered_users_new_role_applies_at_once(
    world: World, services: Services
) -> None:
    officer = world.users["officer"]
    headers = await _remembered_login(world, services, officer.email)
    provider = await world.provider()
    visit = {"visited_on": "2026-11-18", "kind": "virtual", "purpose": "p", "outcome": "good"}
    path = f"/api/v1/providers/{provider['id']}/visits"
    response = await world.patch(f"/users/{officer.id}", {"role": "viewer"}, role="admin")
    assert response.status_code == 200
    assert (await world.client.post(path, json=visit, headers=headers)).status_code == 403


async def test_a_remembered_personal_token_revoked_is_refused_at_once(
    world: World, services: Services
) -> None:
    issued = await world.client.post(
        "/api/v1/auth/tokens",
        json={"name": "reporting", "scope": "read", "expires_in_days": 30},
        headers=world.headers["manager"],
    )
    assert issued.status_code == 201, issued.text
    headers = {"Authorization": f"Bearer {issued.json()['token']}"}
    await _remembered(world, services, headers)
    revoked = await world.client.delete(
        f"/api/v1/auth/tokens/{issued.json()['id']}", headers=world.headers["manager"]
    )
    assert revoked.status_code == 204
    assert (await world.client.get(PROVIDERS, headers=headers)).status_code == 401


async def test_a_revocation_through_another_process_is_seen_within_the_ttl(
    world: World, services: Services, clock: FakeClock, database_url: str
) -> None:
    headers = await _remembered_login(world, services, "viewer@council.gov.uk")
    token = headers["Authorization"].removeprefix("Bearer ")
    other_worker = Database.from_url(database_url)
    try:
        async with other_worker.transaction() as session:
            await session.execute(
                update(ApiToken)
                .where(ApiToken.token_hash == digest(token))
                .values(revoked_at=clock.now())
            )
    finally:
        await other_worker.dispose()
    # This process has not heard of it: the remembered answer stands until the ttl ends.
    assert (await world.client.get(PROVIDERS, headers=headers)).status_code == 200
    clock.advance(services.principals.ttl)
    assert (await world.client.get(PROVIDERS, headers=headers)).status_code == 401


async def test_a_token_is_never_remembered_past_its_expiry(
    world: World, services: Services, clock: FakeClock
) -> None:
    headers = await _fresh_token(world, "viewer@council.gov.uk")
    clock.advance(timedelta(hours=8) - timedelta(seconds=1))  # 1 s before it expires
    await _remembered(world, services, headers)
    clock.advance(timedelta(seconds=1))
    assert (await world.client.get(PROVIDERS, headers=headers)).status_code == 401


def test_a_lookup_that_began_before_a_clear_is_not_stored() -> None:
    now = datetime(2026, 11, 23, 9, tzinfo=UTC)
    cache = PrincipalCache(timedelta(seconds=5))
    principal = object()
    began = cache.generation
    cache.clear()  # a revocation committed while the lookup was reading
    cache.put("digest", principal, now + timedelta(hours=1), now, began)
    assert cache.get("digest", now) is None
    cache.put("digest", principal, now + timedelta(hours=1), now, cache.generation)
    assert cache.get("digest", now) is principal
    assert cache.get("digest", now + timedelta(seconds=5)) is None


def test_a_zero_ttl_remembers_nothing() -> None:
    now = datetime(2026, 11, 23, 9, tzinfo=UTC)
    cache = PrincipalCache(timedelta(0))
    cache.put("digest", object(), now + timedelta(hours=1), now, cache.generation)
    assert len(cache) == 0


def test_the_memory_is_bounded() -> None:
    now = datetime(2026, 11, 23, 9, tzinfo=UTC)
    cache = PrincipalCache(timedelta(seconds=5), max_entries=3)
    for n in range(5):
        cache.put(f"d{n}", object(), now + timedelta(hours=1), now, cache.generation)
    assert len(cache) == 3
    assert cache.get("d0", now) is None and cache.get("d4", now) is not None
