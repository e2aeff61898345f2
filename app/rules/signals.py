"""Signals computed in SQL, set-based, in two forms built from the same definitions: the
grouped form (one query per source table, for the scheduled sweep) and one provider's
form (one row, for the write path). A property test holds them equal on both engines.

A record marked entered in error is never counted, in either form: every count and every
"latest" read only the rows `_counts_here` admits.

Dates are compared against cut-offs computed here, so the SQL is the same on SQLite and
PostgreSQL; "days since" arithmetic happens in Python on the grouped results.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    Date,
    Select,
    and_,
    bindparam,
    case,
    func,
    select,
    true,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from app.models import (
    CapacityReturn,
    Complaint,
    Compliment,
    Concern,
    FinancialAssurance,
    ImprovementAction,
    ImprovementPlan,
    KpiReturn,
    Location,
    LocationRating,
    Provider,
    Safeguarding,
    Visit,
)
from app.models.base import (
    KEY_QUESTIONS,
    ActionStatus,
    CaseStatus,
    ComplaintUpheld,
    PlanStatus,
    Rating,
    SafeguardingOutcome,
)
from app.rules.catalogue import RuleSet, signal_key
from app.sql import (
    SAFEGUARDING_NOT_CLOSED,
    for_providers,
    latest_per_provider,
    rating_of_severity,
    rating_severity,
)

Signals = dict[str, Any]


def _count_if(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _sum_if(condition: ColumnElement[bool], column: Any) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, column), else_=0)), 0)


WindowsKey = tuple[tuple[str, tuple[int, ...]], ...]
PROVIDER_IDS: Any = bindparam("provider_ids", expanding=True)
TODAY: Any = bindparam("today", type_=Date)


def _cut(days: int) -> Any:
    return bindparam(f"cut_{days}", type_=Date)


def _cut_instant(days: int) -> Any:
    return bindparam(f"cut_at_{days}")


KPI_SINCE: Any = bindparam("kpi_since", type_=Date)
KPI_MEASURES = ("missed_visits", "punctuality", "calls_logged")
KPI_POSITIONS = (1, 2, 3)  # the latest three months' figures
KPI_MONTHS_BACK = 3  # ...of the current month and the three before it


def kpi_since(today: date) -> date:
    """The first month whose figures the KPI signals read: three months before today's."""
    months = today.year * 12 + today.month - 1 - KPI_MONTHS_BACK
    return date(months // 12, months % 12 + 1, 1)


# Each signal is defined once, below; signal_statements (grouped, for the sweep) and
# one_provider_statement (for the write path) are forms of the same definitions, and
# _signals_from reads either form's values by the same labels.
_SUBSTANTIATED = Safeguarding.outcome.in_(
    [SafeguardingOutcome.substantiated, SafeguardingOutcome.partly_substantiated]
)
_CONCLUDED_ON = func.coalesce(Safeguarding.closed_on, Safeguarding.raised_on)
_CONCERN_OPEN = Concern.status == CaseStatus.open
_UPHELD = Complaint.upheld.in_([ComplaintUpheld.upheld, ComplaintUpheld.partly_upheld])

# label -> (table, which rows count)
COUNTS: dict[str, tuple[Any, Any]] = {
    "safeguardings_open": (Safeguarding, SAFEGUARDING_NOT_CLOSED),
    "safeguardings_whole_service": (
        Safeguarding,
        and_(SAFEGUARDING_NOT_CLOSED, Safeguarding.whole_service.is_(True)),
    ),
    "concerns_open": (Concern, _CONCERN_OPEN),
    "concerns_whole_service": (Concern, and_(_CONCERN_OPEN, Concern.whole_service.is_(True))),
    "improvement_actions_overdue": (
        ImprovementAction,
        and_(
            ImprovementAction.status != ActionStatus.complete,
            ImprovementAction.due_on < TODAY,
        ),
    ),
    "plans_not_agreed": (
        ImprovementPlan,
        and_(
            ImprovementPlan.status == PlanStatus.awaiting_agreement,
            ImprovementPlan.agree_by_on < TODAY,
        ),
    ),
}

# windowed catalogue signal -> (table, which rows count within the last `days`)
WINDOWED: dict[str, tuple[Any, Callable[[int], Any]]] = {
    "cqc_downgrades": (
        LocationRating,
        lambda d: and_(
            LocationRating.direction == "down",
            LocationRating.recorded_at >= _cut_instant(d),
        ),
    ),
    "safeguardings_raised": (Safeguarding, lambda d: Safeguarding.raised_on >= _cut(d)),
    "safeguardings_substantiated": (
        Safeguarding,
        lambda d: and_(_SUBSTANTIATED, _cut(d) <= _CONCLUDED_ON),
    ),
    "complaints_received": (Complaint, lambda d: Complaint.received_on >= _cut(d)),
    "complaints_upheld": (Complaint, lambda d: and_(_UPHELD, Complaint.received_on >= _cut(d))),
    "compliments_received": (Compliment, lambda d: Compliment.received_on >= _cut(d)),
}

# windowed catalogue signal -> (table, the column summed, which rows count within `days`)
WINDOWED_SUMS: dict[str, tuple[Any, Any, Callable[[int], Any]]] = {
    "packages_handed_back": (
        CapacityReturn,
        CapacityReturn.packages_handed_back,
        lambda d: CapacityReturn.period_end >= _cut(d),
    ),
}

# label -> aggregate over a provider's contracted locations
LOCATION_AGGREGATES: dict[str, Any] = {
    "overall": func.max(rating_severity(Location.overall_rating)),
    **{q: func.max(rating_severity(getattr(Location, f"{q}_rating"))) for q in KEY_QUESTIONS},
    "oldest_rated_on": func.min(Location.overall_rated_on),
}

# label -> column of the provider's latest row of that table
LATEST: dict[str, tuple[Any, Any, Any]] = {
    "finance_assessed_on": (
        FinancialAssurance,
        FinancialAssurance.assessed_on,
        FinancialAssurance.assessed_on,
    ),
    "finance_risk": (FinancialAssurance, FinancialAssurance.assessed_on, FinancialAssurance.risk),
    "finance_insurance_expires_on": (
        FinancialAssurance,
        FinancialAssurance.assessed_on,
        FinancialAssurance.insurance_expires_on,
    ),
    "finance_next_review_on": (
        FinancialAssurance,
        FinancialAssurance.assessed_on,
        FinancialAssurance.next_review_on,
    ),
    "visited_on": (Visit, Visit.visited_on, Visit.visited_on),
    "visit_outcome": (Visit, Visit.visited_on, Visit.outcome),
    "capacity_commissioned": (
        CapacityReturn,
        CapacityReturn.period_end,
        CapacityReturn.hours_commissioned,
    ),
    "capacity_delivered": (
        CapacityReturn,
        CapacityReturn.period_end,
        CapacityReturn.hours_delivered,
    ),
}


def _counts_here(model: Any) -> Any:
    """Which rows of a table the rules read: none entered in error (None: every row)."""
    column = getattr(model, "entered_in_error_at", None)
    return None if column is None else column.is_(None)


def _counted_condition(model: Any, condition: Any) -> Any:
    here = _counts_here(model)
    return condition if here is None else and_(condition, here)


def _kpi_ranked(provider_id: Any, scope: Any) -> Any:
    """A provider's recent monthly figures, newest first (position 1)."""
    ranked = select(
        KpiReturn.provider_id,
        KpiReturn.month,
        *(getattr(KpiReturn, f"{measure}_band") for measure in KPI_MEASURES),
        func.row_number()
        .over(partition_by=KpiReturn.provider_id, order_by=KpiReturn.month.desc())
        .label("position"),
    ).where(KpiReturn.month >= KPI_SINCE)
    if provider_id is not None:
        ranked = ranked.where(KpiReturn.provider_id == provider_id)
    return for_providers(ranked, KpiReturn.provider_id, scope).subquery("kpis_ranked")


def _kpi_aggregates(ranked: Any) -> list[Any]:
    """Per provider: the month at each of the latest positions, the latest band of each
    measure, and whether each measure was red at each position."""
    at = ranked.c.position
    columns: list[Any] = [
        func.max(case((at == position, ranked.c.month), else_=None)).label(f"kpi_month_{position}")
        for position in KPI_POSITIONS
    ]
    for measure in KPI_MEASURES:
        band = ranked.c[f"{measure}_band"]
        columns.append(func.max(case((at == 1, band), else_=None)).label(f"kpi_band_{measure}"))
        columns.extend(
            func.max(case((and_(at == position, band == "red"), 1), else_=0)).label(
                f"kpi_red_{measure}_{position}"
            )
            for position in KPI_POSITIONS
        )
    return columns


def _window_label(name: str, days: int) -> str:
    return f"w_{name}_{days}"


def _counted(windows: dict[str, set[int]]) -> dict[str, tuple[Any, Any]]:
    """Every count and sum these rules need: label -> (table, aggregate). Records entered
    in error are never counted."""
    counted = {
        label: (model, _count_if(_counted_condition(model, condition)))
        for label, (model, condition) in COUNTS.items()
    }
    for name, (model, condition) in WINDOWED.items():
        for days in sorted(windows.get(name, ())):
            counted[_window_label(name, days)] = (
                model,
                _count_if(_counted_condition(model, condition(days))),
            )
    for name, (model, column, condition) in WINDOWED_SUMS.items():
        for days in sorted(windows.get(name, ())):
            counted[_window_label(name, days)] = (
                model,
                _sum_if(_counted_condition(model, condition(days)), column),
            )
    return counted


def _windows_key(windows: dict[str, set[int]]) -> WindowsKey:
    """The rules' windows as a hashable key, for caching the statements built for them."""
    return tuple(sorted((name, tuple(sorted(days))) for name, days in windows.items()))


def _windows_from(key: WindowsKey) -> dict[str, set[int]]:
    return {name: set(days) for name, days in key}


def _counts_by_table(windows_key: WindowsKey) -> dict[Any, list[Any]]:
    """Every count these rules need, as labelled aggregates grouped by the table counted."""
    by_table: dict[Any, list[Any]] = {}
    for label, (model, aggregate) in _counted(_windows_from(windows_key)).items():
        by_table.setdefault(model, []).append(aggregate.label(label))
    return by_table


def _latest_by_table() -> dict[tuple[Any, Any], list[tuple[str, Any]]]:
    """The LATEST values grouped by (table, the column that orders its rows)."""
    latest_tables: dict[tuple[Any, Any], list[tuple[str, Any]]] = {}
    for label, (model, order_column, column) in LATEST.items():
        latest_tables.setdefault((model, order_column), []).append((label, column))
    return latest_tables


@lru_cache(maxsize=32)
def signal_statements(windows_key: WindowsKey, scoped: bool) -> list[Select[Any]]:
    """The grouped form, one query per table, for some providers (`provider_ids`) or for
    all. Built once per rules file and scope, with today, the cut-offs and the provider
    ids as bind parameters, so SQLAlchemy's compiled cache serves every call."""
    scope = PROVIDER_IDS if scoped else None
    by_table = _counts_by_table(windows_key)
    statements = [
        for_providers(
            select(Provider.id.label("provider_id"), Provider.next_visit_due_on),
            Provider.id,
            scope,
        ),
        for_providers(
            select(
                Location.provider_id,
                *(aggregate.label(label) for label, aggregate in LOCATION_AGGREGATES.items()),
            )
            .where(Location.removed_at.is_(None))
            .group_by(Location.provider_id),
            Location.provider_id,
            scope,
        ),
        *(
            for_providers(
                select(model.provider_id, *columns).group_by(model.provider_id),
                model.provider_id,
                scope,
            )
            for model, columns in by_table.items()
        ),
    ]
    kpis = _kpi_ranked(None, scope)
    statements.append(
        select(kpis.c.provider_id, *_kpi_aggregates(kpis)).group_by(kpis.c.provider_id)
    )
    for (model, order_column), columns in _latest_by_table().items():
        latest = latest_per_provider(model, order_column, scope, where=_counts_here(model))
        statements.append(
            select(
                latest.c.provider_id,
                *(latest.c[column.key].label(label) for label, column in columns),
            ).where(latest.c.position == 1)
        )
    return statements


@lru_cache(maxsize=32)
def one_provider_statement(windows_key: WindowsKey) -> Select[Any]:
    """One provider's form, for the write path: every signal in one row and one round
    trip. Each table is read once, by its provider_id index: one aggregate row per table
    (the sweep's aggregates, without GROUP BY) and the newest row of each table whose
    latest values count, joined to the provider. Built once per rules file, with the
    provider's id, today and the cut-offs as bind parameters, so the compiled statement
    is reused, and PostgreSQL can keep one generic plan for it."""
    provider_id: Any = bindparam("provider_id")
    by_table = _counts_by_table(windows_key)
    aggregates = [
        select(*(aggregate.label(label) for label, aggregate in LOCATION_AGGREGATES.items()))
        .where(Location.provider_id == provider_id, Location.removed_at.is_(None))
        .subquery("locations_of"),
        *(
            select(*columns)
            .where(model.provider_id == provider_id)
            .subquery(f"{model.__tablename__}_of")
            for model, columns in by_table.items()
        ),
        select(*_kpi_aggregates(_kpi_ranked(provider_id, None))).subquery("kpis_of"),
    ]
    latest = [
        select(*(column.label(label) for label, column in columns))
        .where(_counted_condition(model, model.provider_id == provider_id))
        .order_by(order_column.desc(), model.id.desc())
        .limit(1)
        .subquery(f"latest_{model.__tablename__}")
        for (model, order_column), columns in _latest_by_table().items()
    ]
    query: Select[Any] = select(
        Provider.id.label("provider_id"),
        Provider.next_visit_due_on,
        *(column for subquery in aggregates + latest for column in subquery.c),
    ).select_from(Provider)
    for subquery in aggregates:  # an aggregate without GROUP BY is always one row
        query = query.join(subquery, true())
    for subquery in latest:  # a provider may have no such row yet
        query = query.outerjoin(subquery, true())
    return query.where(Provider.id == provider_id)


def _signals_from(values: Mapping[str, Any], windows: dict[str, set[int]], today: date) -> Signals:
    """A provider's signals from its values (either form, by label; absent means none)."""
    signals = _defaults(windows)
    next_due = values.get("next_visit_due_on")
    signals["visit_overdue"] = next_due is not None and next_due < today
    signals["cqc_worst_overall"] = _rating(values.get("overall"))
    worst_question = None
    for question in KEY_QUESTIONS:
        severity = values.get(question)
        signals[f"cqc_worst_{question}"] = _rating(severity)
        if severity is not None and (worst_question is None or severity > worst_question):
            worst_question = severity
    signals["cqc_worst_key_question"] = _rating(worst_question)
    if values.get("oldest_rated_on") is not None:
        signals["cqc_rating_age_days"] = (today - values["oldest_rated_on"]).days
    for name in [*WINDOWED, *WINDOWED_SUMS]:
        for days in windows.get(name, ()):
            signals[signal_key(name, days)] = values.get(_window_label(name, days)) or 0
    signals["safeguardings_open"] = values.get("safeguardings_open") or 0
    signals["concerns_open"] = values.get("concerns_open") or 0
    signals["whole_service_concerns_open"] = (values.get("concerns_whole_service") or 0) + (
        values.get("safeguardings_whole_service") or 0
    )
    if values.get("finance_assessed_on") is not None:
        signals["financial_risk_latest"] = values["finance_risk"]
        expires = values["finance_insurance_expires_on"]
        if expires is not None:
            signals["insurance_expires_in_days"] = (expires - today).days
        review = values["finance_next_review_on"]
        signals["financial_review_overdue"] = review is not None and review < today
    if values.get("visited_on") is not None:
        signals["visit_latest_outcome"] = values["visit_outcome"]
        signals["days_since_last_visit"] = (today - values["visited_on"]).days
    signals["improvement_actions_overdue"] = values.get("improvement_actions_overdue") or 0
    signals["improvement_plan_not_agreed"] = bool(values.get("plans_not_agreed"))
    commissioned = values.get("capacity_commissioned")
    if commissioned:  # no share of nothing commissioned
        signals["hours_delivered_share"] = round(
            100 * values["capacity_delivered"] / commissioned, 1
        )
    signals.update(_kpi_signals(values))
    return signals


def _months_apart(later: date, earlier: date) -> int:
    return (later.year - earlier.year) * 12 + later.month - earlier.month


def _kpi_signals(values: Mapping[str, Any]) -> Signals:
    """Each measure's latest band, red months among the latest three, and red months in
    a row (calendar months, newest first, ending with the latest)."""
    signals: Signals = {}
    latest = values.get("kpi_month_1")
    if latest is None:
        return signals
    months = [values.get(f"kpi_month_{position}") for position in KPI_POSITIONS]
    for measure in KPI_MEASURES:
        reds = [bool(values.get(f"kpi_red_{measure}_{position}")) for position in KPI_POSITIONS]
        run = 0
        for index, red in enumerate(reds):
            month = months[index]
            if not red or month is None or _months_apart(latest, month) != index:
                break
            run += 1
        band = values.get(f"kpi_band_{measure}")
        signals[f"kpi_{measure}_band"] = None if band is None else str(band)
        signals[f"kpi_{measure}_red_months"] = sum(reds)
        signals[f"kpi_{measure}_red_run"] = run
    return signals


async def compute_signals(
    session: AsyncSession,
    rules: RuleSet,
    today: date,
    provider_ids: Sequence[int] | None = None,
) -> dict[int, Signals]:
    """Every catalogue signal for the given providers (all when None), keyed by provider
    id: one provider's form for a single provider, the grouped form otherwise."""
    windows = rules.windows()
    key = _windows_key(windows)
    params: dict[str, Any] = {"today": today, "kpi_since": kpi_since(today)}
    for days in {d for days_set in windows.values() for d in days_set}:
        params[f"cut_{days}"] = today - timedelta(days=days)
        params[f"cut_at_{days}"] = datetime.combine(today - timedelta(days=days), time(), UTC)
    # Core execution on the session's connection: these are plain column selects, so the
    # ORM's per-statement machinery would only add cost on the write path.
    connection = await session.connection()
    if provider_ids is not None and len(provider_ids) == 1:
        params["provider_id"] = provider_ids[0]
        found = (await connection.execute(one_provider_statement(key), params)).first()
        if found is None:
            return {}
        return {found.provider_id: _signals_from(found._mapping, windows, today)}

    if provider_ids is not None:
        params["provider_ids"] = list(provider_ids)
    providers, *per_table = signal_statements(key, provider_ids is not None)
    values: dict[int, dict[str, Any]] = {
        row.provider_id: dict(row._mapping) for row in await connection.execute(providers, params)
    }
    for statement in per_table:
        for row in await connection.execute(statement, params):
            found_values = values.get(row.provider_id)
            if found_values is not None:
                found_values.update(row._mapping)
    return {
        provider_id: _signals_from(found_values, windows, today)
        for provider_id, found_values in values.items()
    }


def _rating(severity: int | None) -> str | None:
    rating = rating_of_severity(severity)
    return None if rating is None else rating.value


def _defaults(windows: dict[str, set[int]]) -> Signals:
    """Signals of a provider with no records: counts are zero, unknowns are None."""
    signals: Signals = {
        "cqc_worst_overall": None,
        "cqc_worst_key_question": None,
        "cqc_rating_age_days": None,
        "safeguardings_open": 0,
        "whole_service_concerns_open": 0,
        "concerns_open": 0,
        "financial_risk_latest": None,
        "insurance_expires_in_days": None,
        "financial_review_overdue": False,
        "visit_latest_outcome": None,
        "days_since_last_visit": None,
        "visit_overdue": False,
        "improvement_actions_overdue": 0,
        "improvement_plan_not_agreed": False,
        "hours_delivered_share": None,
    }
    for measure in KPI_MEASURES:
        signals[f"kpi_{measure}_band"] = None
        signals[f"kpi_{measure}_red_months"] = 0
        signals[f"kpi_{measure}_red_run"] = 0
    for question in KEY_QUESTIONS:
        signals[f"cqc_worst_{question}"] = None
    for name, days_set in windows.items():
        for days in days_set:
            signals[signal_key(name, days)] = 0
    return signals


__all__ = ["Rating", "Signals", "compute_signals"]
