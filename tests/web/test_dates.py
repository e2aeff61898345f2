"""Dates and times on the pages: "1 December 2026", and instants in the council's time
zone (CAREWATCH_TIMEZONE), never ISO text or UTC."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import httpx
import pytest
from pydantic import ValidationError

from app.clock import FakeClock, SystemClock, clock_time
from app.config import Settings
from app.main import create_app
from app.services import build_services
from tests.conftest import World
from tests.web.conftest import SignIn, csrf_of, date_input, sign_in

# 23:30 in UTC is half past midnight the next day in British Summer Time.
LATE_EVENING_UTC = datetime(2027, 6, 30, 23, 30, tzinfo=UTC)


async def _log_a_visit(browser: httpx.AsyncClient, provider_id: int, today: int) -> None:
    path = f"/providers/{provider_id}/record/visit"
    page = await browser.get(path)
    # The form starts on the council's today, in three inputs.
    assert f'name="visited_on-day" type="text" inputmode="numeric" value="{today}"' in page.text
    saved = await browser.post(
        path,
        data={
            "csrf_token": csrf_of(page.text),
            **date_input("visited_on", "2027-06-30"),
            "kind": "virtual",
            "purpose": "Summer review",
            "outcome": "good",
        },
    )
    assert saved.status_code == 303, saved.text


async def test_times_are_shown_in_the_councils_time_zone(
    world: World, signed_in: SignIn, clock: FakeClock
) -> None:
    provider = await world.provider()
    clock.set(LATE_EVENING_UTC)
    officer = await signed_in("officer")
    await _log_a_visit(officer, provider["id"], today=1)  # 1 July in London
    page = (await officer.get(f"/providers/{provider['id']}")).text
    timeline = page.split('id="timeline"')[1]
    assert "1 July 2027 at 12:30am, by Officer Person" in timeline
    assert "Virtual visit on 30 June 2027" in timeline
    assert "UTC" not in page
    main = page.split('id="main-content"')[1]
    assert not re.search(r"\b\d{4}-\d{2}-\d{2}\b", main), "an ISO date on the page"


async def test_another_time_zone_is_a_setting(settings: Settings, world: World) -> None:
    provider = await world.provider()
    in_utc = settings.model_copy(update={"timezone": "UTC"})
    # The services' clock and the pages both follow the setting.
    utc_services = build_services(in_utc)
    assert isinstance(utc_services.clock, SystemClock) and str(utc_services.clock.zone) == "UTC"
    await utc_services.database.dispose()
    utc_services = build_services(in_utc, clock=FakeClock(LATE_EVENING_UTC, in_utc.timezone))
    transport = httpx.ASGITransport(app=create_app(in_utc, utc_services))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as browser:
            assert (await sign_in(browser, world.users["officer"].email)).status_code == 303
            await _log_a_visit(browser, provider["id"], today=30)  # still 30 June in UTC
            page = (await browser.get(f"/providers/{provider['id']}")).text
    finally:
        await utc_services.database.dispose()
    assert "30 June 2027 at 11:30pm, by Officer Person" in page.split('id="timeline"')[1]


def test_the_time_zone_setting_is_checked() -> None:
    assert Settings(_env_file=None).timezone == "Europe/London"
    for wrong in ("Mars/Olympus_Mons", "../../etc/passwd", ""):
        with pytest.raises(ValidationError, match="timezone"):
            Settings(_env_file=None, timezone=wrong)


def test_times_the_gov_uk_way() -> None:
    day = date(2026, 12, 1)
    assert [
        clock_time(datetime(day.year, day.month, day.day, hour, minute))
        for hour, minute in ((0, 0), (12, 0), (15, 30), (10, 0), (9, 5), (0, 15))
    ] == ["midnight", "midday", "3:30pm", "10am", "9:05am", "12:15am"]
