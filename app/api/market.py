"""The market: the council's localities and their leads, providers' capacity returns
and call-monitoring KPIs, and localities' waiting lists."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict

from app.api.common import Id, written
from app.api.deps import (
    MonitoringManager,
    Reader,
    RecordWriter,
    ServicesDep,
    SessionDep,
    write_context,
)
from app.api.errors import SIGNED_IN, errors
from app.api.listing import ListQuery, page, page_of_all
from app.api.schemas import Page, Written
from app.market import queries, schemas
from app.market import service as market
from app.models import KpiBand
from app.models.base import MonitoringLevel, Rating

router = APIRouter(prefix="/api/v1", tags=["market"], responses=SIGNED_IN)


class Read(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class LocalityRead(Read):
    id: int
    name: str
    lead_provider_id: int | None
    lead_provider_name: str | None
    provider_count: int
    hours_commissioned: float
    hours_delivered: float
    people_supported: int
    people_waiting: int | None
    hours_waiting: float | None
    waiting_counted_on: date | None
    levels: dict[str, int]
    worst_rating: Rating | None


class LocalityProvider(Read):
    id: int
    name: str
    monitoring_level: MonitoringLevel
    worst_cqc_rating: Rating | None
    lead: bool
    hours_commissioned: float | None
    hours_delivered: float | None
    people_supported: int | None
    capacity_period_end: date | None


class LeadTerm(Read):
    provider_id: int
    provider_name: str
    started_on: date
    ended_on: date | None


class WaitingRead(Read):
    counted_on: date
    people_waiting: int
    hours_waiting: float


class LocalityDetail(LocalityRead):
    providers: list[LocalityProvider]
    leads: list[LeadTerm]
    waiting: list[WaitingRead]


class CapacityRead(Read):
    id: int
    provider_id: int
    period_start: date
    period_end: date
    hours_commissioned: float
    hours_delivered: float
    people_supported: int
    packages_accepted: int
    packages_declined: int
    packages_handed_back: int
    hours_handed_back: float
    staff_vacancies: int | None
    recorded_at: datetime


class CapacityWritten(CapacityRead, Written):
    pass


class KpiRead(Read):
    id: int
    provider_id: int
    month: date
    visits_planned: int
    visits_missed: int
    visits_late: int
    time_critical_visits: int | None
    time_critical_on_time: int | None
    calls_logged_in_home: int
    missed_visits_pct: float
    punctuality_pct: float
    calls_logged_pct: float
    missed_visits_band: KpiBand
    punctuality_band: KpiBand
    calls_logged_band: KpiBand
    recorded_at: datetime


class KpiWritten(KpiRead, Written):
    pass


@router.get("/localities", response_model=Page[LocalityRead], responses=errors(400, 422))
async def list_localities(
    _principal: Reader, session: SessionDep, query: Annotated[ListQuery, Query()]
) -> Page[Any]:
    """The council's localities, by name, each with its lead provider now and the figures
    of the providers serving it (a provider serving several counts in each)."""
    found = [vars(summary) for summary in await queries.list_localities(session)]
    return page_of_all(found, query)


@router.post(
    "/localities",
    response_model=LocalityDetail,
    status_code=201,
    responses=errors(400, 409, 413, 422),
)
async def create_locality(
    body: schemas.LocalityIn,
    principal: MonitoringManager,
    services: ServicesDep,
    session: SessionDep,
) -> dict[str, Any]:
    """Add a locality to the council's list (manager or admin)."""
    locality = await market.create_locality(session, body, write_context(services, principal))
    await session.commit()
    assert locality.id is not None
    return await queries.get_locality(session, locality.id)


@router.get("/localities/{locality_id}", response_model=LocalityDetail, responses=errors(404, 422))
async def get_locality(locality_id: Id, _principal: Reader, session: SessionDep) -> dict[str, Any]:
    """A locality: its lead and partner providers with their levels and worst ratings,
    hours commissioned and delivered, people supported and waiting, and who led when."""
    return await queries.get_locality(session, locality_id)


@router.patch(
    "/localities/{locality_id}",
    response_model=LocalityDetail,
    responses=errors(400, 404, 409, 413, 422),
)
async def rename_locality(
    locality_id: Id,
    body: schemas.LocalityIn,
    principal: MonitoringManager,
    services: ServicesDep,
    session: SessionDep,
) -> dict[str, Any]:
    """Rename a locality; the providers serving it follow."""
    await market.rename_locality(session, locality_id, body, write_context(services, principal))
    await session.commit()
    return await queries.get_locality(session, locality_id)


@router.post(
    "/localities/{locality_id}/lead",
    response_model=LocalityDetail,
    responses=errors(400, 404, 409, 413, 422),
)
async def set_lead(
    locality_id: Id,
    body: schemas.LeadIn,
    principal: MonitoringManager,
    services: ServicesDep,
    session: SessionDep,
) -> dict[str, Any]:
    """Make a provider serving the locality its lead (Locality Partner) from a date; the
    current lead's term ends the day before. `provider_id: null` only ends it."""
    await market.set_lead(session, locality_id, body, write_context(services, principal))
    await session.commit()
    return await queries.get_locality(session, locality_id)


@router.post(
    "/localities/{locality_id}/waiting",
    response_model=WaitingRead,
    status_code=201,
    responses=errors(400, 404, 409, 413, 422),
)
async def record_waiting(
    locality_id: Id,
    body: schemas.WaitingIn,
    principal: RecordWriter,
    services: ServicesDep,
    session: SessionDep,
) -> Any:
    """Count the people in a locality awaiting a package of care on a date."""
    record = await market.record_waiting(
        session, locality_id, body, write_context(services, principal)
    )
    await session.commit()
    return record


@router.get(
    "/localities/{locality_id}/waiting",
    response_model=Page[WaitingRead],
    responses=errors(400, 404, 422),
)
async def list_waiting(
    locality_id: Id, _principal: Reader, session: SessionDep, query: Annotated[ListQuery, Query()]
) -> Page[Any]:
    """A locality's waiting-list counts, newest first."""
    found, total = await queries.waiting_counts(session, locality_id, query.limit, query.offset)
    return page(found, total, query)


@router.post(
    "/providers/{provider_id}/capacity",
    response_model=CapacityWritten,
    status_code=201,
    responses=errors(400, 404, 409, 413, 422),
)
async def record_capacity(
    provider_id: Id,
    body: schemas.CapacityIn,
    principal: RecordWriter,
    services: ServicesDep,
    session: SessionDep,
) -> dict[str, Any]:
    """A provider's capacity return for a week or a month; the rules read it at once."""
    result = await market.record_capacity(
        session, provider_id, body, write_context(services, principal)
    )
    await session.commit()
    return {**result.record.model_dump(), **written(result)}


@router.get(
    "/providers/{provider_id}/capacity",
    response_model=Page[CapacityRead],
    responses=errors(400, 404, 422),
)
async def list_capacity(
    provider_id: Id, _principal: Reader, session: SessionDep, query: Annotated[ListQuery, Query()]
) -> Page[Any]:
    """A provider's capacity returns, newest first."""
    found, total = await queries.capacity_returns(session, provider_id, query.limit, query.offset)
    return page(found, total, query)


@router.post(
    "/providers/{provider_id}/kpis",
    response_model=KpiWritten,
    status_code=201,
    responses=errors(400, 404, 409, 413, 422),
)
async def record_kpis(
    provider_id: Id,
    body: schemas.KpiIn,
    principal: RecordWriter,
    services: ServicesDep,
    session: SessionDep,
) -> dict[str, Any]:
    """A provider's call-monitoring figures for a month, banded under alerts/kpis.yaml;
    the rules read them at once."""
    result = await market.record_kpis(
        session, provider_id, body, write_context(services, principal), services.kpis
    )
    await session.commit()
    return {**result.record.model_dump(), **written(result)}


@router.get(
    "/providers/{provider_id}/kpis",
    response_model=Page[KpiRead],
    responses=errors(400, 404, 422),
)
async def list_kpis(
    provider_id: Id, _principal: Reader, session: SessionDep, query: Annotated[ListQuery, Query()]
) -> Page[Any]:
    """A provider's monthly call-monitoring figures and bands, newest month first."""
    found, total = await queries.kpi_returns(session, provider_id, query.limit, query.offset)
    return page(found, total, query)
