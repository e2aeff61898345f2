"""Who carries which providers: the people a contract may be given to, the localities it
may serve, the providers whose officer has left (to be reassigned), and an officer's week
of work (/my-work)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import (
    Concern,
    ImprovementAction,
    ImprovementPlan,
    Locality,
    Provider,
    Safeguarding,
    User,
    Visit,
    VisitAction,
)
from app.models.base import ActionStatus, CaseStatus, PlanStatus
from app.records.service import CONTRACT_OFFICER_ROLES
from app.sql import OPEN_SAFEGUARDING


async def contract_officer_choices(session: AsyncSession) -> list[User]:
    """Active users who may hold a contract (officers and managers), by name."""
    rows = await session.execute(
        select(User)
        .where(User.active.is_(True), User.role.in_(sorted(CONTRACT_OFFICER_ROLES)))
        .order_by(User.name, User.id)
    )
    return list(rows.scalars())


async def locality_choices(session: AsyncSession) -> list[Locality]:
    """The council's list of localities, by name, that a provider's are chosen from."""
    return list((await session.execute(select(Locality).order_by(Locality.name))).scalars())


async def providers_to_reassign(session: AsyncSession) -> list[dict[str, Any]]:
    """Providers whose contract officer is deactivated: their alerts go to the managers
    until someone else takes the contract."""
    rows = await session.execute(
        select(Provider.id, Provider.name, User.id, User.name)
        .join(User, User.id == Provider.contract_officer_id)
        .where(User.active.is_(False))
        .order_by(Provider.name, Provider.id)
    )
    return [
        {"id": pid, "name": name, "officer_id": officer_id, "officer_name": officer_name}
        for pid, name, officer_id, officer_name in rows
    ]


@dataclass
class Week:
    """One officer's (or, for a manager, everyone's) work: each list holds dicts with the
    provider's id and name, the officer's name, and what is due."""

    start: date
    end: date
    visits: list[dict[str, Any]]
    follow_ups: list[dict[str, Any]]
    actions: list[dict[str, Any]]
    safeguardings: list[dict[str, Any]]
    concerns: list[dict[str, Any]]
    plans: list[dict[str, Any]]


def week_of(today: date) -> tuple[date, date]:
    """Monday to Sunday of the week holding `today`."""
    start = today - timedelta(days=today.weekday())
    return start, start + timedelta(days=6)


async def my_week(
    session: AsyncSession, today: date, officer_id: int | None, *, safeguarding_details: bool
) -> Week:
    """What is due this week or overdue, on the providers of `officer_id` (every provider
    when None): visits, visits' follow-up actions not done, improvement actions, open
    safeguardings and concerns, and plans awaiting agreement. What was entered in error
    is left out, as the rules leave it out. A safeguarding's reference and category are
    read only with `safeguarding_details` (the caller audits showing them)."""
    start, end = week_of(today)
    mine = Provider.contract_officer_id == officer_id if officer_id is not None else None

    names = (
        Provider.id.label("provider_id"),
        Provider.name.label("provider_name"),
        User.name.label("officer_name"),
    )
    visit_query = (
        select(*names, Provider.next_visit_due_on.label("due_on"))
        .outerjoin(User, User.id == Provider.contract_officer_id)
        .where(Provider.next_visit_due_on.is_not(None), Provider.next_visit_due_on <= end)
        .order_by(Provider.next_visit_due_on, Provider.name)
    )
    if mine is not None:
        visit_query = visit_query.where(mine)
    visits = [dict(row._mapping) for row in await session.execute(visit_query)]

    def of_provider(model: Any, *columns: Any) -> Any:
        query = (
            select(*names, *columns)
            .select_from(model)
            .join(Provider, Provider.id == model.provider_id)
            .outerjoin(User, User.id == Provider.contract_officer_id)
        )
        return query.where(mine) if mine is not None else query

    follow_ups = await _all(
        session,
        of_provider(
            VisitAction,
            VisitAction.id,
            VisitAction.visit_id,
            VisitAction.action,
            VisitAction.owner,
            VisitAction.due_on,
        )
        .join(Visit, Visit.id == VisitAction.visit_id)
        .where(
            VisitAction.done.is_(False),
            VisitAction.due_on <= end,
            Visit.entered_in_error_at.is_(None),
        )
        .order_by(VisitAction.due_on, VisitAction.id),
    )
    actions = await _all(
        session,
        of_provider(
            ImprovementAction,
            ImprovementAction.id,
            ImprovementAction.action,
            ImprovementAction.owner,
            ImprovementAction.due_on,
            ImprovementAction.status,
        )
        .join(ImprovementPlan, ImprovementPlan.id == ImprovementAction.plan_id)
        .where(
            ImprovementPlan.status != PlanStatus.closed,
            ImprovementAction.status != ActionStatus.complete,
            ImprovementAction.due_on <= end,
        )
        .order_by(ImprovementAction.due_on, ImprovementAction.id),
    )
    safeguardings = await _all(
        session,
        of_provider(
            Safeguarding,
            Safeguarding.id,
            Safeguarding.raised_on,
            Safeguarding.status,
            Safeguarding.whole_service,
            *(
                (Safeguarding.reference, Safeguarding.category, Safeguarding.legacy_category)
                if safeguarding_details
                else ()
            ),
        )
        .where(OPEN_SAFEGUARDING)
        .order_by(Safeguarding.raised_on, Safeguarding.id),
    )
    concerns = await _all(
        session,
        of_provider(
            Concern, Concern.id, Concern.raised_on, Concern.description, Concern.whole_service
        )
        .where(Concern.status != CaseStatus.closed, Concern.entered_in_error_at.is_(None))
        .order_by(Concern.raised_on, Concern.id),
    )
    plans = await _all(
        session,
        of_provider(ImprovementPlan, ImprovementPlan.id, ImprovementPlan.agree_by_on)
        .where(ImprovementPlan.status == PlanStatus.awaiting_agreement)
        .order_by(ImprovementPlan.agree_by_on, ImprovementPlan.id),
    )
    return Week(start, end, visits, follow_ups, actions, safeguardings, concerns, plans)


async def _all(session: AsyncSession, query: Any) -> list[dict[str, Any]]:
    return [dict(row._mapping) for row in await session.execute(query)]
