"""The dashboard's provider table: one row per provider with the figures an officer scans
(level, embargo, worst CQC rating and its age, safeguardings, complaints, compliments,
finances, visits), filtered and sorted in SQL so a page of a large market stays fast; the
totals of the filtered providers; and the tiles, each counting the providers its link
lists (one condition for both, so a tile's number is the length of its list)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import (
    Complaint,
    Compliment,
    CqcBenchmark,
    FinancialAssurance,
    ImprovementAction,
    ImprovementPlan,
    Location,
    Provider,
    ProviderLocality,
    Safeguarding,
    User,
)
from app.models.base import (
    RATING_SEVERITY,
    ActionStatus,
    ComplaintUpheld,
    MonitoringLevel,
    PlanStatus,
    Rating,
)
from app.sql import OPEN_SAFEGUARDING, latest_per_provider, rating_of_severity, rating_severity

RECENT_DAYS = 90
LEVEL_ORDER = {"routine": 0, "enhanced": 1, "intensive": 2}
RISK_ORDER = {"green": 0, "amber": 1, "red": 2}

# The columns a reader may sort by, and what each sorts on.
SORT_KEYS = (
    "name",
    "officer",
    "localities",
    "level",
    "suspended",
    "rating",
    "rated_on",
    "safeguardings_open",
    "safeguardings_recent",
    "complaints_upheld",
    "compliments",
    "financial_risk",
    "next_review_on",
    "last_visit_on",
    "next_visit_due_on",
)


# The tiles that count providers, each with the condition its count and its list share.
TILES = ("visits_overdue", "actions_overdue", "safeguardings_open")


def tile_condition(tile: str, today: date) -> Any:
    """Which providers a tile counts, and its link lists."""
    if tile == "visits_overdue":
        return Provider.next_visit_due_on < today
    if tile == "actions_overdue":
        return Provider.id.in_(
            select(ImprovementAction.provider_id)
            .join(ImprovementPlan, ImprovementPlan.id == ImprovementAction.plan_id)
            .where(
                ImprovementAction.status != ActionStatus.complete,
                ImprovementAction.due_on < today,
                ImprovementPlan.status != PlanStatus.closed,
            )
        )
    if tile == "safeguardings_open":
        return Provider.id.in_(select(Safeguarding.provider_id).where(OPEN_SAFEGUARDING))
    raise ValueError(f"no tile {tile!r}")


async def tile_counts(session: AsyncSession, today: date) -> dict[str, int]:
    """Each tile's number of providers, across the whole market."""
    counts = {}
    for tile in TILES:
        counted = await session.scalar(
            select(func.count()).select_from(Provider).where(tile_condition(tile, today))
        )
        counts[tile] = int(counted or 0)
    return counts


@dataclass
class TableFilters:
    officer_id: int | None = None
    locality: str | None = None
    level: str | None = None
    rating: Rating | None = None
    tile: str | None = None  # one of TILES: only the providers that tile counts
    sort: str = "name"
    descending: bool = False
    limit: int = 100
    offset: int = 0


# Ids beyond the database's integer range cannot exist: such an officer filter is ignored.
_MAX_ID = 2_147_483_647


def read_table_filters(
    params: Mapping[str, str], *, own_officer_id: int | None = None, limit: int = 100
) -> TableFilters:
    """The table's filters and order from the dashboard's query parameters (officer,
    locality, level, rating, show, sort, order), as the page, its exports and the API's
    read them. Nonsense is ignored, as a filter left unset. With no officer parameter at
    all, `own_officer_id` (an officer's own providers first) applies."""
    officer = params.get("officer")
    if officer is None:
        officer_id = own_officer_id
    elif officer.isdigit() and int(officer) <= _MAX_ID:
        officer_id = int(officer)
    else:
        officer_id = None  # "all", or nonsense
    rating = params.get("rating")
    level = params.get("level")
    tile = params.get("show")
    sort = params.get("sort")
    return TableFilters(
        officer_id=officer_id,
        locality=params.get("locality") or None,
        level=level if level in {m.value for m in MonitoringLevel} else None,
        rating=Rating(rating) if rating in {r.value for r in Rating} else None,
        tile=tile if tile in TILES else None,
        sort=sort if sort in SORT_KEYS else "name",
        descending=params.get("order") == "desc",
        limit=limit,
    )


@dataclass
class ProviderTable:
    rows: list[dict[str, Any]]
    total: int
    localities: list[str] = field(default_factory=list)
    # Of every provider the filters select (not only this page).
    weekly_hours: float = 0.0
    people_supported: int = 0


def counted_figures(today: date) -> dict[str, tuple[Any, tuple[Any, ...]]]:
    """The table's counted columns: what each counts, and which rows. One definition for
    sorting everyone (grouped) and for showing a page (correlated)."""
    recent = today - timedelta(days=RECENT_DAYS)
    # A record entered in error stays on record but is never counted (DESIGN.md).
    return {
        "safeguardings_open": (Safeguarding, (OPEN_SAFEGUARDING,)),
        "safeguardings_recent": (
            Safeguarding,
            (Safeguarding.raised_on >= recent, Safeguarding.entered_in_error_at.is_(None)),
        ),
        "complaints_upheld": (
            Complaint,
            (
                Complaint.received_on >= recent,
                Complaint.upheld.in_([ComplaintUpheld.upheld, ComplaintUpheld.partly_upheld]),
                Complaint.entered_in_error_at.is_(None),
            ),
        ),
        "compliments": (
            Compliment,
            (Compliment.received_on >= recent, Compliment.entered_in_error_at.is_(None)),
        ),
    }


def _grouped_count(model: Any, conditions: tuple[Any, ...]) -> Any:
    return (
        select(model.provider_id, func.count().label("n"))
        .where(*conditions)
        .group_by(model.provider_id)
        .subquery()
    )


def _correlated_count(model: Any, conditions: tuple[Any, ...]) -> Any:
    return (
        select(func.count())
        .where(model.provider_id == Provider.id, *conditions)
        .correlate(Provider)
        .scalar_subquery()
    )


def worst_location(ids: list[int] | None = None) -> Any:
    """Each provider's worst-rated location (ties: the oldest rating), by a window."""
    severity = rating_severity(Location.overall_rating)
    ranked = select(
        Location.provider_id,
        severity.label("severity"),
        Location.overall_rated_on,
        func.row_number()
        .over(
            partition_by=Location.provider_id,
            order_by=(severity.desc(), Location.overall_rated_on, Location.id),
        )
        .label("position"),
    ).where(Location.overall_rating.is_not(None), Location.removed_at.is_(None))
    if ids is not None:
        ranked = ranked.where(Location.provider_id.in_(ids))
    ranked_subquery = ranked.subquery()
    return select(ranked_subquery).where(ranked_subquery.c.position == 1).subquery()


@dataclass
class _Figures:
    """Every provider's aggregates, for sorting the table by any of its columns."""

    counts: dict[str, Any]
    finance: Any
    worst: Any
    first_locality: Any

    @classmethod
    def build(cls, today: date) -> _Figures:
        return cls(
            counts={
                name: _grouped_count(model, conditions)
                for name, (model, conditions) in counted_figures(today).items()
            },
            finance=latest_per_provider(FinancialAssurance, FinancialAssurance.assessed_on),
            worst=worst_location(),
            first_locality=select(
                ProviderLocality.provider_id, func.min(ProviderLocality.locality).label("first")
            )
            .group_by(ProviderLocality.provider_id)
            .subquery(),
        )

    def sort_columns(self) -> dict[str, tuple[Any, list[tuple[Any, Any]]]]:
        """Each sort key: its expression and the outer joins it needs."""
        finance = self.finance
        finance_join = (
            finance,
            and_(finance.c.provider_id == Provider.id, finance.c.position == 1),
        )

        def joined(subquery: Any) -> list[tuple[Any, Any]]:
            return [(subquery, subquery.c.provider_id == Provider.id)]

        return {
            "name": (func.lower(Provider.name), []),
            "officer": (func.lower(User.name), [(User, User.id == Provider.contract_officer_id)]),
            "localities": (func.lower(self.first_locality.c.first), joined(self.first_locality)),
            "level": (
                case(
                    *((Provider.monitoring_level == k, v) for k, v in LEVEL_ORDER.items()), else_=0
                ),
                [],
            ),
            "suspended": (case((Provider.placements_suspended.is_(True), 1), else_=0), []),
            "rating": (self.worst.c.severity, joined(self.worst)),
            "rated_on": (self.worst.c.overall_rated_on, joined(self.worst)),
            **{
                name: (func.coalesce(counted.c.n, 0), joined(counted))
                for name, counted in self.counts.items()
            },
            "financial_risk": (
                case(*((finance.c.risk == k, v) for k, v in RISK_ORDER.items()), else_=None),
                [finance_join],
            ),
            "next_review_on": (finance.c.next_review_on, [finance_join]),
            "last_visit_on": (Provider.last_visit_on, []),
            "next_visit_due_on": (Provider.next_visit_due_on, []),
        }


async def provider_table(
    session: AsyncSession, today: date, filters: TableFilters
) -> ProviderTable:
    """Two steps, so a page of a large market stays fast: the page's provider ids in the
    chosen order (joining only what the sort and the filters need), then the figures of
    those providers alone."""
    page_query, count_query = _table_queries(today, filters)
    ids = [
        int(value)
        for value in (
            await session.execute(page_query.limit(filters.limit).offset(filters.offset))
        ).scalars()
    ]
    total, weekly_hours, people_supported = (await session.execute(count_query)).one()
    rows = await _rows(session, today, ids)
    all_localities = [
        str(value)
        for value in (
            await session.execute(
                select(ProviderLocality.locality).distinct().order_by(ProviderLocality.locality)
            )
        ).scalars()
    ]
    return ProviderTable(
        rows,
        int(total or 0),
        all_localities,
        weekly_hours=float(weekly_hours or 0),
        people_supported=int(people_supported or 0),
    )


# Rows fetched per query for an export: a list of ids per statement stays well inside
# both engines' limits on bound parameters, whatever the size of the market.
EXPORT_BATCH = 500


async def every_provider_row(
    session: AsyncSession, today: date, filters: TableFilters
) -> list[dict[str, Any]]:
    """Every row the filters select (not one page), in the table's order: for exports."""
    page_query, _count = _table_queries(today, filters)
    ids = [int(value) for value in (await session.execute(page_query)).scalars()]
    rows: list[dict[str, Any]] = []
    for start in range(0, len(ids), EXPORT_BATCH):
        rows += await _rows(session, today, ids[start : start + EXPORT_BATCH])
    return rows


def _table_queries(today: date, filters: TableFilters) -> tuple[Any, Any]:
    """The ordered ids the filters select (unpaged), and their count and totals."""
    everyone = _Figures.build(today)
    conditions: list[Any] = []
    joins: list[tuple[Any, Any]] = []
    if filters.officer_id is not None:
        conditions.append(Provider.contract_officer_id == filters.officer_id)
    if filters.level:
        conditions.append(Provider.monitoring_level == filters.level)
    if filters.locality:
        conditions.append(
            Provider.id.in_(
                select(ProviderLocality.provider_id).where(
                    ProviderLocality.locality == filters.locality
                )
            )
        )
    if filters.rating is not None:
        joins.append((everyone.worst, everyone.worst.c.provider_id == Provider.id))
        conditions.append(everyone.worst.c.severity == RATING_SEVERITY[filters.rating])
    if filters.tile is not None:
        conditions.append(tile_condition(filters.tile, today))

    sort_columns = everyone.sort_columns()
    sort_column, sort_joins = sort_columns.get(filters.sort, sort_columns["name"])
    page_query = select(Provider.id).select_from(Provider)
    for target, onclause in _unique(joins + sort_joins):
        page_query = page_query.outerjoin(target, onclause)
    ordered = sort_column.desc() if filters.descending else sort_column.asc()
    # Rows without a value (never rated, never visited) go last whichever the direction.
    page_query = page_query.where(*conditions).order_by(
        case((sort_column.is_(None), 1), else_=0), ordered, func.lower(Provider.name), Provider.id
    )
    count_query = select(
        func.count(),
        func.coalesce(func.sum(Provider.weekly_hours), 0),
        func.coalesce(func.sum(Provider.people_supported), 0),
    ).select_from(Provider)
    for target, onclause in _unique(joins):
        count_query = count_query.outerjoin(target, onclause)
    return page_query, count_query.where(*conditions)


def _unique(joins: list[tuple[Any, Any]]) -> list[tuple[Any, Any]]:
    seen: set[int] = set()
    unique = []
    for target, onclause in joins:
        if id(target) not in seen:
            seen.add(id(target))
            unique.append((target, onclause))
    return unique


async def _rows(session: AsyncSession, today: date, ids: list[int]) -> list[dict[str, Any]]:
    """The table's figures for these providers, in the order given: correlated subqueries,
    each an index lookup for one provider, which both engines plan well for a page."""
    if not ids:
        return []

    def latest_finance(column: Any) -> Any:
        return (
            select(column)
            .where(FinancialAssurance.provider_id == Provider.id)
            .order_by(FinancialAssurance.assessed_on.desc(), FinancialAssurance.id.desc())
            .limit(1)
            .correlate(Provider)
            .scalar_subquery()
        )

    worst = worst_location(ids)
    columns: list[Any] = [
        Provider.id,
        Provider.name,
        Provider.cqc_provider_id,
        Provider.contract_type,
        Provider.weekly_hours,
        Provider.people_supported,
        Provider.monitoring_level,
        Provider.placements_suspended,
        Provider.last_visit_on,
        Provider.next_visit_due_on,
        Provider.contract_officer_id,
        User.name.label("officer_name"),
        worst.c.severity,
        worst.c.overall_rated_on.label("rated_on"),
        *(
            _correlated_count(model, conditions).label(name)
            for name, (model, conditions) in counted_figures(today).items()
        ),
        latest_finance(FinancialAssurance.risk).label("financial_risk"),
        latest_finance(FinancialAssurance.next_review_on).label("next_review_on"),
    ]
    query = (
        select(*columns)
        .select_from(Provider)
        .outerjoin(User, User.id == Provider.contract_officer_id)
        .outerjoin(worst, worst.c.provider_id == Provider.id)
        .where(Provider.id.in_(ids))
    )
    by_id = {row.id: dict(row._mapping) for row in await session.execute(query)}
    localities: dict[int, list[str]] = {}
    for provider_id, locality in await session.execute(
        select(ProviderLocality.provider_id, ProviderLocality.locality)
        .where(ProviderLocality.provider_id.in_(ids))
        .order_by(ProviderLocality.locality)
    ):
        localities.setdefault(provider_id, []).append(locality)
    rows = []
    for provider_id in ids:
        row = by_id[provider_id]
        severity = row.pop("severity")
        worst = rating_of_severity(severity)
        row["worst_rating"] = None if worst is None else worst.value
        row["localities"] = localities.get(provider_id, [])
        row["rating_age_days"] = None if row["rated_on"] is None else (today - row["rated_on"]).days
        row["visit_overdue"] = (
            row["next_visit_due_on"] is not None and row["next_visit_due_on"] < today
        )
        rows.append(row)
    return rows


async def officers(session: AsyncSession) -> list[tuple[int, str]]:
    """Users who hold at least one contract, for the officer filter."""
    rows = await session.execute(
        select(User.id, User.name)
        .where(User.id.in_(select(Provider.contract_officer_id)))
        .order_by(User.name)
    )
    return [(int(user_id), str(name)) for user_id, name in rows]


async def national_distribution(session: AsyncSession) -> dict[str, Any] | None:
    """The newest complete market benchmark: {"national": {rating: count}, ...}, or None."""
    benchmark = (
        await session.execute(
            select(CqcBenchmark)
            .where(CqcBenchmark.status == "complete")
            .order_by(CqcBenchmark.id.desc())
            .limit(1)
        )
    ).scalar_one_or_none()
    if benchmark is None:
        return None
    return {"finished_at": benchmark.finished_at, **benchmark.distribution}


# A count running for longer than this was interrupted (a restart): it may be resumed.
BENCHMARK_STALE_AFTER = timedelta(hours=6)


async def benchmark_running_since(session: AsyncSession, now: datetime) -> datetime | None:
    """When the count of England's ratings now under way started (None if none is)."""
    started: datetime | None = await session.scalar(
        select(CqcBenchmark.started_at)
        .where(CqcBenchmark.status == "running")
        .order_by(CqcBenchmark.id.desc())
        .limit(1)
    )
    if started is None or started < now - BENCHMARK_STALE_AFTER:
        return None
    return started


async def user_names(session: AsyncSession, user_ids: set[int]) -> dict[int, str]:
    """Display names for the actors and officers a page mentions, in one query."""
    if not user_ids:
        return {}
    rows = await session.execute(select(User.id, User.name).where(User.id.in_(user_ids)))
    return {int(user_id): str(name) for user_id, name in rows}


async def safeguarding_counts(
    session: AsyncSession, provider_id: int, today: date
) -> dict[str, int]:
    """What a viewer may know of a provider's safeguardings: counts, never the records."""
    figures = counted_figures(today)
    _model, is_open = figures["safeguardings_open"]
    _model, is_recent = figures["safeguardings_recent"]
    row = (
        await session.execute(
            select(
                func.count().label("total"),
                func.sum(case((and_(*is_open), 1), else_=0)).label("open"),
                func.sum(case((and_(*is_recent), 1), else_=0)).label("recent"),
            ).where(Safeguarding.provider_id == provider_id)
        )
    ).one()
    return {
        "total": int(row.total or 0),
        "open": int(row.open or 0),
        "recent": int(row.recent or 0),
    }
