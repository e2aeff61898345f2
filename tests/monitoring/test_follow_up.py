"""Levels and their follow-up: de-escalation, suspension, plans, overdue events, races."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from app.clock import FakeClock
from app.events import Actor
from app.jobs.tasks import evaluate_time_rules
from app.models import Event, MonitoringEpisode, Provider
from app.models.base import MonitoringLevel
from app.monitoring import plans
from app.monitoring.decisions import de_escalate
from app.monitoring.errors import DeEscalationRefused
from app.records import schemas
from app.records import service as records
from app.services import Services
from tests import factories as f
from tests.conftest import UserMaker


@pytest.fixture
async def manager(make_user: UserMaker) -> Actor:
    user = await make_user("manager")
    assert user.id is not None
    return Actor.user(user.id)


async def _de_escalate(
    services: Services,
    manager: Actor,
    provider_id: int,
    to: MonitoringLevel,
    reason: str,
    override: bool = False,
) -> None:
    """A manager's de-escalation, in its own transaction."""
    async with services.database.transaction() as session:
        await de_escalate(
            session,
            provider_id=provider_id,
            to=to,
            reason=reason,
            override=override,
            policy=services.policy,
            actor=manager,
            now=services.clock.now(),
            today=services.clock.today(),
        )


async def _events(services: Services, event_type: str) -> list[Event]:
    async with services.database.sessions() as session:
        rows = await session.execute(
            select(Event).where(Event.type == event_type).order_by(Event.id)
        )
        return list(rows.scalars())


async def test_de_escalation_is_refused_then_overridden(services: Services, manager: Actor) -> None:
    provider = await f.provider(services)
    assert provider.id is not None
    concern = await f.write(services, "concern", provider.id, whole_service=True)
    assert concern.monitoring_level == "intensive"
    with pytest.raises(DeEscalationRefused) as refused:
        await _de_escalate(
            services, manager, provider.id, MonitoringLevel.routine, "Provider says it is fixed"
        )
    assert any(
        b.startswith("the whole-service concern raised on ") and b.endswith(" is still open")
        for b in refused.value.blockers
    )
    assert not any("_" in b or "whole-service-concern" in b for b in refused.value.blockers)
    assert await f.level_of(services, provider.id) == "intensive"

    await _de_escalate(
        services,
        manager,
        provider.id,
        MonitoringLevel.enhanced,
        "Concern contained by daily checks",
        override=True,
    )
    assert await f.level_of(services, provider.id) == "enhanced"
    de_escalated = await _events(services, "monitoring.de_escalated")
    assert de_escalated[0].data["override"] is True
    # The same evidence does not escalate again at the next write...
    result = await f.write(services, "visit", provider.id, outcome="good")
    assert result.monitoring_level == "enhanced"
    # ...but new evidence does.
    result = await f.write(
        services,
        "concern",
        provider.id,
        whole_service=True,
        description="A second whole-service concern",
    )
    assert result.monitoring_level == "intensive"
    async with services.database.sessions() as session:
        episodes = list(
            (
                await session.execute(
                    select(MonitoringEpisode)
                    .where(MonitoringEpisode.provider_id == provider.id)
                    .order_by(MonitoringEpisode.id)
                )
            ).scalars()
        )
    assert [e.level for e in episodes] == ["intensive", "enhanced", "intensive"]
    assert episodes[0].overridden and episodes[0].ended_by == manager.label
    assert [e.ended_at is None for e in episodes] == [False, False, True]


async def test_an_acknowledgement_lapses_at_the_write_that_stops_its_rule_firing(
    services: Services, manager: Actor
) -> None:
    """A write that changes nothing of its provider's level still clears an overridden
    firing once that rule stops firing, so the same evidence later counts again."""
    provider = await f.provider(services)
    assert provider.id is not None
    concern = await f.write(services, "concern", provider.id, whole_service=True)
    await _de_escalate(
        services,
        manager,
        provider.id,
        MonitoringLevel.enhanced,
        "Concern contained by daily checks",
        override=True,
    )
    assert set(await _acknowledged(services, provider.id)) == {"whole-service-concern"}
    async with services.database.transaction() as session:
        closed = await records.update_concern(
            session,
            concern.record.id,
            schemas.ConcernUpdate(status="closed", outcome="Resolved"),
            f.context(services),
        )
    assert closed.escalation is None and closed.monitoring_level == "enhanced"
    assert await _acknowledged(services, provider.id) == {}


async def _acknowledged(services: Services, provider_id: int) -> dict[str, object]:
    async with services.database.sessions() as session:
        stored = await session.get(Provider, provider_id)
    assert stored is not None
    return dict(stored.acknowledged_firings or {})


async def _plans(services: Services, provider_id: int) -> list[dict[str, Any]]:
    async with services.database.sessions() as session:
        return await plans.plan_history(session, provider_id)


async def _intensive_with_action(services: Services, manager: Actor) -> tuple[int, int, int]:
    """A provider put into intensive monitoring by a whole-service concern, its plan given
    one action, and the concern then closed: (provider id, action id, concern id)."""
    provider = await f.provider(services)
    assert provider.id is not None
    concern = await f.write(services, "concern", provider.id, whole_service=True)
    async with services.database.transaction() as session:
        action = await plans.add_action(
            session,
            provider_id=provider.id,
            data=plans.ActionIn(
                issue="Missed calls",
                action="Recruit two carers",
                owner="Registered manager",
                due_on=services.clock.today() + timedelta(days=21),
            ),
            actor=manager,
            now=services.clock.now(),
        )
        await records.update_concern(
            session,
            concern.record.id,
            schemas.ConcernUpdate(status="closed", outcome="Resolved"),
            f.context(services),
        )
    assert action.id is not None
    return provider.id, action.id, concern.record.id


async def test_a_plan_with_open_actions_outlives_the_step_down(
    services: Services, manager: Actor
) -> None:
    provider_id, action_id, _ = await _intensive_with_action(services, manager)
    # Open actions do not block the step-down; they carry on under enhanced monitoring.
    await _de_escalate(services, manager, provider_id, MonitoringLevel.enhanced, "Concern closed")
    assert await f.level_of(services, provider_id) == "enhanced"
    [plan] = await _plans(services, provider_id)
    assert plan["status"] == "awaiting_agreement" and plan["closed_at"] is None
    assert [a.id for a in plan["actions"]] == [action_id]
    # Completing the last action outside intensive closes the plan, which stays readable.
    async with services.database.transaction() as session:
        await plans.update_action(
            session,
            action_id=action_id,
            data=plans.ActionUpdate(status="complete", evidence="Two carers started"),
            actor=manager,
            now=services.clock.now(),
            today=services.clock.today(),
        )
    [plan] = await _plans(services, provider_id)
    assert plan["status"] == "closed" and plan["close_reason"] == "every action is complete"
    assert plan["actions"][0].status == "complete"
    assert len(await _events(services, "improvement_plan.closed")) == 1
    await _de_escalate(services, manager, provider_id, MonitoringLevel.routine, "All done now")
    assert await f.level_of(services, provider_id) == "routine"


async def test_re_escalation_resumes_the_plan_with_open_actions(
    services: Services, manager: Actor
) -> None:
    provider_id, action_id, _ = await _intensive_with_action(services, manager)
    await _de_escalate(services, manager, provider_id, MonitoringLevel.routine, "Concern closed")
    await f.write(services, "concern", provider_id, whole_service=True)
    assert await f.level_of(services, provider_id) == "intensive"
    [plan] = await _plans(services, provider_id)  # the same plan, not a new empty one
    assert plan["status"] != "closed" and [a.id for a in plan["actions"]] == [action_id]
    async with services.database.sessions() as session:
        episode = (
            await session.execute(
                select(MonitoringEpisode).where(
                    MonitoringEpisode.provider_id == provider_id,
                    MonitoringEpisode.ended_at.is_(None),
                )
            )
        ).scalar_one()
    assert plan["episode_id"] == episode.id
    # Completing the action while intensive leaves the plan open: intensive needs one.
    async with services.database.transaction() as session:
        await plans.update_action(
            session,
            action_id=action_id,
            data=plans.ActionUpdate(status="complete"),
            actor=manager,
            now=services.clock.now(),
            today=services.clock.today(),
        )
    [plan] = await _plans(services, provider_id)
    assert plan["status"] != "closed"


async def test_a_manager_closes_a_plan_with_a_reason_but_not_in_intensive(
    services: Services, manager: Actor
) -> None:
    from app.errors import Conflict

    provider_id, action_id, _ = await _intensive_with_action(services, manager)
    with pytest.raises(Conflict):
        async with services.database.transaction() as session:
            await plans.close_plan(
                session,
                provider_id=provider_id,
                reason="Superseded",
                actor=manager,
                now=services.clock.now(),
            )
    await _de_escalate(services, manager, provider_id, MonitoringLevel.enhanced, "Concern closed")
    async with services.database.transaction() as session:
        await plans.close_plan(
            session,
            provider_id=provider_id,
            reason="Actions moved to the contract review",
            actor=manager,
            now=services.clock.now(),
        )
    [plan] = await _plans(services, provider_id)
    assert plan["status"] == "closed" and plan["closed_by"] == manager.label
    assert plan["close_reason"] == "Actions moved to the contract review"
    assert plan["actions"][0].status == "open"  # kept, with the plan, in the history
    # A later escalation starts a new plan: the closed one is history.
    await f.write(services, "concern", provider_id, whole_service=True)
    history = await _plans(services, provider_id)
    assert [p["status"] for p in history] == ["awaiting_agreement", "closed"]
    assert history[0]["actions"] == []


async def test_overdue_visit_fires_once_per_occurrence_and_again_a_week_later(
    services: Services,
    clock: FakeClock,
) -> None:
    provider = await f.provider(services)
    assert provider.id is not None
    await f.write(services, "visit", provider.id, visited_on=clock.today())
    await f.write(services, "concern", provider.id, whole_service=True)  # visit due in 7 days
    clock.advance(timedelta(days=7))
    await evaluate_time_rules(services)
    assert await _events(services, "visit.overdue") == []
    clock.advance(timedelta(days=1))
    for _ in range(3):  # a retried or repeated job raises nothing new
        await evaluate_time_rules(services)
    assert len(await _events(services, "visit.overdue")) == 1
    clock.advance(timedelta(days=6))
    await evaluate_time_rules(services)
    assert len(await _events(services, "visit.overdue")) == 1
    clock.advance(timedelta(days=1))
    await evaluate_time_rules(services)
    overdue = await _events(services, "visit.overdue")
    assert [e.data["week"] for e in overdue] == [0, 1]
    # Logging the visit resolves it: no more reminders.
    await f.write(services, "visit", provider.id, visited_on=clock.today())
    clock.advance(timedelta(days=7))
    await evaluate_time_rules(services)
    assert len(await _events(services, "visit.overdue")) == 2


async def test_plan_actions_financial_reviews_and_insurance_follow_up(
    services: Services,
    clock: FakeClock,
    manager: Actor,
) -> None:
    provider = await f.provider(services)
    assert provider.id is not None
    await f.write(services, "concern", provider.id, whole_service=True)
    today = clock.today()
    async with services.database.transaction() as session:
        await plans.add_action(
            session,
            provider_id=provider.id,
            data=plans.ActionIn(
                issue="Medication errors",
                action="Retrain staff",
                owner="Care manager",
                due_on=today + timedelta(days=3),
            ),
            actor=manager,
            now=clock.now(),
        )
    await f.write(
        services,
        "financial",
        provider.id,
        next_review_on=today + timedelta(days=2),
        insurance_expires_on=today + timedelta(days=40),
    )
    clock.advance(timedelta(days=15))
    result = await evaluate_time_rules(services)
    assert result.events["improvement_plan.not_agreed"] == 1
    assert result.events["improvement_action.overdue"] == 1
    assert result.events["financial_review.due"] == 1
    assert result.events["insurance.expiring"] == 1
    again = await evaluate_time_rules(services)
    assert again.events.get("improvement_action.overdue") is None


async def test_time_alone_escalates_through_the_sweep(services: Services, clock: FakeClock) -> None:
    # A rule over a signal that changes with time: a visit overdue for 30 days.
    from app.monitoring.policy import MonitoringPolicy
    from app.rules.catalogue import RuleSet

    services.policy = MonitoringPolicy(
        rules=RuleSet.model_validate(
            {
                "rules": [
                    *[r.model_dump() for r in services.policy.rules.rules],
                    {
                        "id": "long-unvisited",
                        "description": "No visit for over 120 days",
                        "when": {"signal": "days_since_last_visit", "op": ">", "value": 120},
                        "escalate_to": "enhanced",
                    },
                ]
            }
        )
    )
    provider = await f.provider(services)
    assert provider.id is not None
    await f.write(services, "visit", provider.id, visited_on=clock.today())
    clock.advance(timedelta(days=120))
    assert (await evaluate_time_rules(services)).escalated == []
    clock.advance(timedelta(days=1))
    assert (await evaluate_time_rules(services)).escalated == [provider.id]
    assert await f.level_of(services, provider.id) == "enhanced"


async def test_two_writes_racing_for_one_provider_open_one_episode(services: Services) -> None:
    provider = await f.provider(services)
    assert provider.id is not None
    await f.write(services, "safeguarding", provider.id, raised_on=f.days_ago(services, 10))
    # Two more at once: whichever commits second sees the first and the cluster fires once.
    await asyncio.gather(
        *(
            f.write(
                services,
                "safeguarding",
                provider.id,
                raised_on=f.days_ago(services, 2),
                whole_service=whole,
            )
            for whole in (False, True)
        )
    )
    async with services.database.sessions() as session:
        open_episodes = await session.scalar(
            select(func.count())
            .select_from(MonitoringEpisode)
            .where(
                MonitoringEpisode.provider_id == provider.id, MonitoringEpisode.ended_at.is_(None)
            )
        )
    assert open_episodes == 1
    assert await f.level_of(services, provider.id) == "intensive"
