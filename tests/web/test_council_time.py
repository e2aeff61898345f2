"""The council's day, not UTC's: with the clock either side of midnight in summer and in
winter, "today" (cannot be in the future, overdue, due tomorrow) is the day in
CAREWATCH_TIMEZONE, on the API, on the forms and in the scheduled jobs."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

import httpx
from sqlalchemy import select

from app.alerting.channels.choice import SmsRenderer
from app.alerting.email import EmailRenderer
from app.clock import FakeClock, SystemClock, local_date
from app.jobs.tasks import evaluate_time_rules
from app.models import Event, Provider
from app.services import TEMPLATES_DIR, Services
from tests import factories as f
from tests.conftest import HeadersFor, World
from tests.web.conftest import SignIn, csrf_of, date_input

# 23:30 UTC on 1 July is 00:30 on 2 July in British Summer Time.
SUMMER_NIGHT = datetime(2026, 7, 1, 23, 30, tzinfo=UTC)
# 23:30 UTC on 1 December is 23:30 GMT: still 1 December in London.
WINTER_NIGHT = datetime(2026, 12, 1, 23, 30, tzinfo=UTC)


def test_today_is_the_councils_calendar_day() -> None:
    assert FakeClock(SUMMER_NIGHT).today() == date(2026, 7, 2)
    assert FakeClock(WINTER_NIGHT).today() == date(2026, 12, 1)
    assert FakeClock(SUMMER_NIGHT, "UTC").today() == date(2026, 7, 1)
    assert FakeClock(SUMMER_NIGHT).now() == SUMMER_NIGHT  # instants stay UTC
    assert FakeClock(SUMMER_NIGHT).now().tzinfo is UTC
    real = SystemClock("Pacific/Auckland")
    assert real.today() == local_date(real.now(), real.zone)
    assert real.now().tzinfo is UTC


def _visit(visited_on: str) -> dict[str, str]:
    return {"visited_on": visited_on, "kind": "virtual", "purpose": "Review", "outcome": "good"}


async def test_the_api_takes_a_visit_dated_the_councils_today(
    world: World, clock: FakeClock, headers_for: HeadersFor
) -> None:
    provider = await world.provider()
    path = f"/providers/{provider['id']}/visits"
    clock.set(SUMMER_NIGHT)
    assert (await world.post(path, _visit("2026-07-02"))).status_code == 201
    refused = await world.post(path, _visit("2026-07-03"))
    assert refused.status_code == 422, refused.text
    assert "visited_on" in refused.text
    clock.set(WINTER_NIGHT)
    world.headers["officer"] = await headers_for(world.users["officer"])  # a fresh token
    assert (await world.post(path, _visit("2026-12-01"))).status_code == 201
    refused = await world.post(path, _visit("2026-12-02"))
    assert refused.status_code == 422, refused.text


async def _post_visit_form(
    browser: httpx.AsyncClient, provider_id: int, visited_on: str
) -> tuple[httpx.Response, str]:
    path = f"/providers/{provider_id}/record/visit"
    page = await browser.get(path)
    saved = await browser.post(
        path,
        data={
            "csrf_token": csrf_of(page.text),
            **date_input("visited_on", visited_on),
            "kind": "virtual",
            "purpose": "Night review",
            "outcome": "good",
        },
    )
    return saved, page.text


async def test_the_form_takes_a_visit_dated_the_councils_today(
    world: World, signed_in: SignIn, clock: FakeClock
) -> None:
    provider = await world.provider()
    officer = await signed_in("officer")
    clock.set(SUMMER_NIGHT)
    saved, form = await _post_visit_form(officer, provider["id"], "2026-07-02")
    assert saved.status_code == 303, saved.text
    # The form starts on the council's today, 2 July, not UTC's 1 July.
    assert 'name="visited_on-day" type="text" inputmode="numeric" value="2"' in form
    refused, _ = await _post_visit_form(officer, provider["id"], "2026-07-03")
    assert refused.status_code == 400
    assert "govuk-error-summary" in refused.text
    clock.set(WINTER_NIGHT)
    officer = await signed_in("officer")  # a fresh session
    refused, _ = await _post_visit_form(officer, provider["id"], "2026-12-02")
    assert refused.status_code == 400
    saved, _ = await _post_visit_form(officer, provider["id"], "2026-12-01")
    assert saved.status_code == 303, saved.text


async def _intensive_provider_due(services: Services, due: date) -> int:
    provider = await f.provider(services, name="Night Shift Care")
    assert provider.id is not None
    await f.write(services, "concern", provider.id, whole_service=True)
    async with services.database.transaction() as session:
        found = await session.get(Provider, provider.id)
        assert found is not None and found.monitoring_level == "intensive"
        found.next_visit_due_on = due
    return provider.id


async def _events_of(services: Services, provider_id: int, event_type: str) -> list[Event]:
    async with services.database.sessions() as session:
        rows = await session.execute(
            select(Event).where(Event.provider_id == provider_id, Event.type == event_type)
        )
        return list(rows.scalars())


async def test_the_jobs_use_the_councils_day_in_summer(
    services: Services, clock: FakeClock
) -> None:
    clock.set(datetime(2026, 6, 25, 12, 0, tzinfo=UTC))
    tomorrow = await _intensive_provider_due(services, date(2026, 7, 3))
    overdue = await _intensive_provider_due(services, date(2026, 7, 1))
    clock.set(SUMMER_NIGHT)  # 2 July in London, 1 July in UTC
    await evaluate_time_rules(services)
    reminders = await _events_of(services, tomorrow, "visit.due_tomorrow")
    assert [e.data["due_on"] for e in reminders] == ["2026-07-03"]
    late = await _events_of(services, overdue, "visit.overdue")
    assert [e.data["days_overdue"] for e in late] == [1]


async def test_the_jobs_use_the_councils_day_in_winter(
    services: Services, clock: FakeClock
) -> None:
    clock.set(datetime(2026, 11, 25, 12, 0, tzinfo=UTC))
    tomorrow = await _intensive_provider_due(services, date(2026, 12, 2))
    today = await _intensive_provider_due(services, date(2026, 12, 1))
    clock.set(WINTER_NIGHT)  # still 1 December in London
    await evaluate_time_rules(services)
    assert len(await _events_of(services, tomorrow, "visit.due_tomorrow")) == 1
    assert await _events_of(services, today, "visit.overdue") == []


def test_emails_and_texts_write_times_and_dates_in_the_councils_zone() -> None:
    context: dict[str, Any] = {
        "event": {
            "id": 7,
            "type": "visit.overdue",
            "data": {"level": "intensive", "due_on": "2026-07-01", "days_overdue": 1},
            "created_at": SUMMER_NIGHT,
        },
        "provider": {
            "id": 1,
            "name": "Night Shift Care",
            "monitoring_level": "intensive",
            "placements_suspended": False,
            "next_visit_due_on": date(2026, 7, 3),
            "officer_name": "Asha Patel",
        },
        "link": "https://x.gov.uk/providers/1",
        "base_url": "https://x.gov.uk",
    }
    email = EmailRenderer(TEMPLATES_DIR).render("visit.overdue", context)
    assert "due on 1 July 2026 and is 1 day overdue" in email.text
    for body in (email.text, email.html):
        assert "Next visit due 3 July 2026" in body
        assert not re.search(r"\b\d{4}-\d{2}-\d{2}\b", body), "an ISO date in the email"
    # Times are the council's: 23:30 UTC on 1 July is 12:30am on 2 July in London.
    timed: dict[str, Any] = {
        **context,
        "event": {**context["event"], "type": "compliment.received"},
    }
    london = EmailRenderer(TEMPLATES_DIR).render("compliment.received", timed).text
    assert "recorded 2 July 2026 at 12:30am." in london
    in_utc = EmailRenderer(TEMPLATES_DIR, "UTC").render("compliment.received", timed).text
    assert "recorded 1 July 2026 at 11:30pm." in in_utc
    due = {
        **context,
        "event": {"id": 7, "created_at": SUMMER_NIGHT, "data": {"due_on": "2026-07-03"}},
    }
    assert "3 July 2026" in SmsRenderer(TEMPLATES_DIR).render("visit.due_tomorrow", due)
