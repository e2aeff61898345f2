"""GOV.UK Notify as a channel, against the fake Notify on loopback: emails and texts for
an escalation, the day-before reminder, outages and 429s without a duplicate, a
team-only key's 400 shown as failed, a lost answer checked by reference, receipts."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from app.alerting.channels.choice import SMS_LIMIT, SmsRenderer
from app.clock import FakeClock
from app.events import EVENT_TYPES, Actor
from app.models import Delivery, Event
from app.models.base import Rating
from app.monitoring.overdue import raise_time_based_events
from app.services import TEMPLATES_DIR, Services
from tests import factories as f
from tests.alerting.channels.conftest import CALLBACK_TOKEN
from tests.conftest import World
from tests.fakes.notify_server import FakeNotify
from tests.web.conftest import sign_in

OFFICER_MOBILE, MANAGER_MOBILE = "+447700900001", "+447700900002"


async def _deliveries(services: Services, **filters: Any) -> list[Delivery]:
    async with services.database.sessions() as session:
        query = select(Delivery).order_by(Delivery.id)
        for key, value in filters.items():
            query = query.where(getattr(Delivery, key) == value)
        return list((await session.execute(query)).scalars())


async def _with_mobiles(world: World) -> None:
    """Mobile numbers set through the API, written as people write them."""
    for role, number in (("officer", "07700 900001"), ("manager", "+44 7700 900002")):
        response = await world.patch(
            f"/users/{world.users[role].id}", {"mobile_number": number}, role="admin"
        )
        assert response.status_code == 200, response.text
        assert response.json()["mobile_number"] in (OFFICER_MOBILE, MANAGER_MOBILE)


async def _escalate_to_intensive(world: World, services: Services) -> int:
    provider = await world.provider(name="Harbour Home Care Ltd")
    place = await f.location(services, provider["id"])
    await f.rating(services, place, Rating.inadequate)
    assert await f.level_of(services, provider["id"]) == "intensive"
    return int(provider["id"])


async def _drain_until_quiet(services: Services, clock: FakeClock, rounds: int = 10) -> None:
    """Drain, then let each retry come due, until nothing is left pending."""
    for _ in range(rounds):
        await services.dispatcher.drain()
        if not await _deliveries(services, status="pending"):
            return
        clock.advance(timedelta(hours=1))
    raise AssertionError("deliveries still pending")


async def test_an_escalation_emails_and_texts_through_notify(
    world: World, services: Services, fake_notify: FakeNotify
) -> None:
    await _with_mobiles(world)
    pid = await _escalate_to_intensive(world, services)
    stats = await services.dispatcher.drain()
    assert stats.failed == 0 and stats.retried == 0

    emails = {n.to for n in fake_notify.notifications if n.type == "email"}
    assert {world.users["officer"].email, world.users["manager"].email} <= emails
    texts = [n for n in fake_notify.notifications if n.type == "sms"]
    assert sorted(n.to for n in texts) == [OFFICER_MOBILE, MANAGER_MOBILE]
    for text in texts:
        body = text.personalisation["body"]
        assert len(body) <= SMS_LIMIT
        assert "Harbour Home Care Ltd" in body and "intensive monitoring" in body
        assert f"https://carewatch.council.gov.uk/providers/{pid}" in body
        # No personal data: no names of people, no addresses, no numbers.
        for user in world.users.values():
            assert user.name not in body and user.email not in body
    assert fake_notify.auth_failures == 0
    sent = await _deliveries(services, channel="sms")
    assert {d.status for d in sent} == {"sent"}
    for delivery in sent:
        (notification,) = fake_notify.by_reference(str(delivery.id))
        assert delivery.message_id == notification.id


async def test_a_user_without_a_mobile_is_not_texted(
    world: World, services: Services, fake_notify: FakeNotify
) -> None:
    await _escalate_to_intensive(world, services)
    await services.dispatcher.drain()
    assert [n for n in fake_notify.notifications if n.type == "sms"] == []
    assert fake_notify.notifications  # the emails went


async def test_the_day_before_an_intensive_visit_is_due_the_officer_is_texted_once(
    world: World, services: Services, fake_notify: FakeNotify, clock: FakeClock
) -> None:
    await _with_mobiles(world)
    await _escalate_to_intensive(world, services)
    await services.dispatcher.drain()
    before = len(fake_notify.notifications)
    provider = (await world.get("/providers")).json()["items"][0]
    due = provider["next_visit_due_on"]
    days_until = (date.fromisoformat(due) - clock.today()).days
    clock.advance(timedelta(days=days_until - 2))
    for _ in range(2):  # two days before: nothing; then the day before, twice: one text
        async with services.database.transaction() as session:
            await raise_time_based_events(
                session, actor=Actor.job("tests"), now=clock.now(), today=clock.today()
            )
        await services.dispatcher.drain()
        clock.advance(timedelta(days=1))
    clock.advance(timedelta(hours=-23))
    async with services.database.transaction() as session:
        await raise_time_based_events(
            session, actor=Actor.job("tests"), now=clock.now(), today=clock.today()
        )
    await services.dispatcher.drain()

    new = fake_notify.notifications[before:]
    reminders = [n for n in new if "due tomorrow" in n.personalisation["body"]]
    assert [n.to for n in reminders] == [OFFICER_MOBILE]
    day = date.fromisoformat(due)
    assert f"{day.day} {day:%B %Y}" in reminders[0].personalisation["body"]
    assert len(reminders[0].personalisation["body"]) <= SMS_LIMIT


async def test_an_outage_and_a_429_storm_are_survived_without_a_duplicate(
    world: World, services: Services, fake_notify: FakeNotify, clock: FakeClock
) -> None:
    await _with_mobiles(world)
    fake_notify.server_errors = 3
    fake_notify.rate_limited = 4
    await _escalate_to_intensive(world, services)
    first = await services.dispatcher.drain()
    assert first.retried > 0
    retried = [d for d in await _deliveries(services) if d.attempts == 1 and d.status == "pending"]
    assert any("Internal server error" in (d.last_error or "") for d in retried)
    assert any("rate limit" in (d.last_error or "") for d in retried)
    await _drain_until_quiet(services, clock)
    deliveries = await _deliveries(services)
    assert {d.status for d in deliveries} == {"sent"}
    references = [n.reference or "" for n in fake_notify.notifications]
    assert sorted(references) == sorted(str(d.id) for d in deliveries)  # each exactly once


async def test_a_lost_answer_is_checked_by_reference_before_sending_again(
    world: World, services: Services, fake_notify: FakeNotify, clock: FakeClock
) -> None:
    await _with_mobiles(world)
    fake_notify.slow_sends = 1
    fake_notify.delay_seconds = 3.0  # longer than the channel's timeout: the answer is lost
    await _escalate_to_intensive(world, services)
    await services.dispatcher.drain()
    (lost,) = [d for d in await _deliveries(services) if d.status == "pending"]
    assert lost.possibly_duplicated
    assert len(fake_notify.by_reference(str(lost.id))) == 1  # Notify has it already
    await _drain_until_quiet(services, clock)
    assert len(fake_notify.by_reference(str(lost.id))) == 1  # and it was not sent again
    (again,) = await _deliveries(services, id=lost.id)
    assert again.status == "sent"
    assert again.message_id == fake_notify.by_reference(str(lost.id))[0].id
    assert ("GET", "/v2/notifications") in fake_notify.requests


async def test_a_team_only_key_refusal_fails_at_once_and_shows_on_alerts(
    world: World, services: Services, fake_notify: FakeNotify
) -> None:
    fake_notify.team_only = True
    fake_notify.team = {world.users["officer"].email, world.users["admin"].email}
    await _escalate_to_intensive(world, services)
    await services.dispatcher.drain()
    failed = await _deliveries(services, status="failed")
    assert world.users["manager"].email in {d.recipient for d in failed}
    assert all(d.attempts == 1 for d in failed)
    assert all("team-only API key" in (d.last_error or "") for d in failed)
    async with httpx.AsyncClient(
        transport=world.client._transport, base_url="http://test"
    ) as browser:
        assert (await sign_in(browser, world.users["admin"].email)).status_code == 303
        page = await browser.get("/alerts")
    assert page.status_code == 200
    assert "Can&#39;t send to this recipient using a team-only API key" in page.text or (
        "Can't send to this recipient using a team-only API key" in page.text
    )


async def test_delivery_receipts_are_recorded_and_a_permanent_failure_alerts_admins(
    world: World, services: Services, fake_notify: FakeNotify, client: httpx.AsyncClient
) -> None:
    await _with_mobiles(world)
    await _escalate_to_intensive(world, services)
    await services.dispatcher.drain()
    fake_notify.outcomes[MANAGER_MOBILE] = "permanent-failure"
    answers = await fake_notify.post_receipts(client)
    assert answers and set(answers) == {200}

    texts = {d.recipient: d for d in await _deliveries(services, channel="sms")}
    assert texts[OFFICER_MOBILE].receipt_status == "delivered"
    assert texts[OFFICER_MOBILE].status == "sent"
    failed = texts[MANAGER_MOBILE]
    assert failed.receipt_status == "permanent-failure" and failed.status == "failed"
    assert "does not exist" in (failed.last_error or "")
    async with services.database.sessions() as session:
        alerts = list(
            (await session.execute(select(Event).where(Event.type == "delivery.failed"))).scalars()
        )
    assert [e.data["delivery_id"] for e in alerts] == [failed.id]
    admin_alerts = await _deliveries(services, event_type="delivery.failed")
    assert world.users["admin"].email in {d.recipient for d in admin_alerts}


@pytest.mark.parametrize(
    ("headers", "body", "status"),
    [
        ({}, {"id": "x", "reference": "1", "status": "delivered"}, 401),
        (
            {"Authorization": "Bearer wrong-token"},
            {"id": "x", "reference": "1", "status": "delivered"},
            401,
        ),
        (
            {"Authorization": f"Bearer {CALLBACK_TOKEN}"},
            {"id": "x", "reference": "999999", "status": "delivered"},
            404,
        ),
        (
            {"Authorization": f"Bearer {CALLBACK_TOKEN}"},
            {"id": "x", "reference": "not-ours", "status": "delivered"},
            404,
        ),
        ({"Authorization": f"Bearer {CALLBACK_TOKEN}"}, {"reference": "1"}, 422),
    ],
)
async def test_bad_receipts_are_refused_without_a_500(
    client: httpx.AsyncClient, headers: dict[str, str], body: dict[str, str], status: int
) -> None:
    response = await client.post("/api/v1/notify/callbacks", json=body, headers=headers)
    assert response.status_code == status, response.text


async def test_a_mobile_number_must_be_a_uk_mobile(world: World) -> None:
    response = await world.patch(
        f"/users/{world.users['officer'].id}", {"mobile_number": "01752 123456"}, role="admin"
    )
    assert response.status_code == 422
    assert "mobile_number" in response.text
    cleared = await world.patch(
        f"/users/{world.users['officer'].id}", {"mobile_number": None}, role="admin"
    )
    assert cleared.status_code == 200 and cleared.json()["mobile_number"] is None


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_every_text_fits_two_fragments_with_a_long_provider_name(event_type: str) -> None:
    text = SmsRenderer(TEMPLATES_DIR).render(
        event_type,
        {
            "event": {
                "id": 1,
                "type": event_type,
                "data": {"to": "intensive", "due_on": "2026-12-01"},
            },
            "provider": {"id": 1, "name": "Harbour’s Home Care " * 20},
            "link": "https://carewatch.council.example.gov.uk/providers/123456",
        },
    )
    assert len(text) <= SMS_LIMIT
    assert "https://carewatch.council.example.gov.uk/providers/123456" in text
    assert "’" not in text  # kept in the GSM alphabet


def test_the_notify_channel_is_checked_at_start_up(settings: Any) -> None:
    from pydantic import ValidationError

    from app.config import Settings

    base = {"_env_file": None, "database_url": "sqlite:///x.db"}
    with pytest.raises(ValidationError, match="CAREWATCH_NOTIFY_API_KEY"):
        Settings(**base, email_channel="notify")
    with pytest.raises(ValidationError, match="Notify API key"):
        Settings(**base, notify_api_key="not-a-key")
    with pytest.raises(ValidationError, match="CAREWATCH_NOTIFY_EMAIL_TEMPLATE_ID"):
        Settings(**base, email_channel="notify", notify_api_key=settings.notify_api_key)
    assert settings.texts_enabled


async def test_a_wrong_key_pauses_sending_and_sends_nothing(
    world: World, services: Services, fake_notify: FakeNotify
) -> None:
    fake_notify.secret = "0" * 8 + fake_notify.secret[8:]  # Notify no longer knows our key
    await _escalate_to_intensive(world, services)
    stats = await services.dispatcher.drain()
    assert stats.sent == 0 and stats.paused > 0
    assert "Invalid token" in (services.dispatcher.state.pause_reason or "")
    assert fake_notify.notifications == []
