"""Emails written for their recipient: the safeguarding mailbox is never asked to agree
the next step with itself, a manager's override step-down reaches the officer and every
manager, and every link starts with CAREWATCH_BASE_URL. Each template is rendered for
each kind of recipient its routes send it to."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest

from app.alerting.email import EmailRenderer
from app.alerting.routes import load_routes
from app.config import Settings
from app.services import TEMPLATES_DIR, Services
from tests.alerting.test_messages import MINIMAL_DATA
from tests.conftest import ROOT, UserMaker, World
from tests.fakes.smtp import SmtpServer

SAFEGUARDING_BOX = "safeguarding@council.gov.uk"
TO_THE_TEAM = "agree the next step with the safeguarding team"
ROUTES = load_routes(ROOT / "alerts/routes.yaml")
EMAIL_ROUTES = sorted(
    {
        (event, recipient)
        for route in ROUTES.routes
        if route.channel == "email"
        for event in route.events
        for recipient in route.to
    }
)


def _body(message: Any) -> str:
    return str(message.get_body(("plain",)).get_content())


async def test_the_safeguarding_mailbox_is_written_to_as_the_team(
    world: World, services: Services, smtp: SmtpServer
) -> None:
    provider = await world.provider()
    await world.post(
        f"/providers/{provider['id']}/safeguardings",
        {"raised_on": "2026-11-19", "category": "neglect", "reference": "SG-1"},
        role="safeguarding",
    )
    await services.dispatcher.drain()
    to_team = smtp.recorder.received_by(SAFEGUARDING_BOX)
    to_officer = smtp.recorder.received_by(world.users["officer"].email)
    assert len(to_team) == 1 and len(to_officer) == 1
    assert TO_THE_TEAM not in _body(to_team[0])
    assert "decide the safeguarding response" in _body(to_team[0])
    assert TO_THE_TEAM in _body(to_officer[0])


async def test_a_kpi_month_in_red_tells_the_providers_officer(
    world: World, services: Services, smtp: SmtpServer
) -> None:
    """Market events are routed where a commissioner would expect: a month of call
    monitoring in red reaches the provider's officer; a green month tells no one."""
    provider = await world.provider()
    officer = world.users["officer"].email
    green = {"visits_planned": 1000, "visits_missed": 5, "visits_late": 20}
    for month, figures in (("2026-09-01", green), ("2026-10-01", {**green, "visits_missed": 90})):
        recorded = await world.post(
            f"/providers/{provider['id']}/kpis",
            {"month": month, "calls_logged_in_home": 900, **figures},
        )
        assert recorded.status_code == 201, recorded.text
        await services.dispatcher.drain()
        if month == "2026-09-01":
            assert smtp.recorder.received_by(officer) == []
    told = smtp.recorder.received_by(officer)
    assert len(told) == 1
    body = _body(told[0])
    assert "October 2026" in body and "Missed visits: Red" in body
    assert "UTC" not in body and "_" not in re.sub(r"https?://\S+", "", body)
    assert smtp.recorder.received_by(world.users["manager"].email) == []


async def test_a_managers_override_step_down_tells_the_officer_and_the_managers(
    world: World,
    services: Services,
    smtp: SmtpServer,
    settings: Settings,
    make_user: UserMaker,
) -> None:
    second_manager = await make_user("manager", email="manager2@council.gov.uk")
    provider = await world.provider()
    pid = provider["id"]
    raised = await world.post(
        f"/providers/{pid}/concerns",
        {"raised_on": "2026-11-19", "description": "Missed calls", "whole_service": True},
    )
    assert raised.status_code == 201, raised.text
    await services.dispatcher.drain()
    before = len(smtp.recorder.inbox)
    stepped = await world.post(
        f"/providers/{pid}/monitoring/de-escalate",
        {"to": "routine", "override": True, "reason": "Concern contained"},
        role="manager",
    )
    assert stepped.status_code == 200, stepped.text
    await services.dispatcher.drain()
    new = smtp.recorder.inbox[before:]
    subject = (
        "[carewatch] Harbour Home Care Ltd stepped down to routine monitoring"
        " by a manager's override"
    )
    told = sorted(recipient for recipient, message in new if message["Subject"] == subject)
    expected = [world.users["officer"].email, world.users["manager"].email, second_manager.email]
    assert told == sorted(address.lower() for address in expected)
    body = _body(new[0][1])
    assert "from intensive to routine monitoring" in body
    assert "Concern contained" not in body  # the manager's words stay in carewatch
    # Every link in every message starts with CAREWATCH_BASE_URL.
    for _recipient, message in smtp.recorder.inbox:
        links = re.findall(r"https?://[^\s\"'<>]+", _body(message))
        assert links, message["Subject"]
        assert all(link.startswith(settings.base_url + "/") for link in links), links


@pytest.mark.parametrize(("event_type", "recipient"), EMAIL_ROUTES)
def test_each_template_renders_for_each_recipient_it_is_routed_to(
    event_type: str, recipient: str
) -> None:
    renderer = EmailRenderer(TEMPLATES_DIR)
    data = {**MINIMAL_DATA.get(event_type, {})}
    if event_type == "monitoring.de_escalated":
        data = {"from": "intensive", "to": "routine", "override": True}
    if event_type == "monitoring.escalated":  # the evidence as the rules engine words it
        data["reasons"] = [
            {
                "rule": "whole-service-concern",
                "description": "An open concern or safeguarding is about the whole service.",
                "detail": "whole_service_concerns_open = 1",
            }
        ]
    rendered = renderer.render(
        event_type,
        {
            "event": {
                "id": 7,
                "type": event_type,
                "data": data,
                "created_at": datetime(2026, 11, 20, 10, tzinfo=UTC),
            },
            "provider": {
                "id": 1,
                "name": "Harbour Home Care",
                "monitoring_level": "intensive",
                "placements_suspended": False,
                "next_visit_due_on": None,
                "officer_name": "Asha Patel",
            },
            "link": "https://carewatch.example.gov.uk/providers/1",
            "base_url": "https://carewatch.example.gov.uk",
            "channel": "email",
            "to_safeguarding_team": recipient == "mailbox:safeguarding",
        },
    )
    for body in (rendered.subject, rendered.text, rendered.html):
        assert not re.search(r"\b\d{4}-\d{2}-\d{2}\b", body), "an ISO date"
        assert "_" not in re.sub(r"https?://\S+", "", body), "a field or signal name"
        assert "whole-service-concern" not in body, "a rule id"
        if recipient == "mailbox:safeguarding":
            assert "safeguarding team" not in body
    assert "https://carewatch.example.gov.uk/providers/1" in rendered.text
