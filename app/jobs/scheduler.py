"""The scheduler: every job in one table, run by APScheduler 3.x's AsyncIOScheduler with
max_instances=1 and coalescing. With several processes on PostgreSQL only the holder of
an advisory lock (kept on a dedicated connection) runs jobs; another takes over when
the holder's connection dies. On SQLite there is one process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.jobs import tasks
from app.services import Services

log = logging.getLogger(__name__)
SCHEDULER_LOCK_ID = 0x63617265  # "care": one lock id for the whole deployment


@dataclass(frozen=True)
class Job:
    id: str
    body: Callable[[Services], Awaitable[Any]]
    every_seconds: Callable[[Services], float]
    description: str


JOBS: list[Job] = [
    Job(
        "time_rules",
        tasks.evaluate_time_rules,
        lambda s: 3600.0,
        "apply the rules to every provider and raise overdue and expiry events",
    ),
    Job(
        "cqc_sync",
        tasks.cqc_sync,
        lambda s: float(s.settings.cqc_sync_interval),
        "fetch CQC rating changes for the contracted locations",
    ),
    Job(
        "market_benchmark",
        tasks.market_benchmark,
        lambda s: 7 * 24 * 3600.0,
        "count the national and regional distribution of homecare ratings",
    ),
    Job(
        "audit_retention",
        tasks.purge_audit,
        lambda s: 24 * 3600.0,
        "delete safeguarding-access records past their retention period",
    ),
    Job(
        "dispatch_sweep",
        tasks.sweep_deliveries,
        lambda s: max(s.settings.dispatch_sweep_seconds * 6, 5.0),
        "send deliveries another process or a crash left behind",
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


def build_scheduler(services: Services, stats: JobStats) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(timezone="UTC")
    for job in JOBS:
        scheduler.add_job(
            _wrap(job, services, stats),
            "interval",
            seconds=job.every_seconds(services),
            id=job.id,
            name=job.description,
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
            self.is_leader = True
            self.services.metrics.scheduler_leader.set(1)
            self.scheduler = build_scheduler(self.services, self.stats)
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
