"""Signals computed in SQL, set-based: one grouped query per source table, for one
provider on the write path or for every provider in the scheduled sweep (same code).

Dates are compared against cut-offs computed here, so the SQL is the same on SQLite and
PostgreSQL; "days since" arithmetic happens in Python on the grouped results.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import Date, Select, and_, bindparam, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from app.models import (
    Complaint,
    Compliment,
    Concern,
    FinancialAssurance,
    ImprovementAction,
    ImprovementPlan,
    Location,
    LocationRating,
    Provider,
    Safeguarding,
    Visit,
)
from app.models.base import (
    KEY_QUESTIONS,
    RATING_SEVERITY,
    ActionStatus,
    CaseStatus,
    ComplaintUpheld,
    PlanStatus,
    Rating,
    SafeguardingOutcome,
    SafeguardingStatus,
)
from app.rules.catalogue import RuleSet, signal_key

Signals = dict[str, Any]
SEVERITY_TO_RATING = {severity: rating for rating, severity in RATING_SEVERITY.items()}


def _severity(column: Any) -> ColumnElement[int]:
    return case(
        *((column == rating.value, severity) for rating, severity in RATING_SEVERITY.items()),
        else_=None,
    )


def _count_if(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _scoped(query: Select[Any], column: Any, provider_ids: Sequence[int] | None) -> Select[Any]:
    return query if provider_ids is None else query.where(column.in_(provider_ids))


def latest_per_provider(
    model: Any, order_column: Any, provider_ids: Sequence[int] | None = None
) -> Any:
    """The most recent row per provider, by a window function (both engines have them)."""
    ranked = select(
        model,
        func.row_number()
        .over(partition_by=model.provider_id, order_by=(order_column.desc(), model.id.desc()))
        .label("position"),
    )
    return _scoped(ranked, model.provider_id, provider_ids).subquery()


WindowsKey = tuple[tuple[str, tuple[int, ...]], ...]
PROVIDER_IDS: Any = bindparam("provider_ids", expanding=True)
TODAY: Any = bindparam("today", type_=Date)


def _cut(days: int) -> Any:
    return bindparam(f"cut_{days}", type_=Date)


def _cut_instant(days: int) -> Any:
    return bindparam(f"cut_at_{days}")


def _in_scope(query: Select[Any], column: Any, scoped: bool) -> Select[Any]:
    return query.where(column.in_(PROVIDER_IDS)) if scoped else query


@dataclass(frozen=True)
class SignalStatements:
    """The signal queries, built once per rules file and scope. Provider ids, today and
    the window cut-offs are bind parameters, so the write path reuses the same statement
    objects (and SQLAlchemy's compiled cache) instead of rebuilding expressions per call."""

    providers: Select[Any]
    locations: Select[Any]
    downgrades: Select[Any] | None
    safeguardings: Select[Any]
    concerns: Select[Any]
    complaints: Select[Any] | None
    compliments: Select[Any] | None
    finance: Select[Any]
    visits: Select[Any]
    actions_overdue: Select[Any]
    plans_not_agreed: Select[Any]


def _windows_key(windows: dict[str, set[int]]) -> WindowsKey:
    return tuple(sorted((name, tuple(sorted(days))) for name, days in windows.items()))


@lru_cache(maxsize=32)
def signal_statements(windows_key: WindowsKey, scoped: bool) -> SignalStatements:
    windows = {name: set(days) for name, days in windows_key}
    location_columns = [
        func.max(_severity(Location.overall_rating)).label("overall"),
        *(
            func.max(_severity(getattr(Location, f"{question}_rating"))).label(question)
            for question in KEY_QUESTIONS
        ),
        func.min(Location.overall_rated_on).label("oldest_rated_on"),
    ]
    downgrades = None
    if "cqc_downgrades" in windows:
        columns = [
            _count_if(
                and_(
                    LocationRating.direction == "down",
                    LocationRating.recorded_at >= _cut_instant(d),
                )
            ).label(f"d{d}")
            for d in sorted(windows["cqc_downgrades"])
        ]
        downgrades = _in_scope(
            select(LocationRating.provider_id, *columns).group_by(LocationRating.provider_id),
            LocationRating.provider_id,
            scoped,
        )

    substantiated = Safeguarding.outcome.in_(
        [SafeguardingOutcome.substantiated, SafeguardingOutcome.partly_substantiated]
    )
    concluded_on = func.coalesce(Safeguarding.closed_on, Safeguarding.raised_on)
    is_open = Safeguarding.status != SafeguardingStatus.closed
    safeguarding_columns = [
        _count_if(is_open).label("open"),
        _count_if(and_(is_open, Safeguarding.whole_service.is_(True))).label("whole_service"),
        *(
            _count_if(Safeguarding.raised_on >= _cut(d)).label(f"r{d}")
            for d in sorted(windows.get("safeguardings_raised", ()))
        ),
        *(
            _count_if(and_(substantiated, concluded_on >= _cut(d))).label(f"s{d}")
            for d in sorted(windows.get("safeguardings_substantiated", ()))
        ),
    ]
    concern_open = Concern.status == CaseStatus.open

    upheld = Complaint.upheld.in_([ComplaintUpheld.upheld, ComplaintUpheld.partly_upheld])
    complaint_columns = [
        *(
            _count_if(Complaint.received_on >= _cut(d)).label(f"c{d}")
            for d in sorted(windows.get("complaints_received", ()))
        ),
        *(
            _count_if(and_(upheld, Complaint.received_on >= _cut(d))).label(f"u{d}")
            for d in sorted(windows.get("complaints_upheld", ()))
        ),
    ]
    complaints = None
    if complaint_columns:
        complaints = _in_scope(
            select(Complaint.provider_id, *complaint_columns).group_by(Complaint.provider_id),
            Complaint.provider_id,
            scoped,
        )
    compliments = None
    if "compliments_received" in windows:
        compliments = _in_scope(
            select(
                Compliment.provider_id,
                *(
                    _count_if(Compliment.received_on >= _cut(d)).label(f"c{d}")
                    for d in sorted(windows["compliments_received"])
                ),
            ).group_by(Compliment.provider_id),
            Compliment.provider_id,
            scoped,
        )
    finance = _latest(FinancialAssurance, FinancialAssurance.assessed_on, scoped)
    visits = _latest(Visit, Visit.visited_on, scoped)
    return SignalStatements(
        providers=_in_scope(select(Provider.id, Provider.next_visit_due_on), Provider.id, scoped),
        locations=_in_scope(
            select(Location.provider_id, *location_columns).group_by(Location.provider_id),
            Location.provider_id,
            scoped,
        ),
        downgrades=downgrades,
        safeguardings=_in_scope(
            select(Safeguarding.provider_id, *safeguarding_columns).group_by(
                Safeguarding.provider_id
            ),
            Safeguarding.provider_id,
            scoped,
        ),
        concerns=_in_scope(
            select(
                Concern.provider_id,
                _count_if(concern_open).label("open"),
                _count_if(and_(concern_open, Concern.whole_service.is_(True))).label(
                    "whole_service"
                ),
            ).group_by(Concern.provider_id),
            Concern.provider_id,
            scoped,
        ),
        complaints=complaints,
        compliments=compliments,
        finance=select(
            finance.c.provider_id,
            finance.c.risk,
            finance.c.insurance_expires_on,
            finance.c.next_review_on,
        ).where(finance.c.position == 1),
        visits=select(visits.c.provider_id, visits.c.outcome, visits.c.visited_on).where(
            visits.c.position == 1
        ),
        actions_overdue=_in_scope(
            select(ImprovementAction.provider_id, func.count().label("overdue"))
            .where(
                ImprovementAction.status != ActionStatus.complete,
                ImprovementAction.due_on < TODAY,
            )
            .group_by(ImprovementAction.provider_id),
            ImprovementAction.provider_id,
            scoped,
        ),
        plans_not_agreed=_in_scope(
            select(ImprovementPlan.provider_id)
            .where(
                ImprovementPlan.status == PlanStatus.awaiting_agreement,
                ImprovementPlan.agree_by_on < TODAY,
            )
            .distinct(),
            ImprovementPlan.provider_id,
            scoped,
        ),
    )


def _latest(model: Any, order_column: Any, scoped: bool) -> Any:
    ranked = select(
        model,
        func.row_number()
        .over(partition_by=model.provider_id, order_by=(order_column.desc(), model.id.desc()))
        .label("position"),
    )
    return _in_scope(ranked, model.provider_id, scoped).subquery()


def _scalar(model: Any, column: Any, *conditions: Any) -> Any:
    """One value over a provider's rows of `model`, correlated to the outer provider."""
    return (
        select(column)
        .where(model.provider_id == Provider.id, *conditions)
        .correlate(Provider)
        .scalar_subquery()
    )


def _latest_value(model: Any, order_column: Any, column: Any) -> Any:
    return (
        select(column)
        .where(model.provider_id == Provider.id)
        .order_by(order_column.desc(), model.id.desc())
        .limit(1)
        .correlate(Provider)
        .scalar_subquery()
    )


@lru_cache(maxsize=32)
def one_provider_statement(windows_key: WindowsKey) -> Select[Any]:
    """Every signal of one provider in one row: the write path's single round trip. The
    same definitions as the grouped queries, as correlated subqueries (each an index
    lookup on provider_id); a test holds the two forms equal on random data."""
    windows = {name: set(days) for name, days in windows_key}
    substantiated = Safeguarding.outcome.in_(
        [SafeguardingOutcome.substantiated, SafeguardingOutcome.partly_substantiated]
    )
    concluded_on = func.coalesce(Safeguarding.closed_on, Safeguarding.raised_on)
    is_open = Safeguarding.status != SafeguardingStatus.closed
    concern_open = Concern.status == CaseStatus.open
    upheld = Complaint.upheld.in_([ComplaintUpheld.upheld, ComplaintUpheld.partly_upheld])
    columns: list[Any] = [
        Provider.id.label("provider_id"),
        Provider.next_visit_due_on,
        _scalar(Location, func.max(_severity(Location.overall_rating))).label("overall"),
        *(
            _scalar(Location, func.max(_severity(getattr(Location, f"{q}_rating")))).label(q)
            for q in KEY_QUESTIONS
        ),
        _scalar(Location, func.min(Location.overall_rated_on)).label("oldest_rated_on"),
        *(
            _scalar(
                LocationRating,
                func.count(),
                LocationRating.direction == "down",
                LocationRating.recorded_at >= _cut_instant(d),
            ).label(f"d{d}")
            for d in sorted(windows.get("cqc_downgrades", ()))
        ),
        _scalar(Safeguarding, func.count(), is_open).label("sg_open"),
        _scalar(Safeguarding, func.count(), is_open, Safeguarding.whole_service.is_(True)).label(
            "sg_whole_service"
        ),
        *(
            _scalar(Safeguarding, func.count(), Safeguarding.raised_on >= _cut(d)).label(f"r{d}")
            for d in sorted(windows.get("safeguardings_raised", ()))
        ),
        *(
            _scalar(Safeguarding, func.count(), substantiated, concluded_on >= _cut(d)).label(
                f"s{d}"
            )
            for d in sorted(windows.get("safeguardings_substantiated", ()))
        ),
        _scalar(Concern, func.count(), concern_open).label("concerns_open"),
        _scalar(Concern, func.count(), concern_open, Concern.whole_service.is_(True)).label(
            "concerns_whole_service"
        ),
        *(
            _scalar(Complaint, func.count(), Complaint.received_on >= _cut(d)).label(f"c{d}")
            for d in sorted(windows.get("complaints_received", ()))
        ),
        *(
            _scalar(Complaint, func.count(), upheld, Complaint.received_on >= _cut(d)).label(
                f"u{d}"
            )
            for d in sorted(windows.get("complaints_upheld", ()))
        ),
        *(
            _scalar(Compliment, func.count(), Compliment.received_on >= _cut(d)).label(
                f"compliments{d}"
            )
            for d in sorted(windows.get("compliments_received", ()))
        ),
        _scalar(FinancialAssurance, func.count()).label("finance_rows"),
        *(
            _latest_value(
                FinancialAssurance, FinancialAssurance.assessed_on, getattr(FinancialAssurance, c)
            ).label(f"finance_{c}")
            for c in ("risk", "insurance_expires_on", "next_review_on")
        ),
        _latest_value(Visit, Visit.visited_on, Visit.outcome).label("visit_outcome"),
        _latest_value(Visit, Visit.visited_on, Visit.visited_on).label("visited_on"),
        _scalar(
            ImprovementAction,
            func.count(),
            ImprovementAction.status != ActionStatus.complete,
            ImprovementAction.due_on < TODAY,
        ).label("actions_overdue"),
        _scalar(
            ImprovementPlan,
            func.count(),
            ImprovementPlan.status == PlanStatus.awaiting_agreement,
            ImprovementPlan.agree_by_on < TODAY,
        ).label("plans_not_agreed"),
    ]
    return select(*columns).where(Provider.id == bindparam("provider_id"))


def _one_provider_signals(row: Any, windows: dict[str, set[int]], today: date) -> Signals:
    signals = _defaults(windows)
    values = row._mapping
    next_due = values["next_visit_due_on"]
    signals["visit_overdue"] = next_due is not None and next_due < today
    signals["cqc_worst_overall"] = _rating(values["overall"])
    worst_question = None
    for question in KEY_QUESTIONS:
        severity = values[question]
        signals[f"cqc_worst_{question}"] = _rating(severity)
        if severity is not None and (worst_question is None or severity > worst_question):
            worst_question = severity
    signals["cqc_worst_key_question"] = _rating(worst_question)
    if values["oldest_rated_on"] is not None:
        signals["cqc_rating_age_days"] = (today - values["oldest_rated_on"]).days
    for d in windows.get("cqc_downgrades", ()):
        signals[signal_key("cqc_downgrades", d)] = values[f"d{d}"]
    signals["safeguardings_open"] = values["sg_open"]
    for d in windows.get("safeguardings_raised", ()):
        signals[signal_key("safeguardings_raised", d)] = values[f"r{d}"]
    for d in windows.get("safeguardings_substantiated", ()):
        signals[signal_key("safeguardings_substantiated", d)] = values[f"s{d}"]
    signals["concerns_open"] = values["concerns_open"]
    signals["whole_service_concerns_open"] = (
        values["concerns_whole_service"] + values["sg_whole_service"]
    )
    for d in windows.get("complaints_received", ()):
        signals[signal_key("complaints_received", d)] = values[f"c{d}"]
    for d in windows.get("complaints_upheld", ()):
        signals[signal_key("complaints_upheld", d)] = values[f"u{d}"]
    for d in windows.get("compliments_received", ()):
        signals[signal_key("compliments_received", d)] = values[f"compliments{d}"]
    if values["finance_rows"]:
        signals["financial_risk_latest"] = values["finance_risk"]
        expires = values["finance_insurance_expires_on"]
        if expires is not None:
            signals["insurance_expires_in_days"] = (expires - today).days
        review = values["finance_next_review_on"]
        signals["financial_review_overdue"] = review is not None and review < today
    if values["visited_on"] is not None:
        signals["visit_latest_outcome"] = values["visit_outcome"]
        signals["days_since_last_visit"] = (today - values["visited_on"]).days
    signals["improvement_actions_overdue"] = values["actions_overdue"]
    signals["improvement_plan_not_agreed"] = values["plans_not_agreed"] > 0
    return signals


async def compute_signals(
    session: AsyncSession,
    rules: RuleSet,
    today: date,
    provider_ids: Sequence[int] | None = None,
) -> dict[int, Signals]:
    """Every catalogue signal for the given providers (all when None), keyed by provider id."""
    windows = rules.windows()
    statements = signal_statements(_windows_key(windows), provider_ids is not None)
    params: dict[str, Any] = {"today": today}
    if provider_ids is not None:
        params["provider_ids"] = list(provider_ids)
    for days in {d for days_set in windows.values() for d in days_set}:
        params[f"cut_{days}"] = today - timedelta(days=days)
        params[f"cut_at_{days}"] = datetime.combine(today - timedelta(days=days), time(), UTC)

    # Core execution on the session's connection: these are plain column selects, so the
    # ORM's per-statement machinery would only add cost on the write path.
    connection = await session.connection()
    if provider_ids is not None and len(provider_ids) == 1:
        params["provider_id"] = provider_ids[0]
        found = (
            await connection.execute(one_provider_statement(_windows_key(windows)), params)
        ).first()
        return (
            {}
            if found is None
            else {found.provider_id: _one_provider_signals(found, windows, today)}
        )

    async def rows(statement: Select[Any]) -> Any:
        return await connection.execute(statement, params)

    result: dict[int, Signals] = {}
    for provider_id, next_due in await rows(statements.providers):
        result[provider_id] = _defaults(windows)
        result[provider_id]["visit_overdue"] = next_due is not None and next_due < today

    # CQC: worst current ratings and the oldest rating date across contracted locations.
    for row in await rows(statements.locations):
        signals = result.get(row.provider_id)
        if signals is None:
            continue
        signals["cqc_worst_overall"] = _rating(row.overall)
        worst_question = None
        for question in KEY_QUESTIONS:
            severity = getattr(row, question)
            signals[f"cqc_worst_{question}"] = _rating(severity)
            if severity is not None and (worst_question is None or severity > worst_question):
                worst_question = severity
        signals["cqc_worst_key_question"] = _rating(worst_question)
        if row.oldest_rated_on is not None:
            signals["cqc_rating_age_days"] = (today - row.oldest_rated_on).days

    if statements.downgrades is not None:
        for row in await rows(statements.downgrades):
            if row.provider_id in result:
                for days in windows["cqc_downgrades"]:
                    result[row.provider_id][signal_key("cqc_downgrades", days)] = row._mapping[
                        f"d{days}"
                    ]

    # Safeguardings.
    whole_service_safeguardings: dict[int, int] = {}
    for row in await rows(statements.safeguardings):
        signals = result.get(row.provider_id)
        if signals is None:
            continue
        signals["safeguardings_open"] = row.open
        whole_service_safeguardings[row.provider_id] = row.whole_service
        for d in windows.get("safeguardings_raised", ()):
            signals[signal_key("safeguardings_raised", d)] = row._mapping[f"r{d}"]
        for d in windows.get("safeguardings_substantiated", ()):
            signals[signal_key("safeguardings_substantiated", d)] = row._mapping[f"s{d}"]

    # Whole-service concerns (concerns and safeguardings alike).
    for row in await rows(statements.concerns):
        if row.provider_id in result:
            result[row.provider_id]["concerns_open"] = row.open
            result[row.provider_id]["whole_service_concerns_open"] = row.whole_service
    for provider_id, count in whole_service_safeguardings.items():
        result[provider_id]["whole_service_concerns_open"] += count

    # Complaints and compliments.
    if statements.complaints is not None:
        for row in await rows(statements.complaints):
            signals = result.get(row.provider_id)
            if signals is None:
                continue
            for d in windows.get("complaints_received", ()):
                signals[signal_key("complaints_received", d)] = row._mapping[f"c{d}"]
            for d in windows.get("complaints_upheld", ()):
                signals[signal_key("complaints_upheld", d)] = row._mapping[f"u{d}"]
    if statements.compliments is not None:
        for row in await rows(statements.compliments):
            if row.provider_id in result:
                for d in windows["compliments_received"]:
                    result[row.provider_id][signal_key("compliments_received", d)] = row._mapping[
                        f"c{d}"
                    ]

    # Latest financial assurance.
    for row in await rows(statements.finance):
        signals = result.get(row.provider_id)
        if signals is None:
            continue
        signals["financial_risk_latest"] = row.risk
        if row.insurance_expires_on is not None:
            signals["insurance_expires_in_days"] = (row.insurance_expires_on - today).days
        signals["financial_review_overdue"] = (
            row.next_review_on is not None and row.next_review_on < today
        )

    # Latest visit.
    for row in await rows(statements.visits):
        if row.provider_id in result:
            result[row.provider_id]["visit_latest_outcome"] = row.outcome
            result[row.provider_id]["days_since_last_visit"] = (today - row.visited_on).days

    # Improvement plans and their actions.
    for row in await rows(statements.actions_overdue):
        if row.provider_id in result:
            result[row.provider_id]["improvement_actions_overdue"] = row.overdue
    for (provider_id,) in await rows(statements.plans_not_agreed):
        if provider_id in result:
            result[provider_id]["improvement_plan_not_agreed"] = True
    return result


def _rating(severity: int | None) -> str | None:
    return None if severity is None else SEVERITY_TO_RATING[severity].value


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
    }
    for question in KEY_QUESTIONS:
        signals[f"cqc_worst_{question}"] = None
    for name, days_set in windows.items():
        for days in days_set:
            signals[signal_key(name, days)] = 0
    return signals


__all__ = ["Rating", "Signals", "compute_signals"]
