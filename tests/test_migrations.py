"""The schema is made by migrations only, and they agree with the models on this engine."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.engine import Connection

from app.db import make_engine
from app.migrations import current_revision, head_revision, upgrade
from app.models import metadata


def _diff(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, metadata))


async def test_migrations_reach_head_and_match_the_models(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        assert await current_revision(engine) == head_revision()
        async with engine.connect() as connection:
            differences = await connection.run_sync(_diff)
        assert differences == []
    finally:
        await engine.dispose()


@pytest.mark.embedded_sqlite
async def test_stored_safeguarding_categories_become_care_act_types(tmp_path: Path) -> None:
    """Free-text categories of the schema before Care Act types map to the type their
    words name; words that name none are kept, the category left for an officer."""
    url = f"sqlite:///{tmp_path / 'before.db'}"
    await asyncio.to_thread(upgrade, url, "c3a9e5f17d20")
    engine = make_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                text(
                    "INSERT INTO providers (id, name, contract_type, weekly_hours,"
                    " monitoring_level, placements_suspended, acknowledged_firings,"
                    " created_at, updated_at)"
                    " VALUES (1, 'P', 'spot', 0, 'routine', 0, '{}', :at, :at)"
                ),
                {"at": "2026-11-01 00:00:00"},
            )
            for number, words in enumerate(
                ["neglect", "Financial abuse", "medication", "Self-neglect", "falls"], 1
            ):
                await connection.execute(
                    text(
                        "INSERT INTO safeguardings (id, provider_id, reference, raised_on,"
                        " category, summary, status, whole_service, created_at, updated_at)"
                        " VALUES (:id, 1, 'SG', '2026-11-01', :words, '', 'open', 0, :at, :at)"
                    ),
                    {"id": number, "words": words, "at": "2026-11-01 00:00:00"},
                )
        await asyncio.to_thread(upgrade, url)
        async with engine.connect() as connection:
            rows = (
                await connection.execute(
                    text("SELECT category, legacy_category FROM safeguardings ORDER BY id")
                )
            ).all()
    finally:
        await engine.dispose()
    assert [tuple(row) for row in rows] == [
        ("neglect", None),
        ("financial_or_material", "Financial abuse"),
        ("neglect", "medication"),
        ("self_neglect", "Self-neglect"),
        (None, "falls"),
    ]


@pytest.mark.embedded_sqlite
def test_free_text_localities_become_locality_records(tmp_path: Path) -> None:
    """The market's migration turns the localities providers already had into the
    council's list, which their lists then refer to."""
    path = tmp_path / "before.db"
    upgrade(f"sqlite:///{path}", "c3a9e5f17d20")
    with sqlite3.connect(path) as connection:
        connection.execute(
            "INSERT INTO providers (id, name, contract_type, weekly_hours, monitoring_level, "
            "placements_suspended, acknowledged_firings, created_at, updated_at) VALUES "
            "(1, 'A', 'spot', 0, 'routine', 0, '{}', '2026-01-01', '2026-01-01'), "
            "(2, 'B', 'spot', 0, 'routine', 0, '{}', '2026-01-01', '2026-01-01')"
        )
        connection.execute(
            "INSERT INTO provider_localities (provider_id, locality) VALUES "
            "(1, 'North'), (1, 'South'), (2, 'North')"
        )
    upgrade(f"sqlite:///{path}")
    with sqlite3.connect(path) as connection:
        names = [row[0] for row in connection.execute("SELECT name FROM localities ORDER BY name")]
        assert names == ["North", "South"]
        connection.execute("PRAGMA foreign_keys=ON")
        with pytest.raises(sqlite3.IntegrityError):
            connection.execute("INSERT INTO provider_localities VALUES (2, 'Nowhere')")
        connection.execute("UPDATE localities SET name = 'North Plymouth' WHERE name = 'North'")
        served = connection.execute(
            "SELECT provider_id, locality FROM provider_localities ORDER BY provider_id, locality"
        ).fetchall()
        assert served == [(1, "North Plymouth"), (1, "South"), (2, "North Plymouth")]
