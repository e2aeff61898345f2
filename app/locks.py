"""The provider lock every writer takes first: writers for one provider queue on its row,
so what one reads of it (level, last visit, acknowledgements) stays true until it commits.

It sits in the base layer because writers of every layer take it: the records write
path, a manager's decisions and improvement plans, and the sweep's escalations."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.db import is_postgres
from app.errors import NotFound
from app.models import Provider


async def lock_provider(session: AsyncSession, provider_id: int) -> Provider:
    """Load a provider for update, or raise NotFound naming provider_id.

    On PostgreSQL this is SELECT ... FOR UPDATE. A SQLite writer's transaction began
    IMMEDIATE, so it already holds the database's one write lock. The row read under the
    lock replaces any copy the session holds (populate_existing)."""
    query = (
        select(Provider)
        .where(col(Provider.id) == provider_id)
        .execution_options(populate_existing=True)
    )
    if is_postgres(session):
        query = query.with_for_update()
    provider = (await session.execute(query)).scalar_one_or_none()
    if provider is None:
        raise NotFound("provider_id", f"no provider with id {provider_id}")
    return provider
