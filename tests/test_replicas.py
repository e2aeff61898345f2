"""Processes for real: the container's entrypoint (`python -m app start`), and two
replicas with the scheduler enabled on one PostgreSQL database and one SMTP server."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from app.auth.service import issue_token
from app.services import Services
from tests.conftest import ROOT, UserMaker, postgres_only
from tests.fakes.smtp import SmtpServer


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _spawn(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "app", *args],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def _ready(url: str, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            try:
                if (await client.get(f"{url}/readyz")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError(f"{url} did not become ready")


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=15)


@pytest.mark.embedded_sqlite
async def test_the_entrypoint_waits_migrates_and_serves(
    tmp_path: Path,
    processes: list[subprocess.Popen[bytes]],
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAREWATCH_")}
    env.update(
        {
            "CAREWATCH_DATABASE_URL": f"sqlite:///{tmp_path / 'fresh.db'}",
            "CAREWATCH_OUTBOX_DIR": str(tmp_path / "outbox"),
        }
    )
    port = _port()
    processes.append(_spawn(["start", "--port", str(port)], env))
    await _ready(f"http://127.0.0.1:{port}")
    async with httpx.AsyncClient() as client:
        ready = (await client.get(f"http://127.0.0.1:{port}/readyz")).json()
    assert ready["status"] == "ok" and ready["schema"]


def _gauges(text: str) -> dict[tuple[str, tuple[Any, ...]], float]:
    values = {}
    for family in text_string_to_metric_families(text):
        if family.type == "gauge" and family.name != "carewatch_scheduler_leader":
            for sample in family.samples:
                if "age_seconds" not in sample.name and not sample.name.endswith("_created"):
                    values[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return values


def _job_runs(text: str, job: str) -> float:
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "carewatch_job_runs_total" and sample.labels.get("job") == job
    )


async def _leader(url: str, token: str) -> float:
    async with httpx.AsyncClient() as client:
        text = (
            await client.get(f"{url}/metrics", headers={"Authorization": f"Bearer {token}"})
        ).text
    for family in text_string_to_metric_families(text):
        if family.name == "carewatch_scheduler_leader":
            return family.samples[0].value
    return 0.0


@postgres_only
async def test_two_replicas_send_each_message_once_and_hand_over_the_scheduler(
    database_url: str,
    smtp: SmtpServer,
    make_user: UserMaker,
    services: Services,
    processes: list[subprocess.Popen[bytes]],
) -> None:
    officer = await make_user("officer")
    async with services.database.transaction() as session:  # real time: real processes
        secret = await issue_token(session, officer, now=datetime.now(UTC), ttl=timedelta(hours=1))
    headers = {"Authorization": f"Bearer {secret}"}
    token = "replica-metrics-token"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAREWATCH_")}
    env.update(
        {
            "CAREWATCH_DATABASE_URL": database_url,
            "CAREWATCH_SMTP_HOST": smtp.host,
            "CAREWATCH_SMTP_PORT": str(smtp.port),
            "CAREWATCH_SMTP_STARTTLS": "false",
            "CAREWATCH_SAFEGUARDING_EMAIL": "safeguarding@council.gov.uk",
            "CAREWATCH_SCHEDULER_ENABLED": "true",
            "CAREWATCH_DISPATCH_SWEEP_SECONDS": "1",
            "CAREWATCH_DELIVERY_LEASE_SECONDS": "10",
            "CAREWATCH_METRICS_TOKEN": token,
        }
    )
    urls = []
    for _ in range(2):
        port = _port()
        processes.append(_spawn(["serve", "--port", str(port)], env))
        urls.append(f"http://127.0.0.1:{port}")
    for url in urls:
        await _ready(url)

    # Exactly one replica leads the scheduler.
    leaders: list[float] = []
    for _ in range(100):
        leaders = [await _leader(url, token) for url in urls]
        if sum(leaders) == 1:
            break
        await asyncio.sleep(0.1)
    assert sorted(leaders) == [0.0, 1.0]
    holder = leaders.index(1.0)

    async with httpx.AsyncClient(timeout=20) as client:
        providers = []
        for index in range(10):
            created = await client.post(
                f"{urls[index % 2]}/api/v1/providers",
                headers=headers,
                json={"name": f"Replica Care {index}", "contract_officer_id": officer.id},
            )
            assert created.status_code == 201, created.text
            providers.append(created.json()["id"])

        async def raise_safeguardings(rounds: range, targets: list[str]) -> None:
            for round_ in rounds:
                for number, provider_id in enumerate(providers):
                    url = targets[(round_ + number) % len(targets)]
                    response = await client.post(
                        f"{url}/api/v1/providers/{provider_id}/safeguardings",
                        headers=headers,
                        json={
                            "raised_on": "2026-11-01",
                            "category": "neglect",
                            "reference": f"R{round_}-{number}",
                        },
                    )
                    assert response.status_code == 201, response.text

        await raise_safeguardings(range(5), urls)  # 50 writes through both replicas
        await _until(lambda: len(smtp.recorder.inbox) >= 100)
        # Quiescent: both replicas report the same domain figures from the database.
        scraped = [
            (await client.get(f"{u}/metrics", headers={"Authorization": f"Bearer {token}"})).text
            for u in urls
        ]
        assert _gauges(scraped[0]) == _gauges(scraped[1])
        # Jobs run only where the scheduler is: the sweep (every 6 s here) ticks there.
        deadline = time.monotonic() + 20
        while _job_runs(scraped[holder], "dispatch_sweep") < 1:
            assert time.monotonic() < deadline, "the leader's sweep never ran"
            await asyncio.sleep(0.5)
            scraped = [
                (
                    await client.get(f"{u}/metrics", headers={"Authorization": f"Bearer {token}"})
                ).text
                for u in urls
            ]
        assert _job_runs(scraped[1 - holder], "dispatch_sweep") == 0

        processes[holder].send_signal(signal.SIGKILL)  # the scheduler's holder dies
        processes[holder].wait(timeout=10)
        survivor = urls[1 - holder]
        await raise_safeguardings(range(5, 10), [survivor])
        taken_over = time.monotonic()
        while await _leader(survivor, token) != 1.0:
            assert time.monotonic() - taken_over < 30, "the survivor never took the scheduler"
            await asyncio.sleep(0.2)

    # 100 safeguardings x (officer + safeguarding mailbox), each message exactly once.
    await _until(lambda: len(smtp.recorder.inbox) >= 200, seconds=40)
    await asyncio.sleep(2)  # time for any duplicate to show itself
    received = [
        f"{recipient} {message['Message-ID']}" for recipient, message in smtp.recorder.inbox
    ]
    assert len(received) == len(set(received)) == 200


async def _until(condition: Any, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.1)
