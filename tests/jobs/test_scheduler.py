"""The scheduler: one table of jobs, counted runs, and on PostgreSQL one leader at a time."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.db import Database
from app.jobs.scheduler import (
    JOBS,
    JobStats,
    SchedulerLeader,
    _wrap,
    build_scheduler,
    last_completions,
)
from app.models import CqcBenchmark, CqcSyncRun
from app.services import Services
from tests.conftest import START, postgres_only

MINUTE = timedelta(minutes=1)


def test_every_job_is_in_one_table_with_safe_settings(services: Services) -> None:
    scheduler = build_scheduler(services, JobStats({}, {}), {})
    jobs = {job.id: job for job in scheduler.get_jobs()}
    assert set(jobs) == {
        "time_rules",
        "cqc_sync",
        "market_benchmark",
        "audit_retention",
        "dispatch_sweep",
    }
    for job in jobs.values():
        assert job.max_instances == 1 and job.coalesce is True
        assert job.misfire_grace_time == 300
    assert jobs["cqc_sync"].trigger.interval.total_seconds() == services.settings.cqc_sync_interval


async def _first_runs(services: Services) -> dict[str, object]:
    """Build the scheduler as a new leader does, and each job's first run time."""
    completed = await last_completions(services.database)
    scheduler = build_scheduler(services, JobStats({}, {}), completed)
    return {job.id: job.next_run_time for job in scheduler.get_jobs()}


async def test_on_a_new_database_every_job_runs_within_a_minute(services: Services) -> None:
    first = await _first_runs(services)
    assert set(first) == {job.id for job in JOBS}
    for job_id, at in first.items():
        assert START <= at <= START + MINUTE, job_id  # not one whole interval later
    # Never synced and never benchmarked: both are overdue, so they run at once.
    assert first["cqc_sync"] == START and first["market_benchmark"] == START
    assert first["time_rules"] > START and first["audit_retention"] > START


async def test_after_a_restart_jobs_run_soon_and_overdue_ones_at_once(services: Services) -> None:
    async with services.database.transaction() as session:
        session.add(
            CqcSyncRun(status="success", started_at=START - 2 * MINUTE, finished_at=START - MINUTE)
        )
        session.add(
            CqcBenchmark(
                status="complete",
                started_at=START - timedelta(days=2, hours=1),
                finished_at=START - timedelta(days=2),
                distribution={"national": {}, "regions": {}},
            )
        )
    first = await _first_runs(services)
    # Synced a minute ago: again within the first minute, not an hour from now.
    assert START < first["cqc_sync"] <= START + MINUTE
    # Benchmarked two days ago: the week runs from then, not from the restart.
    assert first["market_benchmark"] == START + timedelta(days=5)

    async with services.database.transaction() as session:
        # Long since synced (a failure since does not count), and the last benchmark is
        # eight days old while a newer one was interrupted: both overdue.
        for run in await session.scalars(select(CqcSyncRun)):
            run.finished_at = START - timedelta(hours=3)
        session.add(CqcSyncRun(status="failed", started_at=START, finished_at=START))
        for benchmark in await session.scalars(select(CqcBenchmark)):
            benchmark.finished_at = START - timedelta(days=8)
        session.add(
            CqcBenchmark(
                status="running",
                started_at=START - timedelta(days=1),
                next_page=7,
                distribution={"national": {}, "regions": {}},
            )
        )
    first = await _first_runs(services)
    assert first["cqc_sync"] == START
    assert first["market_benchmark"] == START


async def test_runs_failures_and_durations_are_counted(services: Services) -> None:
    stats = JobStats({}, {})
    table = {job.id: job for job in JOBS}
    await _wrap(table["time_rules"], services, stats)()
    await _wrap(table["cqc_sync"], services, stats)()  # polling off: a quiet success

    async def broken(_services: Services) -> None:
        raise RuntimeError("boom")

    from dataclasses import replace

    await _wrap(replace(table["dispatch_sweep"], body=broken), services, stats)()
    assert stats.runs == {
        ("time_rules", "success"): 1,
        ("cqc_sync", "success"): 1,
        ("dispatch_sweep", "failure"): 1,
    }
    assert set(stats.last_duration) == {"time_rules", "cqc_sync", "dispatch_sweep"}


@postgres_only
async def test_two_processes_never_both_hold_the_scheduler(services: Services) -> None:
    other = Database.from_url(services.settings.database_url)
    try:
        first = SchedulerLeader(services)
        second_services = Services(**{**services.__dict__, "database": other})
        second = SchedulerLeader(second_services)
        held = await first._hold_lock()
        assert held is not None
        with pytest.raises(LookupError):
            await second._hold_lock()
        await held.invalidate()  # the holder dies: its connection, and so its lock, goes
        taken = await second._hold_lock()
        assert taken is not None
        with pytest.raises(LookupError):
            await first._hold_lock()
        await SchedulerLeader.release_lock(taken)
        again = await first._hold_lock()  # a clean release frees it too
        assert again is not None
        await SchedulerLeader.release_lock(again)
    finally:
        await other.dispose()
