"""Signals computed in SQL, set-based: one grouped query per source table, for one
provider on the write path or for every provider in the scheduled sweep (same code).

Dates are compared against cut-offs computed here, so the SQL is the same on SQLite and
PostgreSQL; "days since" arithmetic happens in Python on the grouped results.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Select, and_, case, func, literal, select
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


async def compute_signals(
    session: AsyncSession,
    rules: RuleSet,
    today: date,
    provider_ids: Sequence[int] | None = None,
) -> dict[int, Signals]:
    """Every catalogue signal for the given providers (all when None), keyed by provider id."""
    windows = rules.windows()
    provider_query = _scoped(
        select(Provider.id, Provider.next_visit_due_on), Provider.id, provider_ids
    )
    result: dict[int, Signals] = {}
    for provider_id, next_due in await session.execute(provider_query):
        result[provider_id] = _defaults(windows)
        result[provider_id]["visit_overdue"] = next_due is not None and next_due < today

    def cutoff(days: int) -> date:
        return today - timedelta(days=days)

    # CQC: worst current ratings and the oldest rating date across contracted locations.
    location_columns = [
        func.max(_severity(Location.overall_rating)).label("overall"),
        *(
            func.max(_severity(getattr(Location, f"{question}_rating"))).label(question)
            for question in KEY_QUESTIONS
        ),
        func.min(Location.overall_rated_on).label("oldest_rated_on"),
    ]
    query = _scoped(
        select(Location.provider_id, *location_columns).group_by(Location.provider_id),
        Location.provider_id,
        provider_ids,
    )
    for row in await session.execute(query):
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

    if "cqc_downgrades" in windows:
        columns = [
            _count_if(
                and_(
                    LocationRating.direction == "down",
                    LocationRating.recorded_at >= datetime.combine(cutoff(days), time(), UTC),
                )
            ).label(f"d{days}")
            for days in sorted(windows["cqc_downgrades"])
        ]
        query = _scoped(
            select(LocationRating.provider_id, *columns).group_by(LocationRating.provider_id),
            LocationRating.provider_id,
            provider_ids,
        )
        for row in await session.execute(query):
            if row.provider_id in result:
                for days in windows["cqc_downgrades"]:
                    result[row.provider_id][signal_key("cqc_downgrades", days)] = row._mapping[
                        f"d{days}"
                    ]

    # Safeguardings.
    substantiated = Safeguarding.outcome.in_(
        [SafeguardingOutcome.substantiated, SafeguardingOutcome.partly_substantiated]
    )
    concluded_on = func.coalesce(Safeguarding.closed_on, Safeguarding.raised_on)
    is_open = Safeguarding.status != SafeguardingStatus.closed
    columns = [
        _count_if(is_open).label("open"),
        _count_if(and_(is_open, Safeguarding.whole_service.is_(True))).label("whole_service"),
        *(
            _count_if(Safeguarding.raised_on >= cutoff(d)).label(f"r{d}")
            for d in windows.get("safeguardings_raised", ())
        ),
        *(
            _count_if(and_(substantiated, concluded_on >= cutoff(d))).label(f"s{d}")
            for d in windows.get("safeguardings_substantiated", ())
        ),
    ]
    query = _scoped(
        select(Safeguarding.provider_id, *columns).group_by(Safeguarding.provider_id),
        Safeguarding.provider_id,
        provider_ids,
    )
    whole_service_safeguardings: dict[int, int] = {}
    for row in await session.execute(query):
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
    concern_open = Concern.status == CaseStatus.open
    query = _scoped(
        select(
            Concern.provider_id,
            _count_if(concern_open).label("open"),
            _count_if(and_(concern_open, Concern.whole_service.is_(True))).label("whole_service"),
        ).group_by(Concern.provider_id),
        Concern.provider_id,
        provider_ids,
    )
    for row in await session.execute(query):
        if row.provider_id in result:
            result[row.provider_id]["concerns_open"] = row.open
            result[row.provider_id]["whole_service_concerns_open"] = row.whole_service
    for provider_id, count in whole_service_safeguardings.items():
        result[provider_id]["whole_service_concerns_open"] += count

    # Complaints and compliments.
    upheld = Complaint.upheld.in_([ComplaintUpheld.upheld, ComplaintUpheld.partly_upheld])
    columns = [
        literal(0).label("unused"),
        *(
            _count_if(Complaint.received_on >= cutoff(d)).label(f"c{d}")
            for d in windows.get("complaints_received", ())
        ),
        *(
            _count_if(and_(upheld, Complaint.received_on >= cutoff(d))).label(f"u{d}")
            for d in windows.get("complaints_upheld", ())
        ),
    ]
    if len(columns) > 1:
        query = _scoped(
            select(Complaint.provider_id, *columns).group_by(Complaint.provider_id),
            Complaint.provider_id,
            provider_ids,
        )
        for row in await session.execute(query):
            if row.provider_id in result:
                for d in windows.get("complaints_received", ()):
                    result[row.provider_id][signal_key("complaints_received", d)] = row._mapping[
                        f"c{d}"
                    ]
                for d in windows.get("complaints_upheld", ()):
                    result[row.provider_id][signal_key("complaints_upheld", d)] = row._mapping[
                        f"u{d}"
                    ]
    if "compliments_received" in windows:
        columns = [
            _count_if(Compliment.received_on >= cutoff(d)).label(f"c{d}")
            for d in windows["compliments_received"]
        ]
        query = _scoped(
            select(Compliment.provider_id, *columns).group_by(Compliment.provider_id),
            Compliment.provider_id,
            provider_ids,
        )
        for row in await session.execute(query):
            if row.provider_id in result:
                for d in windows["compliments_received"]:
                    result[row.provider_id][signal_key("compliments_received", d)] = row._mapping[
                        f"c{d}"
                    ]

    # Latest financial assurance.
    latest = latest_per_provider(FinancialAssurance, FinancialAssurance.assessed_on, provider_ids)
    query = select(
        latest.c.provider_id, latest.c.risk, latest.c.insurance_expires_on, latest.c.next_review_on
    ).where(latest.c.position == 1)
    for row in await session.execute(query):
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
    latest = latest_per_provider(Visit, Visit.visited_on, provider_ids)
    query = select(latest.c.provider_id, latest.c.outcome, latest.c.visited_on).where(
        latest.c.position == 1
    )
    for row in await session.execute(query):
        if row.provider_id in result:
            result[row.provider_id]["visit_latest_outcome"] = row.outcome
            result[row.provider_id]["days_since_last_visit"] = (today - row.visited_on).days

    # Improvement plans and their actions.
    query = _scoped(
        select(ImprovementAction.provider_id, func.count().label("overdue"))
        .where(ImprovementAction.status != ActionStatus.complete, ImprovementAction.due_on < today)
        .group_by(ImprovementAction.provider_id),
        ImprovementAction.provider_id,
        provider_ids,
    )
    for row in await session.execute(query):
        if row.provider_id in result:
            result[row.provider_id]["improvement_actions_overdue"] = row.overdue
    query = _scoped(
        select(ImprovementPlan.provider_id)
        .where(
            ImprovementPlan.status == PlanStatus.awaiting_agreement,
            ImprovementPlan.agree_by_on < today,
        )
        .distinct(),
        ImprovementPlan.provider_id,
        provider_ids,
    )
    for (provider_id,) in await session.execute(query):
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
