"""Property: whatever records arrive, in whatever order and with time passing, a rule
never lowers a level, and every escalated provider has exactly one open episode (a
routine one has none)."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from app.clock import FakeClock
from app.config import Settings
from app.jobs.tasks import evaluate_time_rules
from app.models import MonitoringEpisode, Provider
from app.models.base import LEVEL_RANK, MonitoringLevel, Rating
from app.records import schemas
from app.records import service as records
from app.services import build_services
from tests import factories as f
from tests.conftest import PG_URL, ROOT, START, truncate_postgres

days = st.integers(min_value=0, max_value=400)
operation = st.one_of(
    st.tuples(
        st.just("visit"), st.sampled_from(["good", "some_concerns", "serious_concerns"]), days
    ),
    st.tuples(st.just("safeguarding"), st.booleans(), days),
    st.tuples(
        st.just("close_safeguarding"),
        st.sampled_from(["substantiated", "not_substantiated", "partly_substantiated"]),
        st.integers(0, 5),
    ),
    st.tuples(
        st.just("complaint"), st.sampled_from(["upheld", "not_upheld", "partly_upheld"]), days
    ),
    st.tuples(st.just("financial"), st.sampled_from(["green", "amber", "red"]), days),
    st.tuples(st.just("concern"), st.booleans(), days),
    st.tuples(st.just("close_concern"), st.just(None), st.integers(0, 5)),
    st.tuples(st.just("rating"), st.sampled_from(list(Rating)), st.integers(1, 900)),
    st.tuples(st.just("advance"), st.just(None), st.integers(1, 60)),
)


async def _scenario(database_url: str, steps: list[tuple[int, tuple[str, Any, int]]]) -> None:
    clock = FakeClock(START)
    services = build_services(
        Settings(
            _env_file=None,
            environment="test",
            database_url=database_url,
            alerts_dir=ROOT / "alerts",
            dispatcher_enabled=False,
            scheduler_enabled=False,
        ),
        clock=clock,
    )
    try:
        providers = [await f.provider(services, name=f"P{i}") for i in range(2)]
        places = [
            await f.location(services, p.id or 0, f"1-00000000{i}") for i, p in enumerate(providers)
        ]
        safeguardings: dict[int, list[int]] = {0: [], 1: []}
        concerns: dict[int, list[int]] = {0: [], 1: []}
        seen = {p.id: 0 for p in providers}
        for which, (kind, value, number) in steps:
            pid = providers[which].id or 0
            when = clock.today() - timedelta(days=number)
            if kind == "visit":
                await f.write(services, "visit", pid, outcome=value, visited_on=when)
            elif kind == "safeguarding":
                result = await f.write(
                    services, "safeguarding", pid, whole_service=value, raised_on=when
                )
                safeguardings[which].append(result.record.id)
            elif kind == "close_safeguarding" and safeguardings[which]:
                # Closed once: closing it again as it stands is refused as no change.
                target = safeguardings[which].pop(number % len(safeguardings[which]))
                async with services.database.transaction() as session:
                    await records.update_safeguarding(
                        session,
                        target,
                        schemas.SafeguardingUpdate(
                            status="closed", outcome=value, risk_outcome="risk_reduced"
                        ),
                        f.context(services),
                    )
            elif kind == "complaint":
                await f.write(services, "complaint", pid, upheld=value, received_on=when)
            elif kind == "financial":
                await f.write(services, "financial", pid, risk=value, assessed_on=when)
            elif kind == "concern":
                result = await f.write(
                    services, "concern", pid, whole_service=value, raised_on=when
                )
                concerns[which].append(result.record.id)
            elif kind == "close_concern" and concerns[which]:
                target = concerns[which][number % len(concerns[which])]
                async with services.database.transaction() as session:
                    await records.update_concern(
                        session,
                        target,
                        schemas.ConcernUpdate(status="closed", outcome="Resolved"),
                        f.context(services),
                    )
            elif kind == "rating":
                await f.rating(
                    services, places[which], value, rated_on=clock.today() - timedelta(days=number)
                )
            elif kind == "advance":
                clock.advance(timedelta(days=number))
                await evaluate_time_rules(services)
            async with services.database.sessions() as session:
                for provider in (await session.execute(select(Provider))).scalars():
                    rank = LEVEL_RANK[MonitoringLevel(provider.monitoring_level)]
                    assert rank >= seen[provider.id], f"{provider.name} went down after {kind}"
                    seen[provider.id] = rank
                    open_episodes = await session.scalar(
                        select(func.count())
                        .select_from(MonitoringEpisode)
                        .where(
                            MonitoringEpisode.provider_id == provider.id,
                            MonitoringEpisode.ended_at.is_(None),
                        )
                    )
                    assert open_episodes == (0 if rank == 0 else 1)
    finally:
        await services.database.dispose()


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=st.lists(st.tuples(st.integers(0, 1), operation), min_size=1, max_size=14))
def test_random_records_never_lower_a_level(
    migrated_database: str, steps: list[tuple[int, tuple[str, Any, int]]]
) -> None:
    if PG_URL:
        asyncio.run(truncate_postgres(PG_URL))
        asyncio.run(_scenario(PG_URL, steps))
        return
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "example.db"
        shutil.copyfile(migrated_database, path)
        asyncio.run(_scenario(f"sqlite:///{path}", steps))
