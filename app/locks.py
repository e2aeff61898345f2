"""The provider lock every writer takes first: writers for one provider queue on its row,
so what one reads of it (level, last visit, acknowledgements) stays true until it commits.

It sits in the base layer because writers of every layer take it: the records write
path, a manager's decisions and improvement plans, and the sweep's escalations."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.db import is_postgres
from app.errors import NotFound
from app.models import Provider

_IDS_PER_QUERY = 500  # ids per IN list, well under every engine's limit on parameters


# Built once, as every write takes it: only the provider's id is bound per call. The row
# read under the lock replaces any copy the session holds (populate_existing).
_PROVIDER = (
    select(Provider)
    .where(col(Provider.id) == bindparam("provider_id"))
    .execution_options(populate_existing=True)
)
_PROVIDER_FOR_UPDATE = _PROVIDER.with_for_update()


async def lock_provider(session: AsyncSession, provider_id: int) -> Provider:
    """Load a provider for update, or raise NotFound naming provider_id.

    On PostgreSQL this is SELECT ... FOR UPDATE. A SQLite writer's transaction began
    IMMEDIATE, so it already holds the database's one write lock."""
    query = _PROVIDER_FOR_UPDATE if is_postgres(session) else _PROVIDER
    provider = (await session.execute(query, {"provider_id": provider_id})).scalar_one_or_none()
    if provider is None:
        raise NotFound("provider_id", f"no provider with id {provider_id}")
    return provider


async def lock_providers(session: AsyncSession, provider_ids: Iterable[int]) -> dict[int, Provider]:
    """Load many providers for update, by id, in id order (so that two writers of the same
    providers queue rather than deadlock); a batch writer takes them all first. Ids with
    no provider are left out of the answer."""
    ordered = sorted(set(provider_ids))
    providers: dict[int, Provider] = {}
    for start in range(0, len(ordered), _IDS_PER_QUERY):
        query = (
            select(Provider)
            .where(col(Provider.id).in_(ordered[start : start + _IDS_PER_QUERY]))
            .order_by(col(Provider.id))
            .execution_options(populate_existing=True)
        )
        if is_postgres(session):
            query = query.with_for_update()
        for provider in (await session.execute(query)).scalars():
            assert provider.id is not None
            providers[provider.id] = provider
    return providers
