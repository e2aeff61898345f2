"""Rule-driven escalation, never down: the rules' firings raise a provider's level, open
its monitoring episode, bring its next visit forward, open an improvement plan for
intensive monitoring and suspend placements where a rule says so.

Every function works inside the caller's transaction and never commits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from pydantic_core import to_jsonable_python
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.events import Actor, append_event
from app.locks import lock_provider
from app.models import ImprovementPlan, MonitoringEpisode, Provider
from app.models.base import LEVEL_RANK, MonitoringLevel
from app.monitoring.plans import open_plan
from app.monitoring.policy import MonitoringPolicy
from app.rules.engine import Firing, evaluate, highest_level
from app.rules.signals import compute_signals


@dataclass
class Escalation:
    """What the rules changed for one provider: its level (from, to, why) and whether
    they suspended its placements."""

    provider_id: int
    from_level: MonitoringLevel
    to_level: MonitoringLevel
    reasons: list[dict[str, Any]] = field(default_factory=list)
    placements_suspended: bool = False

    def summary(self) -> dict[str, Any] | None:
        """What the caller is told (API answer, page banner); None when nothing changed."""
        if self.from_level == self.to_level and not self.placements_suspended:
            return None
        return {
            "from_level": self.from_level,
            "to_level": self.to_level,
            "reasons": self.reasons,
            "placements_suspended": self.placements_suspended,
        }


async def current_firings(
    session: AsyncSession,
    policy: MonitoringPolicy,
    today: date,
    provider_ids: Sequence[int] | None,
) -> dict[int, list[Firing]]:
    """The rules that fire for some providers (all when None), by provider id."""
    signals = await compute_signals(session, policy.rules, today, provider_ids)
    return {pid: evaluate(policy.rules, values) for pid, values in signals.items()}


async def apply_rules(
    session: AsyncSession,
    *,
    policy: MonitoringPolicy,
    actor: Actor,
    now: datetime,
    today: date,
    provider_ids: Sequence[int] | None = None,
    trigger: dict[str, Any] | None = None,
) -> dict[int, Escalation]:
    """The sweep (or, given `provider_ids`, a batch's providers, as an import ends):
    evaluate the rules for those providers and raise any whose level a firing rule
    exceeds. Returns the escalations made, by provider id.

    Every provider is read once without a lock; only one whose firings would change
    something is then locked (and read again under the lock) and changed."""
    firings_by_provider = await current_firings(session, policy, today, provider_ids)
    query = select(Provider)
    if provider_ids is not None:
        query = query.where(Provider.id.in_(list(provider_ids)))
    providers = {p.id: p for p in (await session.execute(query)).scalars()}
    changed: dict[int, Escalation] = {}
    for provider_id, firings in firings_by_provider.items():
        if not _Weighed.of(providers[provider_id], firings):
            continue
        provider = await lock_provider(session, provider_id)
        escalation = await _apply(session, provider, firings, policy, actor, now, today, trigger)
        if escalation is not None:
            changed[provider_id] = escalation
    return changed


async def apply_rules_to(
    session: AsyncSession,
    provider: Provider,
    *,
    policy: MonitoringPolicy,
    actor: Actor,
    now: datetime,
    today: date,
    trigger: dict[str, Any] | None = None,
) -> Escalation | None:
    """Evaluate the rules for one provider its writer has locked, and raise its level if
    a firing rule exceeds it. `trigger` is the write that set the rules off."""
    assert provider.id is not None
    firings = (await current_firings(session, policy, today, [provider.id])).get(provider.id, [])
    return await _apply(session, provider, firings, policy, actor, now, today, trigger)


@dataclass(frozen=True)
class _Weighed:
    """What a provider's firings would change: acknowledgements whose rule stopped
    firing (they lapse, so a later firing counts), the firings no manager acknowledged
    with this same evidence, a level above the provider's own, and a suspension not yet
    made. False when they would change nothing."""

    lapsed: frozenset[str]
    fresh: list[Firing]
    escalate_to: MonitoringLevel | None
    suspending: list[Firing]

    @classmethod
    def of(cls, provider: Provider, firings: list[Firing]) -> _Weighed:
        acknowledged = provider.acknowledged_firings or {}
        fresh = [f for f in firings if acknowledged.get(f.rule_id) != acknowledgement(f)]
        target = highest_level(fresh)
        current = MonitoringLevel(provider.monitoring_level)
        return cls(
            lapsed=frozenset(acknowledged) - {f.rule_id for f in firings},
            fresh=fresh,
            escalate_to=(
                target if target is not None and LEVEL_RANK[target] > LEVEL_RANK[current] else None
            ),
            suspending=(
                [] if provider.placements_suspended else [f for f in fresh if f.suspend_placements]
            ),
        )

    def __bool__(self) -> bool:
        return bool(self.lapsed or self.escalate_to or self.suspending)


def acknowledgement(firing: Firing) -> Any:
    """A firing's evidence as an acknowledgement stores it (JSON)."""
    return to_jsonable_python(firing.evidence)


async def _apply(
    session: AsyncSession,
    provider: Provider,
    firings: list[Firing],
    policy: MonitoringPolicy,
    actor: Actor,
    now: datetime,
    today: date,
    trigger: dict[str, Any] | None,
) -> Escalation | None:
    assert provider.id is not None
    weighed = _Weighed.of(provider, firings)
    if weighed.lapsed:
        provider.acknowledged_firings = {
            rule: evidence
            for rule, evidence in (provider.acknowledged_firings or {}).items()
            if rule not in weighed.lapsed
        }
    current = MonitoringLevel(provider.monitoring_level)
    escalation: Escalation | None = None
    if weighed.escalate_to is not None:
        escalation = await _escalate(
            session,
            provider,
            weighed.escalate_to,
            weighed.fresh,
            policy,
            actor,
            now,
            today,
            trigger,
        )
    if weighed.suspending:
        provider.placements_suspended = True
        provider.updated_at = now
        await append_event(
            session,
            type="placements.suspended",
            provider_id=provider.id,
            actor=actor,
            at=now,
            data={
                "rules": [f.rule_id for f in weighed.suspending],
                "reason": "; ".join(f.description for f in weighed.suspending),
            },
        )
        escalation = escalation or Escalation(provider.id, current, current)
        escalation.placements_suspended = True
    return escalation


async def open_episode(session: AsyncSession, provider_id: int) -> MonitoringEpisode | None:
    """The provider's open monitoring episode (none while routine)."""
    return (
        await session.execute(
            select(MonitoringEpisode).where(
                MonitoringEpisode.provider_id == provider_id,
                MonitoringEpisode.ended_at.is_(None),
            )
        )
    ).scalar_one_or_none()


async def switch_episode(
    session: AsyncSession,
    provider_id: int,
    level: MonitoringLevel | None,
    reasons: list[dict[str, Any]],
    actor: Actor,
    now: datetime,
    end_reason: str,
    overridden: bool = False,
) -> MonitoringEpisode | None:
    """End the open episode (if any) and open one at `level` (none for routine)."""
    current = await open_episode(session, provider_id)
    if current is not None:
        current.ended_at = now
        current.ended_by = actor.label
        current.end_reason = end_reason
        current.overridden = overridden
        await session.flush()  # the one-open-episode index must see it closed first
    if level is None or level == MonitoringLevel.routine:
        return None
    episode = MonitoringEpisode(
        provider_id=provider_id,
        level=level,
        started_at=now,
        started_by=actor.label,
        reasons=to_jsonable_python(reasons),
    )
    session.add(episode)
    await session.flush()
    return episode


async def _escalate(
    session: AsyncSession,
    provider: Provider,
    target: MonitoringLevel,
    firings: list[Firing],
    policy: MonitoringPolicy,
    actor: Actor,
    now: datetime,
    today: date,
    trigger: dict[str, Any] | None = None,
) -> Escalation:
    assert provider.id is not None
    previous = MonitoringLevel(provider.monitoring_level)
    reasons = [f.as_reason() for f in firings]
    episode = await switch_episode(
        session, provider.id, target, reasons, actor, now, f"escalated to {target.value}"
    )
    assert episode is not None and episode.id is not None
    provider.monitoring_level = target
    due = policy.next_visit_due(target, today)
    if provider.next_visit_due_on is None or provider.next_visit_due_on > due:
        provider.next_visit_due_on = due
    provider.updated_at = now
    agree_by: date | None = None
    if target == MonitoringLevel.intensive:
        plan = await open_plan(session, provider.id)
        if plan is None:
            agree_by = today + timedelta(days=policy.plan_agree_days)
            session.add(
                ImprovementPlan(
                    provider_id=provider.id,
                    episode_id=episode.id,
                    agree_by_on=agree_by,
                    created_at=now,
                )
            )
        else:
            # Work resumes on the plan still open from before (its actions not all
            # done), under the new episode, rather than on an empty one.
            plan.episode_id = episode.id
            agree_by = plan.agree_by_on
    await append_event(
        session,
        type="monitoring.escalated",
        provider_id=provider.id,
        actor=actor,
        at=now,
        data={
            "from": previous.value,
            "to": target.value,
            "rules": [f.rule_id for f in firings],
            "reasons": reasons,
            "next_visit_due_on": provider.next_visit_due_on,
            # What set it off; None for the scheduled sweep (time alone).
            "trigger": trigger,
            "placements_suspended": any(f.suspend_placements for f in firings),
            "plan_agree_by_on": agree_by,
        },
    )
    return Escalation(provider.id, previous, target, reasons)
