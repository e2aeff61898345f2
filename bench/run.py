"""`make bench`: build the national-scale dataset on SQLite and on PostgreSQL, then
measure the read side (rule evaluation, the scheduled sweep, /metrics, the dashboard API
and page, a provider's page, a page of providers), the write path, a mixed workload and
an alert burst. Prints a table and writes docs/PERFORMANCE.md.

Scale with BENCH_PROVIDERS and BENCH_RECORDS (defaults 15,000 and 1,000,000), the mixed
workload's length with BENCH_MIXED_SECONDS; PostgreSQL at BENCH_POSTGRES_URL (default the
local server's carewatch_bench database, dropped and created afresh)."""

from __future__ import annotations

import gc
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
import uvloop

from app.auth.service import issue_token
from app.clock import FakeClock
from app.db import Database
from app.jobs.tasks import evaluate_time_rules
from app.main import create_app
from app.migrations import upgrade_once
from app.models import User
from app.models.base import Role
from app.monitoring.escalation import current_firings
from app.services import build_services
from app.web.sessions import SESSION_COOKIE, start_session
from bench import import_tracker, scenarios
from bench.generate import generate
from bench.report import time_report

ROOT = Path(__file__).resolve().parent.parent
RUNS = 3
WRITE_SECONDS = float(os.environ.get("BENCH_WRITE_SECONDS", "10"))
MARKET_SECONDS = float(os.environ.get("BENCH_MARKET_SECONDS", "120"))
MIXED_SECONDS = float(os.environ.get("BENCH_MIXED_SECONDS", "180"))
TARGETS = {
    "write path, 8 clients, requests/s": ">= 150 SQLite, >= 250 PostgreSQL",
    "write path, 8 clients, p99 (ms)": "< 100",
    "baseline raw-SQL insert, 8 clients, requests/s": "",
    "write path as a share of the baseline": "(a figure)",
    "write path, httpx as the client, requests/s": "",
    "write path, httpx as the client, p99 (ms)": "",
    "rule evaluation, one provider, p95 (ms)": "< 5",
    "full scheduled sweep of every provider (s)": "< 20 SQLite, < 10 PostgreSQL",
    "catch-up sweep after the bulk import (s)": "",
    "/metrics scrape, p95 (ms)": "< 100",
    "/api/v1/dashboard, p95 (ms)": "< 150",
    "/ (the dashboard page, 100 rows), p95 (ms)": "< 150",
    "/providers/1 (a provider with a long history), p95 (ms)": "< 100",
    "mixed: page reads, 16 clients, p95 (ms)": "",
    "mixed: visits, 4 clients, p95 (ms)": "",
    "mixed: reads/s, visits/s": "",
    "mixed: sweep during the load (s)": "",
    "mixed: CQC sync of 100 changes during the load (s)": "",
    "quarterly report: figures (s)": "",
    "quarterly report: whole PDF (s)": "< 10",
    "quarterly report: whole spreadsheet (s)": "< 10",
    "burst of 1,000 events to SMTP acceptance, p95 (s)": "< 2",
    "burst: messages accepted (distinct)": "1,000 (1,000)",
    "server peak RSS after the scenarios (MB)": "< 300",
    "CQC sync, 1,000 tracked, 900 national changes: requests (allowed)": (
        "<= tracked changed + pages + 5%"
    ),
    "CQC market benchmark at 2,000/min: rate reached (429s caused)": ">= 90% (0)",
    "tracker import, 1,000 providers and 50,000 records (s)": "< 60 SQLite",
    "tracker import again, every row matched (s)": "",
}


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
    _after_bulk_changes(url)
    print(f"   loaded {counts} in {load_seconds:.0f} s")
    clock = FakeClock(datetime.now(UTC))
    settings = scenarios.bench_settings(url)
    services = build_services(settings, clock=clock)
    rng = random.Random(7)
    results: dict[str, str] = {}
    try:
        async with services.database.transaction() as session:
            user = await session.get(User, 1)
            assert user is not None
            user.role = Role.admin
            token = await issue_token(session, user, now=clock.now(), ttl=timedelta(days=1))
        headers = {"Authorization": f"Bearer {token}"}

        # The generator writes levels at random; the first sweep brings every provider to
        # what its evidence says, as the write path keeps a live database. Timed apart.
        started = time.perf_counter()
        await evaluate_time_rules(services)
        results["catch-up sweep after the bulk import (s)"] = f"{time.perf_counter() - started:.1f}"
        _after_bulk_changes(url)
        results.update(await time_report(services))

        # The read side is measured in-process as the service runs it: the app built, and
        # what exists then frozen out of the collector's scans, as `python -m app serve`
        # does at start-up (app/__main__.py). Unfrozen when this engine is done.
        app = create_app(settings, services)
        gc.collect()
        gc.freeze()

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
        results["full scheduled sweep of every provider (s)"] = _summary(sweeps)

        async with services.database.transaction() as session:
            user = await session.get(User, 1)
            assert user is not None
            cookie, _ttl = await start_session(session, services, user)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://b"
        ) as client:
            client.cookies.set(SESSION_COOKIE, cookie)
            for name, path in (
                ("/metrics scrape", "/metrics"),
                ("/api/v1/dashboard", "/api/v1/dashboard"),
                ("/ (the dashboard page, 100 rows)", "/?officer=all"),
                ("/providers/1 (a provider with a long history)", "/providers/1"),
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
        gc.unfreeze()
        await services.close()

    print(f"   write path over HTTP, {WRITE_SECONDS:.0f} s per run")
    with scenarios.served(url) as (base, pid):
        figures = await scenarios.write_path(base, token, providers, RUNS, WRITE_SECONDS)
        print(f"   mixed workload, {MIXED_SECONDS:.0f} s")
        mix = await scenarios.mixed(base, token, cookie, providers, MIXED_SECONDS)
        async with httpx.AsyncClient(base_url=base, timeout=30) as browser:
            browser.cookies.set(SESSION_COOKIE, cookie)
            for path in ("/api/v1/dashboard", "/metrics", "/?officer=all"):
                for _ in range(5):
                    sent = headers if path.startswith("/api") else {}
                    (await browser.get(path, headers=sent)).raise_for_status()
        rss = scenarios.peak_rss_mb(pid)
    shares = [
        100 * real / base_rps
        for real, base_rps in zip(figures["rps"], figures["baseline_rps"], strict=True)
    ]
    results["write path, 8 clients, requests/s"] = _summary(figures["rps"])
    results["write path, 8 clients, p99 (ms)"] = _summary(figures["p99"])
    results["baseline raw-SQL insert, 8 clients, requests/s"] = _summary(figures["baseline_rps"])
    results["write path as a share of the baseline"] = _summary(shares) + "%"
    results["write path, httpx as the client, requests/s"] = _summary(figures["httpx_rps"])
    results["write path, httpx as the client, p99 (ms)"] = _summary(figures["httpx_p99"])
    results["server peak RSS after the scenarios (MB)"] = f"{rss:.0f}"
    if sum(figures["errors"]):
        results["write path errors"] = str(int(sum(figures["errors"])))
    results["mixed: page reads, 16 clients, p95 (ms)"] = f"{_p(mix['read'], 0.95):.0f}"
    results["mixed: visits, 4 clients, p95 (ms)"] = f"{_p(mix['write'], 0.95):.0f}"
    results["mixed: reads/s, visits/s"] = (
        f"{len(mix['read']) / MIXED_SECONDS:.0f}, {len(mix['write']) / MIXED_SECONDS:.0f}"
    )
    for row, kind in (
        ("mixed: sweep during the load (s)", "sweep"),
        ("mixed: CQC sync of 100 changes during the load (s)", "sync"),
    ):
        runs_s = [ms / 1000 for ms in mix[kind]]
        results[row] = f"{runs_s[0]:.1f}" if runs_s else "did not finish"
    if sum(mix["errors"]):
        results["mixed: errors (reads, visits)"] = ", ".join(f"{e:.0f}" for e in mix["errors"])

    print("   burst of 1,000 events to a real SMTP server")
    bursts = []
    for attempt in range(RUNS):
        burst_url = await _scratch_database(url, f"smtp{attempt}")
        bursts.append(await scenarios.smtp_burst(burst_url, 1000))
    results["burst of 1,000 events to SMTP acceptance, p95 (s)"] = _summary(
        [b["p95_ms"] / 1000 for b in bursts]
    )
    results["burst: messages accepted (distinct)"] = ", ".join(
        f"{int(b['messages']):,} ({int(b['distinct']):,})" for b in bursts
    )
    results["load time (s)"] = f"{load_seconds:.0f}"
    return results


def _after_bulk_changes(url: str) -> None:
    """On PostgreSQL, what autovacuum (on by default) does after a bulk change: gather the
    planner's statistics and mark the pages all-visible (VACUUM ANALYZE). Without it the
    planner guesses one row for every table the generator filled, and an index-only scan
    still reads every row from the table. This machine's server runs with autovacuum off,
    so the benchmark does it after the generator and after the catch-up sweep."""
    if url.startswith("postgresql"):
        subprocess.run(["psql", url, "-q", "-c", "VACUUM ANALYZE"], check=True)


async def _scratch_database(url: str, name: str) -> str:
    """A fresh, migrated database beside the benchmark's, for a scenario of its own."""
    if url.startswith("sqlite"):
        path = Path(url.removeprefix("sqlite:///")).with_name(f"{name}.db")
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        scratch = f"sqlite:///{path}"
    else:
        scratch = _fresh_postgres(url.rsplit("/", 1)[0] + f"/carewatch_bench_{name}")
    await upgrade_once(scratch)
    return scratch


async def cqc_scenarios(url: str) -> dict[str, str]:
    """Request counts and rate against the fake CQC (the same whatever the engine)."""
    print("== CQC: sync request counts, market benchmark rate")
    counts = await scenarios.cqc_sync_requests(await _scratch_database(url, "cqc"), 1000, 900, 300)
    rate = await scenarios.market_rate(
        await _scratch_database(url, "market"), 14_000, 2000, MARKET_SECONDS
    )
    return {
        "CQC sync, 1,000 tracked, 900 national changes: requests (allowed)": (
            f"{counts['requests']} ({counts['allowed']}: {counts['tracked_changed']} changed"
            f" + {counts['change_pages']} page + 5%)"
        ),
        "CQC market benchmark at 2,000/min: rate reached (429s caused)": (
            f"{rate['per_minute']:.0f}/min = {100 * rate['share']:.0f}% ({int(rate['throttled'])})"
            f" over {rate['seconds']:.0f} s"
        ),
    }


def _fresh_postgres(url: str) -> str:
    database = url.rsplit("/", 1)[1]
    server = url.rsplit("/", 1)[0]
    for sql in (f"DROP DATABASE IF EXISTS {database} WITH (FORCE)", f"CREATE DATABASE {database}"):
        subprocess.run(["psql", f"{server}/postgres", "-q", "-c", sql], check=True)
    return url


def _machine_pressure() -> str:
    """How busy the machine was over the last five minutes of the run: its load average,
    and the share of time tasks stalled waiting for the disk (Linux's pressure stall
    information), so a reader can tell a quiet run from a disturbed one."""
    try:
        load = Path("/proc/loadavg").read_text().split()[2]
        full = next(
            line
            for line in Path("/proc/pressure/io").read_text().splitlines()
            if line.startswith("full")
        )
        io_share = dict(field.split("=") for field in full.split()[1:])["avg300"]
    except (OSError, StopIteration, KeyError):
        return "the machine's load could not be read"
    return (
        f"the load average of the last five minutes was {load}, and every running task"
        f" stalled at once on the disk {io_share}% of the time"
    )


def _report(table: dict[str, dict[str, str]]) -> str:
    rows = list(TARGETS) + [
        row for engine in table.values() for row in engine if row not in TARGETS
    ]
    rows = list(dict.fromkeys(rows))
    header = "| what | " + " | ".join(table) + " | target |"
    lines = [header, "|---|" + "---|" * (len(table) + 1)]
    lines += [
        f"| {row} | "
        + " | ".join(table[e].get(row, "") for e in table)
        + f" | {TARGETS.get(row, '')} |"
        for row in rows
    ]
    return "\n".join(lines)


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
        # Each engine's figures as soon as they exist, should a later part not finish.
        print(_report(table), flush=True)
    table["SQLite"].update(await cqc_scenarios(engines["SQLite"]))
    print("== the council's tracker: 1,000 providers and 50,000 records, on SQLite")
    table["SQLite"].update(await import_tracker.measure(1000, 50_000))
    report = _report(table)
    print(report)
    notes = (ROOT / "bench" / "NOTES.md").read_text(encoding="utf-8")
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    (ROOT / "docs" / "PERFORMANCE.md").write_text(f"""# Performance

Measured by `make bench` on {datetime.now(UTC):%Y-%m-%d} ({machine}), with
{providers:,} providers and {records:,} records spread over five years (each with its
event). At the end, {_machine_pressure()}.
Each figure is the median of {RUNS} runs, with the range in brackets; latencies are
per-run 95th percentiles. The read side runs through the ASGI app in-process; the
write path runs over real HTTP against one uvicorn worker (`bench/server.py`) with 8
concurrent keep-alive clients in the benchmark's own process, each sending a request in
one write as wrk does (and again with httpx as the client, for comparison). The mixed
workload runs against the same server for {MIXED_SECONDS:.0f} s: 16 keep-alive clients
reading pages (the dashboard page and provider pages), 4 recording visits, and one sweep
and one CQC sync run in the server process, as the scheduler runs them; its latencies are
95th percentiles of one run. The SMTP burst sends to a real SMTP server (aiosmtpd) in its
own process; the CQC rows use the fake CQC server
(`tests/fakes/cqc_server.py`), once, on SQLite: counts and rates do not depend on the engine.

{report}

{notes}
""")


if __name__ == "__main__":
    # On uvloop, as uvicorn runs the service (and its dispatcher) when it is installed.
    uvloop.run(main())
