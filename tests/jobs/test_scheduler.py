"""The scheduler: one table of jobs, counted runs, and on PostgreSQL one leader at a time."""

from __future__ import annotations

import pytest

from app.db import Database
from app.jobs.scheduler import JOBS, JobStats, SchedulerLeader, _wrap, build_scheduler
from app.services import Services
from tests.conftest import postgres_only


def test_every_job_is_in_one_table_with_safe_settings(services: Services) -> None:
    scheduler = build_scheduler(services, JobStats({}, {}))
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
