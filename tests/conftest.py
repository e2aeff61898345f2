"""Shared fixtures: a migrated database per test (SQLite always, PostgreSQL when
TEST_DATABASE_URL is set), a controlled clock, the app over ASGI, users and tokens."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from pwdlib.hashers.argon2 import Argon2Hasher
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from app.auth.passwords import verify_password
from app.auth.service import issue_token
from app.clock import FakeClock
from app.config import Settings
from app.db import async_url
from app.events import Actor
from app.main import create_app
from app.market.schemas import LocalityIn
from app.market.service import create_locality
from app.migrations import upgrade
from app.models import User, metadata
from app.models.base import Role
from app.records.service import WriteContext
from app.services import Services, build_services

ROOT = Path(__file__).resolve().parent.parent
PG_URL = os.environ.get("TEST_DATABASE_URL")
START = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
PASSWORD = "correct horse battery staple"


def on_postgres() -> bool:
    return bool(PG_URL)


postgres_only = pytest.mark.skipif(not PG_URL, reason="needs TEST_DATABASE_URL (PostgreSQL)")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test marked embedded_sqlite opens its own SQLite file on either pass: the
    PostgreSQL pass would only run it a second time, so it is left to the SQLite pass."""
    if not PG_URL:
        return
    again = pytest.mark.skip(reason="on its own SQLite file: the SQLite pass runs it")
    for item in items:
        if item.get_closest_marker("embedded_sqlite"):
            item.add_marker(again)


async def _reset_postgres(url: str) -> None:
    engine = create_async_engine(async_url(url))
    async with engine.begin() as connection:
        await connection.execute(text("DROP SCHEMA public CASCADE"))
        await connection.execute(text("CREATE SCHEMA public"))
    await engine.dispose()


async def truncate_postgres(url: str) -> None:
    tables = ", ".join(f'"{name}"' for name in metadata.tables)
    engine = create_async_engine(async_url(url))
    async with engine.begin() as connection:
        await connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    await engine.dispose()


@pytest.fixture(scope="session")
def migrated_database(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Migrate once per session: a template SQLite file, or the PostgreSQL database."""
    if PG_URL:
        import asyncio

        asyncio.run(_reset_postgres(PG_URL))
        upgrade(PG_URL)
        return PG_URL
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite:///{path}")
    return str(path)


@pytest.fixture
async def database_url(migrated_database: str, tmp_path: Path) -> AsyncIterator[str]:
    if PG_URL:
        await truncate_postgres(PG_URL)
        yield PG_URL
        return
    path = tmp_path / "carewatch.db"
    shutil.copyfile(migrated_database, path)
    yield f"sqlite:///{path}"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        _env_file=None,
        environment="test",
        database_url=database_url,
        dispatcher_enabled=False,
        scheduler_enabled=False,
        outbox_dir=tmp_path / "outbox",
        alerts_dir=ROOT / "alerts",
        safeguarding_email="safeguarding@council.gov.uk",
        base_url="https://carewatch.council.gov.uk",
        mail_from="carewatch@council.gov.uk",
    )


@pytest.fixture
async def services(settings: Settings, clock: FakeClock) -> AsyncIterator[Services]:
    built = build_services(settings, clock=clock)
    yield built
    await built.database.dispose()


@pytest.fixture
async def client(settings: Settings, services: Services) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, services)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


_HASH: dict[str, str] = {}


def password_hash() -> str:
    """The test users' shared password, hashed once per session with argon2id at its
    lowest cost. An argon2 hash carries its own parameters, so the service verifies it
    exactly as it verifies a hash of its own (m=64 MiB, t=3: about 0.2 s here, which
    every sign-in of the suite would otherwise pay); hash_password is untouched."""
    if "value" not in _HASH:
        _HASH["value"] = Argon2Hasher(time_cost=1, memory_cost=1024, parallelism=1).hash(PASSWORD)
        assert verify_password(PASSWORD, _HASH["value"])
    return _HASH["value"]


UserMaker = Callable[..., Awaitable[User]]


@pytest.fixture
def make_user(services: Services, clock: FakeClock) -> UserMaker:
    async def make(
        role: Role | str = Role.officer, email: str | None = None, name: str | None = None
    ) -> User:
        role = Role(role)
        async with services.database.transaction() as session:
            count = len(_HASH) + int(clock.now().timestamp() * 1000) % 100000
            user = User(
                email=email or f"{role.value}.{id(session)}.{count}@council.gov.uk",
                name=name or f"Test {role.value.title()}",
                role=role,
                password_hash=password_hash(),
                created_at=clock.now(),
            )
            session.add(user)
        return user

    return make


HeadersFor = Callable[[User], Awaitable[dict[str, str]]]


@pytest.fixture
def headers_for(services: Services, clock: FakeClock) -> HeadersFor:
    async def headers(user: User) -> dict[str, str]:
        async with services.database.transaction() as session:
            token = await issue_token(session, user, now=clock.now(), ttl=timedelta(hours=8))
        return {"Authorization": f"Bearer {token}"}

    return headers


class World:
    """A small council: one user per role, tokens for each, helpers to make providers."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.users: dict[str, User] = {}
        self.headers: dict[str, dict[str, str]] = {}

    async def provider(self, **overrides: Any) -> dict[str, Any]:
        body = {
            "name": "Harbour Home Care Ltd",
            "contract_type": "spot",
            "localities": ["North"],
            "contract_officer_id": self.users["officer"].id,
            "weekly_hours": 420.0,
            **overrides,
        }
        response = await self.client.post(
            "/api/v1/providers", json=body, headers=self.headers["officer"]
        )
        assert response.status_code == 201, response.text
        return dict(response.json())

    async def post(
        self, path: str, body: Mapping[str, Any], role: str = "officer"
    ) -> httpx.Response:
        return await self.client.post(f"/api/v1{path}", json=body, headers=self.headers[role])

    async def get(self, path: str, role: str = "officer", **params: Any) -> httpx.Response:
        return await self.client.get(f"/api/v1{path}", headers=self.headers[role], params=params)

    async def patch(
        self, path: str, body: Mapping[str, Any], role: str = "officer"
    ) -> httpx.Response:
        return await self.client.patch(f"/api/v1{path}", json=body, headers=self.headers[role])


WORLD_LOCALITIES = ("Central", "East", "North", "South", "West")


@pytest.fixture
async def world(
    client: httpx.AsyncClient, make_user: UserMaker, headers_for: HeadersFor, services: Services
) -> World:
    built = World(client)
    # The council's list of localities, which providers choose theirs from.
    async with services.database.transaction() as session:
        for name in WORLD_LOCALITIES:
            await create_locality(
                session,
                LocalityIn(name=name),
                WriteContext(
                    actor=Actor.job("tests"), clock=services.clock, policy=services.policy
                ),
            )
    for role in Role:
        user = await make_user(
            role, email=f"{role.value}@council.gov.uk", name=f"{role.value.title()} Person"
        )
        built.users[role.value] = user
        built.headers[role.value] = await headers_for(user)
    return built


@pytest.fixture
async def smtp() -> AsyncIterator[Any]:
    """A running in-process SMTP server and what it received."""
    from tests.fakes.smtp import Recorder, SmtpServer

    server = SmtpServer(Recorder())
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
def smtp_settings(settings: Settings, smtp: Any) -> Settings:
    return settings.model_copy(
        update={
            "smtp_host": smtp.host,
            "smtp_port": smtp.port,
            "smtp_starttls": False,
            "smtp_timeout_seconds": 5.0,
        }
    )
