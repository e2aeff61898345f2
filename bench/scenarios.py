"""The benchmark's scenarios beyond the read side: the write path against a raw-SQL
baseline over real HTTP (8 clients, one uvicorn worker), a mixed workload (page readers,
writers, the sweep and a CQC sync at once), a burst of alert events to a real SMTP
server, CQC sync request counts, the market benchmark's request rate against a rate
limited fake CQC, and the serving process's peak memory."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from aiolimiter import AsyncLimiter
from pydantic import SecretStr
from sqlalchemy import update

from app.config import Settings
from app.cqc.sync import run_market_benchmark, sync_changes
from app.events import Actor, EventDraft, append_events
from app.models import Location, Provider, User
from app.models.base import ContractType, Role
from app.services import build_services
from app.web.sessions import SESSION_COOKIE
from tests.fakes.cqc_server import FakeCqc

ROOT = Path(__file__).resolve().parent.parent


def bench_settings(database_url: str, **overrides: Any) -> Settings:
    """The service as every scenario runs it: nothing read from the environment, the
    shipped rules and routes, and no scheduler or dispatcher unless a scenario runs one."""
    values: dict[str, Any] = {
        "database_url": database_url,
        "dispatcher_enabled": False,
        "scheduler_enabled": False,
        "alerts_dir": ROOT / "alerts",
    }
    return Settings(_env_file=None, **{**values, **overrides})


CLIENTS = 8


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(q * len(ordered)), len(ordered) - 1)] if ordered else float("nan")


@contextlib.contextmanager
def served(database_url: str) -> Iterator[tuple[str, int]]:
    """bench.server in its own process (one uvicorn worker): (base URL, pid)."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.server", "--database-url", database_url, "--port", str(port)],
        cwd=ROOT,
        env={**os.environ, "CAREWATCH_LOG_LEVEL": "WARNING"},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            time.sleep(0.1)
        else:
            raise RuntimeError("bench server did not start")
        yield base, process.pid
    finally:
        process.terminate()
        process.wait(timeout=30)


def peak_rss_mb(pid: int) -> float:
    """The process's high-water mark of resident memory (VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class KeepAliveClient:
    """One HTTP/1.1 keep-alive connection that sends each request in a single write and
    reads an answer framed by Content-Length (every answer of this service is). The write
    path's load comes from here rather than httpx: on a 2-core machine the load generator
    shares the cores with the server, and a heavier client measures itself as much as the
    service (bench/NOTES.md has what each costs). It does as little as a tool like wrk."""

    def __init__(self, base: str, headers: dict[str, str]) -> None:
        url = httpx.URL(base)
        self.host, self.port = url.host, url.port or 80
        self.head = "".join(
            f"{name}: {value}\r\n"
            for name, value in {
                "Host": f"{self.host}:{self.port}",
                "Content-Type": "application/json",
                **headers,
            }.items()
        )
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes) -> int:
        """POST and read the whole answer; returns its status."""
        return await self.send("POST", path, body)

    async def get(self, path: str) -> int:
        """GET and read the whole answer; returns its status."""
        return await self.send("GET", path, b"")

    async def send(self, method: str, path: str, body: bytes) -> int:
        if self.reader is None or self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        self.writer.write(
            f"{method} {path} HTTP/1.1\r\n{self.head}Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        head = await self.reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        fields = dict(line.split(":", 1) for line in header_lines if ":" in line)
        length = {name.lower(): value for name, value in fields.items()}.get("content-length")
        if length is None:
            raise RuntimeError("an answer without Content-Length")
        await self.reader.readexactly(int(length))
        return int(status_line.split()[1])

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()


async def _load(
    base: str,
    path_for: Any,
    body: dict[str, Any],
    headers: dict[str, str],
    seconds: float,
    client: str = "keep-alive",
) -> tuple[float, float, int]:
    """CLIENTS concurrent clients posting for `seconds`: (requests/s, p99 ms, errors).
    `client` is "keep-alive" (KeepAliveClient) or "httpx", for comparison."""
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    payload = json.dumps(body).encode()
    limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as shared:

        async def one_client(seed: int) -> None:
            nonlocal errors
            rng = random.Random(seed)
            connection = KeepAliveClient(base, headers)
            try:
                while time.perf_counter() < deadline:
                    started = time.perf_counter()
                    if client == "httpx":
                        answer = await shared.post(
                            path_for(rng),
                            content=payload,
                            headers={"Content-Type": "application/json", **headers},
                        )
                        status = answer.status_code
                    else:
                        status = await connection.post(path_for(rng), payload)
                    latencies.append((time.perf_counter() - started) * 1000)
                    if status not in (200, 201):
                        errors += 1
            finally:
                await connection.close()

        started = time.perf_counter()
        await asyncio.gather(*(one_client(seed) for seed in range(CLIENTS)))
        elapsed = time.perf_counter() - started
    return len(latencies) / elapsed, percentile(latencies, 0.99), errors


async def write_path(
    base: str, token: str, providers: int, runs: int, seconds: float
) -> dict[str, list[float]]:
    """The real write path (a visit: record, event, rules, routing in one transaction)
    against the baseline, alternating, `runs` times each; then the real path again with
    httpx as the client, to show what a heavier client on the same cores measures."""
    body = {
        "visited_on": datetime.now(UTC).date().isoformat(),
        "kind": "virtual",
        "purpose": "Benchmark contract meeting",
        "outcome": "good",
        "notes": "",
    }
    auth = {"Authorization": f"Bearer {token}"}
    real = "/api/v1/providers/{}/visits"
    baseline = "/bench/baseline/providers/{}/visits"
    loads: list[tuple[str, str, dict[str, str], str]] = [
        ("", real, auth, "keep-alive"),
        ("baseline_", baseline, {}, "keep-alive"),
        ("httpx_", real, auth, "httpx"),
    ]
    figures: dict[str, list[float]] = {"errors": []}
    for _ in range(runs):
        for prefix, path, headers, client in loads:
            rps, p99, errors = await _load(
                base,
                lambda rng, path=path: path.format(rng.randint(1, providers)),
                body,
                headers,
                seconds,
                client,
            )
            figures.setdefault(f"{prefix}rps", []).append(rps)
            figures.setdefault(f"{prefix}p99", []).append(p99)
            figures["errors"].append(errors)
    return figures


MIXED_READERS = 16
MIXED_WRITERS = 4
MIXED_SYNC_CHANGES = 100


async def mixed(
    base: str, token: str, cookie: str, providers: int, seconds: float
) -> dict[str, list[float]]:
    """For `seconds`, against the served process: MIXED_READERS clients reading pages
    (the dashboard page and provider pages, provider 1's long history among them),
    MIXED_WRITERS clients recording visits, and in the served process, once each, the
    sweep and a CQC sync of MIXED_SYNC_CHANGES changed locations (bench.server's job
    routes). Each kind's latencies, in ms."""
    deadline = time.perf_counter() + seconds
    body = json.dumps(
        {
            "visited_on": datetime.now(UTC).date().isoformat(),
            "kind": "virtual",
            "purpose": "Benchmark contract meeting",
            "outcome": "good",
            "notes": "",
        }
    ).encode()
    timings: dict[str, list[float]] = {"read": [], "write": [], "sweep": [], "sync": []}
    errors: dict[str, int] = {"read": 0, "write": 0}

    async def reader(seed: int) -> None:
        rng = random.Random(seed)
        connection = KeepAliveClient(base, {"Cookie": f"{SESSION_COOKIE}={cookie}"})
        try:
            while time.perf_counter() < deadline:
                roll = rng.random()
                path = (
                    "/?officer=all"
                    if roll < 0.3
                    else "/providers/1"
                    if roll < 0.4
                    else f"/providers/{rng.randint(1, providers)}"
                )
                started = time.perf_counter()
                status = await connection.get(path)
                timings["read"].append((time.perf_counter() - started) * 1000)
                errors["read"] += status != 200
        finally:
            await connection.close()

    async def writer(seed: int) -> None:
        rng = random.Random(seed)
        connection = KeepAliveClient(base, {"Authorization": f"Bearer {token}"})
        try:
            while time.perf_counter() < deadline:
                path = f"/api/v1/providers/{rng.randint(1, providers)}/visits"
                started = time.perf_counter()
                status = await connection.post(path, body)
                timings["write"].append((time.perf_counter() - started) * 1000)
                errors["write"] += status not in (200, 201)
        finally:
            await connection.close()

    async def job(kind: str, path: str) -> None:
        # Once each, a few seconds in, from a connection of its own: the scheduler runs
        # them in the serving process, where the web's writers queue with them.
        await asyncio.sleep(min(5.0, seconds / 10))
        connection = KeepAliveClient(base, {})
        try:
            started = time.perf_counter()
            status = await connection.post(path, b"")
            timings[kind].append((time.perf_counter() - started) * 1000)
            if status != 200:
                raise RuntimeError(f"{path} answered {status}")
        finally:
            await connection.close()

    await asyncio.gather(
        *(reader(seed) for seed in range(MIXED_READERS)),
        *(writer(100 + seed) for seed in range(MIXED_WRITERS)),
        job("sweep", "/bench/jobs/sweep"),
        job("sync", "/bench/jobs/cqc-sync"),
    )
    return {
        **timings,
        "errors": [float(errors["read"]), float(errors["write"])],
        "seconds": [seconds],
    }


class _Inbox:
    """The SMTP sink process (bench.smtp_sink) and the acceptances it has logged."""

    def __init__(self, port: int, log: Path) -> None:
        log.parent.mkdir(parents=True, exist_ok=True)
        log.unlink(missing_ok=True)
        log.touch()
        self.log = log
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.smtp_sink", "--port", str(port), "--log", str(log)],
            cwd=ROOT,
        )
        for _ in range(100):
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                return
            time.sleep(0.1)
        raise RuntimeError("SMTP sink did not start")

    @property
    def accepted(self) -> list[tuple[float, str]]:
        rows = [line.split() for line in self.log.read_text().splitlines() if line.strip()]
        return [(float(at), delivery) for at, delivery in rows]

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


async def smtp_burst(database_url: str, events: int) -> dict[str, float]:
    """`events` alert events committed at once; the dispatcher sends them to a real SMTP
    server. Latency: from the commit to the server's acceptance of each message."""
    port = free_port()
    inbox = _Inbox(port, ROOT / "var" / "bench" / "smtp-accepted.log")
    settings = bench_settings(
        database_url,
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_starttls=False,
        base_url="https://carewatch.bench.gov.uk",
        mail_from="carewatch@bench.gov.uk",
    )
    services = build_services(settings)
    try:
        now = datetime.now(UTC)
        async with services.database.transaction() as session:
            officer = User(
                email="burst.officer@bench-council.gov.uk",
                name="Burst Officer",
                role=Role.officer,
                password_hash="x",
                created_at=now,
            )
            session.add(officer)
            await session.flush()
            provider_rows = [
                Provider(
                    name=f"Burst provider {i}",
                    contract_type=ContractType.spot,
                    contract_officer_id=officer.id,
                    created_at=now,
                    updated_at=now,
                )
                for i in range(50)
            ]
            session.add_all(provider_rows)
            await session.flush()
            provider_ids = [p.id for p in provider_rows]
        dispatcher = asyncio.create_task(services.dispatcher.run_forever(services.wake_event, 1.0))
        drafts = [
            EventDraft(
                "visit.overdue",
                provider_ids[i % len(provider_ids)],
                {
                    "due_on": date.today() - timedelta(days=3),
                    "days_overdue": 3,
                    "level": "routine",
                    "week": 0,
                },
                f"bench-burst:{i}",
            )
            for i in range(events)
        ]
        async with services.database.transaction() as session:
            await append_events(session, drafts, actor=Actor.job("bench"), at=now)
        committed = time.time()
        for _ in range(1200):  # at most two minutes
            if len(inbox.accepted) >= events:
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.0)  # anything sent twice would arrive now
        services.dispatcher.stopping = True
        services.wake_event.set()
        with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
            await asyncio.wait_for(dispatcher, timeout=15)
        latencies = [(at - committed) * 1000 for at, _ in inbox.accepted]
        delivery_ids = [delivery for _, delivery in inbox.accepted]
        return {
            "messages": len(inbox.accepted),
            "distinct": len(set(delivery_ids)),
            "p95_ms": percentile(latencies, 0.95),
            "last_ms": max(latencies) if latencies else float("nan"),
        }
    finally:
        await services.close()
        inbox.stop()


@contextlib.asynccontextmanager
async def _cqc_services(database_url: str, fake: FakeCqc, per_minute: int) -> AsyncIterator[Any]:
    settings = bench_settings(
        database_url,
        cqc_api_key=SecretStr(fake.api_key),
        cqc_base_url="http://cqc.bench/public/v1",
        cqc_requests_per_minute=per_minute,
    )
    services = build_services(settings, cqc_transport=httpx.ASGITransport(app=fake.app()))
    try:
        yield services
    finally:
        await services.close()


async def cqc_sync_requests(
    database_url: str, tracked: int, national_changes: int, tracked_changes: int
) -> dict[str, int]:
    """A changes-driven sync with `tracked` contracted locations and `national_changes`
    changed locations nationally, `tracked_changes` of them ours."""
    fake = FakeCqc(api_key="bench-key")
    ours = [f"1-{100000000 + i}" for i in range(tracked)]
    others = [f"1-{500000000 + i}" for i in range(national_changes - tracked_changes)]
    for location_id in ours + others:
        fake.add_location(location_id, rating="good")
    now = datetime.now(UTC)
    async with _cqc_services(database_url, fake, 2000) as services:
        services.cqc_client.limiter = AsyncLimiter(1000, 1)  # counting, not pacing
        async with services.database.transaction() as session:
            providers = [
                Provider(
                    name=f"Tracked provider {i}",
                    contract_type=ContractType.spot,
                    created_at=now,
                    updated_at=now,
                )
                for i in range(tracked)
            ]
            session.add_all(providers)
            await session.flush()
            session.add_all(
                Location(
                    provider_id=provider.id or 0,
                    cqc_location_id=location_id,
                    created_at=now,
                    last_checked_at=now - timedelta(days=1),
                )
                for provider, location_id in zip(providers, ours, strict=True)
            )
        changed_at = now - timedelta(minutes=30)
        for location_id in ours[:tracked_changes] + others:
            fake.change(location_id, changed_at)
        fake.requests.clear()
        context = services.cqc_context()
        assert context is not None
        run = await sync_changes(context)
        async with services.database.transaction() as session:
            await session.execute(update(Location).values(last_checked_at=now))
    return {
        "requests": len(fake.requests),
        "change_pages": run.change_pages,
        "fetched": run.locations_fetched,
        "tracked_changed": tracked_changes,
        "allowed": int((tracked_changes + run.change_pages) * 1.05),
    }


async def market_rate(
    database_url: str, locations: int, per_minute: int, seconds: float
) -> dict[str, float]:
    """The market benchmark against a fake that enforces `per_minute` like CQC, for a
    window of `seconds`: the request rate reached and the 429s it caused."""
    fake = FakeCqc(api_key="bench-key", rate_limit_per_minute=per_minute)
    for i in range(locations):
        fake.add_location(f"1-{700000000 + i}", rating="good", region="London")
    async with _cqc_services(database_url, fake, per_minute) as services:
        context = services.cqc_context()
        assert context is not None
        started = time.perf_counter()
        task = asyncio.create_task(run_market_benchmark(context))
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.shield(task), timeout=seconds)
        elapsed = time.perf_counter() - started
        sent = len(fake.requests)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
    rate = sent / elapsed * 60
    return {
        "requests": sent,
        "seconds": elapsed,
        "per_minute": rate,
        "share": rate / per_minute,
        "throttled": fake.throttled,
    }
