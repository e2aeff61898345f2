"""SQLite writers of one process take turns in arrival order, and a session hands its
turn on when its transaction ends, even if the session stays open (the API's routes work
on after committing). PostgreSQL locks rows and takes no turn."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from app.services import Services
from tests.conftest import on_postgres

pytestmark = pytest.mark.skipif(on_postgres(), reason="the write turn is SQLite's")


async def test_writers_take_turns_in_the_order_they_came(services: Services) -> None:
    """Writer 1 comes early and waits long; writer 2 comes just before the lock is
    free. SQLite's busy handler, whose sleeps grow while a writer waits, would let writer
    2 in first; the turn serves them as they came."""
    entered: list[int] = []

    async def writer(number: int, arrives_after: float, holds_for: float) -> None:
        await asyncio.sleep(arrives_after)
        async with services.database.transaction() as session:
            await session.execute(text("SELECT 1"))  # BEGIN IMMEDIATE: the write lock
            entered.append(number)
            await asyncio.sleep(holds_for)

    # Timed against SQLite's sleeps (1, 2, 5, 10, 15, 20, 25, 25 ms...): writer 1 is asleep
    # when the lock frees, writer 2 is not.
    await asyncio.gather(writer(0, 0, 0.108), writer(1, 0.005, 0), writer(2, 0.1, 0))
    assert entered == [0, 1, 2]


async def test_a_committed_session_hands_on_its_turn_while_it_stays_open(
    services: Services,
) -> None:
    async with services.database.write_session() as held:
        await held.execute(text("SELECT 1"))
        await held.commit()
        async with asyncio.timeout(5):  # without the hand-over this would wait 30 s
            async with services.database.transaction() as other:
                await other.execute(text("SELECT 1"))
