"""How much SQL one write costs: a provider is read (and locked) once per transaction
however many steps lock it, and a write whose events no route names reads nothing back
for routing. Counted statements, not timed ones."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

from app.services import Services
from tests import factories


@contextmanager
def statements(services: Services) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(" ".join(statement.split()))

    engine = services.database.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


async def test_a_visit_reads_its_provider_once_and_routes_nothing(services: Services) -> None:
    provider = await factories.provider(services)
    assert provider.id is not None
    with statements(services) as seen:
        await factories.write(services, "visit", provider.id)  # visit.recorded: no route
    provider_reads = [s for s in seen if s.startswith("SELECT") and "FROM providers" in s]
    provider_writes = [s for s in seen if s.startswith("UPDATE providers")]
    # One statement locks the provider, moves its next visit and returns its standing;
    # the single-row rule evaluation selects from providers too; nothing else touches it.
    assert len(provider_writes) == 1 and "RETURNING" in provider_writes[0], provider_writes
    assert len(provider_reads) == 1, provider_reads
    assert not [s for s in seen if "FROM events" in s], "routing read events back"
    assert not [s for s in seen if s.startswith("INSERT INTO deliveries")]


async def test_a_routed_write_still_creates_its_deliveries(services: Services) -> None:
    provider = await factories.provider(services)
    assert provider.id is not None
    with statements(services) as seen:
        await factories.write(services, "safeguarding", provider.id)
    assert [s for s in seen if s.startswith("INSERT INTO deliveries")]
    provider_reads = [
        s
        for s in seen
        if s.startswith("SELECT") and "FROM providers" in s and "JOIN users" not in s
    ]
    # The lock (the standing the rules need) and the single-row rule evaluation; routing
    # reads the contract officer's address besides.
    assert len(provider_reads) == 2, provider_reads
    assert sum("providers.acknowledged_firings" in s for s in provider_reads) == 1
