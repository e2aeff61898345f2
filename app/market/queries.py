"""The market's reads: the localities with their leads, providers and figures, a
provider's capacity and KPI trend, the dashboard's market tiles and the figures /metrics
gauges. A provider that serves several localities counts in each of them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import NotFound
from app.market.kpis import MEASURES
from app.models import (
    CapacityReturn,
    KpiReturn,
    Locality,
    LocalityLead,
    Provider,
    ProviderLocality,
    WaitingList,
)
from app.models.base import MonitoringLevel, Rating
from app.records.queries import worst_ratings
from app.rules.signals import kpi_since
from app.sql import latest_per_provider, rating_of_severity

TREND_LENGTH = 12  # returns and months a provider's trend shows


@dataclass
class LocalitySummary:
    """One locality as the list shows it."""

    id: int
    name: str
    lead_provider_id: int | None = None
    lead_provider_name: str | None = None
    provider_count: int = 0
    hours_commissioned: float = 0.0
    hours_delivered: float = 0.0
    people_supported: int = 0
    people_waiting: int | None = None
    hours_waiting: float | None = None
    waiting_counted_on: date | None = None
    levels: dict[str, int] = field(default_factory=dict)
    worst_rating: Rating | None = None


def _latest_capacity() -> Any:
    latest = latest_per_provider(CapacityReturn, CapacityReturn.period_end)
    return select(latest).where(latest.c.position == 1).subquery("latest_capacity")


def _latest_waiting() -> Any:
    ranked = select(
        WaitingList,
        func.row_number()
        .over(
            partition_by=WaitingList.locality_id,
            order_by=(WaitingList.counted_on.desc(), WaitingList.id.desc()),
        )
        .label("position"),
    ).subquery()
    return select(ranked).where(ranked.c.position == 1).subquery("latest_waiting")


async def _members(session: AsyncSession) -> list[Any]:
    """Every (locality, provider) pair with the provider's level, worst rating and
    latest capacity return."""
    capacity = _latest_capacity()
    worst = worst_ratings()
    rows = await session.execute(
        select(
            Locality.id.label("locality_id"),
            Provider.id.label("provider_id"),
            Provider.name,
            Provider.monitoring_level,
            worst.c.worst,
            capacity.c.hours_commissioned,
            capacity.c.hours_delivered,
            capacity.c.people_supported,
            capacity.c.period_end,
        )
        .join(ProviderLocality, ProviderLocality.locality == Locality.name)
        .join(Provider, Provider.id == ProviderLocality.provider_id)
        .outerjoin(worst, worst.c.provider_id == Provider.id)
        .outerjoin(capacity, capacity.c.provider_id == Provider.id)
        .order_by(Provider.name)
    )
    return list(rows)


async def list_localities(session: AsyncSession) -> list[LocalitySummary]:
    """Every locality, by name, with its lead now and its providers' figures."""
    summaries = {
        row.id: LocalitySummary(row.id, row.name)
        for row in await session.execute(select(Locality.id, Locality.name).order_by(Locality.name))
    }
    for row in await session.execute(
        select(LocalityLead.locality_id, Provider.id, Provider.name)
        .join(Provider, Provider.id == LocalityLead.provider_id)
        .where(LocalityLead.ended_on.is_(None))
    ):
        summaries[row.locality_id].lead_provider_id = row.id
        summaries[row.locality_id].lead_provider_name = row.name
    severity: dict[int, int] = {}
    for row in await _members(session):
        summary = summaries[row.locality_id]
        summary.provider_count += 1
        summary.hours_commissioned += row.hours_commissioned or 0
        summary.hours_delivered += row.hours_delivered or 0
        summary.people_supported += row.people_supported or 0
        level = MonitoringLevel(row.monitoring_level).value
        summary.levels[level] = summary.levels.get(level, 0) + 1
        if row.worst is not None and row.worst > severity.get(row.locality_id, -1):
            severity[row.locality_id] = row.worst
            summary.worst_rating = rating_of_severity(row.worst)
    waiting = _latest_waiting()
    for row in await session.execute(select(waiting)):
        summary = summaries[row.locality_id]
        summary.people_waiting = row.people_waiting
        summary.hours_waiting = row.hours_waiting
        summary.waiting_counted_on = row.counted_on
    return list(summaries.values())


async def get_locality(session: AsyncSession, locality_id: int) -> dict[str, Any]:
    """A locality with its figures, its providers (lead first), the history of its leads
    and its waiting list counts, newest first."""
    summaries = {s.id: s for s in await list_localities(session)}
    summary = summaries.get(locality_id)
    if summary is None:
        raise NotFound("locality_id", f"no locality with id {locality_id}")
    providers = [
        {
            "id": row.provider_id,
            "name": row.name,
            "monitoring_level": MonitoringLevel(row.monitoring_level),
            "worst_cqc_rating": rating_of_severity(row.worst),
            "lead": row.provider_id == summary.lead_provider_id,
            "hours_commissioned": row.hours_commissioned,
            "hours_delivered": row.hours_delivered,
            "people_supported": row.people_supported,
            "capacity_period_end": row.period_end,
        }
        for row in await _members(session)
        if row.locality_id == locality_id
    ]
    providers.sort(key=lambda p: not p["lead"])
    leads = [
        {
            "provider_id": row.provider_id,
            "provider_name": row.name,
            "started_on": row.started_on,
            "ended_on": row.ended_on,
        }
        for row in await session.execute(
            select(
                LocalityLead.provider_id,
                Provider.name,
                LocalityLead.started_on,
                LocalityLead.ended_on,
            )
            .join(Provider, Provider.id == LocalityLead.provider_id)
            .where(LocalityLead.locality_id == locality_id)
            .order_by(LocalityLead.started_on.desc())
        )
    ]
    waiting = [
        {
            "counted_on": row.counted_on,
            "people_waiting": row.people_waiting,
            "hours_waiting": row.hours_waiting,
        }
        for row in (
            await session.execute(
                select(WaitingList)
                .where(WaitingList.locality_id == locality_id)
                .order_by(WaitingList.counted_on.desc())
            )
        ).scalars()
    ]
    return {**vars(summary), "providers": providers, "leads": leads, "waiting": waiting}


async def capacity_returns(
    session: AsyncSession, provider_id: int, limit: int = TREND_LENGTH, offset: int = 0
) -> tuple[list[CapacityReturn], int]:
    """A provider's capacity returns, newest first, and how many there are."""
    await _provider(session, provider_id)
    found = (
        await session.execute(
            select(CapacityReturn)
            .where(CapacityReturn.provider_id == provider_id)
            .order_by(CapacityReturn.period_end.desc())
            .limit(limit)
            .offset(offset)
        )
    ).scalars()
    total = await session.scalar(
        select(func.count()).where(CapacityReturn.provider_id == provider_id)
    )
    return list(found), int(total or 0)


async def kpi_returns(
    session: AsyncSession, provider_id: int, limit: int = TREND_LENGTH, offset: int = 0
) -> tuple[list[KpiReturn], int]:
    """A provider's monthly KPI figures, newest month first, and how many there are."""
    await _provider(session, provider_id)
    found = (
        await session.execute(
            select(KpiReturn)
            .where(KpiReturn.provider_id == provider_id)
            .order_by(KpiReturn.month.desc())
            .limit(limit)
            .offset(offset)
        )
    ).scalars()
    total = await session.scalar(select(func.count()).where(KpiReturn.provider_id == provider_id))
    return list(found), int(total or 0)


async def waiting_counts(
    session: AsyncSession, locality_id: int, limit: int, offset: int
) -> tuple[list[WaitingList], int]:
    """A locality's waiting-list counts, newest first, and how many there are."""
    if await session.get(Locality, locality_id) is None:
        raise NotFound("locality_id", f"no locality with id {locality_id}")
    found = (
        await session.execute(
            select(WaitingList)
            .where(WaitingList.locality_id == locality_id)
            .order_by(WaitingList.counted_on.desc())
            .limit(limit)
            .offset(offset)
        )
    ).scalars()
    total = await session.scalar(select(func.count()).where(WaitingList.locality_id == locality_id))
    return list(found), int(total or 0)


async def _provider(session: AsyncSession, provider_id: int) -> None:
    if await session.get(Provider, provider_id) is None:
        raise NotFound("provider_id", f"no provider with id {provider_id}")


@dataclass(frozen=True)
class MarketTiles:
    """The dashboard's market figures."""

    people_waiting: int
    hours_waiting: float
    hours_handed_back_this_month: float
    packages_handed_back_this_month: int


async def market_tiles(session: AsyncSession, today: date) -> MarketTiles:
    """People awaiting a package now (each locality's latest count), and the hours of
    care handed back in returns whose period ended this month."""
    waiting = _latest_waiting()
    people, hours = (
        await session.execute(
            select(
                func.coalesce(func.sum(waiting.c.people_waiting), 0),
                func.coalesce(func.sum(waiting.c.hours_waiting), 0),
            )
        )
    ).one()
    handed_hours, handed_packages = (
        await session.execute(
            select(
                func.coalesce(func.sum(CapacityReturn.hours_handed_back), 0),
                func.coalesce(func.sum(CapacityReturn.packages_handed_back), 0),
            ).where(
                CapacityReturn.period_end >= today.replace(day=1),
                CapacityReturn.period_end <= today,
            )
        )
    ).one()
    return MarketTiles(int(people), float(hours), float(handed_hours), int(handed_packages))


async def kpi_bands_by_locality(
    session: AsyncSession, today: date
) -> dict[tuple[str, str, str], int]:
    """How many providers of each locality are in each band of each measure, by their
    latest month's figures of the last four months: (locality, measure, band) -> count."""
    ranked = (
        select(
            KpiReturn,
            func.row_number()
            .over(partition_by=KpiReturn.provider_id, order_by=KpiReturn.month.desc())
            .label("position"),
        )
        .where(KpiReturn.month >= kpi_since(today))
        .subquery()
    )
    latest = select(ranked).where(ranked.c.position == 1).subquery()
    counts: dict[tuple[str, str, str], int] = {}
    for row in await session.execute(
        select(ProviderLocality.locality, latest).join(
            latest, latest.c.provider_id == ProviderLocality.provider_id
        )
    ):
        for measure in MEASURES:
            band = str(row._mapping[f"{measure}_band"])
            key = (row.locality, measure, band)
            counts[key] = counts.get(key, 0) + 1
    return counts


async def locality_gauges(session: AsyncSession, today: date) -> dict[str, Any]:
    """The per-locality figures /metrics serves, labelled by locality name only."""
    localities = await list_localities(session)
    return {
        "hours_commissioned": {s.name: s.hours_commissioned for s in localities},
        "hours_delivered": {s.name: s.hours_delivered for s in localities},
        "people_waiting": {s.name: s.people_waiting or 0 for s in localities},
        "kpi_bands": await kpi_bands_by_locality(session, today),
    }
