"""Service improvement plans: actions with issue, owner, due date, status and evidence,
and the plan's agreement. Each change is an event on the provider's timeline.

A plan outlives a step-down: it stays open, under any level, while it has open actions,
and closes when the last of them is complete outside intensive monitoring or when a
manager closes it with a reason. Closed plans keep their actions and stay readable."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import Conflict, DomainError, NotFound
from app.events import Actor, append_event
from app.inputs import Omissible, RecordDate, Storable, drop_null_defaults, limits
from app.locks import lock_provider
from app.models import ImprovementAction, ImprovementPlan
from app.models.base import ActionStatus, MonitoringLevel, PlanStatus

Issue = Storable[Annotated[str, limits(1, 2000)]]
Owner = Storable[Annotated[str, limits(1, 200)]]
Evidence = Storable[Annotated[str, limits(max_length=5000)]]


class ActionIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    issue: Issue
    action: Issue
    owner: Owner
    due_on: RecordDate
    evidence: Evidence = ""


class ActionUpdate(BaseModel):
    model_config = ConfigDict(
        extra="forbid", str_strip_whitespace=True, json_schema_extra=drop_null_defaults
    )

    issue: Omissible[Issue] = None
    action: Omissible[Issue] = None
    owner: Omissible[Owner] = None
    due_on: Omissible[RecordDate] = None
    status: Omissible[ActionStatus] = None
    evidence: Omissible[Evidence] = None


async def open_plan(session: AsyncSession, provider_id: int) -> ImprovementPlan | None:
    return (
        await session.execute(
            select(ImprovementPlan)
            .where(
                ImprovementPlan.provider_id == provider_id,
                ImprovementPlan.status != PlanStatus.closed,
            )
            .order_by(ImprovementPlan.id.desc())
            .limit(1)
        )
    ).scalar_one_or_none()


async def plan_for(session: AsyncSession, provider_id: int) -> ImprovementPlan:
    plan = await open_plan(session, provider_id)
    if plan is None:
        raise NotFound("provider_id", "this provider has no open improvement plan")
    return plan


async def list_actions(session: AsyncSession, plan_id: int) -> list[ImprovementAction]:
    query = (
        select(ImprovementAction)
        .where(ImprovementAction.plan_id == plan_id)
        .order_by(
            ImprovementAction.due_on,
            ImprovementAction.id,
        )
    )
    return list((await session.execute(query)).scalars())


async def open_action_count(session: AsyncSession, plan_id: int) -> int:
    """How many of the plan's actions are not yet complete."""
    count = await session.scalar(
        select(func.count())
        .select_from(ImprovementAction)
        .where(
            ImprovementAction.plan_id == plan_id,
            ImprovementAction.status != ActionStatus.complete,
        )
    )
    return int(count or 0)


async def close(
    session: AsyncSession, plan: ImprovementPlan, *, reason: str, actor: Actor, now: datetime
) -> None:
    """Close the plan, saying why; its actions stay with it."""
    plan.status = PlanStatus.closed
    plan.closed_at = now
    plan.closed_by = actor.label
    plan.close_reason = reason
    await append_event(
        session,
        type="improvement_plan.closed",
        provider_id=plan.provider_id,
        actor=actor,
        at=now,
        data={"plan_id": plan.id, "reason": reason},
    )


async def close_plan(
    session: AsyncSession, *, provider_id: int, reason: str, actor: Actor, now: datetime
) -> ImprovementPlan:
    """A manager closes the open plan with a reason, open actions or not; refused while
    the provider is in intensive monitoring, which always works to a plan."""
    provider = await lock_provider(session, provider_id)
    plan = await plan_for(session, provider_id)
    if provider.monitoring_level == MonitoringLevel.intensive:
        raise Conflict(
            "reason", "the provider is in intensive monitoring, which needs its improvement plan"
        )
    await close(session, plan, reason=reason, actor=actor, now=now)
    return plan


async def plan_history(session: AsyncSession, provider_id: int) -> list[dict[str, Any]]:
    """Every plan the provider has had, newest first, each with its actions."""
    plans = list(
        (
            await session.execute(
                select(ImprovementPlan)
                .where(ImprovementPlan.provider_id == provider_id)
                .order_by(ImprovementPlan.created_at.desc(), ImprovementPlan.id.desc())
            )
        ).scalars()
    )
    actions: dict[int, list[ImprovementAction]] = {plan.id or 0: [] for plan in plans}
    if plans:
        rows = await session.execute(
            select(ImprovementAction)
            .where(ImprovementAction.plan_id.in_(list(actions)))
            .order_by(ImprovementAction.due_on, ImprovementAction.id)
        )
        for action in rows.scalars():
            actions[action.plan_id].append(action)
    return [{**plan.model_dump(), "actions": actions[plan.id or 0]} for plan in plans]


async def add_action(
    session: AsyncSession, *, provider_id: int, data: ActionIn, actor: Actor, now: datetime
) -> ImprovementAction:
    await lock_provider(session, provider_id)
    plan = await plan_for(session, provider_id)
    assert plan.id is not None
    action = ImprovementAction(
        plan_id=plan.id,
        provider_id=provider_id,
        **data.model_dump(),
        created_at=now,
        updated_at=now,
    )
    session.add(action)
    await session.flush()
    await append_event(
        session,
        type="improvement_action.added",
        provider_id=provider_id,
        actor=actor,
        at=now,
        data={"action_id": action.id, "due_on": action.due_on, "owner": action.owner},
    )
    return action


async def update_action(
    session: AsyncSession,
    *,
    action_id: int,
    data: ActionUpdate,
    actor: Actor,
    now: datetime,
    today: date,
) -> ImprovementAction:
    action = await session.get(ImprovementAction, action_id)
    if action is None:
        raise NotFound("action_id", f"no improvement action with id {action_id}")
    provider = await lock_provider(session, action.provider_id)
    changes = data.model_dump(exclude_unset=True)
    if "status" in changes and changes["status"] is None:
        raise DomainError("status", "cannot be null")
    for key, value in changes.items():
        if value is None and key in ("issue", "action", "owner", "due_on", "evidence"):
            raise DomainError(key, "cannot be null")
        setattr(action, key, value)
    completed = changes.get("status") == ActionStatus.complete
    if completed and action.completed_on is None:
        action.completed_on = today
    elif "status" in changes and not completed:
        action.completed_on = None
    action.updated_at = now
    await append_event(
        session,
        type="improvement_action.completed" if completed else "improvement_action.updated",
        provider_id=action.provider_id,
        actor=actor,
        at=now,
        data={"action_id": action.id, "status": action.status, "fields": sorted(changes)},
    )
    if completed and provider.monitoring_level != MonitoringLevel.intensive:
        plan = await session.get(ImprovementPlan, action.plan_id)
        await session.flush()
        if (
            plan is not None
            and plan.status != PlanStatus.closed
            and not await open_action_count(session, action.plan_id)
        ):
            await close(session, plan, reason="every action is complete", actor=actor, now=now)
    return action


async def agree_plan(
    session: AsyncSession,
    *,
    provider_id: int,
    agreed_on: date,
    actor: Actor,
    now: datetime,
    today: date,
) -> ImprovementPlan:
    await lock_provider(session, provider_id)
    plan = await plan_for(session, provider_id)
    if plan.status == PlanStatus.agreed:
        raise Conflict("status", "the plan is already agreed")
    if agreed_on > today:
        raise DomainError("agreed_on", "cannot be in the future")
    plan.status = PlanStatus.agreed
    plan.agreed_on = agreed_on
    plan.agreed_by = actor.user_id
    await append_event(
        session,
        type="improvement_plan.agreed",
        provider_id=provider_id,
        actor=actor,
        at=now,
        data={"plan_id": plan.id, "agreed_on": agreed_on, "agree_by_on": plan.agree_by_on},
    )
    return plan
