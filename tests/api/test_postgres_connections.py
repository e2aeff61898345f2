"""How the service holds its PostgreSQL connections. A database restart kills the pooled
connections: the request that meets a dead one gets 503 with Retry-After, never 500,
nothing half-written, and the next one succeeds. And they run without JIT."""

from __future__ import annotations

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import create_async_engine

from app.db import async_url
from app.models import Visit
from app.services import Services
from tests.conftest import World, postgres_only


async def _kill_other_connections(database_url: str) -> int:
    """What a restart does to every connection of the service: terminate its backend."""
    admin = create_async_engine(async_url(database_url))
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


@postgres_only
async def test_a_lost_connection_answers_503_once_and_the_next_request_works(
    world: World, services: Services, database_url: str
) -> None:
    provider = await world.provider()
    visit = {"visited_on": "2026-11-18", "kind": "virtual", "purpose": "p", "outcome": "good"}
    path = f"/providers/{provider['id']}/visits"
    assert (await world.post(path, visit)).status_code == 201
    assert await _kill_other_connections(database_url) >= 1

    lost = await world.post(path, visit)
    assert lost.status_code == 503, lost.text
    assert lost.headers["retry-after"] == "1"
    assert lost.json()["errors"] == [
        {"field": "database", "problem": "the database is unavailable; try again"}
    ]
    assert (await world.post(path, visit)).status_code == 201
    assert (await world.get("/providers")).status_code == 200
    async with services.database.sessions() as session:
        stored = await session.scalar(
            select(func.count()).select_from(Visit).where(Visit.provider_id == provider["id"])
        )
    assert stored == 2  # the first and the third: the lost one left nothing behind


@postgres_only
async def test_the_services_connections_run_without_jit(services: Services) -> None:
    # JIT compiled the dashboard's page query for longer than the query ran (bench/NOTES.md).
    async with services.database.sessions() as session:
        assert await session.scalar(text("SHOW jit")) == "off"
