"""Levels and their follow-up: rule-driven escalation (never down), episodes, visit
cadence, improvement plans, human de-escalation and placement suspension.

Every function works inside the caller's transaction and never commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from pydantic_core import to_jsonable_python
from sqlalchemy import Date, and_, bindparam, case, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import is_postgres
from app.errors import Conflict, DomainError, NotFound
from app.events import Actor, append_event
from app.models import ImprovementAction, ImprovementPlan, MonitoringEpisode, Provider
from app.models.base import LEVEL_RANK, ActionStatus, MonitoringLevel, PlanStatus
from app.monitoring.errors import DeEscalationRefused
from app.monitoring.policy import MonitoringPolicy
from app.rules.engine import Firing, evaluate, highest_level
from app.rules.signals import compute_signals


@dataclass
class Escalation:
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


LOCKED_PROVIDERS = "carewatch.locked_providers"
# Built once: every write runs one. populate_existing: what the lock read wins over any
# copy the session already holds.
_LOAD_ROW = (
    select(Provider)
    .where(Provider.id == bindparam("provider_id"))
    .execution_options(populate_existing=True)
)
_LOCK_ROW = _LOAD_ROW.with_for_update()


@dataclass(frozen=True)
class Standing:
    """What a provider's firings are weighed against: its level, whether placements are
    suspended, and the firings a manager acknowledged."""

    monitoring_level: str
    placements_suspended: bool
    acknowledged_firings: dict[str, Any] | None

    def needs_action(self, firings: list[Firing]) -> bool:
        """Whether the firings would change anything (_apply_to_provider): a level above
        this one, a suspension not yet made, or an acknowledgement whose rule stopped."""
        fresh = _unacknowledged(self.acknowledged_firings, firings)
        target = highest_level(fresh)
        return (
            bool(set(self.acknowledged_firings or {}) - {f.rule_id for f in firings})
            or (any(f.suspend_placements for f in fresh) and not self.placements_suspended)
            or (
                target is not None
                and LEVEL_RANK[target] > LEVEL_RANK[MonitoringLevel(self.monitoring_level)]
            )
        )


@dataclass(frozen=True)
class LockedProvider:
    """A provider locked for a new record, read with Core: what the rules and the visit
    cadence need, without loading (and tracking) the whole ORM object."""

    id: int
    standing: Standing


# In Standing's field order: every statement that reads a standing returns the provider's
# id and then these, so Standing(*row[1:]) builds it.
_STANDING_COLUMNS = (
    Provider.monitoring_level,
    Provider.placements_suspended,
    Provider.acknowledged_firings,
)
_LOAD_STANDING = select(Provider.id, *_STANDING_COLUMNS).where(
    Provider.id == bindparam("provider_id")
)
_LOCK_STANDING = _LOAD_STANDING.with_for_update()


async def lock_provider_standing(session: AsyncSession, provider_id: int) -> LockedProvider:
    """As lock_provider, for writers that add a record and change nothing else of the
    provider's unless the rules escalate it (apply_rules then loads it in full)."""
    connection = await session.connection()
    statement = _LOCK_STANDING if is_postgres(session) else _LOAD_STANDING
    row = (await connection.execute(statement, {"provider_id": provider_id})).first()
    return _locked(row, provider_id)


def _locked(row: Any, provider_id: int) -> LockedProvider:
    """The provider a lock statement returned (id and standing), or NotFound."""
    if row is None:
        raise NotFound("provider_id", f"no provider with id {provider_id}")
    return LockedProvider(id=row.id, standing=Standing(*row[1:]))


async def lock_provider(session: AsyncSession, provider_id: int) -> Provider:
    """Load a provider for update: concurrent writers for one provider queue here
    (a row lock on PostgreSQL; SQLite's BEGIN IMMEDIATE already serialises writers).
    Within one transaction the second call finds it locked and loaded already."""
    transaction = session.sync_session.get_transaction()
    held_by, locked = session.sync_session.info.get(LOCKED_PROVIDERS, (None, set()))
    if transaction is not None and held_by is transaction and provider_id in locked:
        held = await session.get(Provider, provider_id)
        if held is not None:
            return held
    query = _LOCK_ROW if is_postgres(session) else _LOAD_ROW
    provider = (await session.execute(query, {"provider_id": provider_id})).scalar_one_or_none()
    if provider is None:
        raise NotFound("provider_id", f"no provider with id {provider_id}")
    transaction = session.sync_session.get_transaction()  # begun by the query, if not before
    if held_by is not transaction:
        locked = set()
    locked.add(provider_id)
    session.sync_session.info[LOCKED_PROVIDERS] = (transaction, locked)
    return provider


async def current_firings(
    session: AsyncSession,
    policy: MonitoringPolicy,
    today: date,
    provider_ids: Sequence[int] | None,
) -> dict[int, list[Firing]]:
    signals = await compute_signals(session, policy.rules, today, provider_ids)
    return {pid: evaluate(policy.rules, values) for pid, values in signals.items()}


def _unacknowledged(acknowledged: dict[str, Any] | None, firings: list[Firing]) -> list[Firing]:
    """The firings a manager has not acknowledged with this same evidence."""
    known = acknowledged or {}
    return [f for f in firings if known.get(f.rule_id) != to_jsonable_python(f.evidence)]


async def apply_rules(
    session: AsyncSession,
    *,
    policy: MonitoringPolicy,
    actor: Actor,
    now: datetime,
    provider_ids: Sequence[int] | None = None,
    trigger: dict[str, Any] | None = None,
    standings: dict[int, Standing] | None = None,
) -> dict[int, Escalation]:
    """Evaluate the rules for some providers (all when None) and raise any whose level a
    firing rule exceeds. Returns the escalations made, by provider id.

    A provider whose current standing is known (the sweep reads every one; a new record's
    writer passes the one it locked) is only locked and loaded in full when its firings
    would change something."""
    today = now.date()
    firings_by_provider = await current_firings(session, policy, today, provider_ids)
    changed: dict[int, Escalation] = {}
    if provider_ids is None:
        standings = {
            row.id: Standing(*row[1:])
            for row in await session.execute(
                select(Provider.id, *_STANDING_COLUMNS).where(
                    Provider.id.in_(list(firings_by_provider))
                )
            )
        }
    for provider_id, firings in firings_by_provider.items():
        standing = (standings or {}).get(provider_id)
        if standing is not None and not standing.needs_action(firings):
            continue
        provider = await lock_provider(session, provider_id)
        escalation = await _apply_to_provider(
            session, provider, firings, policy, actor, now, trigger
        )
        if escalation is not None:
            changed[provider_id] = escalation
    return changed


async def _apply_to_provider(
    session: AsyncSession,
    provider: Provider,
    firings: list[Firing],
    policy: MonitoringPolicy,
    actor: Actor,
    now: datetime,
    trigger: dict[str, Any] | None = None,
) -> Escalation | None:
    assert provider.id is not None
    # An acknowledgement lapses once its rule stops firing, so a later firing counts.
    firing_ids = {f.rule_id for f in firings}
    if provider.acknowledged_firings and set(provider.acknowledged_firings) - firing_ids:
        provider.acknowledged_firings = {
            rule: evidence
            for rule, evidence in provider.acknowledged_firings.items()
            if rule in firing_ids
        }
    fresh = _unacknowledged(provider.acknowledged_firings, firings)
    current = MonitoringLevel(provider.monitoring_level)
    target = highest_level(fresh)
    escalation: Escalation | None = None
    if target is not None and LEVEL_RANK[target] > LEVEL_RANK[current]:
        escalation = await _escalate(session, provider, target, fresh, policy, actor, now, trigger)
    suspending = [f for f in fresh if f.suspend_placements]
    if suspending and not provider.placements_suspended:
        provider.placements_suspended = True
        provider.updated_at = now
        await append_event(
            session,
            type="placements.suspended",
            provider_id=provider.id,
            actor=actor,
            at=now,
            data={
                "rules": [f.rule_id for f in suspending],
                "reason": "; ".join(f.description for f in suspending),
            },
        )
        escalation = escalation or Escalation(provider.id, current, current)
        escalation.placements_suspended = True
    return escalation


async def open_episode(session: AsyncSession, provider_id: int) -> MonitoringEpisode | None:
    return (
        await session.execute(
            select(MonitoringEpisode).where(
                MonitoringEpisode.provider_id == provider_id,
                MonitoringEpisode.ended_at.is_(None),
            )
        )
    ).scalar_one_or_none()


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


async def _switch_episode(
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
    trigger: dict[str, Any] | None = None,
) -> Escalation:
    assert provider.id is not None
    today = now.date()
    previous = MonitoringLevel(provider.monitoring_level)
    reasons = [f.as_reason() for f in firings]
    episode = await _switch_episode(
        session, provider.id, target, reasons, actor, now, f"escalated to {target.value}"
    )
    assert episode is not None and episode.id is not None
    provider.monitoring_level = target
    due = today + timedelta(days=policy.visit_cadence_days[target])
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


_PROVIDERS: Any = Provider.__table__
_LATEST_VISIT = or_(
    _PROVIDERS.c.last_visit_on.is_(None),
    _PROVIDERS.c.last_visit_on <= bindparam("visited_on", type_=Date),
)
# The lock and the visit cadence in one statement: SET reads the row as it was, so a visit
# older than the last one leaves both dates alone.
_LOCK_AND_MOVE_NEXT_VISIT = (
    update(_PROVIDERS)
    .where(_PROVIDERS.c.id == bindparam("provider_id"))
    .values(
        last_visit_on=case(
            (_LATEST_VISIT, bindparam("visited_on", type_=Date)),
            else_=_PROVIDERS.c.last_visit_on,
        ),
        next_visit_due_on=case(
            *(
                (
                    and_(_LATEST_VISIT, _PROVIDERS.c.monitoring_level == level.value),
                    bindparam(f"next_if_{level.value}", type_=Date),
                )
                for level in MonitoringLevel
            ),
            else_=_PROVIDERS.c.next_visit_due_on,
        ),
    )
    .returning(_PROVIDERS.c.id, *(_PROVIDERS.c[column.key] for column in _STANDING_COLUMNS))
)


async def lock_provider_for_visit(
    session: AsyncSession, provider_id: int, visited_on: date, policy: MonitoringPolicy
) -> LockedProvider:
    """lock_provider_standing for a visit, which also moves the next visit on by the
    level's cadence when it is the latest so far: one statement, not two."""
    params: dict[str, Any] = {"provider_id": provider_id, "visited_on": visited_on}
    for level in MonitoringLevel:
        params[f"next_if_{level.value}"] = visited_on + timedelta(
            days=policy.visit_cadence_days[level]
        )
    connection = await session.connection()
    row = (await connection.execute(_LOCK_AND_MOVE_NEXT_VISIT, params)).first()
    return _locked(row, provider_id)


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
) -> Provider:
    """Step a provider down: a manager's decision, refused while evidence says otherwise
    unless explicitly overridden with a reason. Both outcomes are on record."""
    provider = await lock_provider(session, provider_id)
    assert provider.id is not None
    current = MonitoringLevel(provider.monitoring_level)
    if LEVEL_RANK[to] >= LEVEL_RANK[current]:
        raise DomainError("to", f"must be below the current level ({current.value})")
    firings = (await current_firings(session, policy, now.date(), [provider.id])).get(
        provider.id, []
    )
    blocking = [f for f in firings if LEVEL_RANK[f.level] > LEVEL_RANK[to]]
    blockers = [f"rule {f.rule_id} still fires ({f.as_reason()['detail']})" for f in blocking]
    plan = await open_plan(session, provider.id)
    if plan is not None and to != MonitoringLevel.intensive:
        open_actions = await session.scalar(
            select(func.count())
            .select_from(ImprovementAction)
            .where(
                ImprovementAction.plan_id == plan.id,
                ImprovementAction.status != ActionStatus.complete,
            )
        )
        if open_actions:
            blockers.append(f"{open_actions} improvement action(s) still open")
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
    await _switch_episode(
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
            **{f.rule_id: to_jsonable_python(f.evidence) for f in blocking},
        }
    cadence = timedelta(days=policy.visit_cadence_days[to])
    provider.next_visit_due_on = (provider.last_visit_on or now.date()) + cadence
    provider.updated_at = now
    if plan is not None and to != MonitoringLevel.intensive:
        plan.status = PlanStatus.closed
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
        },
    )
    return provider


async def set_placements_suspended(
    session: AsyncSession,
    *,
    provider_id: int,
    suspended: bool,
    reason: str,
    policy: MonitoringPolicy,
    actor: Actor,
    now: datetime,
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
        firings = (await current_firings(session, policy, now.date(), [provider.id])).get(
            provider.id, []
        )
        provider.acknowledged_firings = {
            **(provider.acknowledged_firings or {}),
            **{f.rule_id: to_jsonable_python(f.evidence) for f in firings if f.suspend_placements},
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
