"""`make bench`: build the national-scale dataset on SQLite and on PostgreSQL, then
measure the read side (rule evaluation, the scheduled sweep, /metrics, the dashboard API,
a page of providers). Prints a table and writes docs/PERFORMANCE.md.

Scale with BENCH_PROVIDERS and BENCH_RECORDS (defaults 15,000 and 1,000,000); PostgreSQL
at BENCH_POSTGRES_URL (default the local server's carewatch_bench database)."""

from __future__ import annotations

import asyncio
import os
import platform
import random
import statistics
import subprocess
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from app.auth.service import issue_token
from app.clock import FakeClock
from app.config import Settings
from app.db import Database
from app.jobs.tasks import evaluate_time_rules
from app.main import create_app
from app.migrations import upgrade_once
from app.models import User
from app.monitoring.service import current_firings
from app.services import build_services
from bench.generate import generate

ROOT = Path(__file__).resolve().parent.parent
RUNS = 3
TARGETS = {
    "rule evaluation, one provider, p95 (ms)": "< 5",
    "full sweep of every provider, first run (s)": "< 20 SQLite, < 10 PostgreSQL",
    "full sweep, later runs (s)": "< 20 SQLite, < 10 PostgreSQL",
    "/metrics scrape, p95 (ms)": "< 100",
    "/api/v1/dashboard, p95 (ms)": "< 150",
}
NOT_YET = """Not measured yet (issue #9 continues): write-path throughput with 8 clients against a
raw-SQL baseline endpoint, a burst of 1,000 events to SMTP acceptance, CQC sync request
counts, the market benchmark's request rate, and peak memory. On the two missed targets:
one provider's rule evaluation runs about a dozen grouped queries; merging them into one
statement of joined subqueries was tried and measured no faster (SQLite the same,
PostgreSQL slower), so the cost is in the queries themselves: profile them next (query
plans, the window functions over visits and financial checks). The first sweep over a
dataset with thousands of overdue visits appends its events one at a time; a bulk insert
with the same dedup keys is the fix to try."""


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(q * len(ordered)), len(ordered) - 1)]


def _summary(per_run: list[float]) -> str:
    return f"{statistics.median(per_run):.1f} ({min(per_run):.1f}–{max(per_run):.1f})"


async def _timed(samples: int, call: Callable[[], Awaitable[Any]]) -> list[float]:
    timings = []
    for _ in range(samples):
        started = time.perf_counter()
        await call()
        timings.append((time.perf_counter() - started) * 1000)
    return timings


async def bench_engine(label: str, url: str, providers: int, records: int) -> dict[str, str]:
    print(f"== {label}: migrating and generating {providers} providers, {records} records")
    await upgrade_once(url)
    database = Database.from_url(url)
    started = time.perf_counter()
    counts = await generate(
        database, providers=providers, records=records, today=datetime.now(UTC).date()
    )
    load_seconds = time.perf_counter() - started
    await database.dispose()
    print(f"   loaded {counts} in {load_seconds:.0f} s")
    clock = FakeClock(datetime.now(UTC))
    settings = Settings(
        _env_file=None,
        database_url=url,
        dispatcher_enabled=False,
        scheduler_enabled=False,
        alerts_dir=ROOT / "alerts",
    )
    services = build_services(settings, clock=clock)
    rng = random.Random(7)
    results: dict[str, str] = {}
    try:
        async with services.database.transaction() as session:
            user = await session.get(User, 1)
            assert user is not None
            user.role = "admin"
            token = await issue_token(session, user, now=clock.now(), ttl=timedelta(days=1))
        headers = {"Authorization": f"Bearer {token}"}

        async def one_provider() -> None:
            async with services.database.sessions() as session:
                await current_firings(
                    session, services.policy, clock.today(), [rng.randint(1, providers)]
                )

        runs = [_p(await _timed(200, one_provider), 0.95) for _ in range(RUNS)]
        results["rule evaluation, one provider, p95 (ms)"] = _summary(runs)

        sweeps = []
        for _ in range(RUNS):
            started = time.perf_counter()
            await evaluate_time_rules(services)
            sweeps.append(time.perf_counter() - started)
        results["full sweep of every provider, first run (s)"] = f"{sweeps[0]:.1f}"
        results["full sweep, later runs (s)"] = _summary(sweeps[1:])

        app = create_app(settings, services)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://b"
        ) as client:
            for name, path in (
                ("/metrics scrape", "/metrics"),
                ("/api/v1/dashboard", "/api/v1/dashboard"),
                ("/api/v1/providers, a page of 50", "/api/v1/providers?limit=50&offset=7000"),
            ):

                async def get(path: str = path) -> None:
                    # /metrics as Prometheus on loopback scrapes it: no token configured.
                    sent = {} if path == "/metrics" else headers
                    response = await client.get(path, headers=sent)
                    assert response.status_code == 200, response.text[:200]

                runs = [_p(await _timed(30, get), 0.95) for _ in range(RUNS)]
                results[f"{name}, p95 (ms)"] = _summary(runs)
    finally:
        await services.close()
    results["load time (s)"] = f"{load_seconds:.0f}"
    return results


def _fresh_postgres(url: str) -> str:
    database = url.rsplit("/", 1)[1]
    server = url.rsplit("/", 1)[0]
    for sql in (f"DROP DATABASE IF EXISTS {database} WITH (FORCE)", f"CREATE DATABASE {database}"):
        subprocess.run(["psql", f"{server}/postgres", "-q", "-c", sql], check=True)
    return url


async def main() -> None:
    providers = int(os.environ.get("BENCH_PROVIDERS", "15000"))
    records = int(os.environ.get("BENCH_RECORDS", "1000000"))
    folder = ROOT / "var" / "bench"
    folder.mkdir(parents=True, exist_ok=True)
    sqlite_path = folder / "bench.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{sqlite_path}{suffix}").unlink(missing_ok=True)
    engines = {"SQLite": f"sqlite:///{sqlite_path}"}
    postgres = os.environ.get(
        "BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/carewatch_bench"
    )
    try:
        engines["PostgreSQL"] = _fresh_postgres(postgres)
    except (OSError, subprocess.CalledProcessError):
        print("PostgreSQL not reachable: measuring SQLite only")
    table: dict[str, dict[str, str]] = {}
    for label, url in engines.items():
        table[label] = await bench_engine(label, url, providers, records)
    rows = list(next(iter(table.values())))
    header = "| what | " + " | ".join(table) + " | target |"
    lines = [header, "|---|" + "---|" * (len(table) + 1)]
    lines += [
        f"| {row} | "
        + " | ".join(table[e].get(row, "") for e in table)
        + f" | {TARGETS.get(row, '')} |"
        for row in rows
    ]
    report = "\n".join(lines)
    print(report)
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    (ROOT / "docs" / "PERFORMANCE.md").write_text(f"""# Performance

Measured by `make bench` on {datetime.now(UTC):%Y-%m-%d} ({machine}), with
{providers:,} providers and {records:,} records spread over five years (each with its
event). Each figure is the median of {RUNS} runs, with the range in brackets; latencies
are per-run 95th percentiles through the ASGI app in-process.

{report}

{NOT_YET}
""")


if __name__ == "__main__":
    asyncio.run(main())
