"""In these tests the app's dispatcher sends over SMTP to the in-process server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from app.clock import FakeClock
from app.config import Settings
from app.services import Services, build_services


@pytest.fixture
async def services(smtp_settings: Settings, clock: FakeClock) -> AsyncIterator[Services]:
    built = build_services(smtp_settings, clock=clock)
    yield built
    await built.database.dispose()
