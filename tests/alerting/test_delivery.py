"""Alert delivery over real SMTP: routes, retries, failures, leases and races."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import event, func, select

from app.alerting.channel import Outgoing, RenderedMessage
from app.alerting.dispatcher import Dispatcher
from app.alerting.email import SmtpMailer
from app.clock import FakeClock
from app.db import Database
from app.models import Delivery
from app.services import Services
from tests import factories as f
from tests.conftest import World
from tests.fakes.smtp import Hold, Recorder, SmtpServer

SAFEGUARDING_BOX = "safeguarding@council.gov.uk"


async def _deliveries(services: Services, **filters: Any) -> list[Delivery]:
    async with services.database.sessions() as session:
        query = select(Delivery).order_by(Delivery.id)
        for key, value in filters.items():
            query = query.where(getattr(Delivery, key) == value)
        return list((await session.execute(query)).scalars())


def _resent(services: Services, reason: str) -> float:
    value = services.metrics.registry.get_sample_value(
        "carewatch_deliveries_resent_total", {"reason": reason}
    )
    assert value is not None
    return value


async def _safeguarding_each(services: Services, officer_id: int | None, providers: int) -> None:
    """`providers` providers of this officer, each with a safeguarding raised: two
    deliveries each (the officer and the safeguarding mailbox)."""
    for index in range(providers):
        provider = await f.provider(services, officer_id=officer_id, name=f"Provider {index}")
        await f.write(services, "safeguarding", provider.id or 0)


async def test_every_default_route_reaches_its_people(
    world: World,
    services: Services,
    smtp: SmtpServer,
    clock: FakeClock,
    make_user: Any,
) -> None:
    second_manager = await make_user("manager", email="manager2@council.gov.uk")
    officer, manager, admin = (world.users[r].email for r in ("officer", "manager", "admin"))
    provider = await world.provider()
    pid = provider["id"]
    # safeguarding.raised: officer + safeguarding mailbox (no escalation yet)
    await world.post(
        f"/providers/{pid}/safeguardings",
        {"raised_on": "2026-11-19", "category": "neglect", "reference": "SG-1"},
        role="safeguarding",
    )
    # cqc.rating_changed down + monitoring.escalated + placements.suspended
    await world.post(f"/providers/{pid}/locations", {"cqc_location_id": "1-000000001"})
    await world.post(
        f"/providers/{pid}/ratings",
        {"cqc_location_id": "1-000000001", "overall": "good", "rated_on": "2025-01-01"},
    )
    await world.post(
        f"/providers/{pid}/ratings",
        {"cqc_location_id": "1-000000001", "overall": "inadequate", "rated_on": "2026-11-01"},
    )
    stats = await services.dispatcher.drain()
    assert stats.failed == 0 and stats.retried == 0
    escalated = "[carewatch] Harbour Home Care Ltd escalated to intensive monitoring"
    raised = "[carewatch] Safeguarding raised: Harbour Home Care Ltd"
    # The rating change and the suspension came with the escalation: one email each.
    expected_officer = sorted([raised, escalated])
    assert smtp.recorder.subjects_for(officer) == expected_officer
    assert smtp.recorder.subjects_for(SAFEGUARDING_BOX) == sorted([raised, escalated])
    for each_manager in (manager, second_manager.email):
        assert smtp.recorder.subjects_for(each_manager) == [escalated]
    assert smtp.recorder.subjects_for(admin) == []
    assert smtp.recorder.subjects_for(world.users["viewer"].email) == []
    body = smtp.recorder.received_by(manager)[0].get_body(("plain",)).get_content()
    assert (
        "What happened: A contracted location's CQC rating changed (now inadequate, was good)"
        in body
    )
    assert "SUSPENDED" in body and "CQC rates a contracted location Inadequate" in body

    # A rating that goes down without escalating: the officer and every manager.
    other = await world.provider(name="Second Care Ltd")
    await world.post(f"/providers/{other['id']}/locations", {"cqc_location_id": "1-000000002"})
    for rating, day in (("outstanding", "2024-01-01"), ("good", "2026-11-02")):
        await world.post(
            f"/providers/{other['id']}/ratings",
            {"cqc_location_id": "1-000000002", "overall": rating, "rated_on": day},
        )
    # A suspension by hand: the officer, the safeguarding mailbox and every manager.
    await world.post(
        f"/providers/{other['id']}/monitoring/placements",
        {"suspended": True, "reason": "Strategy meeting pending"},
        role="manager",
    )
    await services.dispatcher.drain()
    down = "[carewatch] CQC rating down: Second Care Ltd now good"
    suspended = "[carewatch] New placements suspended: Second Care Ltd"
    for person in (officer, manager, second_manager.email):
        assert down in smtp.recorder.subjects_for(person)
        assert suspended in smtp.recorder.subjects_for(person)
    assert down not in smtp.recorder.subjects_for(SAFEGUARDING_BOX)
    assert suspended in smtp.recorder.subjects_for(SAFEGUARDING_BOX)
    expected_officer = smtp.recorder.subjects_for(officer)

    # Overdue follow-up goes to the officer, once, then weekly.
    from app.jobs.tasks import evaluate_time_rules

    clock.advance(timedelta(days=15))
    await evaluate_time_rules(services)
    await evaluate_time_rules(services)  # a repeated run sends nothing new
    await services.dispatcher.drain()
    follow_up = [s for s in smtp.recorder.subjects_for(officer) if s not in expected_officer]
    assert follow_up == [
        "[carewatch] Improvement plan not agreed: Harbour Home Care Ltd",
        "[carewatch] Visit overdue: Harbour Home Care Ltd (15 days)",
        "[carewatch] Visit overdue: Second Care Ltd (15 days)",
    ]
    assert smtp.recorder.subjects_for(manager)[-1].startswith("[carewatch] New placements")


async def test_a_451_is_retried_with_backoff_then_delivered(
    services: Services,
    smtp: SmtpServer,
    clock: FakeClock,
    make_user: Any,
) -> None:
    officer = await make_user("officer")
    provider = await f.provider(services, officer_id=officer.id)
    smtp.recorder.transient_failures = 1
    await f.write(services, "safeguarding", provider.id or 0)
    stats = await services.dispatcher.drain()
    assert stats.retried == 1 and stats.sent == 1  # one deferred, the other delivered
    deferred = await _deliveries(services, status="pending")
    assert len(deferred) == 1 and deferred[0].attempts == 1
    assert deferred[0].last_error is not None and deferred[0].last_error.startswith("451")
    assert deferred[0].next_attempt_at == clock.now() + timedelta(seconds=30)
    assert (await services.dispatcher.drain()).claimed == 0  # not due yet
    clock.advance(timedelta(seconds=30))
    assert (await services.dispatcher.drain()).sent == 1
    assert len(smtp.recorder.received_by(officer.email)) == 1
    assert len(smtp.recorder.received_by(SAFEGUARDING_BOX)) == 1
    retried = await _deliveries(services, id=deferred[0].id)
    assert retried[0].status == "sent" and retried[0].attempts == 2


async def _officer_refuses_a_safeguarding_alert(world: World, smtp: SmtpServer) -> str:
    """The officer's mailbox answers 550; a safeguarding is raised (two alerts)."""
    officer = world.users["officer"].email
    smtp.recorder.refuse = {officer}
    provider = await world.provider()
    await world.post(
        f"/providers/{provider['id']}/safeguardings",
        {"raised_on": "2026-11-19", "category": "neglect", "reference": "SG-1"},
    )
    return officer


async def test_a_550_fails_one_recipient_and_the_other_still_gets_it(
    world: World,
    services: Services,
    smtp: SmtpServer,
) -> None:
    officer = await _officer_refuses_a_safeguarding_alert(world, smtp)
    stats = await services.dispatcher.drain()
    assert stats.failed == 1
    assert smtp.recorder.received_by(SAFEGUARDING_BOX)
    failed = await _deliveries(services, status="failed")
    assert [d.recipient for d in failed] == [officer]
    assert failed[0].last_error is not None and "550" in failed[0].last_error
    # Visible through the API, and raised to admins by another route.
    listed = (await world.get("/deliveries", status="failed", role="viewer")).json()
    assert listed["total"] == 1 and listed["items"][0]["last_error"].startswith("550")
    await services.dispatcher.drain()
    admin_mail = smtp.recorder.received_by(world.users["admin"].email)
    assert [str(m["Subject"]) for m in admin_mail] == [
        "[carewatch] An alert could not be delivered"
    ]


async def test_a_manager_retries_a_failed_delivery_and_it_is_sent_once(
    world: World,
    services: Services,
    smtp: SmtpServer,
) -> None:
    officer = await _officer_refuses_a_safeguarding_alert(world, smtp)
    await services.dispatcher.drain()
    [failed] = await _deliveries(services, status="failed")
    refused = await world.client.post(
        f"/api/v1/deliveries/{failed.id}/retry", headers=world.headers["officer"]
    )
    assert refused.status_code == 403
    smtp.recorder.refuse = set()  # the mailbox is fixed
    retried = await world.client.post(
        f"/api/v1/deliveries/{failed.id}/retry", headers=world.headers["manager"]
    )
    assert retried.status_code == 200
    assert retried.json()["status"] == "pending" and retried.json()["attempts"] == 1
    await services.dispatcher.drain()
    assert len(smtp.recorder.received_by(officer)) == 1
    [sent] = await _deliveries(services, id=failed.id)
    assert sent.status == "sent" and sent.attempts == 2
    again = await world.client.post(
        f"/api/v1/deliveries/{failed.id}/retry", headers=world.headers["manager"]
    )
    assert again.status_code == 409
    events = (await world.get("/events", type="delivery.retried")).json()
    assert events["total"] == 1


async def test_an_outage_is_survived_and_the_message_arrives_once(
    services: Services,
    clock: FakeClock,
    make_user: Any,
) -> None:
    recorder = Recorder()
    server = SmtpServer(recorder)
    await server.start()
    await server.stop()  # the relay is down; its port is known
    mailer = services.dispatcher.mailer
    mailer.settings = services.settings.model_copy(update={"smtp_port": server.port})
    officer = await make_user("officer")
    provider = await f.provider(services, officer_id=officer.id)
    await f.write(services, "concern", provider.id or 0, whole_service=True)
    stats = await services.dispatcher.drain()
    assert stats.sent == 0 and stats.retried == stats.claimed > 0
    pending = await _deliveries(services, status="pending")
    assert all(d.attempts == 1 and "connection failed" in (d.last_error or "") for d in pending)
    clock.advance(timedelta(seconds=31))
    assert (await services.dispatcher.drain()).retried == len(pending)  # still down: 2nd try
    await server.start()  # the relay comes back on the same port
    try:
        clock.advance(timedelta(seconds=61))
        assert (await services.dispatcher.drain()).sent == len(pending)
        clock.advance(timedelta(hours=2))
        assert (await services.dispatcher.drain()).claimed == 0
        assert len(recorder.received_by(officer.email)) == 1
        assert len(recorder.received_by(SAFEGUARDING_BOX)) == 1
    finally:
        await server.stop()


async def test_starttls_required_but_not_offered_is_never_sent_in_clear(
    services: Services,
    smtp: SmtpServer,
    make_user: Any,
) -> None:
    services.dispatcher.mailer.settings = services.settings.model_copy(
        update={"smtp_starttls": True}
    )
    officer = await make_user("officer")
    provider = await f.provider(services, officer_id=officer.id)
    await f.write(services, "safeguarding", provider.id or 0)
    stats = await services.dispatcher.drain()
    assert stats.sent == 0 and stats.paused >= 1
    assert smtp.recorder.inbox == []
    assert services.dispatcher.state.pause_reason is not None
    assert "TLS" in services.dispatcher.state.pause_reason
    for delivery in await _deliveries(services):
        assert delivery.status == "pending" and delivery.attempts == 0


async def test_wrong_credentials_pause_sending_without_using_attempts(
    services: Services,
    clock: FakeClock,
    make_user: Any,
) -> None:
    recorder = Recorder()
    server = SmtpServer(recorder, username="carewatch", password="right-password")
    await server.start()
    try:
        mailer = services.dispatcher.mailer
        mailer.settings = services.settings.model_copy(
            update={
                "smtp_port": server.port,
                "smtp_username": "carewatch",
                "smtp_password": SecretStr("wrong-password"),
            }
        )
        officer = await make_user("officer")
        provider = await f.provider(services, officer_id=officer.id)
        await f.write(services, "safeguarding", provider.id or 0)
        stats = await services.dispatcher.drain()
        assert stats.sent == 0 and stats.paused >= 1
        assert "authentication" in (services.dispatcher.state.pause_reason or "")
        assert all(d.attempts == 0 and d.status == "pending" for d in await _deliveries(services))
        # Paused: nothing is tried until the pause ends, then the fixed settings work.
        mailer.settings = mailer.settings.model_copy(
            update={"smtp_password": SecretStr("right-password")}
        )
        assert (await services.dispatcher.drain()).claimed == 0
        clock.advance(timedelta(seconds=61))
        assert (await services.dispatcher.drain()).sent == 2
        assert len(recorder.received_by(officer.email)) == 1
    finally:
        await server.stop()


async def test_a_dispatcher_killed_after_claiming_loses_nothing(
    services: Services,
    smtp: SmtpServer,
    clock: FakeClock,
    make_user: Any,
) -> None:
    officer = await make_user("officer")
    provider = await f.provider(services, officer_id=officer.id)
    await f.write(services, "safeguarding", provider.id or 0)
    claimed = await services.dispatcher.claim()  # ...and then the process dies.
    assert len(claimed) == 2
    assert (await services.dispatcher.drain()).claimed == 0  # leased: nobody else sends
    clock.advance(timedelta(seconds=services.settings.delivery_lease_seconds + 1))
    assert (await services.dispatcher.drain()).sent == 2
    assert len(smtp.recorder.received_by(officer.email)) == 1
    assert len(smtp.recorder.received_by(SAFEGUARDING_BOX)) == 1
    # It may have sent them before it died: each attempt counts, and each is marked.
    for delivery in await _deliveries(services):
        assert delivery.attempts == 2 and delivery.possibly_duplicated
    assert _resent(services, "lease_expired") == 2


async def test_two_dispatchers_racing_send_each_message_once(
    services: Services,
    smtp: SmtpServer,
    make_user: Any,
    clock: FakeClock,
) -> None:
    for index in range(4):
        await make_user("manager", email=f"manager{index}@council.gov.uk")
    officer = await make_user("officer")
    # 50 escalations to officer, mailbox and 4 managers (300), and 100 safeguardings to
    # officer and mailbox (200): 500 deliveries.
    for index in range(50):
        provider = await f.provider(services, officer_id=officer.id, name=f"Provider {index}")
        await f.write(services, "concern", provider.id or 0, whole_service=True)
        for _ in range(2):
            await f.write(services, "safeguarding", provider.id or 0)
    assert len(await _deliveries(services)) == 500
    # A second "process": its own engine and dispatcher over the same database.
    other_database = Database.from_url(services.settings.database_url)
    other = Dispatcher(
        database=other_database,
        mailer=services.dispatcher.mailer,
        renderer=services.renderer,
        clock=clock,
        base_url="https://carewatch.council.gov.uk",
        batch_size=10,
    )
    services.dispatcher.batch_size = 10
    try:
        first, second = await asyncio.gather(services.dispatcher.drain(), other.drain())
    finally:
        await other_database.dispose()
    assert first.sent + second.sent == 500
    assert first.sent > 0 and second.sent > 0
    received = [
        f"{recipient} {message['Message-ID']}" for recipient, message in smtp.recorder.inbox
    ]
    assert len(received) == len(set(received)) == 500
    async with services.database.sessions() as session:
        unsent = await session.scalar(
            select(func.count()).select_from(Delivery).where(Delivery.status != "sent")
        )
    assert unsent == 0


async def test_a_transaction_with_thousands_of_events_is_routed_in_chunks(
    services: Services,
    make_user: Any,
) -> None:
    """A sweep can append thousands of events in one transaction: their deliveries must not
    become one statement with more parameters than the driver takes (asyncpg: 32,767)."""
    from app.events import Actor, append_event

    officer = await make_user("officer")
    provider = await f.provider(services, officer_id=officer.id)
    async with services.database.transaction() as session:
        for index in range(4000):
            await append_event(
                session,
                type="visit.overdue",
                provider_id=provider.id,
                actor=Actor.job("tests"),
                at=services.clock.now(),
                data={"due_on": "2026-11-01", "days_overdue": 1, "level": "routine", "week": index},
                dedup_key=f"chunk-test:{index}",
            )
    assert len(await _deliveries(services)) == 4000


async def test_a_burst_reuses_connections_and_closes_them_when_the_drain_ends(
    services: Services,
    smtp: SmtpServer,
    make_user: Any,
) -> None:
    officer = await make_user("officer")
    await _safeguarding_each(services, officer.id, 20)
    stats = await services.dispatcher.drain()
    assert stats.sent == 40  # the officer and the safeguarding mailbox, for each
    assert len(smtp.recorder.received_by(officer.email)) == 20
    # One connection per message would be 40; the dispatcher talks over at most
    # `concurrency` at a time and keeps them for the drain.
    assert smtp.recorder.connections <= services.dispatcher.concurrency
    assert services.dispatcher.mailer._idle == []


async def test_a_kept_connection_the_server_closed_is_replaced_and_the_message_sent_once(
    services: Services,
) -> None:
    # The server drops any connection idle for a tenth of a second.
    recorder = Recorder()
    server = SmtpServer(recorder, idle_timeout=0.1)
    await server.start()
    mailer = SmtpMailer(services.settings.model_copy(update={"smtp_port": server.port}))

    def outgoing(delivery_id: int) -> Outgoing:
        return Outgoing(
            delivery_id=delivery_id,
            event_id=1,
            provider_id=None,
            recipient="officer@council.gov.uk",
            message=RenderedMessage(subject="Test", text="Text", html="<p>Html</p>"),
            at=services.clock.now(),
        )

    try:
        await mailer.send(outgoing(1))
        assert len(mailer._idle) == 1  # kept open...
        await asyncio.sleep(0.5)  # ...until the server gives up on it
        await mailer.send(outgoing(2))  # raises if the closed connection were reused
        await mailer.close_idle()
        assert recorder.connections == 2
        received = [m["X-Carewatch-Delivery-Id"] for _r, m in recorder.inbox]
        assert received == ["1", "2"]
    finally:
        await server.stop()


async def test_a_connection_dropped_after_data_is_retried_later_and_counted(
    services: Services,
    smtp: SmtpServer,
    clock: FakeClock,
    make_user: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    officer = await make_user("officer")
    await _safeguarding_each(services, officer.id, 2)  # four deliveries
    services.dispatcher.concurrency = 1  # one kept connection, used in delivery order
    # The second message on that kept connection is queued, then the connection drops
    # before the server's reply: the sender cannot know the message arrived.
    smtp.recorder.drop_after_data = {2}
    first, dropped, *rest = await _deliveries(services)
    with caplog.at_level(logging.WARNING, logger="app.alerting.dispatcher"):
        stats = await services.dispatcher.drain()
    assert stats.sent == 3 and stats.retried == 1
    assert smtp.recorder.connections == 2  # the kept one, and one after the drop
    [after_drop] = await _deliveries(services, id=dropped.id)
    assert after_drop.status == "pending" and after_drop.attempts == 1
    assert after_drop.possibly_duplicated
    assert after_drop.last_error is not None and "may have been delivered" in after_drop.last_error
    # Not sent again at once, as if nothing had been sent: the normal backoff.
    assert after_drop.next_attempt_at == clock.now() + timedelta(seconds=30)
    assert (await services.dispatcher.drain()).claimed == 0
    clock.advance(timedelta(seconds=30))
    assert (await services.dispatcher.drain()).sent == 1
    [resent] = await _deliveries(services, id=dropped.id)
    assert resent.status == "sent" and resent.attempts == 2 and resent.possibly_duplicated
    by_delivery = [m["X-Carewatch-Delivery-Id"] for _r, m in smtp.recorder.inbox]
    assert by_delivery.count(str(dropped.id)) == 2  # the duplicate we caused, and counted
    assert _resent(services, "dropped_after_data") == 1
    assert _resent(services, "lease_expired") == 0
    others = await _deliveries(services, possibly_duplicated=False)
    assert {d.id for d in others} == {first.id, *(d.id for d in rest)}
    assert all(d.attempts == 1 and d.status == "sent" for d in others)
    [warning] = [r for r in caplog.records if "possibly a duplicate" in r.getMessage()]
    assert str(dropped.id) in warning.getMessage()
    _no_personal_data(warning.getMessage(), officer.email)


def _no_personal_data(text: str, *addresses: str) -> None:
    for address in (*addresses, SAFEGUARDING_BOX):
        assert address not in text
    assert "Provider" not in text and "Safeguarding" not in text


async def test_a_dispatcher_killed_mid_send_is_taken_over_after_its_lease_and_counted(
    services: Services,
    smtp: SmtpServer,
    clock: FakeClock,
    make_user: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    officer = await make_user("officer")
    await _safeguarding_each(services, officer.id, 1)  # the officer and the mailbox
    # The server takes the first message and holds its reply (the second waits for the
    # one connection); the dispatcher is killed there, one message handed over, the
    # other not, and neither outcome recorded.
    services.dispatcher.concurrency = 1
    hold = smtp.recorder.hold = Hold()
    doomed = asyncio.create_task(services.dispatcher.drain())
    await hold.reached.wait()
    doomed.cancel()
    with pytest.raises(asyncio.CancelledError):
        await doomed
    hold.release.set()
    assert {(d.status, d.attempts) for d in await _deliveries(services)} == {("sending", 1)}
    [(_, handed_over)] = smtp.recorder.inbox

    # Another process: its own engine and dispatcher, on the same clock.
    other_database = Database.from_url(services.settings.database_url)
    other = Dispatcher(
        database=other_database,
        mailer=SmtpMailer(services.settings),
        renderer=services.renderer,
        clock=clock,
        base_url=services.settings.base_url,
        lease=services.dispatcher.lease,
    )
    other.observers.append(services.metrics)
    try:
        assert (await other.drain()).claimed == 0  # the lease still holds
        clock.advance(services.dispatcher.lease + timedelta(seconds=1))
        with caplog.at_level(logging.WARNING, logger="app.alerting.dispatcher"):
            stats = await other.drain()
    finally:
        await other_database.dispose()
    assert stats.sent == 2 and stats.resent == 2
    # Every message arrived; the one handed over before the kill twice. Which of the two
    # that was, nobody can tell from our side: both count, both are marked.
    received = [m["X-Carewatch-Delivery-Id"] for _r, m in smtp.recorder.inbox]
    twice = handed_over["X-Carewatch-Delivery-Id"]
    assert sorted(received) == sorted([str(d.id) for d in await _deliveries(services)] + [twice])
    for delivery in await _deliveries(services):
        assert delivery.status == "sent" and delivery.attempts == 2
        assert delivery.possibly_duplicated
    assert _resent(services, "lease_expired") == 2
    warnings = [r.getMessage() for r in caplog.records if "possibly a duplicate" in r.getMessage()]
    assert len(warnings) == 2
    for text in warnings:
        _no_personal_data(text, officer.email)


async def test_a_dispatcher_slower_than_its_lease_does_not_overwrite_the_one_that_took_over(
    services: Services,
    smtp: SmtpServer,
    clock: FakeClock,
    make_user: Any,
) -> None:
    await services.dispatcher.drain()  # nothing yet
    provider = await f.provider(services)
    await f.write(services, "safeguarding", provider.id or 0)  # the mailbox only
    hold = smtp.recorder.hold = Hold()
    slow = asyncio.create_task(services.dispatcher.drain())
    await hold.reached.wait()
    # Its lease runs out while the server holds its reply; another dispatcher takes over.
    clock.advance(services.dispatcher.lease + timedelta(seconds=1))
    other = Dispatcher(
        database=services.database,
        mailer=SmtpMailer(services.settings),
        renderer=services.renderer,
        clock=clock,
        base_url=services.settings.base_url,
    )
    assert (await other.drain()).sent == 1
    [taken] = await _deliveries(services)
    hold.release.set()
    assert (await slow).sent == 1  # it was sent, as far as the slow one knows...
    [after] = await _deliveries(services)
    # ...but the row is the other's: the slow dispatcher's outcome is not recorded.
    assert (after.sent_at, after.attempts, after.lease_until) == (
        taken.sent_at,
        2,
        None,
    )
    assert after.possibly_duplicated and len(smtp.recorder.inbox) == 2


async def test_a_batch_of_outcomes_is_recorded_in_one_statement(
    services: Services,
    smtp: SmtpServer,
    make_user: Any,
) -> None:
    officer = await make_user("officer")
    smtp.recorder.refuse = {officer.email}
    await _safeguarding_each(services, officer.id, 5)  # five sent, five refused
    smtp.recorder.transient_failures = 1  # and one of those sent deferred
    updates: list[bool] = []

    def seen(_conn: Any, _cursor: Any, statement: str, _params: Any, _ctx: Any, many: bool) -> None:
        if statement.lstrip().upper().startswith("UPDATE DELIVERIES"):
            updates.append(many)

    event.listen(services.database.engine.sync_engine, "before_cursor_execute", seen)
    try:
        stats = await services.dispatcher.run_once()
    finally:
        event.remove(services.database.engine.sync_engine, "before_cursor_execute", seen)
    assert (stats.sent, stats.failed, stats.retried) == (4, 5, 1)
    assert updates == [False, True]  # the claim, then every outcome in one executemany
    statuses = [d.status for d in await _deliveries(services)]
    assert sorted(statuses) == ["failed"] * 5 + ["pending"] + ["sent"] * 4
