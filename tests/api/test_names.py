"""An answer that mentions a person by id or by actor label also names them, so that an
officer, who may not read /api/v1/users, sees who."""

from __future__ import annotations

from app.clock import FakeClock
from app.events import Actor, append_event
from app.services import Services
from tests.conftest import World

VISIT = {"visited_on": "2026-11-19", "kind": "virtual", "purpose": "Meeting", "outcome": "good"}


async def test_an_officer_sees_the_names_of_the_people_an_answer_mentions(world: World) -> None:
    officer, manager = world.users["officer"], world.users["manager"]
    assert (await world.get("/users")).status_code == 403  # the officer cannot list users
    provider = await world.provider()
    pid = provider["id"]
    assert provider["contract_officer_name"] == officer.name
    listed = (await world.get("/providers")).json()["items"][0]
    assert listed["contract_officer_name"] == officer.name
    assert (await world.get(f"/providers/{pid}")).json()["contract_officer_name"] == officer.name

    visit = await world.post(f"/providers/{pid}/visits", {**VISIT, "officer_id": officer.id})
    assert visit.json()["officer_name"] == officer.name
    visits = (await world.get(f"/providers/{pid}/visits")).json()["items"]
    assert visits[0]["officer_name"] == officer.name

    events = (await world.get("/events", provider_id=pid)).json()["items"]
    assert {e["actor_name"] for e in events} == {officer.name}
    timeline = (await world.get(f"/providers/{pid}/timeline")).json()["items"]
    visited = next(i for i in timeline if i["event"]["type"] == "visit.recorded")
    assert visited["event"]["actor_name"] == officer.name
    assert visited["record"]["officer_name"] == officer.name
    assert visited["record"]["created_by_name"] == officer.name

    # An inadequate rating keyed in by the officer escalates; the manager steps down.
    await world.post(f"/providers/{pid}/locations", {"cqc_location_id": "1-000000001"})
    rated = await world.post(
        f"/providers/{pid}/ratings",
        {"cqc_location_id": "1-000000001", "overall": "inadequate", "rated_on": "2026-11-01"},
    )
    assert rated.json()["monitoring_level"] == "intensive", rated.text
    stepped = await world.post(
        f"/providers/{pid}/monitoring/de-escalate",
        {"to": "routine", "reason": "Rating under appeal; visits go on", "override": True},
        role="manager",
    )
    assert stepped.status_code == 200, stepped.text
    episode = (await world.get(f"/providers/{pid}/monitoring")).json()["episodes"][0]
    assert episode["ended_by"] == f"user:{manager.id}"
    assert episode["ended_by_name"] == manager.name
    assert episode["started_by_name"] == (
        officer.name if episode["started_by"] == f"user:{officer.id}" else None
    )
    audit = (await world.get("/audit", role="admin")).json()["items"]
    assert all(row["actor_name"] for row in audit if row["actor"].startswith("user:"))


async def test_no_one_is_named_where_no_one_is_mentioned(
    world: World, services: Services, clock: FakeClock
) -> None:
    provider = await world.provider(contract_officer_id=None)
    assert provider["contract_officer_name"] is None
    listed = (await world.get("/providers")).json()["items"][0]
    assert listed["contract_officer_id"] is None and listed["contract_officer_name"] is None
    async with services.database.transaction() as session:
        await append_event(
            session,
            type="cqc.synced",
            provider_id=provider["id"],
            actor=Actor.job("cqc_sync"),
            at=clock.now(),
        )
    events = (await world.get("/events", provider_id=provider["id"], type="cqc.synced")).json()
    assert [(e["actor"], e["actor_name"]) for e in events["items"]] == [("job:cqc_sync", None)]
