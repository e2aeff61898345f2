"""The command line and the served process, for real: migrate, users create, serve,
demo, rules check, and schemathesis fuzzing the running API for server errors."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent


def _run(
    args: list[str], env: dict[str, str], stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        input=stdin,
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _env(tmp: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAREWATCH_")}
    env.update(
        {
            "CAREWATCH_DATABASE_URL": f"sqlite:///{tmp / 'cli.db'}",
            "CAREWATCH_OUTBOX_DIR": str(tmp / "outbox"),
            "CAREWATCH_SCHEDULER_ENABLED": "false",
            **extra,
        }
    )
    return env


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveServer:
    url: str
    env: dict[str, str]
    token: str


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    tmp = tmp_path_factory.mktemp("live")
    env = _env(tmp)
    assert _run(["migrate"], env).returncode == 0
    created = _run(
        [
            "users",
            "create",
            "--email",
            "admin@council.gov.uk",
            "--name",
            "Admin",
            "--role",
            "admin",
            "--password-stdin",
        ],
        env,
        stdin="a long admin password\n",
    )
    assert created.returncode == 0, created.stderr
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "app", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        else:
            raise AssertionError("server did not become ready")
        token = httpx.post(
            f"{url}/api/v1/auth/token",
            data={"username": "admin@council.gov.uk", "password": "a long admin password"},
        ).json()
        yield LiveServer(url, env, token["access_token"])
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_served_process_answers_docs_and_core_requests(live_server: LiveServer) -> None:
    headers = {"Authorization": f"Bearer {live_server.token}"}
    assert httpx.get(f"{live_server.url}/docs").status_code == 200
    assert httpx.get(f"{live_server.url}/openapi.json").json()["info"]["title"] == "carewatch"
    created = httpx.post(
        f"{live_server.url}/api/v1/providers",
        headers=headers,
        json={"name": "Live Care Ltd", "contract_type": "spot"},
    )
    assert created.status_code == 201
    assert created.json()["monitoring_level"] == "routine"


def test_schemathesis_finds_no_server_error(live_server: LiveServer, tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "schemathesis.cli",
            "run",
            f"{live_server.url}/openapi.json",
            "--checks",
            "not_a_server_error,ignored_auth",
            "--max-examples",
            "12",
            "--seed",
            "20261122",
            "--phases",
            "examples,coverage,fuzzing",
            "-H",
            f"Authorization: Bearer {live_server.token}",
            "--suppress-health-check",
            "all",
            "--request-timeout",
            "10",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def test_users_create_refuses_bad_input_and_duplicates(tmp_path: Path) -> None:
    env = _env(tmp_path)
    assert _run(["migrate"], env).returncode == 0
    short = _run(
        [
            "users",
            "create",
            "--email",
            "a@council.gov.uk",
            "--name",
            "A",
            "--role",
            "admin",
            "--password-stdin",
        ],
        env,
        stdin="short\n",
    )
    assert short.returncode == 2 and "password" in short.stderr
    ok = _run(
        [
            "users",
            "create",
            "--email",
            "a@council.gov.uk",
            "--name",
            "A",
            "--role",
            "admin",
            "--password-stdin",
        ],
        env,
        stdin="long enough password\n",
    )
    assert ok.returncode == 0, ok.stderr
    again = _run(
        [
            "users",
            "create",
            "--email",
            "a@council.gov.uk",
            "--name",
            "A",
            "--role",
            "admin",
            "--password-stdin",
        ],
        env,
        stdin="long enough password\n",
    )
    assert again.returncode == 1 and "email" in again.stderr


def test_demo_seeds_escalations_and_refuses_a_second_time(tmp_path: Path) -> None:
    env = _env(tmp_path, CAREWATCH_DEMO_PASSWORD="demo password for tests")
    assert _run(["migrate"], env).returncode == 0
    seeded = _run(["demo"], env)
    assert seeded.returncode == 0, seeded.stderr
    check = _run(["rules", "check"], env)
    assert check.returncode == 0, check.stderr
    assert "Barbican Care Collective" in check.stdout and "stays intensive" in check.stdout
    assert "safeguarding-cluster -> enhanced: fires for 1 provider(s)" in check.stdout
    again = _run(["demo"], env)
    assert again.returncode == 1 and "refusing" in again.stderr


def test_rules_check_names_a_broken_rule(tmp_path: Path) -> None:
    alerts = tmp_path / "alerts"
    alerts.mkdir()
    (alerts / "routes.yaml").write_text((ROOT / "alerts/routes.yaml").read_text())
    (alerts / "rules.yaml").write_text(
        "rules:\n  - id: too-many-visits\n    description: A rule with a typo in it\n"
        "    when: {signal: safeguardings_rased, window_days: 90, op: '>=', value: 3}\n"
        "    escalate_to: enhanced\n"
    )
    env = _env(tmp_path, CAREWATCH_ALERTS_DIR=str(alerts))
    result = _run(["rules", "check"], env)
    assert result.returncode == 1
    assert "rules.yaml" in result.stderr
    assert "'too-many-visits'" in result.stderr
    assert "unknown signal 'safeguardings_rased'" in result.stderr
    serve = _run(["serve", "--port", str(_free_port())], env)
    assert serve.returncode == 2 and "too-many-visits" in serve.stderr
