"""The scheduler: every job in one table, run by APScheduler 3.x's AsyncIOScheduler with
max_instances=1 and coalescing. With several processes on PostgreSQL only the holder of
an advisory lock (kept on a dedicated connection) runs jobs; another takes over when
the holder's connection dies. On SQLite there is one process.

Each job's first run comes soon after start-up or a hand-over (within its first minute),
or at once when its own record says it is overdue, never one whole interval later; the
market benchmark, expensive, runs then only when none has completed within its interval."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db import Database
from app.jobs import tasks
from app.models import CqcBenchmark, CqcSyncRun
from app.services import Services

log = logging.getLogger(__name__)
SCHEDULER_LOCK_ID = 0x63617265  # "care": one lock id for the whole deployment


@dataclass(frozen=True)
class Job:
    id: str
    body: Callable[[Services], Awaitable[Any]]
    every_seconds: Callable[[Services], float]
    description: str
    # Seconds after start-up for the first run: each job within the first minute, spread
    # out so that a restart does not start them all at once beside the first requests.
    start_after: float
    # An expensive job runs after a restart only once its interval has passed since it
    # last completed (a week for the benchmark: thousands of CQC requests).
    only_when_due: bool = False


JOBS: list[Job] = [
    Job(
        "time_rules",
        tasks.evaluate_time_rules,
        lambda s: 3600.0,
        "apply the rules to every provider and raise overdue and expiry events",
        start_after=15,
    ),
    Job(
        "cqc_sync",
        tasks.cqc_sync,
        lambda s: float(s.settings.cqc_sync_interval),
        "fetch CQC rating changes for the contracted locations",
        start_after=30,
    ),
    Job(
        "market_benchmark",
        tasks.market_benchmark,
        lambda s: 7 * 24 * 3600.0,
        "count the national and regional distribution of homecare ratings",
        start_after=50,
        only_when_due=True,
    ),
    Job(
        "audit_retention",
        tasks.purge_audit,
        lambda s: 24 * 3600.0,
        "delete safeguarding-access records past their retention period",
        start_after=45,
    ),
    Job(
        "dispatch_sweep",
        tasks.sweep_deliveries,
        lambda s: max(s.settings.dispatch_sweep_seconds * 6, 5.0),
        "send deliveries another process or a crash left behind",
        start_after=5,
    ),
]


@dataclass
class JobStats:
    runs: dict[tuple[str, str], int]
    last_duration: dict[str, float]


def _wrap(job: Job, services: Services, stats: JobStats) -> Callable[[], Awaitable[None]]:
    async def run() -> None:
        started = time.perf_counter()
        outcome = "success"
        try:
            await job.body(services)
        except Exception:
            outcome = "failure"
            log.exception("job %s failed", job.id)
        finally:
            elapsed = time.perf_counter() - started
            stats.runs[(job.id, outcome)] = stats.runs.get((job.id, outcome), 0) + 1
            stats.last_duration[job.id] = elapsed
            services.metrics.job_runs.labels(job.id, outcome).inc()
            services.metrics.job_duration.labels(job.id).observe(elapsed)

    return run


async def last_completions(database: Database) -> dict[str, datetime | None]:
    """When each job that leaves a record of its work last completed it (None: never):
    the CQC sync's last success and the market benchmark's last complete count. An
    interrupted benchmark has not completed, so it resumes at once."""
    async with database.sessions() as session:
        synced = await session.scalar(
            select(func.max(CqcSyncRun.finished_at)).where(
                CqcSyncRun.kind == "changes", CqcSyncRun.status == "success"
            )
        )
        benchmarked = await session.scalar(
            select(func.max(CqcBenchmark.finished_at)).where(CqcBenchmark.status == "complete")
        )
    return {"cqc_sync": synced, "market_benchmark": benchmarked}


def first_run_times(
    services: Services, completed: Mapping[str, datetime | None]
) -> dict[str, datetime]:
    """Each job's first run from now: at once when its record says it is overdue (or it
    never completed), else within the first minute; a job run only when due waits for
    its interval to pass since it last completed."""
    now = services.clock.now()
    times: dict[str, datetime] = {}
    for job in JOBS:
        interval = timedelta(seconds=job.every_seconds(services))
        soon = now + timedelta(seconds=job.start_after)
        if job.id not in completed:  # no record of its work: soon
            times[job.id] = soon
            continue
        last = completed[job.id]
        if last is None or last + interval <= now:
            times[job.id] = now
        elif job.only_when_due:
            times[job.id] = last + interval
        else:
            times[job.id] = soon
    return times


def build_scheduler(
    services: Services, stats: JobStats, completed: Mapping[str, datetime | None]
) -> AsyncIOScheduler:
    """The jobs on their intervals, each first run given by first_run_times (APScheduler
    would otherwise wait one whole interval after start-up)."""
    scheduler = AsyncIOScheduler(timezone="UTC")
    first = first_run_times(services, completed)
    for job in JOBS:
        scheduler.add_job(
            _wrap(job, services, stats),
            "interval",
            seconds=job.every_seconds(services),
            id=job.id,
            name=job.description,
            next_run_time=first[job.id],
            max_instances=1,
            coalesce=True,
            misfire_grace_time=300,
        )
    return scheduler


class SchedulerLeader:
    """Runs the scheduler only while this process holds the deployment's lock."""

    def __init__(self, services: Services, retry_seconds: float = 5.0) -> None:
        self.services = services
        self.retry_seconds = retry_seconds
        self.stats = JobStats({}, {})
        self.scheduler: AsyncIOScheduler | None = None
        self.is_leader = False

    async def _hold_lock(self) -> AsyncConnection | None:
        """Take the deployment's advisory lock on a connection kept for it alone. Raises
        LookupError while another process holds it."""
        if self.services.database.dialect != "postgresql":
            return None
        connection = await self.services.database.engine.connect()
        got = await connection.scalar(
            text("SELECT pg_try_advisory_lock(:id)"), {"id": SCHEDULER_LOCK_ID}
        )
        await connection.commit()
        if got:
            return connection
        await connection.close()
        raise LookupError("held elsewhere")

    @staticmethod
    async def release_lock(connection: AsyncConnection) -> None:
        """Give the lock up and discard the connection: a session-level lock would
        otherwise travel back into the pool with it."""
        with contextlib.suppress(Exception):
            await connection.scalar(
                text("SELECT pg_advisory_unlock(:id)"), {"id": SCHEDULER_LOCK_ID}
            )
        with contextlib.suppress(Exception):
            await connection.invalidate()
        with contextlib.suppress(Exception):
            await connection.close()

    async def run(self) -> None:
        while True:
            try:
                connection = await self._hold_lock()
            except LookupError:
                await asyncio.sleep(self.retry_seconds)
                continue
            except Exception:
                log.exception("scheduler lock unavailable; retrying")
                await asyncio.sleep(self.retry_seconds)
                continue
            try:
                completed = await last_completions(self.services.database)
            except Exception:
                log.exception("cannot read when the jobs last ran; retrying")
                if connection is not None:
                    await self.release_lock(connection)
                await asyncio.sleep(self.retry_seconds)
                continue
            self.is_leader = True
            self.services.metrics.scheduler_leader.set(1)
            self.scheduler = build_scheduler(self.services, self.stats, completed)
            self.scheduler.start()
            log.info("this process runs the scheduler")
            try:
                while True:
                    await asyncio.sleep(self.retry_seconds)
                    if connection is not None:
                        # A lost connection means a lost lock: stop and compete again.
                        await connection.scalar(text("SELECT 1"))
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("scheduler lock connection lost; stepping down")
            finally:
                self.is_leader = False
                self.services.metrics.scheduler_leader.set(0)
                self.scheduler.shutdown(wait=False)
                if connection is not None:
                    await self.release_lock(connection)
