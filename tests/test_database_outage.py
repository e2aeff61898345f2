"""A database that restarts or fails over, for real: a TCP proxy in front of the real
PostgreSQL (tests/fakes/tcp_proxy.py) that refuses and resets connections, and backends
terminated by the server. While it is gone, every API request and every page answers 503
with Retry-After, never 500; when it is back the service recovers by itself."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import partial
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from app.config import Settings
from app.db import async_url
from app.main import create_app
from app.models import Visit
from app.services import Services
from tests.conftest import PG_URL, World, postgres_only
from tests.fakes.tcp_proxy import TcpProxy
from tests.web.conftest import csrf_of, date_input, sign_in

pytestmark = postgres_only

VISIT = {"visited_on": "2026-11-18", "kind": "virtual", "purpose": "p", "outcome": "good"}


@pytest.fixture
async def proxy() -> AsyncIterator[TcpProxy]:
    assert PG_URL
    url = make_url(PG_URL)
    started = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    await started.start()
    yield started
    await started.stop()


@pytest.fixture
def settings(settings: Settings, proxy: TcpProxy) -> Settings:
    """The service reaches its database only through the proxy."""
    assert PG_URL
    through = make_url(PG_URL).set(host=proxy.host, port=proxy.port)
    return settings.model_copy(
        update={"database_url": through.render_as_string(hide_password=False)}
    )


@pytest.fixture
async def browser(
    settings: Settings, services: Services, world: World
) -> AsyncIterator[httpx.AsyncClient]:
    """The officer, signed in to the pages."""
    transport = httpx.ASGITransport(app=create_app(settings, services))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        assert (await sign_in(client, world.users["officer"].email)).status_code == 303
        yield client


def _unavailable(response: httpx.Response) -> bool:
    return response.status_code == 503 and response.headers.get("retry-after") == "1"


async def test_while_the_database_refuses_connections_every_request_answers_503(
    world: World, browser: httpx.AsyncClient, proxy: TcpProxy, services: Services
) -> None:
    provider = (await world.provider())["id"]
    form = await browser.get(f"/providers/{provider}/record/visit")
    assert form.status_code == 200, form.text
    page_form = {
        "csrf_token": csrf_of(form.text),
        **date_input("visited_on", "2026-11-18"),
        "kind": "virtual",
        "purpose": "p",
        "outcome": "good",
    }
    requests: dict[str, Callable[[], Awaitable[httpx.Response]]] = {
        "api list": partial(world.get, "/providers"),
        "api read": partial(world.get, f"/providers/{provider}"),
        "api write": partial(world.post, f"/providers/{provider}/visits", VISIT),
        "page": partial(browser.get, f"/providers/{provider}"),
        "dashboard": partial(browser.get, "/"),
        "form": partial(browser.post, f"/providers/{provider}/record/visit", data=page_form),
    }
    await proxy.stop()  # every live connection reset, every new one refused
    for name, send in requests.items():
        for _ in range(2):  # a pooled connection that died, then a refused new one
            answer = await send()
            assert _unavailable(answer), (name, answer.status_code, answer.text)
    dashboard = await browser.get("/")
    assert "text/html" in dashboard.headers["content-type"]
    assert "field" not in dashboard.text and "database" not in dashboard.text
    lost = await world.get("/providers")
    assert lost.json()["errors"][0]["field"] == "database"
    assert (await world.client.get("/readyz")).status_code == 503

    await proxy.start()  # back on the same address: nothing restarts the service
    for name, send in requests.items():
        answer = await send()
        assert answer.status_code in (200, 201, 303), (name, answer.status_code, answer.text)
    async with services.database.sessions() as session:
        stored = await session.scalar(select(func.count()).select_from(Visit))
    assert stored == 2  # one through the API, one through the form: the refused left nothing


async def _terminate_backends() -> int:
    assert PG_URL
    admin = create_async_engine(async_url(PG_URL))
    try:
        async with admin.connect() as connection:
            killed = await connection.scalar(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
    finally:
        await admin.dispose()
    return int(killed or 0)


async def test_terminated_backends_answer_503_to_pages_too_and_the_next_request_works(
    world: World, browser: httpx.AsyncClient
) -> None:
    provider = (await world.provider())["id"]
    assert (await browser.get(f"/providers/{provider}")).status_code == 200
    assert await _terminate_backends() >= 1
    page = await browser.get(f"/providers/{provider}")
    assert _unavailable(page), page.text
    assert (await browser.get(f"/providers/{provider}")).status_code == 200
    assert (await world.get(f"/providers/{provider}")).status_code == 200


async def test_a_restart_under_load_answers_503_never_500_and_recovers(
    world: World, browser: httpx.AsyncClient, proxy: TcpProxy, record_property: Any
) -> None:
    """Eight clients keep reading pages and the API and writing visits while the database
    goes away (every connection reset, new ones refused) and comes back, then while every
    backend is terminated. Each answer is counted under the phase it was sent and answered
    in (up, down, back, killed), or under both when the change came while it was on its
    way."""
    provider = (await world.provider())["id"]
    phase = "up"
    seen: Counter[tuple[str, int]] = Counter()
    stop = asyncio.Event()
    answered = asyncio.Event()
    retry_after_missing = 0

    async def client(number: int) -> None:
        nonlocal retry_after_missing
        while not stop.is_set():
            sent_in = phase
            if number % 4 == 0:
                answer = await browser.get(f"/providers/{provider}")
            elif number % 4 == 1:
                answer = await world.post(f"/providers/{provider}/visits", VISIT)
            else:
                answer = await world.get("/providers")
            during = sent_in if sent_in == phase else f"{sent_in}>{phase}"
            seen[(during, answer.status_code)] += 1
            if answer.status_code == 503 and "retry-after" not in answer.headers:
                retry_after_missing += 1
            answered.set()

    async def until(count: int, wanted_phase: str, status: int) -> None:
        async with asyncio.timeout(120):  # a guard against hanging, not a measurement
            while seen[(wanted_phase, status)] < count:
                answered.clear()
                await answered.wait()

    clients = [asyncio.create_task(client(n)) for n in range(8)]
    try:
        await until(50, "up", 200)
        phase = "down"
        await proxy.stop()
        await until(100, "down", 503)
        await proxy.start()
        phase = "back"
        await until(100, "back", 200)
        phase = "killed"
        assert await _terminate_backends() >= 1
        await until(100, "killed", 200)
    finally:
        stop.set()
        await asyncio.gather(*clients)
    record_property("answers", {f"{p} {s}": n for (p, s), n in sorted(seen.items())})
    server_errors = {key: n for key, n in seen.items() if key[1] >= 500}
    assert {status for (_, status) in server_errors} == {503}, server_errors
    assert retry_after_missing == 0
    # Once the database is back, a request fails only if it was using a connection the
    # database dropped: the first dead connection met discards the pool.
    assert ("up", 503) not in seen and ("back", 503) not in seen
    pooled = 20  # the engine's pool_size + max_overflow (app/db.py)
    assert seen[("killed", 503)] + seen[("back>killed", 503)] <= pooled
