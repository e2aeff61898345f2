"""The command line and the served process, for real: migrate, users create, serve,
demo, rules check, and schemathesis fuzzing the running API for server errors."""

from __future__ import annotations

import os
import pty
import re
import select
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.config import Settings
from app.services import Services

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


@pytest.mark.embedded_sqlite
def test_served_process_answers_docs_and_core_requests(live_server: LiveServer) -> None:
    headers = {"Authorization": f"Bearer {live_server.token}"}
    assert httpx.get(f"{live_server.url}/docs").status_code == 200
    # The schema is built on its first request: seconds on a busy machine.
    schema = httpx.get(f"{live_server.url}/openapi.json", timeout=60).json()
    assert schema["info"]["title"] == "carewatch"
    created = httpx.post(
        f"{live_server.url}/api/v1/providers",
        headers=headers,
        json={"name": "Live Care Ltd", "contract_type": "spot"},
    )
    assert created.status_code == 201
    assert created.json()["monitoring_level"] == "routine"


# Schemathesis's own run may take up to its 600 s subprocess limit on a busy machine.
@pytest.mark.timeout(900)
@pytest.mark.embedded_sqlite
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


@pytest.mark.embedded_sqlite
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


ROLES = ("admin", "manager", "officer", "safeguarding", "viewer")
DEMO_PASSWORD = "demo password for tests"


@pytest.mark.embedded_sqlite
def test_demo_on_a_new_database_migrates_seeds_and_says_how_to_sign_in(tmp_path: Path) -> None:
    env = _env(tmp_path, CAREWATCH_DEMO_PASSWORD=DEMO_PASSWORD)
    seeded = _run(["demo"], env)  # never migrated: the demo migrates first
    assert seeded.returncode == 0, seeded.stderr
    assert "Traceback" not in seeded.stderr
    assert "migrating the database first" in seeded.stdout
    assert f"sign in at http://127.0.0.1:8000/login with the password '{DEMO_PASSWORD}'" in (
        seeded.stdout
    )
    for role in ROLES:
        assert re.search(rf"^  \S+@carewatch-demo\.gov\.uk +{role} ", seeded.stdout, re.M), role
    check = _run(["rules", "check"], env)
    assert check.returncode == 0, check.stderr
    assert "Barbican Care Collective" in check.stdout and "stays intensive" in check.stdout
    assert "safeguarding-cluster -> enhanced: fires for 1 provider(s)" in check.stdout
    again = _run(["demo"], env)
    assert again.returncode == 1 and "refusing" in again.stderr


@pytest.mark.embedded_sqlite
def test_commands_on_a_new_database_say_what_to_run(tmp_path: Path) -> None:
    env = _env(tmp_path)
    created = _run(
        ["users", "create", "--email", "a@council.gov.uk", "--role", "admin"],
        env,
        stdin="long enough password\n",
    )
    assert created.returncode == 2 and "Traceback" not in created.stderr
    assert "run `make migrate`" in created.stderr
    unreachable = _env(tmp_path, CAREWATCH_DATABASE_URL="postgresql://nobody@127.0.0.1:1/none")
    for command in (
        ["users", "create", "--email", "a@council.gov.uk", "--role", "admin"],
        ["demo"],
    ):
        result = _run(command, unreachable, stdin="long enough password\n")
        assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
        assert "the database did not answer" in result.stderr


def _read_until(fd: int, marker: str, seen: list[str]) -> str:
    """What the terminal shows until `marker` (or the end); a hang fails the test."""
    deadline = time.monotonic() + 60
    while marker not in "".join(seen):
        assert time.monotonic() < deadline, "".join(seen)
        ready, _, _ = select.select([fd], [], [], 1)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 1024)
        except OSError:  # the other end closed: the command has exited
            break
        if not chunk:
            break
        seen.append(chunk.decode(errors="replace"))
    return "".join(seen)


def _at_a_terminal(args: list[str], env: dict[str, str], typed: list[str]) -> tuple[int, str]:
    """Run the command with a terminal for its input and output, typing each answer
    after its prompt; returns the exit status and everything the terminal showed."""
    primary, secondary = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "app", *args],
        stdin=secondary,
        stdout=secondary,
        stderr=secondary,
        env=env,
        cwd=ROOT,
        start_new_session=True,
    )
    os.close(secondary)
    seen: list[str] = []
    try:
        for answer, prompt in zip(typed, ("Password for the new user: ", "again: "), strict=False):
            _read_until(primary, prompt, seen)
            os.write(primary, answer.encode() + b"\n")
        _read_until(primary, "\x00never", seen)
        return process.wait(timeout=60), "".join(seen)
    finally:
        os.close(primary)


@pytest.mark.embedded_sqlite
def test_users_create_asks_for_the_password_at_a_terminal_without_showing_it(
    tmp_path: Path,
) -> None:
    env = _env(tmp_path)
    assert _run(["migrate"], env).returncode == 0
    status, shown = _at_a_terminal(
        ["users", "create", "--email", "jo.bloggs@council.gov.uk", "--role", "admin"],
        env,
        ["a long admin password", "a long admin password"],
    )
    assert status == 0, shown
    assert "a long admin password" not in shown  # never echoed
    assert "created user" in shown and "jo.bloggs@council.gov.uk (admin)" in shown
    status, shown = _at_a_terminal(
        ["users", "create", "--email", "sam@council.gov.uk", "--role", "officer"],
        env,
        ["a long admin password", "a different password"],
    )
    assert status == 2 and "the two passwords differ" in shown
    # Piped in, the first line is the password (no flag needed).
    piped = _run(
        ["users", "create", "--email", "sam@council.gov.uk", "--role", "officer"],
        env,
        stdin="piped in password\n",
    )
    assert piped.returncode == 0, piped.stderr


@pytest.mark.embedded_sqlite
def test_make_user_and_make_demo_work_as_the_readme_says(tmp_path: Path) -> None:
    env = _env(tmp_path, CAREWATCH_DEMO_PASSWORD=DEMO_PASSWORD)

    def make(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["make", "--no-print-directory", *args],
            input=stdin,
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
        )

    usage = make("user")
    assert usage.returncode != 0 and "usage: make user EMAIL=" in usage.stderr
    made = make("user", "EMAIL=admin@council.gov.uk", "ROLE=admin", stdin="a long admin password\n")
    assert made.returncode == 0, made.stdout + made.stderr
    assert "created user" in made.stdout
    demo = make("demo")
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert "demo council seeded" in demo.stdout


def test_the_readme_uses_make_targets_that_exist_and_no_bare_uv() -> None:
    readme = (ROOT / "README.md").read_text()
    makefile = (ROOT / "Makefile").read_text()
    targets = set(re.findall(r"^([a-z][a-z-]*):", makefile, re.M))
    commands = set(re.findall(r"`?make ([a-z][a-z-]*)", readme))
    assert {"user", "demo", "run", "test"} <= commands
    assert commands <= targets, commands - targets
    blocks = "\n".join(re.findall(r"```(?:bash)?\n(.*?)```", readme, re.S))
    assert not re.search(r"(^|[\s|;&(])uv ", blocks, re.M), "a bare uv is not on a fresh PATH"
    # Serving on another port is documented beside the base URL that email links use.
    assert re.search(r"make run PORT=\d+", readme)
    (row,) = [line for line in readme.splitlines() if line.startswith("| `BASE_URL`")]
    assert "PORT" in row


@pytest.mark.embedded_sqlite
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


async def test_the_demo_history_is_dated_when_it_happened_and_has_a_benchmark(
    settings: Settings, services: Services, client: httpx.AsyncClient, monkeypatch: Any
) -> None:
    from app.demo import seed_demo
    from app.records.dashboard import national_distribution

    monkeypatch.setenv("CAREWATCH_DEMO_PASSWORD", DEMO_PASSWORD)
    assert await seed_demo(settings) == 0
    token = await client.post(
        "/api/v1/auth/token",
        data={
            "username": "megan.trelawny@carewatch-demo.gov.uk",
            "password": "demo password for tests",
        },
    )
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    providers = (await client.get("/api/v1/providers?limit=50", headers=headers)).json()["items"]
    assert len(providers) == 20
    months: set[str] = set()
    for provider in providers:
        timeline = await client.get(
            f"/api/v1/providers/{provider['id']}/timeline?limit=200", headers=headers
        )
        items = timeline.json()["items"]
        months |= {item["event"]["created_at"][:7] for item in items}
        visits = [item for item in items if item["event"]["type"] == "visit.recorded"]
        assert len(visits) == 4, provider["name"]
        for visit in visits:
            # The visit is on the timeline on the day it took place, not the day of seeding.
            assert visit["event"]["created_at"][:10] == visit["record"]["visited_on"]
        created = [item["event"]["created_at"] for item in items]
        assert created == sorted(created, reverse=True)  # newest first, as it happened
    assert len(months) >= 10  # a year of history, not one afternoon
    # A completed market benchmark, so the dashboard's national column is not missing.
    status = (await client.get("/api/v1/cqc/status", headers=headers)).json()
    assert status["benchmark"]["status"] == "complete"
    async with services.database.sessions() as session:
        national = await national_distribution(session)
    assert national is not None and national["national"]["good"] > 0
    # The market: six localities, a lead each, a year of returns; one provider's missed
    # visits turned red two months running, and that escalated it.
    localities = (await client.get("/api/v1/localities", headers=headers)).json()["items"]
    assert len(localities) == 6 and all(item["lead_provider_id"] for item in localities)
    assert sum(item["people_waiting"] for item in localities) > 30
    story = next(p for p in providers if p["name"] == "Crownhill Companions")
    kpis = (await client.get(f"/api/v1/providers/{story['id']}/kpis", headers=headers)).json()
    assert kpis["total"] == 12
    assert [k["missed_visits_band"] for k in kpis["items"][:3]] == ["red", "red", "green"]
    monitoring = await client.get(f"/api/v1/providers/{story['id']}/monitoring", headers=headers)
    assert monitoring.json()["level"] == "enhanced", monitoring.text
    assert "missed-visits-red" in str(monitoring.json()["episodes"][0]["reasons"])
