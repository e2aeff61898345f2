"""The duplicate window, measured: how many of 1,000 alert deliveries reach the mail
server twice when a dispatcher is killed mid-burst, and when the server drops
connections with messages in flight; and whether every one of those is counted.

    python -m bench.duplicates [--database-url URL] [--runs N] [--drop-rate R]

killed dispatcher: `python -m app dispatch` in its own process sends 1,000 deliveries to
a real SMTP server (bench.smtp_sink, its own process) and is sent SIGKILL once the
server has accepted a chosen number of them; a second dispatcher takes the rest over
after the lease. dropped connections: an aiosmtpd server that, for a share of the DATA
commands, queues the message and then drops the connection before its reply, and for
as many others drops the connection without queueing (the sender cannot tell the two
apart); the dispatcher retries through its backoff until everything is sent.

Duplicates are counted at the server (messages accepted minus distinct delivery ids);
"counted" is carewatch_deliveries_resent_total, "marked" the deliveries marked
possibly_duplicated. Without --database-url each run uses a fresh SQLite file.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import random
import signal
import sys
import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import create_async_engine

from app.clock import FakeClock
from app.db import async_url
from app.events import Actor, EventDraft, append_events
from app.migrations import upgrade_once
from app.models import Delivery, Provider, User
from app.models.base import ContractType, Role
from app.services import Services, build_services
from bench.scenarios import ROOT, _Inbox, bench_settings, free_port
from tests.fakes.smtp import Recorder, SmtpServer

DELIVERIES = 1000
LEASE_SECONDS = 10


async def _fresh(database_url: str | None) -> str:
    if database_url is None:
        return f"sqlite:///{Path(tempfile.mkdtemp()) / 'duplicates.db'}"
    engine = create_async_engine(async_url(database_url))
    async with engine.begin() as connection:
        await connection.execute(text("DROP SCHEMA public CASCADE"))
        await connection.execute(text("CREATE SCHEMA public"))
    await engine.dispose()
    return database_url


async def _seed(services: Services, count: int) -> None:
    """`count` visit.overdue events in one transaction: one delivery each (the officer)."""
    now = datetime.now(UTC)
    async with services.database.transaction() as session:
        officer = User(
            email="duplicates.officer@bench-council.gov.uk",
            name="Bench Officer",
            role=Role.officer,
            password_hash="x",
            created_at=now,
        )
        session.add(officer)
        await session.flush()
        providers = [
            Provider(
                name=f"Bench provider {i}",
                contract_type=ContractType.spot,
                contract_officer_id=officer.id,
                created_at=now,
                updated_at=now,
            )
            for i in range(50)
        ]
        session.add_all(providers)
        await session.flush()
        drafts = [
            EventDraft(
                "visit.overdue",
                providers[i % len(providers)].id,
                {
                    "due_on": date.today() - timedelta(days=3),
                    "days_overdue": 3,
                    "level": "routine",
                    "week": 0,
                },
                f"bench-duplicates:{i}",
            )
            for i in range(count)
        ]
        await append_events(session, drafts, actor=Actor.job("bench"), at=now)


async def _outcome(services: Services, delivered: list[str]) -> dict[str, int]:
    async with services.database.sessions() as session:
        marked = await session.scalar(
            select(func.count()).select_from(Delivery).where(Delivery.possibly_duplicated)
        )
        unsent = await session.scalar(
            select(func.count()).select_from(Delivery).where(Delivery.status != "sent")
        )
        attempts = await session.scalar(select(func.sum(Delivery.attempts)))

    def resent(reason: str) -> int:
        value = services.metrics.registry.get_sample_value(
            "carewatch_deliveries_resent_total", {"reason": reason}
        )
        return int(value or 0)

    return {
        "accepted": len(delivered),
        "distinct": len(set(delivered)),
        "duplicates": len(delivered) - len(set(delivered)),
        "marked": int(marked or 0),
        "counted_lease_expired": resent("lease_expired"),
        "counted_dropped_after_data": resent("dropped_after_data"),
        "attempts": int(attempts or 0),
        "unsent": int(unsent or 0),
    }


async def killed_dispatcher(database_url: str | None, kill_after: int) -> dict[str, Any]:
    url = await _fresh(database_url)
    await upgrade_once(url)
    port = free_port()
    inbox = _Inbox(port, ROOT / "var" / "bench" / "duplicates-accepted.log")
    smtp = {"smtp_host": "127.0.0.1", "smtp_port": port, "smtp_starttls": False}
    seeding = build_services(bench_settings(url, **smtp))
    try:
        await _seed(seeding, DELIVERIES)
    finally:
        await seeding.close()
    env = {
        **os.environ,
        "CAREWATCH_DATABASE_URL": url,
        "CAREWATCH_SMTP_HOST": "127.0.0.1",
        "CAREWATCH_SMTP_PORT": str(port),
        "CAREWATCH_SMTP_STARTTLS": "false",
        "CAREWATCH_DELIVERY_LEASE_SECONDS": str(LEASE_SECONDS),
        "CAREWATCH_LOG_LEVEL": "WARNING",
    }
    try:
        dispatcher = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "app",
            "dispatch",
            cwd=ROOT,
            env=env,
            stdout=asyncio.subprocess.DEVNULL,
        )
        for _ in range(24_000):  # at most two minutes: the server's log is another process's
            if len(inbox.accepted) >= kill_after or dispatcher.returncode is not None:
                break
            await asyncio.sleep(0.005)
        dispatcher.send_signal(signal.SIGKILL)
        await dispatcher.wait()
        at_kill = len(inbox.accepted)
        # Another dispatcher, once the dead one's leases have run out (its clock says so).
        clock = FakeClock(datetime.now(UTC) + timedelta(seconds=LEASE_SECONDS + 1))
        survivor = build_services(
            bench_settings(url, delivery_lease_seconds=LEASE_SECONDS, **smtp), clock=clock
        )
        try:
            await survivor.dispatcher.drain()
            outcome = await _outcome(survivor, [d for _, d in inbox.accepted])
        finally:
            await survivor.close()
    finally:
        inbox.stop()
    return {"kill_after": kill_after, "accepted_at_kill": at_kill, **outcome}


async def dropped_connections(database_url: str | None, rate: float, seed: int) -> dict[str, Any]:
    url = await _fresh(database_url)
    await upgrade_once(url)
    chooser = random.Random(seed)
    faulted = chooser.sample(range(1, DELIVERIES + 1), 2 * round(DELIVERIES * rate))
    half = len(faulted) // 2
    recorder = Recorder(
        drop_after_data=set(faulted[:half]), drop_before_queueing=set(faulted[half:])
    )
    server = SmtpServer(recorder)
    await server.start()
    clock = FakeClock(datetime.now(UTC) + timedelta(seconds=1))
    settings = bench_settings(
        url, smtp_host="127.0.0.1", smtp_port=server.port, smtp_starttls=False
    )
    services = build_services(settings, clock=clock)
    try:
        await _seed(services, DELIVERIES)
        for _ in range(20):
            await services.dispatcher.drain()
            async with services.database.sessions() as session:
                left = await session.scalar(
                    select(func.count()).select_from(Delivery).where(Delivery.status != "sent")
                )
            if not left:
                break
            clock.advance(timedelta(hours=1))  # past any backoff
        delivered = [str(m["X-Carewatch-Delivery-Id"]) for _r, m in recorder.inbox]
        outcome = await _outcome(services, delivered)
    finally:
        await services.close()
        await server.stop()
    return {
        "dropped_after_queueing": half,
        "dropped_before_queueing": len(faulted) - half,
        **outcome,
    }


def _line(name: str, result: dict[str, Any]) -> str:
    return f"{name}: " + ", ".join(f"{k} {v}" for k, v in result.items())


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--drop-rate", type=float, default=0.01)
    options = parser.parse_args()
    # Each resend logs a warning by delivery id; the counts below say the same.
    logging.getLogger("app.alerting.dispatcher").setLevel(logging.ERROR)
    kill_points = [int(DELIVERIES * (i + 1) / (options.runs + 1)) for i in range(options.runs)]
    for kill_after in kill_points:
        print(_line("killed", await killed_dispatcher(options.database_url, kill_after)))
    for seed in range(options.runs):
        result = await dropped_connections(options.database_url, options.drop_rate, seed)
        print(_line("dropped", result))


if __name__ == "__main__":
    asyncio.run(main())
