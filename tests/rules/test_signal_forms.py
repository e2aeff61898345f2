"""The write path computes one provider's signals in one statement; the sweep computes
everyone's with grouped queries. The two forms must agree, on random histories that
touch every signal, on each engine (SQLite always, PostgreSQL with TEST_DATABASE_URL)."""

from __future__ import annotations

import contextlib
import random
from datetime import timedelta

from app.errors import Conflict
from app.market import schemas as market_schemas
from app.market import service as market
from app.models.base import Rating
from app.monitoring import plans
from app.records import schemas
from app.records import service as records
from app.rules.signals import compute_signals
from app.services import Services
from tests import factories


async def test_one_providers_signals_equal_the_sweeps(services: Services) -> None:
    rng = random.Random(20261122)
    today = services.clock.today()
    provider_ids: list[int] = []
    for index in range(12):
        provider = await factories.provider(services, name=f"Provider {index}")
        assert provider.id is not None
        provider_ids.append(provider.id)
        if index == 0:
            continue  # one provider with no history at all
        for number in range(rng.randint(0, 2)):
            place = await factories.location(services, provider.id, f"1-{index}{number:04d}")
            for _ in range(rng.randint(1, 3)):
                await factories.rating(
                    services,
                    place,
                    rng.choice(list(Rating)),
                    factories.days_ago(services, rng.randint(5, 900)),
                )
        for _ in range(rng.randint(0, 6)):
            kind = rng.choice(["visit", "safeguarding", "complaint", "compliment", "financial"])
            ago = factories.days_ago(services, rng.randint(1, 500))
            fields = {
                "visit": {"visited_on": ago, "outcome": rng.choice(["good", "serious_concerns"])},
                "safeguarding": {"raised_on": ago, "whole_service": rng.random() < 0.2},
                "complaint": {"received_on": ago, "upheld": rng.choice([None, "upheld"])},
                "compliment": {"received_on": ago},
                "financial": {
                    "assessed_on": ago,
                    "risk": rng.choice(["green", "amber", "red"]),
                    "next_review_on": ago + timedelta(days=rng.randint(0, 400)),
                    "insurance_expires_on": ago + timedelta(days=rng.randint(0, 600)),
                },
            }[kind]
            result = await factories.write(services, kind, provider.id, **fields)
            if kind == "safeguarding" and rng.random() < 0.5:
                async with services.database.transaction() as session:
                    await records.update_safeguarding(
                        session,
                        result.record.id,
                        schemas.SafeguardingUpdate(
                            status="closed",
                            outcome="substantiated",
                            risk_outcome="risk_removed",
                            closed_on=ago,
                        ),
                        factories.context(services),
                    )
        for back in range(rng.randint(0, 5)):  # monthly KPIs, some months skipped
            if rng.random() < 0.25:
                continue
            planned = rng.randint(0, 400)
            missed = rng.randint(0, planned // 10) if planned else 0
            async with services.database.transaction() as session:
                await market.record_kpis(
                    session,
                    provider.id,
                    market_schemas.KpiIn(
                        month=factories.days_ago(services, 31 * back),
                        visits_planned=planned,
                        visits_missed=missed,
                        visits_late=rng.randint(0, (planned - missed) // 3),
                        calls_logged_in_home=(planned - missed)
                        - rng.randint(0, (planned - missed) // 4),
                    ),
                    factories.context(services),
                    services.kpis,
                )
        for week in range(rng.randint(0, 4)):
            end = factories.days_ago(services, 7 * week + rng.randint(1, 20))
            async with services.database.transaction() as session:
                # Two random weeks may start on one day: the second is refused.
                with contextlib.suppress(Conflict):
                    await market.record_capacity(
                        session,
                        provider.id,
                        market_schemas.CapacityIn(
                            period_start=end - timedelta(days=6),
                            period_end=end,
                            hours_commissioned=rng.choice([0, 100, 420]),
                            hours_delivered=rng.randint(0, 420),
                            people_supported=rng.randint(0, 40),
                            packages_handed_back=rng.randint(0, 3),
                        ),
                        factories.context(services),
                    )
        if rng.random() < 0.3:
            await factories.write(services, "concern", provider.id, whole_service=True)
            async with services.database.transaction() as session:
                await plans.add_action(
                    session,
                    provider_id=provider.id,
                    data=plans.ActionIn(
                        issue="Calls", action="Recruit", owner="Manager", due_on=today
                    ),
                    actor=factories.TESTER,
                    now=services.clock.now(),
                )
            services.clock.advance(timedelta(days=20))  # the action and the plan fall overdue
            today = services.clock.today()

    rules = services.policy.rules
    async with services.database.sessions() as session:
        everyone = await compute_signals(session, rules, today)
        for provider_id in provider_ids:
            alone = await compute_signals(session, rules, today, [provider_id])
            assert alone == {provider_id: everyone[provider_id]}, provider_id
        assert await compute_signals(session, rules, today, [999_999]) == {}
    assert any(s["improvement_plan_not_agreed"] for s in everyone.values())
    assert any(s["safeguardings_open"] for s in everyone.values())
    assert any(s["financial_risk_latest"] for s in everyone.values())
    assert any(s["kpi_missed_visits_band"] == "red" for s in everyone.values())
    assert any(s["kpi_calls_logged_red_run"] for s in everyone.values())
    assert any(s["packages_handed_back@30"] for s in everyone.values())
    assert any(s["hours_delivered_share"] is not None for s in everyone.values())
