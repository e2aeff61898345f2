"""Many writers at once through the real routes never collide: on SQLite this process's
writers queue for the writer engine's one connection, so none of them ever waits in
SQLite's busy handler. Here the handler is switched off (busy_timeout 0), so a writer that
met another's lock would fail at once with "database is locked" instead of waiting."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import event, func, select, text

from app.clock import FakeClock
from app.config import Settings
from app.db import Database, make_engine
from app.models import Complaint, Provider, Safeguarding, Visit
from app.services import Services, build_services
from tests.conftest import World, on_postgres


def _never_wait(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=0")
    cursor.close()


def _without_busy_handler(database: Database) -> Database:
    # Runs after the service's own "connect" listener, so it has the last word.
    if database.dialect == "sqlite":
        for engine in {database.engine, database.reader}:
            event.listen(engine.sync_engine, "connect", _never_wait)
    return database


@pytest.fixture
async def services(settings: Settings, clock: FakeClock) -> AsyncIterator[Services]:
    """The app's services, on a database whose connections never wait for a lock."""
    database = _without_busy_handler(Database.from_url(settings.database_url))
    built = build_services(settings, database=database, clock=clock)
    yield built
    await built.database.dispose()


VISIT = {"visited_on": "2026-11-18", "kind": "virtual", "purpose": "p", "outcome": "good"}


async def test_many_writers_through_the_routes_never_collide(
    world: World, services: Services
) -> None:
    providers = [(await world.provider(name=f"Provider {n}"))["id"] for n in range(5)]
    complaint = await world.post(
        f"/providers/{providers[0]}/complaints", {"received_on": "2026-11-01", "subject": "s"}
    )
    assert complaint.status_code == 201, complaint.text

    def requests() -> list[Any]:
        calls: list[Any] = []
        for n in range(10):
            provider = providers[n % 5]
            calls.append(world.post(f"/providers/{provider}/visits", VISIT))
            calls.append(
                world.post(
                    f"/providers/{provider}/complaints",
                    {"received_on": "2026-11-02", "subject": f"complaint {n}"},
                )
            )
        for n in range(5):
            provider = providers[n]
            # These read after their commit: the read waits for its own turn again.
            calls.append(world.post("/providers", {"name": f"New provider {n}"}, role="manager"))
            calls.append(
                world.patch(f"/providers/{provider}", {"weekly_hours": 100 + n}, role="manager")
            )
            calls.append(
                world.post(
                    f"/providers/{provider}/safeguardings",
                    {"raised_on": "2026-11-03", "category": "neglect", "reference": f"S{n}"},
                    role="safeguarding",
                )
            )
            # Readers beside them; a timeline of safeguardings writes its audit rows.
            calls.append(world.get(f"/providers/{provider}/timeline", role="safeguarding"))
            calls.append(world.get("/providers"))
        calls.append(
            world.patch(
                f"/complaints/{complaint.json()['id']}", {"status": "closed", "upheld": "upheld"}
            )
        )
        return calls

    answers: list[httpx.Response] = await asyncio.gather(*requests())
    assert len(answers) == 46
    assert [a.status_code for a in answers if a.status_code >= 300] == [], [
        a.text for a in answers if a.status_code >= 300
    ]

    async with services.database.sessions() as session:
        count = {
            model.__name__: await session.scalar(select(func.count()).select_from(model))
            for model in (Visit, Complaint, Provider, Safeguarding)
        }
    assert count == {"Visit": 10, "Complaint": 11, "Provider": 10, "Safeguarding": 5}


async def test_writers_that_go_on_reading_after_their_commit_never_collide(
    services: Services, world: World
) -> None:
    """A writer session that reads after committing begins a new writer transaction: it
    asks for the connection again and waits behind the writers that came meanwhile."""
    await world.provider()
    database = services.database

    async def writer(number: int) -> int:
        async with database.writer_sessions() as session:
            await session.execute(text("UPDATE providers SET weekly_hours = weekly_hours + 1"))
            await asyncio.sleep(0)  # hold the lock while the others ask for it
            await session.commit()
            seen = 0
            for _ in range(3):
                seen = int(await session.scalar(text("SELECT weekly_hours FROM providers")))
                await asyncio.sleep(0)
                await session.commit()
            return seen

    seen = await asyncio.gather(*(writer(n) for n in range(20)))
    assert len(seen) == 20
    async with database.sessions() as session:
        assert await session.scalar(text("SELECT weekly_hours FROM providers")) == 420 + 20


@pytest.mark.skipif(on_postgres(), reason="SQLite's one writer at a time")
async def test_without_the_queue_a_second_writer_fails_at_once(
    services: Services, world: World
) -> None:
    """The checks above can fail: a writer outside this app's queue (another process)
    holding the lock makes the app's next writer fail at once, not wait; the client is
    told to retry (503), and nothing is stored."""
    provider = await world.provider()
    path = f"/providers/{provider['id']}/visits"
    outsider = make_engine(services.settings.database_url)
    event.listen(outsider.sync_engine, "connect", _never_wait)
    try:
        async with outsider.begin() as connection:
            await connection.execute(text("UPDATE providers SET name = name"))
            busy = await world.post(path, VISIT)
            assert busy.status_code == 503 and busy.headers["retry-after"] == "1"
    finally:
        await outsider.dispose()
    assert (await world.post(path, VISIT)).status_code == 201
    async with services.database.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Visit)) == 1
