"""A manager's decisions: stepping a provider down (refused while the evidence says
otherwise, unless overridden with a reason) and suspending or lifting new placements.
Both outcomes of each are on record as events.

Every function works inside the caller's transaction and never commits."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.clock import long_date
from app.errors import Conflict, DomainError
from app.events import Actor, append_event
from app.locks import lock_provider
from app.models import Concern, Provider, Safeguarding
from app.models.base import LEVEL_RANK, MonitoringLevel
from app.monitoring.errors import DeEscalationRefused
from app.monitoring.escalation import acknowledgement, current_firings, switch_episode
from app.monitoring.plans import close, open_action_count, open_plan
from app.monitoring.policy import MonitoringPolicy
from app.rules.engine import Firing


async def de_escalate(
    session: AsyncSession,
    *,
    provider_id: int,
    to: MonitoringLevel,
    reason: str,
    override: bool,
    policy: MonitoringPolicy,
    actor: Actor,
    now: datetime,
    today: date,
) -> Provider:
    """Step a provider down: a manager's decision, refused while evidence says otherwise
    unless explicitly overridden with a reason. Both outcomes are on record."""
    provider = await lock_provider(session, provider_id)
    assert provider.id is not None
    current = MonitoringLevel(provider.monitoring_level)
    if LEVEL_RANK[to] >= LEVEL_RANK[current]:
        raise DomainError("to", f"must be below the current level, {current.value} monitoring")
    firings = (await current_firings(session, policy, today, [provider.id])).get(provider.id, [])
    blocking = [f for f in firings if LEVEL_RANK[f.level] > LEVEL_RANK[to]]
    blockers = [phrase for f in blocking for phrase in await _still_holds(session, provider.id, f)]
    if blockers and not override:
        await append_event(
            session,
            type="monitoring.de_escalation_refused",
            provider_id=provider.id,
            actor=actor,
            at=now,
            data={"from": current.value, "to": to.value, "reason": reason, "blockers": blockers},
        )
        raise DeEscalationRefused(blockers)
    await switch_episode(
        session,
        provider.id,
        to,
        [{"rule": "manual", "description": f"stepped down from {current.value}", "detail": reason}],
        actor,
        now,
        reason,
        overridden=bool(blockers),
    )
    provider.monitoring_level = to
    if blocking:
        provider.acknowledged_firings = {
            **(provider.acknowledged_firings or {}),
            **{f.rule_id: acknowledgement(f) for f in blocking},
        }
    provider.next_visit_due_on = policy.next_visit_due(to, provider.last_visit_on or today)
    provider.updated_at = now
    # Stepping down never hides work: a plan with open actions carries on at the new
    # level until they are complete or a manager closes it; one with none is done.
    plan = await open_plan(session, provider.id)
    open_actions = await open_action_count(session, plan.id) if plan is not None else 0
    if plan is not None and not open_actions:
        await close(session, plan, reason=f"stepped down to {to.value}", actor=actor, now=now)
    await append_event(
        session,
        type="monitoring.de_escalated",
        provider_id=provider.id,
        actor=actor,
        at=now,
        data={
            "from": current.value,
            "to": to.value,
            "reason": reason,
            "override": bool(blockers),
            "overridden": blockers,
            "plan_open_actions": open_actions,
        },
    )
    return provider


async def _still_holds(session: AsyncSession, provider_id: int, firing: Firing) -> list[str]:
    """Why a rule still holds, in an officer's words: the whole-service concerns and
    safeguardings still open, each with the day it was raised; otherwise what the rule
    says (never its id or its signals' names)."""
    if "whole_service_concerns_open" in firing.evidence:
        phrases = []
        for kind, model in (("concern", Concern), ("safeguarding", Safeguarding)):
            raised = await session.execute(
                select(model.raised_on)
                .where(
                    model.provider_id == provider_id,
                    model.whole_service.is_(True),
                    model.status != "closed",
                )
                .order_by(model.raised_on)
            )
            phrases += [
                f"the whole-service {kind} raised on {long_date(day)} is still open"
                for day in raised.scalars()
            ]
        if phrases:
            return phrases
    description = firing.description.rstrip(".")
    return [f"{description[:1].lower()}{description[1:]} (this still holds)"]


async def set_placements_suspended(
    session: AsyncSession,
    *,
    provider_id: int,
    suspended: bool,
    reason: str,
    policy: MonitoringPolicy,
    actor: Actor,
    now: datetime,
    today: date,
) -> Provider:
    """A manager suspends or lifts new placements; lifting acknowledges the rules that
    suspended them, so the same evidence does not suspend again at the next write."""
    provider = await lock_provider(session, provider_id)
    assert provider.id is not None
    if provider.placements_suspended == suspended:
        raise Conflict(
            "suspended", f"placements are already {'suspended' if suspended else 'open'}"
        )
    provider.placements_suspended = suspended
    provider.updated_at = now
    if not suspended:
        firings = (await current_firings(session, policy, today, [provider.id])).get(
            provider.id, []
        )
        provider.acknowledged_firings = {
            **(provider.acknowledged_firings or {}),
            **{f.rule_id: acknowledgement(f) for f in firings if f.suspend_placements},
        }
    await append_event(
        session,
        type="placements.suspended" if suspended else "placements.lifted",
        provider_id=provider.id,
        actor=actor,
        at=now,
        data={"reason": reason},
    )
    return provider
