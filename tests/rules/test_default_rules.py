"""Each shipped rule at, below and above its threshold, through the real write path."""

from __future__ import annotations

from sqlalchemy import func, select

from app.models import MonitoringEpisode, Provider
from app.models.base import Rating
from app.services import Services
from tests import factories as f


async def _episodes(services: Services, provider_id: int) -> list[MonitoringEpisode]:
    async with services.database.sessions() as session:
        rows = await session.execute(
            select(MonitoringEpisode)
            .where(MonitoringEpisode.provider_id == provider_id)
            .order_by(MonitoringEpisode.id)
        )
        return list(rows.scalars())


async def test_cqc_inadequate_moves_to_intensive_and_suspends(services: Services) -> None:
    provider = await f.provider(services)
    assert provider.id is not None
    place = await f.location(services, provider.id)
    result = await f.rating(services, place, Rating.good)
    assert result is not None and result.monitoring_level == "routine"
    result = await f.rating(services, place, Rating.inadequate)
    assert result is not None and result.monitoring_level == "intensive"
    assert result.placements_suspended
    episodes = await _episodes(services, provider.id)
    assert [e.level for e in episodes] == ["intensive"]
    assert episodes[0].reasons[0]["rule"] == "cqc-inadequate"


async def test_cqc_requires_improvement_moves_to_enhanced(services: Services) -> None:
    provider = await f.provider(services)
    assert provider.id is not None
    place = await f.location(services, provider.id)
    result = await f.rating(services, place, Rating.requires_improvement)
    assert result is not None and result.monitoring_level == "enhanced"
    assert not result.placements_suspended


async def test_representation_of_the_same_rating_is_not_a_change(services: Services) -> None:
    provider = await f.provider(services)
    assert provider.id is not None
    place = await f.location(services, provider.id)
    first = await f.rating(services, place, Rating.good, rated_on=f.days_ago(services, 30))
    again = await f.rating(services, place, Rating.good, rated_on=f.days_ago(services, 30))
    assert first is not None and again is None


async def test_whole_service_concern_or_safeguarding(services: Services) -> None:
    concern = await f.provider(services, name="A")
    assert concern.id is not None
    result = await f.write(services, "concern", concern.id, whole_service=False)
    assert result.monitoring_level == "routine"
    result = await f.write(services, "concern", concern.id, whole_service=True)
    assert result.monitoring_level == "intensive"
    safeguarding = await f.provider(services, name="B")
    assert safeguarding.id is not None
    result = await f.write(services, "safeguarding", safeguarding.id, whole_service=True)
    assert result.monitoring_level == "intensive"
    assert result.escalation is not None
    assert result.escalation.reasons[0]["rule"] == "whole-service-concern"


async def test_safeguarding_cluster_at_below_and_above_threshold(services: Services) -> None:
    provider = await f.provider(services)
    assert provider.id is not None
    levels = []
    for days in (80, 40, 5, 1):
        result = await f.write(
            services, "safeguarding", provider.id, raised_on=f.days_ago(services, days)
        )
        levels.append(str(result.monitoring_level))
    assert levels == ["routine", "routine", "enhanced", "enhanced"]
    assert len(await _episodes(services, provider.id)) == 1


async def test_safeguarding_window_edges(services: Services) -> None:
    # Raised exactly 90 days ago counts; 91 days ago does not.
    inside = await f.provider(services, name="Inside")
    outside = await f.provider(services, name="Outside")
    assert inside.id is not None and outside.id is not None
    for days in (90, 30, 2):
        result = await f.write(
            services, "safeguarding", inside.id, raised_on=f.days_ago(services, days)
        )
    assert result.monitoring_level == "enhanced"
    for days in (91, 30, 2):
        result = await f.write(
            services, "safeguarding", outside.id, raised_on=f.days_ago(services, days)
        )
    assert result.monitoring_level == "routine"


async def test_substantiated_safeguardings(services: Services) -> None:
    provider = await f.provider(services)
    assert provider.id is not None
    from app.records import schemas
    from app.records import service as records

    ids = []
    for days in (200, 100):
        raised = await f.write(
            services, "safeguarding", provider.id, raised_on=f.days_ago(services, days)
        )
        ids.append(raised.record.id)
    levels = []
    for record_id in ids:
        async with services.database.transaction() as session:
            result = await records.update_safeguarding(
                session,
                record_id,
                schemas.SafeguardingUpdate(
                    status="closed", outcome="substantiated", risk_outcome="risk_remains"
                ),
                f.context(services),
            )
        levels.append(str(result.monitoring_level))
    assert levels == ["routine", "intensive"]


async def test_upheld_complaints(services: Services) -> None:
    provider = await f.provider(services)
    assert provider.id is not None
    levels = []
    for upheld in ("not_upheld", "upheld", "partly_upheld", "upheld"):
        result = await f.write(
            services, "complaint", provider.id, upheld=upheld, received_on=f.days_ago(services, 20)
        )
        levels.append(str(result.monitoring_level))
    assert levels == ["routine", "routine", "routine", "enhanced"]


async def test_financial_red_looks_at_the_latest_assurance(services: Services) -> None:
    recovered = await f.provider(services, name="Recovered")
    assert recovered.id is not None
    await f.write(
        services, "financial", recovered.id, risk="red", assessed_on=f.days_ago(services, 300)
    )
    # Already escalated by the first; the point is the signal: a newer green is the latest.
    failing = await f.provider(services, name="Failing")
    assert failing.id is not None
    await f.write(
        services, "financial", failing.id, risk="green", assessed_on=f.days_ago(services, 300)
    )
    result = await f.write(
        services, "financial", failing.id, risk="amber", assessed_on=f.days_ago(services, 100)
    )
    assert result.monitoring_level == "routine"
    result = await f.write(
        services, "financial", failing.id, risk="red", assessed_on=f.days_ago(services, 2)
    )
    assert result.monitoring_level == "enhanced"


async def test_serious_visit_looks_at_the_latest_visit(services: Services) -> None:
    provider = await f.provider(services)
    assert provider.id is not None
    result = await f.write(services, "visit", provider.id, outcome="some_concerns")
    assert result.monitoring_level == "routine"
    # An older serious visit logged late is not the latest visit.
    result = await f.write(
        services,
        "visit",
        provider.id,
        outcome="serious_concerns",
        visited_on=f.days_ago(services, 60),
    )
    assert result.monitoring_level == "routine"
    result = await f.write(services, "visit", provider.id, outcome="serious_concerns")
    assert result.monitoring_level == "enhanced"
    assert result.escalation is not None and result.escalation.reasons[0]["rule"] == "serious-visit"


async def test_a_rule_never_lowers_a_level(services: Services) -> None:
    provider = await f.provider(services)
    assert provider.id is not None
    await f.write(services, "concern", provider.id, whole_service=True)
    place = await f.location(services, provider.id)
    result = await f.rating(services, place, Rating.requires_improvement)
    assert result is not None and result.monitoring_level == "intensive"
    result = await f.write(services, "visit", provider.id, outcome="good")
    assert result.monitoring_level == "intensive"
    async with services.database.sessions() as session:
        open_count = await session.scalar(
            select(func.count())
            .select_from(MonitoringEpisode)
            .where(
                MonitoringEpisode.provider_id == provider.id, MonitoringEpisode.ended_at.is_(None)
            )
        )
        stored = await session.get(Provider, provider.id)
    assert open_count == 1 and stored is not None and stored.monitoring_level == "intensive"


async def test_escalation_to_intensive_opens_a_plan_and_brings_the_visit_forward(
    services: Services,
) -> None:
    provider = await f.provider(services)
    assert provider.id is not None
    await f.write(services, "visit", provider.id, visited_on=f.days_ago(services, 1))
    result = await f.write(services, "concern", provider.id, whole_service=True)
    today = services.clock.today()
    assert result.monitoring_level == "intensive"
    async with services.database.sessions() as session:
        stored = await session.get(Provider, provider.id)
    assert stored is not None and stored.next_visit_due_on is not None
    assert (stored.next_visit_due_on - today).days == 7
    from app.monitoring.plans import open_plan

    async with services.database.sessions() as session:
        plan = await open_plan(session, provider.id)
    assert plan is not None and (plan.agree_by_on - today).days == 14
