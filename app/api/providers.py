"""Providers, their contracted CQC locations and hand-keyed CQC ratings."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.common import Id, written
from app.api.deps import (
    ProviderManager,
    Reader,
    RecordWriter,
    ServicesDep,
    SessionDep,
    write_context,
)
from app.api.errors import SIGNED_IN, errors
from app.api.listing import ListQuery, ProviderFilters, page, page_of_all
from app.api.names import with_names
from app.api.schemas import (
    LocationAdded,
    LocationRead,
    Page,
    ProviderRead,
    RatingRead,
    RatingWritten,
)
from app.cqc.client import CqcError
from app.cqc.sync import refresh_location
from app.records import queries, schemas
from app.records import service as records

router = APIRouter(prefix="/api/v1", tags=["providers"], responses=SIGNED_IN)


async def _named(session: AsyncSession, provider: dict[str, Any]) -> dict[str, Any]:
    """A provider with its contract officer's name."""
    return (await with_names(session, [provider], "contract_officer_id"))[0]


@router.post(
    "/providers", response_model=ProviderRead, status_code=201, responses=errors(400, 413, 422)
)
async def create_provider(
    body: schemas.ProviderIn, principal: ProviderManager, services: ServicesDep, session: SessionDep
) -> dict[str, Any]:
    provider = await records.create_provider(session, body, write_context(services, principal))
    await session.commit()
    assert provider.id is not None
    return await _named(session, await queries.get_provider(session, provider.id))


@router.get("/providers", response_model=Page[ProviderRead], responses=errors(400, 422))
async def list_providers(
    _principal: Reader, session: SessionDep, query: Annotated[ProviderFilters, Query()]
) -> Page[Any]:
    """Providers, filtered by officer, locality, monitoring level, worst CQC rating or name."""
    found = await queries.list_providers(
        session,
        officer_id=query.officer_id,
        locality=query.locality,
        level=query.level,
        rating=query.rating,
        name=query.name,
        limit=query.limit,
        offset=query.offset,
    )
    items = await with_names(session, found.items, "contract_officer_id")
    return page(items, found.total, query)


@router.get("/providers/{provider_id}", response_model=ProviderRead, responses=errors(404, 422))
async def get_provider(provider_id: Id, _principal: Reader, session: SessionDep) -> dict[str, Any]:
    return await _named(session, await queries.get_provider(session, provider_id))


@router.patch(
    "/providers/{provider_id}", response_model=ProviderRead, responses=errors(400, 404, 413, 422)
)
async def update_provider(
    provider_id: Id,
    body: schemas.ProviderUpdate,
    principal: ProviderManager,
    services: ServicesDep,
    session: SessionDep,
) -> dict[str, Any]:
    await records.update_provider(session, provider_id, body, write_context(services, principal))
    await session.commit()
    return await _named(session, await queries.get_provider(session, provider_id))


@router.post(
    "/providers/{provider_id}/locations",
    response_model=LocationAdded,
    status_code=201,
    responses=errors(400, 404, 409, 413, 422),
)
async def add_location(
    provider_id: Id,
    body: schemas.LocationIn,
    principal: ProviderManager,
    services: ServicesDep,
    session: SessionDep,
) -> dict[str, Any]:
    """Contract a CQC location to this provider; its current rating is fetched at once
    (when polling is on), or by the next sync if CQC cannot be reached now."""
    location = await records.add_location(
        session, provider_id, body, write_context(services, principal)
    )
    await session.commit()
    assert location.id is not None
    context = services.cqc_context()
    if context is None:
        fetch = "skipped: CQC polling is off"
    else:
        try:
            fetch = await refresh_location(context, location.id, location.cqc_location_id)
        except CqcError as error:
            fetch = f"deferred to the next sync: {error}"
    await session.refresh(location)
    return {**location.model_dump(), "cqc_fetch": fetch}


@router.delete(
    "/providers/{provider_id}/locations/{location_id}",
    status_code=204,
    responses=errors(404, 422),
)
async def remove_location(
    provider_id: Id,
    location_id: Id,
    principal: ProviderManager,
    services: ServicesDep,
    session: SessionDep,
) -> None:
    """Take a CQC location off the provider's contract (its ratings no longer count)."""
    await records.remove_location(
        session, provider_id, location_id, write_context(services, principal)
    )
    await session.commit()


@router.get(
    "/providers/{provider_id}/locations",
    response_model=Page[LocationRead],
    responses=errors(400, 404, 422),
)
async def list_locations(
    provider_id: Id, _principal: Reader, session: SessionDep, query: Annotated[ListQuery, Query()]
) -> Page[Any]:
    """The provider's contracted CQC locations with their current ratings."""
    return page_of_all(await queries.list_locations(session, provider_id), query)


@router.post(
    "/providers/{provider_id}/ratings",
    response_model=RatingWritten,
    status_code=201,
    responses=errors(400, 404, 413, 422),
)
async def record_rating(
    provider_id: Id,
    body: schemas.RatingIn,
    principal: RecordWriter,
    services: ServicesDep,
    session: SessionDep,
) -> dict[str, Any]:
    """Key in a CQC rating by hand; a real change is recorded and evaluated like CQC's own."""
    result = await records.record_manual_rating(
        session, provider_id, body, write_context(services, principal)
    )
    await session.commit()
    if result is None:
        provider = await queries.get_provider(session, provider_id)
        return {
            "changed": False,
            "rating": None,
            "monitoring_level": provider["monitoring_level"],
            "placements_suspended": provider["placements_suspended"],
            "escalation": None,
        }
    return {"changed": True, "rating": result.record, **written(result)}


@router.get(
    "/providers/{provider_id}/ratings",
    response_model=Page[RatingRead],
    responses=errors(400, 404, 422),
)
async def list_ratings(
    provider_id: Id, _principal: Reader, session: SessionDep, query: Annotated[ListQuery, Query()]
) -> Page[Any]:
    """The provider's ratings as observed (from CQC or keyed in), newest first."""
    found = await queries.list_ratings(session, provider_id, query.limit, query.offset)
    return page(found.items, found.total, query)
