"""A small smoke run of the benchmark's scenarios, so that `make bench` keeps working.
The figures are not checked here (speed is measured by `make bench`, never asserted in
tests); only that each scenario runs and counts what it should."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from app.auth.service import issue_token
from app.db import Database
from app.migrations import upgrade_once
from app.models import User
from app.models.base import Role
from app.services import build_services
from app.web.sessions import start_session
from bench import scenarios
from bench.generate import generate

pytestmark = [pytest.mark.slow, pytest.mark.embedded_sqlite]


async def _fresh(tmp_path: Path, name: str) -> str:
    url = f"sqlite:///{tmp_path / name}.db"
    await upgrade_once(url)
    return url


async def test_the_benchmark_scenarios_run_small(tmp_path: Path) -> None:
    url = await _fresh(tmp_path, "bench")
    database = Database.from_url(url)
    today = datetime.now(UTC).date()
    assert await generate(database, providers=30, records=600, today=today) == {
        "providers": 30,
        "records": 600,
    }
    async with database.transaction() as session:
        user = await session.get(User, 1)
        assert user is not None
        user.role = Role.admin
        token = await issue_token(session, user, now=datetime.now(UTC), ttl=timedelta(hours=1))
    await database.dispose()
    services = build_services(scenarios.bench_settings(url))
    async with services.database.transaction() as session:
        user = await session.get(User, 1)
        assert user is not None
        cookie, _ttl = await start_session(session, services, user)
    await services.close()

    with scenarios.served(url) as (base, pid):
        figures = await scenarios.write_path(base, token, 30, runs=1, seconds=1)
        mix = await scenarios.mixed(base, token, cookie, 30, seconds=2)
        assert scenarios.peak_rss_mb(pid) > 0
    assert figures["rps"][0] > 0 and figures["baseline_rps"][0] > 0
    assert figures["httpx_rps"][0] > 0
    assert figures["errors"] == [0, 0, 0]
    # Pages and visits were served while one sweep and one CQC sync ran, each to the end.
    assert mix["read"] and mix["write"] and mix["errors"] == [0.0, 0.0]
    assert len(mix["sweep"]) == len(mix["sync"]) == 1

    burst = await scenarios.smtp_burst(await _fresh(tmp_path, "smtp"), 20)
    assert burst["messages"] == burst["distinct"] == 20

    counts = await scenarios.cqc_sync_requests(await _fresh(tmp_path, "cqc"), 40, 30, 10)
    assert counts["fetched"] == 10
    assert counts["requests"] == counts["tracked_changed"] + counts["change_pages"]

    rate = await scenarios.market_rate(await _fresh(tmp_path, "market"), 50, 2000, 2)
    assert rate["requests"] > 0 and rate["throttled"] == 0
