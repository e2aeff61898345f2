"""The schema is made by migrations only, and they agree with the models on this engine."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Connection

from app.db import make_engine
from app.migrations import current_revision, head_revision
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
