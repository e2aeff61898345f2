"""Services wired to the fake CQC server in-process (httpx.ASGITransport)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from aiolimiter import AsyncLimiter

from app.clock import FakeClock
from app.config import Settings
from app.services import Services, build_services
from tests.fakes.cqc_server import FakeCqc

CQC_KEY = "test-key-SECRET-7f3a"


@pytest.fixture
def fake_cqc() -> FakeCqc:
    return FakeCqc.from_fixtures(api_key=CQC_KEY)


@pytest.fixture
def cqc_settings(smtp_settings: Settings) -> Settings:
    from pydantic import SecretStr

    return smtp_settings.model_copy(
        update={
            "cqc_api_key": SecretStr(CQC_KEY),
            "cqc_base_url": "http://cqc.test/public/v1",
            "cqc_requests_per_minute": 2000,
        }
    )


@pytest.fixture
async def services(
    cqc_settings: Settings, clock: FakeClock, fake_cqc: FakeCqc
) -> AsyncIterator[Services]:
    built = build_services(
        cqc_settings, clock=clock, cqc_transport=httpx.ASGITransport(app=fake_cqc.app())
    )
    assert built.cqc_client is not None
    waits: list[float] = []

    async def no_wait(seconds: float) -> None:
        waits.append(seconds)  # tests read client.waits; nobody waits for real

    built.cqc_client.sleep = no_wait
    built.cqc_client.limiter = AsyncLimiter(1000, 1)
    yield built
    await built.close()


@pytest.fixture
async def fake_cqc_url(fake_cqc: FakeCqc) -> AsyncIterator[str]:
    """The same fake over a real socket (uvicorn on a free port, in this event loop)."""
    import asyncio
    import socket

    import uvicorn

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(
            fake_cqc.app(), host="127.0.0.1", port=port, log_level="warning", lifespan="off"
        )
    )
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110  (uvicorn offers no started event)
        await asyncio.sleep(0.01)
    yield f"http://127.0.0.1:{port}/public/v1"
    server.should_exit = True
    await task
