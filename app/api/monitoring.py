"""Monitoring level, episodes, de-escalation, placement suspension and improvement plans."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.common import Id
from app.api.deps import MonitoringManager, Reader, RecordWriter, ServicesDep, SessionDep
from app.api.errors import SIGNED_IN, errors
from app.api.listing import ListQuery, page_of_all
from app.api.names import with_names
from app.api.schemas import ActionRead, MonitoringRead, Page, PlanHistoryRead, PlanRead
from app.models import ImprovementAction
from app.monitoring import decisions as monitoring
from app.monitoring import plans
from app.monitoring.errors import DeEscalationRefused
from app.monitoring.schemas import DeEscalation, PlacementsChange, PlanAgreement, PlanClosure
from app.records import queries

router = APIRouter(prefix="/api/v1", tags=["monitoring"], responses=SIGNED_IN)


async def _named(session: AsyncSession, view: dict[str, Any]) -> dict[str, Any]:
    """The monitoring view with the names of the people who started and ended episodes."""
    episodes = [episode.model_dump() for episode in view["episodes"]]
    return {**view, "episodes": await with_names(session, episodes, "started_by", "ended_by")}


@router.get(
    "/providers/{provider_id}/monitoring",
    response_model=MonitoringRead,
    responses=errors(404, 422),
)
async def get_monitoring(
    provider_id: Id, _principal: Reader, services: ServicesDep, session: SessionDep
) -> dict[str, Any]:
    """The current level, the rules firing now, the next visit due and every episode."""
    return await _named(
        session,
        await queries.monitoring_view(
            session, provider_id, services.policy, services.clock.today()
        ),
    )


@router.post(
    "/providers/{provider_id}/monitoring/de-escalate",
    response_model=MonitoringRead,
    responses=errors(400, 404, 409, 413, 422),
)
async def de_escalate(
    provider_id: Id,
    body: DeEscalation,
    principal: MonitoringManager,
    services: ServicesDep,
    session: SessionDep,
) -> dict[str, Any]:
    """Step a provider down (manager or admin). Refused with 409 and the reasons while a
    rule still fires above the target or plan actions are open, unless `override`."""
    try:
        await monitoring.de_escalate(
            session,
            provider_id=provider_id,
            to=body.to,
            reason=body.reason,
            override=body.override,
            policy=services.policy,
            actor=principal.actor,
            now=services.clock.now(),
            today=services.clock.today(),
        )
    except DeEscalationRefused:
        await session.commit()  # the refusal itself is on record
        raise
    await session.commit()
    return await _named(
        session,
        await queries.monitoring_view(
            session, provider_id, services.policy, services.clock.today()
        ),
    )


@router.post(
    "/providers/{provider_id}/monitoring/placements",
    response_model=MonitoringRead,
    responses=errors(400, 404, 409, 413, 422),
)
async def change_placements(
    provider_id: Id,
    body: PlacementsChange,
    principal: MonitoringManager,
    services: ServicesDep,
    session: SessionDep,
) -> dict[str, Any]:
    """Suspend or lift new placements (manager or admin), with a reason."""
    await monitoring.set_placements_suspended(
        session,
        provider_id=provider_id,
        suspended=body.suspended,
        reason=body.reason,
        policy=services.policy,
        actor=principal.actor,
        now=services.clock.now(),
        today=services.clock.today(),
    )
    await session.commit()
    return await _named(
        session,
        await queries.monitoring_view(
            session, provider_id, services.policy, services.clock.today()
        ),
    )


@router.get(
    "/providers/{provider_id}/improvement-plan",
    response_model=PlanRead,
    responses=errors(404, 422),
)
async def get_plan(provider_id: Id, _principal: Reader, session: SessionDep) -> dict[str, Any]:
    return await queries.plan_view(session, provider_id)


@router.get(
    "/providers/{provider_id}/improvement-plans",
    response_model=Page[PlanHistoryRead],
    responses=errors(400, 404, 422),
)
async def list_plans(
    provider_id: Id, _principal: Reader, session: SessionDep, query: Annotated[ListQuery, Query()]
) -> Page[Any]:
    """Every improvement plan the provider has had, newest first, closed ones with why."""
    await queries.require_provider(session, provider_id)
    return page_of_all(await plans.plan_history(session, provider_id), query)


@router.post(
    "/providers/{provider_id}/improvement-plan/close",
    response_model=PlanHistoryRead,
    responses=errors(400, 404, 409, 413, 422),
)
async def close_plan(
    provider_id: Id,
    body: PlanClosure,
    principal: MonitoringManager,
    services: ServicesDep,
    session: SessionDep,
) -> dict[str, Any]:
    """A manager closes the open plan with a reason (refused in intensive monitoring).
    A plan also closes by itself when its last action is complete outside intensive."""
    plan = await plans.close_plan(
        session,
        provider_id=provider_id,
        reason=body.reason,
        actor=principal.actor,
        now=services.clock.now(),
    )
    await session.commit()
    history = await plans.plan_history(session, provider_id)
    return next(item for item in history if item["id"] == plan.id)


@router.post(
    "/providers/{provider_id}/improvement-plan/agree",
    response_model=PlanRead,
    responses=errors(400, 404, 409, 413, 422),
)
async def agree_plan(
    provider_id: Id,
    body: PlanAgreement,
    principal: RecordWriter,
    services: ServicesDep,
    session: SessionDep,
) -> dict[str, Any]:
    await plans.agree_plan(
        session,
        provider_id=provider_id,
        agreed_on=body.agreed_on,
        actor=principal.actor,
        now=services.clock.now(),
        today=services.clock.today(),
    )
    await session.commit()
    return await queries.plan_view(session, provider_id)


@router.post(
    "/providers/{provider_id}/improvement-plan/actions",
    response_model=ActionRead,
    status_code=201,
    responses=errors(400, 404, 413, 422),
)
async def add_action(
    provider_id: Id,
    body: plans.ActionIn,
    principal: RecordWriter,
    services: ServicesDep,
    session: SessionDep,
) -> ImprovementAction:
    action = await plans.add_action(
        session, provider_id=provider_id, data=body, actor=principal.actor, now=services.clock.now()
    )
    await session.commit()
    return action


@router.patch(
    "/improvement-actions/{action_id}",
    response_model=ActionRead,
    responses=errors(400, 404, 413, 422),
)
async def update_action(
    action_id: Id,
    body: plans.ActionUpdate,
    principal: RecordWriter,
    services: ServicesDep,
    session: SessionDep,
) -> ImprovementAction:
    """Update an action, or complete it with `status: complete` and its evidence."""
    action = await plans.update_action(
        session,
        action_id=action_id,
        data=body,
        actor=principal.actor,
        now=services.clock.now(),
        today=services.clock.today(),
    )
    await session.commit()
    return action
