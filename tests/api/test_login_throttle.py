"""Sign-in throttling: failures are limited per account, per account and address, and per
address; a correct password never counts, so an office behind one address all gets in."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import httpx
import pytest
from fastapi import FastAPI

from app.auth.throttle import LoginThrottle, SignInLocked
from app.config import Settings
from app.main import create_app
from app.models.base import Role
from app.services import Services
from tests.conftest import PASSWORD, UserMaker

OFFICE = "203.0.113.7"  # one NAT address for a whole office
Client = Callable[[str], AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
def app(settings: Settings, services: Services) -> FastAPI:
    return create_app(settings, services)


@pytest.fixture
def from_address(app: FastAPI) -> Client:
    """from_address("198.51.100.1") → a client whose requests come from that address."""

    @asynccontextmanager
    async def make(address: str) -> AsyncIterator[httpx.AsyncClient]:
        transport = httpx.ASGITransport(app=app, client=(address, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client

    return make


async def _token(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await client.post("/api/v1/auth/token", data={"username": email, "password": password})


async def test_sixty_officers_behind_one_address_all_sign_in(
    make_user: UserMaker, from_address: Client
) -> None:
    officers = [
        await make_user(Role.officer, email=f"officer{n}@council.gov.uk") for n in range(60)
    ]
    async with from_address(OFFICE) as office:
        for officer in officers:
            response = await _token(office, officer.email, PASSWORD)
            assert response.status_code == 200, (officer.email, response.text)
        # The morning's sign-ins left the office's allowance for mistakes untouched.
        typo = await _token(office, officers[0].email, "a mistyped password")
        assert typo.status_code == 401


async def test_eleven_wrong_passwords_lock_that_account_alone(
    make_user: UserMaker, from_address: Client
) -> None:
    target = await make_user(Role.officer, email="target@council.gov.uk")
    colleague = await make_user(Role.officer, email="colleague@council.gov.uk")
    async with from_address(OFFICE) as office:
        statuses = [
            (await _token(office, target.email, f"guess {n}")).status_code for n in range(11)
        ]
        # Five failures from one address lock the account there (the default per account
        # and address); the tries after that are refused unchecked.
        assert statuses == [401] * 5 + [429] * 6
        refused = await _token(office, target.email, PASSWORD)
        assert refused.status_code == 429  # the right password too: the guesser learns nothing
        wait = int(refused.headers["retry-after"])
        assert 0 < wait <= 15 * 60
        assert re.search(r"Wait (1 minute|\d+ minutes), then try again", refused.json()["detail"])
        assert "for this account" in refused.json()["detail"]
        # The same office, another account: still gets in.
        assert (await _token(office, colleague.email, PASSWORD)).status_code == 200


async def test_failures_from_many_addresses_lock_the_account_everywhere(
    make_user: UserMaker, from_address: Client
) -> None:
    target = await make_user(Role.officer, email="target@council.gov.uk")
    colleague = await make_user(Role.officer, email="colleague@council.gov.uk")
    for n in range(11):
        async with from_address(f"198.51.100.{n + 1}") as guesser:
            response = await _token(guesser, target.email, f"guess {n}")
            assert response.status_code == (401 if n < 10 else 429), n
    async with from_address(OFFICE) as office:
        locked = await _token(office, target.email, PASSWORD)
        assert locked.status_code == 429 and "retry-after" in locked.headers
        assert (await _token(office, colleague.email, PASSWORD)).status_code == 200


async def test_the_sign_in_page_says_how_long_to_wait(
    make_user: UserMaker, from_address: Client
) -> None:
    from tests.web.conftest import sign_in

    target = await make_user(Role.officer, email="target@council.gov.uk")
    async with from_address(OFFICE) as browser:
        for n in range(5):
            assert (await sign_in(browser, target.email, f"guess {n}")).status_code == 400
        page = await sign_in(browser, target.email)
    assert page.status_code == 429
    assert 0 < int(page.headers["retry-after"]) <= 15 * 60
    assert "Too many failed sign-ins for this account." in page.text
    assert re.search(r"Wait (1 minute|\d+ minutes), then try again", page.text)


async def test_the_limits_come_from_the_settings(settings: Settings, services: Services) -> None:
    tight = settings.model_copy(
        update={"login_failures_per_account": 2, "login_failures_per_account_address": 2}
    )
    app = create_app(tight, services)
    transport = httpx.ASGITransport(app=app, client=(OFFICE, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        statuses = [
            (await _token(client, "anyone@council.gov.uk", "wrong")).status_code for _ in range(3)
        ]
    assert statuses == [401, 401, 429]


async def _wrong() -> str | None:
    return None


async def _right() -> str:
    return "user"


async def test_one_address_trying_many_accounts_is_limited_per_address() -> None:
    throttle = LoginThrottle(per_address=20)
    for n in range(20):
        assert await throttle.guard(f"user{n}@council.gov.uk", OFFICE, _wrong) is None
    with pytest.raises(SignInLocked) as locked:
        await throttle.guard("user99@council.gov.uk", OFFICE, _right)
    assert locked.value.scope == "address"
    assert locked.value.message.startswith("Too many failed sign-ins from your network.")
    # Another address is unaffected.
    assert await throttle.guard("user99@council.gov.uk", "198.51.100.1", _right) == "user"


async def test_concurrent_guesses_cannot_slip_past_the_limit() -> None:
    """Checks under way count against the limit: ten guesses at once, while the first
    five's password checks are still running, get five checks, not ten."""
    throttle = LoginThrottle(per_account_address=5)
    release = asyncio.Event()
    checked = 0

    async def slow_wrong() -> str | None:
        nonlocal checked
        checked += 1
        await release.wait()
        return None

    async def guess() -> str:
        try:
            await throttle.guard("target@council.gov.uk", OFFICE, slow_wrong)
            return "checked"
        except SignInLocked:
            return "refused"

    tasks = [asyncio.create_task(guess()) for _ in range(10)]
    await asyncio.sleep(0)  # every task runs to its check, or to its refusal
    assert checked == 5
    release.set()
    outcomes = await asyncio.gather(*tasks)
    assert checked == 5 and sorted(outcomes) == ["checked"] * 5 + ["refused"] * 5
    with pytest.raises(SignInLocked) as locked:
        await throttle.guard("Target@Council.gov.uk ", OFFICE, _right)  # one account, any case
    assert locked.value.scope == "account" and locked.value.retry_after > 1


async def test_a_failed_check_that_raises_counts_nothing() -> None:
    throttle = LoginThrottle(per_account_address=1)

    async def database_gone() -> str | None:
        raise ConnectionError("the database went away")

    for _ in range(3):
        with pytest.raises(ConnectionError):
            await throttle.guard("target@council.gov.uk", OFFICE, database_gone)
    assert await throttle.guard("target@council.gov.uk", OFFICE, _right) == "user"
