"""Time-based follow-up: overdue visits, improvement actions and visits' follow-up
actions, plans not agreed,
financial reviews due and insurance expiring, and the day-before reminder of a visit
due during intensive monitoring. Each occurrence raises its event once
(dedup key) and again for each further week it stays unresolved."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.events import Actor, EventDraft, append_events
from app.models import (
    FinancialAssurance,
    ImprovementAction,
    ImprovementPlan,
    Provider,
    Visit,
    VisitAction,
)
from app.models.base import ActionStatus, MonitoringLevel, PlanStatus
from app.sql import latest_per_provider

INSURANCE_WARNING_DAYS = 30


def weeks_overdue(due: date, today: date) -> int:
    """0 for the first seven days after `due` (day 1 is the first overdue day), then 1..."""
    return max((today - due).days - 1, 0) // 7


def weeks_since(start: date, today: date) -> int:
    """0 for the first seven days from `start` itself (the day counts), then 1..."""
    return (today - start).days // 7


@dataclass
class TimeBasedResult:
    raised: dict[str, int] = field(default_factory=dict)

    def count(self, event_type: str) -> None:
        self.raised[event_type] = self.raised.get(event_type, 0) + 1


async def raise_time_based_events(
    session: AsyncSession, *, actor: Actor, now: datetime, today: date
) -> TimeBasedResult:
    """`today` is the council's calendar day (the clock's today), not `now`'s UTC date."""
    result = TimeBasedResult()
    drafts: list[EventDraft] = []

    def raise_once(event_type: str, provider_id: int, key: str, data: dict[str, object]) -> None:
        # Collected, then appended in bulk: an occurrence already raised is skipped by
        # its dedup key in the database.
        drafts.append(EventDraft(event_type, provider_id, data, f"{event_type}:{key}"))

    overdue_visits = await session.execute(
        select(Provider.id, Provider.next_visit_due_on, Provider.monitoring_level).where(
            Provider.next_visit_due_on < today
        )
    )
    for provider_id, due_on, level in overdue_visits:
        week = weeks_overdue(due_on, today)
        raise_once(
            "visit.overdue",
            provider_id,
            f"{provider_id}:{due_on}:w{week}",
            {"due_on": due_on, "days_overdue": (today - due_on).days, "level": level, "week": week},
        )

    # The day-before reminder during intensive monitoring, once per provider and due date.
    due_tomorrow = await session.execute(
        select(Provider.id, Provider.next_visit_due_on).where(
            Provider.next_visit_due_on == today + timedelta(days=1),
            Provider.monitoring_level == MonitoringLevel.intensive,
        )
    )
    for provider_id, due_on in due_tomorrow:
        raise_once("visit.due_tomorrow", provider_id, f"{provider_id}:{due_on}", {"due_on": due_on})

    overdue_actions = await session.execute(
        select(ImprovementAction.id, ImprovementAction.provider_id, ImprovementAction.due_on)
        .join(ImprovementPlan, ImprovementPlan.id == ImprovementAction.plan_id)
        .where(
            ImprovementAction.status != ActionStatus.complete,
            ImprovementAction.due_on < today,
            ImprovementPlan.status != PlanStatus.closed,
        )
    )
    for action_id, provider_id, due_on in overdue_actions:
        week = weeks_overdue(due_on, today)
        raise_once(
            "improvement_action.overdue",
            provider_id,
            f"{action_id}:{due_on}:w{week}",
            {
                "action_id": action_id,
                "due_on": due_on,
                "days_overdue": (today - due_on).days,
                "week": week,
            },
        )

    # A visit marked entered in error takes its follow-up actions with it.
    overdue_visit_actions = await session.execute(
        select(VisitAction.id, VisitAction.provider_id, VisitAction.visit_id, VisitAction.due_on)
        .join(Visit, Visit.id == VisitAction.visit_id)
        .where(
            VisitAction.done.is_(False),
            VisitAction.due_on < today,
            Visit.entered_in_error_at.is_(None),
        )
    )
    for action_id, provider_id, visit_id, due_on in overdue_visit_actions:
        week = weeks_overdue(due_on, today)
        raise_once(
            "visit_action.overdue",
            provider_id,
            f"{action_id}:{due_on}:w{week}",
            {
                "visit_id": visit_id,
                "visit_action_id": action_id,
                "due_on": due_on,
                "days_overdue": (today - due_on).days,
                "week": week,
            },
        )

    unagreed = await session.execute(
        select(ImprovementPlan.id, ImprovementPlan.provider_id, ImprovementPlan.agree_by_on).where(
            ImprovementPlan.status == PlanStatus.awaiting_agreement,
            ImprovementPlan.agree_by_on < today,
        )
    )
    for plan_id, provider_id, agree_by in unagreed:
        week = weeks_overdue(agree_by, today)
        raise_once(
            "improvement_plan.not_agreed",
            provider_id,
            f"{plan_id}:{agree_by}:w{week}",
            {
                "plan_id": plan_id,
                "agree_by_on": agree_by,
                "days_late": (today - agree_by).days,
                "week": week,
            },
        )

    # Only the latest assurance per provider counts: a newer one supersedes old dates.
    rows = await _latest_assurances(session)
    for provider_id, review_on, insurance_on in rows:
        if review_on is not None and review_on <= today:
            week = weeks_since(review_on, today)
            raise_once(
                "financial_review.due",
                provider_id,
                f"{provider_id}:{review_on}:w{week}",
                {"next_review_on": review_on, "week": week},
            )
        warn_from = (
            insurance_on - timedelta(days=INSURANCE_WARNING_DAYS)
            if insurance_on is not None
            else None
        )
        if insurance_on is not None and warn_from is not None and warn_from <= today:
            week = weeks_since(warn_from, today)
            raise_once(
                "insurance.expiring",
                provider_id,
                f"{provider_id}:{insurance_on}:w{week}",
                {
                    "insurance_expires_on": insurance_on,
                    "days_left": (insurance_on - today).days,
                    "week": week,
                },
            )
    for _event_id, event_type in await append_events(session, drafts, actor=actor, at=now):
        result.count(event_type)
    return result


async def _latest_assurances(
    session: AsyncSession,
) -> list[tuple[int, date | None, date | None]]:
    latest = latest_per_provider(
        FinancialAssurance,
        FinancialAssurance.assessed_on,
        where=FinancialAssurance.entered_in_error_at.is_(None),
    )
    rows = await session.execute(
        select(latest.c.provider_id, latest.c.next_review_on, latest.c.insurance_expires_on).where(
            latest.c.position == 1
        )
    )
    return [(row.provider_id, row.next_review_on, row.insurance_expires_on) for row in rows]
