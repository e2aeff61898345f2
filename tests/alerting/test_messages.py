"""Messages: every template renders, no narrative or names leave the system, stable
headers, each message with its own headers, a line break in a header refused, the .eml
fallback, and the in-process dispatcher woken by a commit."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.alerting.channel import Outgoing, PermanentSendError, RenderedMessage
from app.alerting.email import EmailRenderer, FileMailer, SmtpMailer
from app.alerting.routes import load_routes
from app.clock import FakeClock
from app.config import Settings
from app.events import EVENT_TYPES
from app.main import create_app
from app.services import TEMPLATES_DIR, Services, build_services
from tests import factories as f
from tests.conftest import ROOT, World
from tests.fakes.smtp import SmtpServer, readable

MINIMAL_DATA: dict[str, dict[str, Any]] = {
    "safeguarding.raised": {
        "category": "neglect",
        "raised_on": date(2026, 11, 1),
        "whole_service": True,
    },
    "monitoring.escalated": {
        "from": "routine",
        "to": "intensive",
        "next_visit_due_on": None,
        "plan_agree_by_on": None,
        "trigger": None,
        "placements_suspended": False,
        "reasons": [{"description": "d", "detail": "x = 1"}],
    },
    "placements.suspended": {"reason": "CQC rates a location Inadequate"},
    "cqc.rating_changed": {
        "direction": "down",
        "new": "inadequate",
        "old": "good",
        "cqc_location_id": "1-1",
        "location_name": None,
        "rated_on": date(2026, 11, 1),
    },
    "visit.overdue": {"level": "enhanced", "due_on": date(2026, 11, 1), "days_overdue": 3},
    "improvement_action.overdue": {"due_on": date(2026, 11, 1), "days_overdue": 3},
    "visit_action.overdue": {"due_on": date(2026, 11, 1), "days_overdue": 3},
    "improvement_plan.not_agreed": {"agree_by_on": date(2026, 11, 1), "days_late": 3},
    "financial_review.due": {"next_review_on": date(2026, 11, 1)},
    "insurance.expiring": {"insurance_expires_on": date(2026, 12, 1), "days_left": 10},
    "delivery.failed": {"delivery_id": 1, "failed_event_type": "x", "error": "550"},
    "kpis.recorded": {
        "month": date(2026, 10, 1),
        "missed_visits_band": "red",
        "punctuality_band": "amber",
        "calls_logged_band": "green",
    },
    "delivery.retried": {"delivery_id": 1, "event_type": "x"},
    "visit.due_tomorrow": {"due_on": "2026-12-01"},
    "import.completed": {
        "file": "tracker.xlsx",
        "kinds": [{"kind": "visits", "label": "Visits", "new": 2, "matched": 0}],
        "moved": [
            {
                "provider_id": 1,
                "provider": "Harbour Home Care",
                "from": "routine",
                "to": "enhanced",
                "reasons": ["The latest visit found serious concerns."],
                "placements_suspended": False,
            }
        ],
    },
}


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_every_event_type_renders_with_a_minimal_context(event_type: str) -> None:
    renderer = EmailRenderer(TEMPLATES_DIR)
    provider = (
        None
        if event_type.startswith("user.")
        else {
            "id": 1,
            "name": "Harbour Home Care",
            "monitoring_level": "enhanced",
            "placements_suspended": False,
            "next_visit_due_on": None,
            "officer_name": "Asha Patel",
        }
    )
    rendered = renderer.render(
        event_type,
        {
            "event": {
                "id": 7,
                "type": event_type,
                "data": MINIMAL_DATA.get(event_type, {}),
                "created_at": datetime(2026, 11, 20, tzinfo=UTC),
            },
            "provider": provider,
            "link": "https://x.gov.uk/providers/1",
            "base_url": "https://x.gov.uk",
        },
    )
    assert rendered.subject.startswith("[carewatch]") and "\n" not in rendered.subject
    assert "https://x.gov.uk" in rendered.text and "https://x.gov.uk" in rendered.html


def test_every_event_type_has_its_own_template() -> None:
    renderer = EmailRenderer(TEMPLATES_DIR)
    routes = load_routes(ROOT / "alerts/routes.yaml")
    routed = {event for route in routes.routes for event in route.events}
    assert routed <= set(EVENT_TYPES)
    assert all(renderer.has_template(event) for event in EVENT_TYPES)


async def test_no_safeguarding_narrative_or_reference_is_ever_emailed(
    world: World,
    services: Services,
    smtp: SmtpServer,
) -> None:
    provider = await world.provider()
    await world.post(
        f"/providers/{provider['id']}/safeguardings",
        {
            "raised_on": "2026-11-19",
            "category": "neglect",
            "reference": "REF-MARKER-7731",
            "summary": "NARRATIVE-MARKER Mrs Example was left without medication",
            "whole_service": True,
        },
    )
    await services.dispatcher.drain()
    assert len(smtp.recorder.inbox) == 3  # the escalation, to officer, mailbox and manager
    for _recipient, message in smtp.recorder.inbox:
        raw = readable(message)
        assert "MARKER" not in raw and "Mrs Example" not in raw
        assert f"/providers/{provider['id']}" in raw  # the link is what they need


async def test_headers_are_stable_and_carry_the_event(
    world: World,
    services: Services,
    smtp: SmtpServer,
) -> None:
    provider = await world.provider()
    await world.post(
        f"/providers/{provider['id']}/safeguardings",
        {"raised_on": "2026-11-19", "category": "neglect", "reference": "SG-1"},
    )
    await services.dispatcher.drain()
    deliveries = (await world.get("/deliveries")).json()["items"]
    for _recipient, message in smtp.recorder.inbox:
        event_id = message["X-Carewatch-Event-Id"]
        delivery_id = message["X-Carewatch-Delivery-Id"]
        assert (
            message["Message-ID"]
            == f"<delivery-{delivery_id}.event-{event_id}@carewatch.council.gov.uk>"
        )
        assert message["References"] == f"<provider-{provider['id']}@carewatch.council.gov.uk>"
        assert message.get_body(("plain",)) is not None and message.get_body(("html",)) is not None
    assert {d["status"] for d in deliveries} == {"sent"}
    assert all(d["latency_seconds"] is not None and d["latency_seconds"] >= 0 for d in deliveries)


async def test_every_message_carries_its_own_headers(
    smtp_settings: Settings, smtp: SmtpServer
) -> None:
    # Recipients, providers and subjects repeat and interleave, as in a burst of alerts:
    # each message arrives with its own headers, none of another message's.
    mailer = SmtpMailer(smtp_settings)
    sent = []
    for n, (recipient, provider_id, name) in enumerate(
        [
            ("asha.patel@council.gov.uk", 1, "Harbour Home Care"),
            ("ben.okafor@council.gov.uk", 2, "Café Lumière Care"),
            ("asha.patel@council.gov.uk", 2, "Café Lumière Care"),
            ("ben.okafor@council.gov.uk", 1, "Harbour Home Care"),
            ("asha.patel@council.gov.uk", 1, "Harbour Home Care"),
        ]
    ):
        outgoing = Outgoing(
            delivery_id=100 + n,
            event_id=200 + n,
            provider_id=provider_id,
            recipient=recipient,
            message=RenderedMessage(
                f"[carewatch] Visit overdue: {name}", f"Message {n}.", f"<p>Message {n}.</p>"
            ),
            at=datetime(2026, 12, 1, 9, n, tzinfo=UTC),
        )
        await mailer.send(outgoing)
        sent.append(outgoing)
    await mailer.close_idle()
    assert len(smtp.recorder.inbox) == len(sent)
    for outgoing, (recipient, message) in zip(sent, smtp.recorder.inbox, strict=True):
        thread = f"<provider-{outgoing.provider_id}@carewatch.council.gov.uk>"
        assert recipient == message["To"] == outgoing.recipient
        assert message["From"] == "carewatch@council.gov.uk"
        assert message["Subject"] == outgoing.message.subject
        assert message["Message-ID"] == (
            f"<delivery-{outgoing.delivery_id}.event-{outgoing.event_id}@carewatch.council.gov.uk>"
        )
        assert message["References"] == message["In-Reply-To"] == thread
        assert message["Date"].datetime == outgoing.at
        assert message["X-Carewatch-Delivery-Id"] == str(outgoing.delivery_id)
        assert message.get_body(("plain",)).get_content().strip() == outgoing.message.text


async def test_a_line_break_in_a_header_is_refused_every_time(
    smtp_settings: Settings, smtp: SmtpServer
) -> None:
    mailer = SmtpMailer(smtp_settings)
    injected = Outgoing(
        delivery_id=1,
        event_id=1,
        provider_id=None,
        recipient="asha.patel@council.gov.uk\r\nBcc: someone@elsewhere.example",
        message=RenderedMessage("[carewatch] Test", "text", "<p>html</p>"),
        at=datetime(2026, 12, 1, tzinfo=UTC),
    )
    for _ in range(2):
        with pytest.raises(PermanentSendError, match="could not be built"):
            await mailer.send(injected)
    await mailer.close_idle()
    assert smtp.recorder.inbox == []


async def test_without_smtp_messages_become_eml_files(
    settings: Settings,
    clock: FakeClock,
    tmp_path: Path,
    make_user: Any,
) -> None:
    services = build_services(settings, clock=clock)
    try:
        assert isinstance(services.dispatcher.mailer, FileMailer)
        provider = await f.provider(services)
        await f.write(services, "safeguarding", provider.id or 0)
        stats = await services.dispatcher.drain()
        assert stats.sent == 1  # the safeguarding mailbox (no officer assigned)
        files = list(settings.outbox_dir.glob("*.eml"))
        assert len(files) == 1
        message = message_from_bytes(files[0].read_bytes(), policy=policy.default)
        assert message["To"] == "safeguarding@council.gov.uk"
        assert str(message["Subject"]).startswith("[carewatch] Safeguarding raised")
    finally:
        await services.database.dispose()


async def test_the_in_process_dispatcher_is_woken_by_the_commit(
    smtp_settings: Settings,
    smtp: SmtpServer,
    make_user: Any,
) -> None:
    # The real app, lifespan and all. The sweep is an hour away, so a message that
    # arrives at all was sent because the commit woke the dispatcher. (How fast is for
    # the bench.)
    settings = smtp_settings.model_copy(
        update={"dispatcher_enabled": True, "dispatch_sweep_seconds": 3600.0}
    )
    services = build_services(settings)
    app = create_app(settings, services)
    async with app.router.lifespan_context(app):
        officer = await _user(services, "officer")
        headers = await _headers(services, officer)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://t"
        ) as client:
            created = await client.post(
                "/api/v1/providers",
                headers=headers,
                json={"name": "Quick Care", "contract_officer_id": officer.id},
            )
            await client.post(
                f"/api/v1/providers/{created.json()['id']}/safeguardings",
                headers=headers,
                json={
                    "raised_on": date.today().isoformat(),
                    "category": "neglect",
                    "reference": "SG-9",
                },
            )
            # Poll the real server's inbox, as a person refreshing their mail would;
            # the bound only stops a broken wake-up from hanging the suite.
            for _ in range(600):
                if len(smtp.recorder.inbox) >= 2:
                    break
                await asyncio.sleep(0.05)
    assert len(smtp.recorder.inbox) == 2


async def _user(services: Services, role: str) -> Any:
    from app.models import User
    from tests.conftest import password_hash

    async with services.database.transaction() as session:
        user = User(
            email=f"{role}.live@council.gov.uk",
            name="Live",
            role=role,
            password_hash=password_hash(),
            created_at=datetime.now(UTC),
        )
        session.add(user)
    return user


async def _headers(services: Services, user: Any) -> dict[str, str]:
    from datetime import timedelta

    from app.auth.service import issue_token

    async with services.database.transaction() as session:
        token = await issue_token(session, user, now=datetime.now(UTC), ttl=timedelta(hours=1))
    return {"Authorization": f"Bearer {token}"}
