"""Providers, their contracted CQC locations and hand-keyed CQC ratings."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from app.api.common import Id, IdFilter, Limit, Offset, written
from app.api.deps import (
    ProviderManager,
    Reader,
    RecordWriter,
    ServicesDep,
    SessionDep,
    write_context,
)
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
from app.models import Location
from app.models.base import MonitoringLevel, Rating
from app.records import queries, schemas
from app.records import service as records

router = APIRouter(prefix="/api/v1", tags=["providers"])


@router.post("/providers", response_model=ProviderRead, status_code=201)
async def create_provider(
    body: schemas.ProviderIn, principal: ProviderManager, services: ServicesDep, session: SessionDep
) -> dict[str, Any]:
    provider = await records.create_provider(session, body, write_context(services, principal))
    await session.commit()
    assert provider.id is not None
    return await queries.get_provider(session, provider.id)


@router.get("/providers", response_model=Page[ProviderRead])
async def list_providers(
    _principal: Reader,
    session: SessionDep,
    officer_id: IdFilter = None,
    locality: str | None = None,
    level: MonitoringLevel | None = None,
    rating: Rating | None = None,
    name: str | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> dict[str, Any]:
    """Providers, filtered by officer, locality, monitoring level, worst CQC rating or name."""
    page = await queries.list_providers(
        session,
        officer_id=officer_id,
        locality=locality,
        level=level,
        rating=rating,
        name=name,
        limit=limit,
        offset=offset,
    )
    return {"items": page.items, "total": page.total, "limit": limit, "offset": offset}


@router.get("/providers/{provider_id}", response_model=ProviderRead)
async def get_provider(provider_id: Id, _principal: Reader, session: SessionDep) -> dict[str, Any]:
    return await queries.get_provider(session, provider_id)


@router.patch("/providers/{provider_id}", response_model=ProviderRead)
async def update_provider(
    provider_id: Id,
    body: schemas.ProviderUpdate,
    principal: ProviderManager,
    services: ServicesDep,
    session: SessionDep,
) -> dict[str, Any]:
    await records.update_provider(session, provider_id, body, write_context(services, principal))
    await session.commit()
    return await queries.get_provider(session, provider_id)


@router.post("/providers/{provider_id}/locations", response_model=LocationAdded, status_code=201)
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


@router.get("/providers/{provider_id}/locations", response_model=list[LocationRead])
async def list_locations(
    provider_id: Id, _principal: Reader, session: SessionDep
) -> list[Location]:
    return await queries.list_locations(session, provider_id)


@router.post("/providers/{provider_id}/ratings", response_model=RatingWritten, status_code=201)
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


@router.get("/providers/{provider_id}/ratings", response_model=Page[RatingRead])
async def list_ratings(
    provider_id: Id, _principal: Reader, session: SessionDep, limit: Limit = 50, offset: Offset = 0
) -> dict[str, Any]:
    page = await queries.list_ratings(session, provider_id, limit, offset)
    return {"items": page.items, "total": page.total, "limit": limit, "offset": offset}
