"""Each record's life to its end through the JSON API: a safeguarding raised, under a
Section 42 enquiry and closed with its outcomes; a complaint to its finding; a concern
resolved, then the step-down it allows; follow-up actions of a visit; corrections with
their history; a record entered in error, kept but never counted."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from app.clock import FakeClock
from app.jobs.tasks import evaluate_time_rules
from app.models import Delivery, Event, SafeguardingAudit
from app.rules.signals import compute_signals
from app.services import Services
from tests.conftest import HeadersFor, World

SAFEGUARDING = {
    "raised_on": "2026-11-02",
    "category": "financial_or_material",
    "reference": "SG-LIFE-1",
    "summary": "SUMMARY-SECRET",
}


async def _events(services: Services, provider_id: int) -> list[str]:
    async with services.database.sessions() as session:
        rows = await session.execute(
            select(Event.type).where(Event.provider_id == provider_id).order_by(Event.id)
        )
        return list(rows.scalars())


async def _audit_rows(services: Services, action: str) -> int:
    async with services.database.sessions() as session:
        count = await session.scalar(select(func.count()).where(SafeguardingAudit.action == action))
    return int(count or 0)


async def test_a_safeguarding_from_raised_through_enquiry_to_closed(
    world: World, services: Services
) -> None:
    provider = await world.provider()
    raised = await world.post(
        f"/providers/{provider['id']}/safeguardings", SAFEGUARDING, role="safeguarding"
    )
    assert raised.status_code == 201, raised.text
    sid = raised.json()["id"]
    assert raised.json()["created_by_name"] == "Safeguarding Person"

    enquiry = await world.patch(f"/safeguardings/{sid}", {"status": "enquiry"}, role="safeguarding")
    assert enquiry.status_code == 200, enquiry.text
    assert enquiry.json()["enquiry_started_on"] == services.clock.today().isoformat()

    # Closing needs the outcome and, unless withdrawn, the risk outcome: nothing changes.
    refused = await world.patch(
        f"/safeguardings/{sid}",
        {"status": "closed", "outcome": "substantiated"},
        role="safeguarding",
    )
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "risk_outcome"
    closed = await world.patch(
        f"/safeguardings/{sid}",
        {
            "status": "closed",
            "outcome": "partly_substantiated",
            "risk_outcome": "risk_reduced",
            "closed_on": "2026-11-18",
        },
        role="safeguarding",
    )
    assert closed.status_code == 200, closed.text
    body = closed.json()
    assert (body["status"], body["outcome"], body["risk_outcome"], body["closed_on"]) == (
        "closed",
        "partly_substantiated",
        "risk_reduced",
        "2026-11-18",
    )
    assert await _events(services, provider["id"]) == [
        "provider.created",
        "safeguarding.raised",
        "safeguarding.enquiry_started",
        "safeguarding.closed",
    ]
    history = (await world.get(f"/safeguardings/{sid}/changes", role="safeguarding")).json()
    assert {(c["field"], c["new_value"]) for c in history} >= {
        ("status", "enquiry"),
        ("status", "closed"),
        ("outcome", "partly_substantiated"),
        ("risk_outcome", "risk_reduced"),
    }
    assert all(c["changed_by_name"] == "Safeguarding Person" for c in history)

    # A withdrawn concern closes without a risk outcome; re-opening clears the outcomes.
    reopened = await world.patch(f"/safeguardings/{sid}", {"status": "open"}, role="safeguarding")
    assert reopened.status_code == 200, reopened.text
    assert reopened.json()["outcome"] is None and reopened.json()["enquiry_started_on"] is None
    withdrawn = await world.patch(
        f"/safeguardings/{sid}", {"status": "closed", "outcome": "withdrawn"}, role="safeguarding"
    )
    assert withdrawn.status_code == 200, withdrawn.text


async def test_a_viewer_never_sees_a_safeguardings_reference_summary_or_category(
    world: World, services: Services
) -> None:
    provider = await world.provider()
    raised = await world.post(f"/providers/{provider['id']}/safeguardings", SAFEGUARDING)
    sid = raised.json()["id"]
    await world.patch(f"/safeguardings/{sid}", {"summary": "SUMMARY-SECRET corrected"})
    for path in (
        f"/safeguardings/{sid}",
        f"/safeguardings/{sid}/changes",
        f"/providers/{provider['id']}/safeguardings",
        f"/providers/{provider['id']}/timeline",
        "/events",
    ):
        answer = await world.get(path, role="viewer")
        assert answer.status_code == 200, (path, answer.text)
        for secret in ("SECRET", "SG-LIFE-1", "financial_or_material"):
            assert secret not in answer.text, (path, secret)
    events = (await world.get("/events", role="viewer", type="safeguarding.raised")).json()
    assert events["items"][0]["redacted"] is True

    # Roles that may read the details see them, and each showing is audited.
    before = await _audit_rows(services, "events")
    shown = await world.get("/events", role="officer", provider_id=provider["id"])
    assert "financial_or_material" in shown.text
    assert await _audit_rows(services, "events") == before + 1


async def test_a_complaint_to_its_finding(world: World) -> None:
    provider = await world.provider()
    complaint = await world.post(
        f"/providers/{provider['id']}/complaints",
        {"received_on": "2026-11-03", "subject": "Late calls"},
    )
    cid = complaint.json()["id"]
    refused = await world.patch(f"/complaints/{cid}", {"status": "closed"})
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "upheld"
    closed = await world.patch(
        f"/complaints/{cid}", {"status": "closed", "upheld": "upheld", "closed_on": "2026-11-19"}
    )
    assert closed.status_code == 200, closed.text
    read = (await world.get(f"/complaints/{cid}", role="viewer")).json()
    assert (read["status"], read["upheld"], read["closed_on"]) == ("closed", "upheld", "2026-11-19")
    assert read["created_by_name"] == "Officer Person"


async def test_resolving_the_whole_service_concern_allows_a_step_down_without_override(
    world: World,
) -> None:
    provider = await world.provider()
    raised = await world.post(
        f"/providers/{provider['id']}/concerns",
        {
            "raised_on": "2026-11-18",
            "description": "Missed calls everywhere",
            "whole_service": True,
        },
    )
    assert raised.json()["monitoring_level"] == "intensive"
    step_down = {"to": "routine", "reason": "Concern resolved with the provider"}
    blocked = await world.post(
        f"/providers/{provider['id']}/monitoring/de-escalate", step_down, role="manager"
    )
    assert blocked.status_code == 409
    cid = raised.json()["id"]
    unresolved = await world.patch(f"/concerns/{cid}", {"status": "closed"})
    assert unresolved.status_code == 422
    assert unresolved.json()["errors"][0]["field"] == "outcome"
    resolved = await world.patch(
        f"/concerns/{cid}",
        {"status": "closed", "outcome": "New rota covers every call; checked on a visit"},
    )
    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["closed_on"] == "2026-11-20"
    stepped = await world.post(
        f"/providers/{provider['id']}/monitoring/de-escalate", step_down, role="manager"
    )
    assert stepped.status_code == 200, stepped.text
    assert stepped.json()["level"] == "routine"


async def test_a_record_entered_in_error_stays_but_no_rule_counts_it(
    world: World, services: Services
) -> None:
    provider = await world.provider()
    pid = provider["id"]
    ids = []
    for day in ("2026-11-10", "2026-11-11", "2026-11-12"):
        made = await world.post(
            f"/providers/{pid}/complaints",
            {"received_on": day, "subject": "Late", "status": "closed", "upheld": "upheld"},
        )
        ids.append(made.json()["id"])
    assert made.json()["monitoring_level"] == "enhanced"  # three upheld in 180 days

    reason = {"reason": "Logged against the wrong provider"}
    # A manager (or an admin) may mark another's entry; a viewer may not write at all.
    other = await world.post(f"/complaints/{ids[0]}/entered-in-error", reason, role="admin")
    assert other.status_code == 200, other.text
    viewer = await world.post(f"/complaints/{ids[1]}/entered-in-error", reason, role="viewer")
    assert viewer.status_code == 403
    again = await world.post(f"/complaints/{ids[0]}/entered-in-error", reason)
    assert again.status_code == 409
    corrected = await world.patch(f"/complaints/{ids[0]}", {"subject": "Late calls"})
    assert corrected.status_code == 409

    read = (await world.get(f"/complaints/{ids[0]}")).json()
    assert read["entered_in_error_reason"] == "Logged against the wrong provider"
    assert read["entered_in_error_by_name"] == "Admin Person"
    listed = (await world.get(f"/providers/{pid}/complaints")).json()
    assert listed["total"] == 3  # nothing is deleted
    async with services.database.sessions() as session:
        signals = await compute_signals(
            session, services.policy.rules, services.clock.today(), [pid]
        )
    assert signals[pid]["complaints_upheld@180"] == 2
    timeline = (await world.get(f"/providers/{pid}/timeline")).json()
    assert timeline["items"][0]["event"]["type"] == "complaint.entered_in_error"


async def test_only_the_author_or_a_manager_marks_a_record_entered_in_error(
    world: World,
) -> None:
    provider = await world.provider()
    visit = await world.post(
        f"/providers/{provider['id']}/visits",
        {"visited_on": "2026-11-19", "kind": "virtual", "purpose": "Review", "outcome": "good"},
        role="manager",
    )
    vid = visit.json()["id"]
    refused = await world.post(f"/visits/{vid}/entered-in-error", {"reason": "Not mine"})
    assert refused.status_code == 403
    assert refused.json()["errors"][0]["field"] == "id"
    marked = await world.post(
        f"/visits/{vid}/entered-in-error", {"reason": "Duplicate entry"}, role="manager"
    )
    assert marked.status_code == 200, marked.text
    # The provider's visit dates no longer count the visit.
    shown = (await world.get(f"/providers/{provider['id']}")).json()
    assert shown["last_visit_on"] is None


async def test_corrections_are_kept_with_who_and_when(world: World) -> None:
    provider = await world.provider()
    made = await world.post(
        f"/providers/{provider['id']}/compliments",
        {"received_on": "2026-11-19", "summary": "Thank yuo"},
    )
    cid = made.json()["id"]
    fixed = await world.patch(f"/compliments/{cid}", {"summary": "Thank you"}, role="manager")
    assert fixed.status_code == 200, fixed.text
    assert fixed.json()["summary"] == "Thank you"
    history = (await world.get(f"/compliments/{cid}/changes")).json()
    assert [
        (c["field"], c["old_value"], c["new_value"], c["changed_by_name"]) for c in history
    ] == [("summary", "Thank yuo", "Thank you", "Manager Person")]
    future = await world.patch(f"/compliments/{cid}", {"received_on": "2026-12-25"})
    assert future.status_code == 422 and future.json()["errors"][0]["field"] == "received_on"
    empty = await world.patch(f"/compliments/{cid}", {})
    assert empty.status_code == 422


async def test_overdue_visit_actions_alert_the_officer(
    world: World, services: Services, clock: FakeClock, headers_for: HeadersFor
) -> None:
    provider = await world.provider()
    visit = await world.post(
        f"/providers/{provider['id']}/visits",
        {"visited_on": "2026-11-19", "kind": "face_to_face", "purpose": "Spot", "outcome": "good"},
    )
    vid = visit.json()["id"]
    early = await world.post(
        f"/visits/{vid}/actions",
        {"action": "Send rota", "owner": "Registered manager", "due_on": "2026-11-01"},
    )
    assert early.status_code == 422 and early.json()["errors"][0]["field"] == "due_on"
    added = await world.post(
        f"/visits/{vid}/actions",
        {"action": "Send rota", "owner": "Registered manager", "due_on": "2026-11-25"},
    )
    assert added.status_code == 201, added.text
    read = (await world.get(f"/visits/{vid}")).json()
    assert [a["action"] for a in read["actions"]] == ["Send rota"]
    assert (await world.get(f"/providers/{provider['id']}/visit-actions")).json()[0][
        "done"
    ] is False

    clock.advance(timedelta(days=10))
    result = await evaluate_time_rules(services)
    assert result.events.get("visit_action.overdue") == 1
    async with services.database.sessions() as session:
        recipients = (
            await session.execute(
                select(Delivery.recipient).where(Delivery.event_type == "visit_action.overdue")
            )
        ).scalars()
        assert list(recipients) == [world.users["officer"].email]

    world.headers["officer"] = await headers_for(world.users["officer"])  # a new day's token
    done = await world.patch(
        f"/visit-actions/{added.json()['id']}", {"done": True, "evidence": "Rota seen"}
    )
    assert done.status_code == 200, done.text
    assert done.json()["done_on"] == services.clock.today().isoformat()
    clock.advance(timedelta(days=7))
    assert "visit_action.overdue" not in (await evaluate_time_rules(services)).events
