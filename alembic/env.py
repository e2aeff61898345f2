"""Alembic environment: the URL comes from `config.attributes["database_url"]` (set by
app.migrations) or else from Settings; migrations run over the async engine."""

from __future__ import annotations

import asyncio
from logging.config import fileConfig
from typing import Any, Literal

from sqlalchemy.engine import Connection

from alembic import context
from app.db import make_engine
from app.models import metadata
from app.models.base import StrEnumType, UTCDateTime

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logging", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def _database_url() -> str:
    url = config.attributes.get("database_url")
    if url:
        return str(url)
    from app.config import load_settings

    return load_settings().database_url


def _render_item(kind: str, obj: Any, autogen_context: Any) -> str | Literal[False]:
    """Render our column types as plain SQLAlchemy ones: migrations never import app code."""
    if kind == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    if kind == "type" and isinstance(obj, StrEnumType):
        return "sa.String(length=32)"
    if kind == "type" and type(obj).__name__ == "AutoString":
        return f"sa.String(length={obj.length})" if obj.length else "sa.String()"
    return False


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        compare_type=True,
        render_item=_render_item,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    engine = make_engine(_database_url(), pool_size=1)
    async with engine.connect() as connection:
        await connection.run_sync(_run)
        await connection.commit()
    await engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run python -m app migrate")
asyncio.run(_run_async())
