"""The market's write path: localities and their leads, capacity returns, waiting lists
and monthly KPIs. Each function stores its record and appends its event in the caller's
transaction; a provider's return then runs the rules for that provider, as every record
does. Nothing here commits."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import Conflict, DomainError, NotFound
from app.events import append_event
from app.locks import lock_provider
from app.market import schemas
from app.market.kpis import KpiThresholds, band_month
from app.models import (
    CapacityReturn,
    KpiReturn,
    Locality,
    LocalityLead,
    Provider,
    ProviderLocality,
    WaitingList,
)
from app.records.service import WriteContext, WriteResult, finish_write

LONGEST_RETURN_DAYS = 31  # a return covers a week or a month


def _not_future(field: str, value: date, today: date) -> None:
    if value > today:
        raise DomainError(field, "cannot be in the future")


# Localities -----------------------------------------------------------------------------


async def _locality(session: AsyncSession, locality_id: int) -> Locality:
    locality = await session.get(Locality, locality_id)
    if locality is None:
        raise NotFound("locality_id", f"no locality with id {locality_id}")
    return locality


async def _name_free(session: AsyncSession, name: str, locality_id: int | None = None) -> None:
    found = (
        await session.execute(select(Locality.id).where(Locality.name == name))
    ).scalar_one_or_none()
    if found is not None and found != locality_id:
        raise Conflict("name", f"a locality called {name!r} is already on the list")


async def create_locality(
    session: AsyncSession, data: schemas.LocalityIn, ctx: WriteContext
) -> Locality:
    await _name_free(session, data.name)
    locality = Locality(name=data.name, created_at=ctx.clock.now())
    session.add(locality)
    await session.flush()
    await append_event(
        session,
        type="locality.created",
        provider_id=None,
        actor=ctx.actor,
        at=ctx.clock.now(),
        data={"locality_id": locality.id, "name": locality.name},
    )
    return locality


async def rename_locality(
    session: AsyncSession, locality_id: int, data: schemas.LocalityIn, ctx: WriteContext
) -> Locality:
    """Rename a locality; providers' lists follow (the key cascades)."""
    locality = await _locality(session, locality_id)
    await _name_free(session, data.name, locality_id)
    old = locality.name
    locality.name = data.name
    await append_event(
        session,
        type="locality.updated",
        provider_id=None,
        actor=ctx.actor,
        at=ctx.clock.now(),
        data={"locality_id": locality_id, "old": old, "new": data.name},
    )
    return locality


async def set_lead(
    session: AsyncSession, locality_id: int, data: schemas.LeadIn, ctx: WriteContext
) -> LocalityLead | None:
    """Make a provider the locality's lead from a date, ending the current lead's term
    the day before; the history of who led when is kept. Returns the new term (None when
    the lead was only ended)."""
    today = ctx.clock.today()
    _not_future("from_on", data.from_on, today)
    locality = await _locality(session, locality_id)
    # Locked so that two changes of lead for one locality take turns: at most one term
    # is open (a partial unique index says so too).
    current = (
        await session.execute(
            select(LocalityLead)
            .where(LocalityLead.locality_id == locality_id, LocalityLead.ended_on.is_(None))
            .with_for_update()
        )
    ).scalar_one_or_none()
    if data.provider_id is not None:
        if await session.get(Provider, data.provider_id) is None:
            raise DomainError("provider_id", f"no provider with id {data.provider_id}")
        serves = await session.get(ProviderLocality, (data.provider_id, locality.name))
        if serves is None:
            raise DomainError("provider_id", f"the provider does not serve {locality.name}")
        if current is not None and current.provider_id == data.provider_id:
            raise Conflict("provider_id", "the provider already leads this locality")
    elif current is None:
        raise Conflict("provider_id", "the locality has no lead to end")
    if current is not None:
        if data.from_on <= current.started_on:
            raise DomainError(
                "from_on", f"must be after the current lead began ({current.started_on})"
            )
        current.ended_on = data.from_on - timedelta(days=1)
        await session.flush()  # the open term ends before the next one opens
    term = None
    if data.provider_id is not None:
        term = LocalityLead(
            locality_id=locality_id,
            provider_id=data.provider_id,
            started_on=data.from_on,
            created_at=ctx.clock.now(),
        )
        session.add(term)
    await append_event(
        session,
        type="locality.lead_changed",
        provider_id=data.provider_id if data.provider_id is not None else current.provider_id,
        actor=ctx.actor,
        at=ctx.clock.now(),
        data={
            "locality_id": locality_id,
            "locality": locality.name,
            "from_on": data.from_on,
            "lead_provider_id": data.provider_id,
            "previous_provider_id": None if current is None else current.provider_id,
        },
    )
    return term


# A provider's returns, which the rules read ---------------------------------------------


async def record_capacity(
    session: AsyncSession, provider_id: int, data: schemas.CapacityIn, ctx: WriteContext
) -> WriteResult[CapacityReturn | KpiReturn]:
    """Store a provider's capacity return for a week or a month."""
    today = ctx.clock.today()
    _not_future("period_end", data.period_end, today)
    if data.period_end < data.period_start:
        raise DomainError("period_end", "cannot be before period_start")
    if (data.period_end - data.period_start).days >= LONGEST_RETURN_DAYS:
        raise DomainError("period_end", "a return covers a week or a month at most")
    if data.hours_handed_back > 0 and data.packages_handed_back == 0:
        raise DomainError("hours_handed_back", "needs packages_handed_back")
    provider = await lock_provider(session, provider_id)
    clash = (
        await session.execute(
            select(CapacityReturn.id).where(
                CapacityReturn.provider_id == provider_id,
                CapacityReturn.period_start == data.period_start,
            )
        )
    ).scalar_one_or_none()
    if clash is not None:
        raise Conflict("period_start", "a return for this period is already stored")
    record = CapacityReturn(
        provider_id=provider_id, recorded_at=ctx.clock.now(), **data.model_dump()
    )
    session.add(record)
    return await finish_write(
        session,
        ctx,
        provider,
        record,
        "capacity.recorded",
        {
            "period_start": data.period_start,
            "period_end": data.period_end,
            "packages_handed_back": data.packages_handed_back,
        },
    )


async def record_kpis(
    session: AsyncSession,
    provider_id: int,
    data: schemas.KpiIn,
    ctx: WriteContext,
    thresholds: KpiThresholds,
) -> WriteResult[CapacityReturn | KpiReturn]:
    """Store a provider's call-monitoring figures for a month, banded under `thresholds`."""
    month = data.month.replace(day=1)
    _not_future("month", month, ctx.clock.today())
    made = data.visits_planned - data.visits_missed
    if made < 0:
        raise DomainError("visits_missed", "cannot be more than visits_planned")
    if data.visits_late > made:
        raise DomainError("visits_late", "cannot be more than the visits made")
    if data.calls_logged_in_home > made:
        raise DomainError("calls_logged_in_home", "cannot be more than the visits made")
    if (data.time_critical_on_time is None) != (data.time_critical_visits is None):
        raise DomainError("time_critical_on_time", "give both time-critical figures or neither")
    if (
        data.time_critical_visits is not None
        and data.time_critical_on_time is not None
        and data.time_critical_on_time > data.time_critical_visits
    ):
        raise DomainError("time_critical_on_time", "cannot be more than time_critical_visits")
    provider = await lock_provider(session, provider_id)
    clash = (
        await session.execute(
            select(KpiReturn.id).where(
                KpiReturn.provider_id == provider_id, KpiReturn.month == month
            )
        )
    ).scalar_one_or_none()
    if clash is not None:
        raise Conflict("month", f"figures for {month:%B %Y} are already stored")
    banded = band_month(
        thresholds,
        planned=data.visits_planned,
        missed=data.visits_missed,
        late=data.visits_late,
        logged=data.calls_logged_in_home,
    )
    record = KpiReturn(
        provider_id=provider_id,
        recorded_at=ctx.clock.now(),
        **{**data.model_dump(), "month": month},
        **vars(banded),
    )
    session.add(record)
    return await finish_write(
        session,
        ctx,
        provider,
        record,
        "kpis.recorded",
        {
            "month": month,
            "missed_visits_band": banded.missed_visits_band,
            "punctuality_band": banded.punctuality_band,
            "calls_logged_band": banded.calls_logged_band,
        },
    )


# A locality's waiting list --------------------------------------------------------------


async def record_waiting(
    session: AsyncSession, locality_id: int, data: schemas.WaitingIn, ctx: WriteContext
) -> WaitingList:
    """Store how many people in a locality await a package on a date."""
    _not_future("counted_on", data.counted_on, ctx.clock.today())
    if data.hours_waiting > 0 and data.people_waiting == 0:
        raise DomainError("hours_waiting", "needs people_waiting")
    await _locality(session, locality_id)
    clash = (
        await session.execute(
            select(WaitingList.id).where(
                WaitingList.locality_id == locality_id,
                WaitingList.counted_on == data.counted_on,
            )
        )
    ).scalar_one_or_none()
    if clash is not None:
        raise Conflict("counted_on", "a count for this date is already stored")
    record = WaitingList(locality_id=locality_id, recorded_at=ctx.clock.now(), **data.model_dump())
    session.add(record)
    await append_event(
        session,
        type="waiting.recorded",
        provider_id=None,
        actor=ctx.actor,
        at=ctx.clock.now(),
        data={
            "locality_id": locality_id,
            "counted_on": data.counted_on,
            "people_waiting": data.people_waiting,
        },
    )
    return record
