"""Applying and inspecting Alembic migrations from the application (CLI, readiness, tests)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncEngine

from alembic import command

ROOT = Path(__file__).resolve().parent.parent


def alembic_config(database_url: str) -> Config:
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "alembic"))
    config.attributes["database_url"] = database_url
    config.attributes["configure_logging"] = False
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Apply migrations (blocking; env.py runs its own event loop)."""
    command.upgrade(alembic_config(database_url), revision)


async def upgrade_async(database_url: str) -> None:
    await asyncio.to_thread(upgrade, database_url)


def head_revision() -> str | None:
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    return script.get_current_head()


async def current_revision(engine: AsyncEngine) -> str | None:
    from sqlalchemy import text

    async with engine.connect() as connection:
        try:
            result = await connection.execute(text("SELECT version_num FROM alembic_version"))
        except Exception:
            return None
        row = result.first()
        return None if row is None else str(row[0])


MIGRATION_LOCK_ID = 0x6D696772  # "migr": one migrator at a time across replicas


async def wait_for_database(database_url: str, timeout_seconds: float = 60.0) -> None:
    """Keep trying to connect until the database answers (containers start in any order)."""
    from sqlalchemy import text
    from tenacity import AsyncRetrying, stop_after_delay, wait_fixed

    from app.db import make_engine

    engine = make_engine(database_url, pool_size=1)
    try:
        async for attempt in AsyncRetrying(
            stop=stop_after_delay(timeout_seconds), wait=wait_fixed(1), reraise=True
        ):
            with attempt:
                async with engine.connect() as connection:
                    await connection.execute(text("SELECT 1"))
    finally:
        await engine.dispose()


async def upgrade_once(database_url: str) -> None:
    """Apply migrations; on PostgreSQL under an advisory lock, so replicas that start
    together migrate one after the other (the second finds nothing to do)."""
    from sqlalchemy import text

    from app.db import make_engine

    engine = make_engine(database_url, pool_size=1)
    try:
        if engine.dialect.name != "postgresql":
            await upgrade_async(database_url)
            return
        async with engine.connect() as connection:
            await connection.execute(
                text("SELECT pg_advisory_lock(:id)"), {"id": MIGRATION_LOCK_ID}
            )
            await connection.commit()
            try:
                await upgrade_async(database_url)
            finally:
                await connection.execute(
                    text("SELECT pg_advisory_unlock(:id)"), {"id": MIGRATION_LOCK_ID}
                )
                await connection.commit()
    finally:
        await engine.dispose()
