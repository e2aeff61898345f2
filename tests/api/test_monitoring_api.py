"""The rules issue's acceptance scenario, through the JSON API with the shipped rules."""

from __future__ import annotations

from datetime import timedelta

from app.clock import FakeClock
from tests.conftest import HeadersFor, World


async def test_escalation_plan_and_de_escalation_through_the_api(world: World) -> None:
    provider = await world.provider()
    pid = provider["id"]
    await world.post(
        f"/providers/{pid}/visits",
        {
            "visited_on": "2026-11-19",
            "kind": "virtual",
            "purpose": "Contract meeting",
            "outcome": "good",
        },
    )
    levels = []
    for day in ("2026-09-01", "2026-10-15", "2026-11-18"):
        response = await world.post(
            f"/providers/{pid}/safeguardings",
            {"raised_on": day, "category": "neglect", "reference": f"S42-{day}"},
            role="safeguarding",
        )
        assert response.status_code == 201, response.text
        levels.append(response.json()["monitoring_level"])
    assert levels == ["routine", "routine", "enhanced"]
    assert response.json()["escalation"]["reasons"][0]["rule"] == "safeguarding-cluster"

    concern = await world.post(
        f"/providers/{pid}/concerns",
        {
            "raised_on": "2026-11-19",
            "description": "Missed medication calls across packages",
            "whole_service": True,
        },
    )
    assert concern.json()["monitoring_level"] == "intensive"
    monitoring = (await world.get(f"/providers/{pid}/monitoring")).json()
    assert monitoring["next_visit_due_on"] == "2026-11-27"  # within 7 days
    assert [e["level"] for e in monitoring["episodes"]] == ["intensive", "enhanced"]
    assert monitoring["episodes"][1]["end_reason"] == "escalated to intensive"
    plan = (await world.get(f"/providers/{pid}/improvement-plan")).json()
    assert plan["status"] == "awaiting_agreement" and plan["agree_by_on"] == "2026-12-04"

    action = await world.post(
        f"/providers/{pid}/improvement-plan/actions",
        {
            "issue": "Medication calls missed",
            "action": "Daily call-monitoring review",
            "owner": "Registered manager",
            "due_on": "2026-12-10",
        },
    )
    assert action.status_code == 201, action.text
    agreed = await world.post(
        f"/providers/{pid}/improvement-plan/agree", {"agreed_on": "2026-11-20"}
    )
    assert agreed.json()["status"] == "agreed"
    done = await world.patch(
        f"/improvement-actions/{action.json()['id']}",
        {"status": "complete", "evidence": "Reviews logged daily since 21 November"},
    )
    assert done.json()["status"] == "complete" and done.json()["completed_on"] == "2026-11-20"

    step_down = {"to": "routine", "reason": "Provider reports improvement"}
    for role in ("viewer", "officer", "safeguarding"):
        response = await world.post(
            f"/providers/{pid}/monitoring/de-escalate", step_down, role=role
        )
        assert response.status_code == 403
    refused = await world.post(
        f"/providers/{pid}/monitoring/de-escalate", step_down, role="manager"
    )
    assert refused.status_code == 409
    assert any("the whole-service concern raised on " in b for b in refused.json()["blockers"])
    events = (
        await world.get("/events", provider_id=pid, type="monitoring.de_escalation_refused")
    ).json()
    assert events["total"] == 1

    accepted = await world.post(
        f"/providers/{pid}/monitoring/de-escalate",
        {**step_down, "override": True, "reason": "Concern contained; weekly visits continue"},
        role="manager",
    )
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["level"] == "routine"
    assert accepted.json()["episodes"][0]["overridden"] is True
    assert accepted.json()["episodes"][0]["ended_by"] == f"user:{world.users['manager'].id}"


async def test_managers_suspend_and_lift_placements(world: World) -> None:
    provider = await world.provider()
    pid = provider["id"]
    body = {"suspended": True, "reason": "Pending safeguarding strategy meeting"}
    assert (await world.post(f"/providers/{pid}/monitoring/placements", body)).status_code == 403
    suspended = await world.post(f"/providers/{pid}/monitoring/placements", body, role="manager")
    assert suspended.json()["placements_suspended"] is True
    again = await world.post(f"/providers/{pid}/monitoring/placements", body, role="manager")
    assert again.status_code == 409
    lifted = await world.post(
        f"/providers/{pid}/monitoring/placements",
        {"suspended": False, "reason": "Strategy meeting concluded"},
        role="admin",
    )
    assert lifted.json()["placements_suspended"] is False


async def test_a_manual_rating_escalates_and_repeating_it_changes_nothing(world: World) -> None:
    provider = await world.provider()
    pid = provider["id"]
    await world.post(f"/providers/{pid}/locations", {"cqc_location_id": "1-000000001"})
    body = {
        "cqc_location_id": "1-000000001",
        "overall": "inadequate",
        "rated_on": "2026-11-01",
        "key_questions": {"safe": "inadequate", "well_led": "requires_improvement"},
    }
    first = await world.post(f"/providers/{pid}/ratings", body)
    assert first.status_code == 201, first.text
    assert first.json()["changed"] is True and first.json()["monitoring_level"] == "intensive"
    assert first.json()["placements_suspended"] is True
    second = await world.post(f"/providers/{pid}/ratings", body)
    assert second.json()["changed"] is False
    unknown = await world.post(f"/providers/{pid}/ratings", {**body, "cqc_location_id": "1-999"})
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "cqc_location_id"


async def test_the_dashboard_counts_what_the_records_say(
    world: World, clock: FakeClock, headers_for: HeadersFor
) -> None:
    calm = await world.provider(name="Calm Care")
    failing = await world.provider(name="Failing Care")
    await world.post(
        f"/providers/{calm['id']}/visits",
        {"visited_on": "2026-11-19", "kind": "virtual", "purpose": "Meeting", "outcome": "good"},
    )
    await world.post(f"/providers/{failing['id']}/locations", {"cqc_location_id": "1-000000001"})
    await world.post(
        f"/providers/{failing['id']}/ratings",
        {"cqc_location_id": "1-000000001", "overall": "inadequate", "rated_on": "2026-11-01"},
    )
    await world.post(
        f"/providers/{failing['id']}/safeguardings",
        {"raised_on": "2026-11-19", "category": "neglect", "reference": "SG-1"},
    )
    figures = (await world.get("/dashboard", role="viewer")).json()
    assert figures["providers_by_level"] == {"routine": 1, "enhanced": 0, "intensive": 1}
    assert figures["placements_suspended"] == 1
    assert figures["providers_by_rating"] == {"inadequate": 1}
    assert figures["safeguardings_open"] == 1
    # A new contract is due a visit at once: the unvisited one is overdue from tomorrow.
    assert figures["visits_overdue"] == 0
    clock.advance(timedelta(days=2))
    fresh = await headers_for(world.users["viewer"])  # the morning's token has expired
    later = await world.client.get("/api/v1/dashboard", headers=fresh)
    assert later.json()["visits_overdue"] == 1
