"""In these tests the app sends email and text messages through GOV.UK Notify: our fake
Notify over a real loopback socket (uvicorn, in this event loop)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import pytest
import uvicorn

from app.clock import FakeClock
from app.config import Settings
from app.services import Services, build_services
from tests.fakes.notify_server import EMAIL_TEMPLATE_ID, SMS_TEMPLATE_ID, FakeNotify

CALLBACK_TOKEN = "callback-token-for-tests-0123456789"


@pytest.fixture
def fake_notify() -> FakeNotify:
    return FakeNotify(
        callback_token=CALLBACK_TOKEN, callback_url="http://test/api/v1/notify/callbacks"
    )


@pytest.fixture
async def notify_url(fake_notify: FakeNotify) -> AsyncIterator[str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(
            fake_notify.app(), host="127.0.0.1", port=port, log_level="warning", lifespan="off"
        )
    )
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110  (uvicorn offers no started event)
        await asyncio.sleep(0.01)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await task


@pytest.fixture
def settings(settings: Settings, notify_url: str, fake_notify: FakeNotify) -> Settings:
    return Settings(
        _env_file=None,
        **{
            **settings.model_dump(),
            "email_channel": "notify",
            "notify_api_key": fake_notify.api_key,
            "notify_base_url": notify_url,
            "notify_email_template_id": EMAIL_TEMPLATE_ID,
            "notify_sms_template_id": SMS_TEMPLATE_ID,
            "notify_callback_token": CALLBACK_TOKEN,
            "notify_timeout_seconds": 2.0,
        },
    )


@pytest.fixture
async def services(settings: Settings, clock: FakeClock) -> AsyncIterator[Services]:
    built = build_services(settings, clock=clock)
    yield built
    await built.close()
