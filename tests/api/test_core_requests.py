"""The core requests of DESIGN.md, end to end through the JSON API."""

from __future__ import annotations

from tests.conftest import PASSWORD, World


async def test_token_then_create_and_read_a_provider(world: World) -> None:
    response = await world.client.post(
        "/api/v1/auth/token", data={"username": "admin@council.gov.uk", "password": PASSWORD}
    )
    assert response.status_code == 200, response.text
    token = response.json()
    assert token["token_type"] == "bearer"
    headers = {"Authorization": f"Bearer {token['access_token']}"}

    created = await world.client.post(
        "/api/v1/providers",
        headers=headers,
        json={
            "name": "Tamar Valley Care",
            "cqc_provider_id": "1-000000101",
            "contract_type": "framework",
            "partner_role": "locality_partner",
            "localities": ["West", "Central"],
            "contract_officer_id": world.users["officer"].id,
            "weekly_hours": 1250.5,
        },
    )
    assert created.status_code == 201, created.text
    provider = created.json()
    assert provider["monitoring_level"] == "routine"
    assert provider["localities"] == ["Central", "West"]

    listed = await world.client.get(
        "/api/v1/providers", headers=headers, params={"locality": "West"}
    )
    assert listed.json()["total"] == 1
    assert listed.json()["items"][0]["id"] == provider["id"]
    none = await world.client.get("/api/v1/providers", headers=headers, params={"locality": "East"})
    assert none.json()["total"] == 0


async def test_every_record_kind_is_stored_with_its_event(world: World) -> None:
    provider = await world.provider()
    pid = provider["id"]
    posts: dict[str, dict[str, object]] = {
        "locations": {"cqc_location_id": "1-000000001"},
        "visits": {
            "visited_on": "2026-11-18",
            "kind": "face_to_face",
            "purpose": "Quarterly contract meeting",
            "outcome": "good",
            "notes": "Rotas reviewed",
        },
        "safeguardings": {
            "raised_on": "2026-11-19",
            "category": "neglect",
            "reference": "SG-1001",
            "summary": "Missed calls reported",
            "whole_service": False,
        },
        "complaints": {"received_on": "2026-11-01", "subject": "Late calls", "upheld": None},
        "compliments": {"received_on": "2026-11-02", "summary": "Kind carers"},
        "financial-assurances": {
            "assessed_on": "2026-10-01",
            "risk": "green",
            "insurance_expires_on": "2027-06-30",
            "accounts_filed_on_time": True,
            "next_review_on": "2027-04-01",
            "notes": "",
        },
        "concerns": {
            "raised_on": "2026-11-10",
            "description": "Staffing gaps at weekends",
            "whole_service": False,
        },
    }
    for path, body in posts.items():
        response = await world.post(f"/providers/{pid}/{path}", body)
        assert response.status_code == 201, (path, response.text)
        if path != "locations":
            assert response.json()["monitoring_level"] == "routine"

    events = (await world.get("/events", provider_id=pid, limit=50)).json()
    types = {e["type"] for e in events["items"]}
    assert {
        "provider.created",
        "location.added",
        "visit.recorded",
        "safeguarding.raised",
        "complaint.received",
        "compliment.received",
        "financial_assurance.recorded",
        "concern.raised",
    } <= types
    assert all(e["actor"] == f"user:{world.users['officer'].id}" for e in events["items"])

    timeline = (await world.get(f"/providers/{pid}/timeline")).json()
    assert timeline["total"] == events["total"]
    times = [item["event"]["created_at"] for item in timeline["items"]]
    assert times == sorted(times, reverse=True)
    safeguarding_items = [
        i for i in timeline["items"] if i["event"]["type"] == "safeguarding.raised"
    ]
    assert safeguarding_items[0]["record"]["reference"] == "SG-1001"

    visits = (await world.get(f"/providers/{pid}/visits", since="2026-11-01")).json()
    assert visits["total"] == 1
    assert (await world.get(f"/providers/{pid}/visits", until="2026-11-01")).json()["total"] == 0


async def test_a_visit_moves_the_next_visit_due_on(world: World) -> None:
    provider = await world.provider()
    await world.post(
        f"/providers/{provider['id']}/visits",
        {
            "visited_on": "2026-11-18",
            "kind": "virtual",
            "purpose": "Contract meeting",
            "outcome": "good",
        },
    )
    monitoring = (await world.get(f"/providers/{provider['id']}/monitoring")).json()
    assert monitoring["level"] == "routine"
    assert monitoring["next_visit_due_on"] == "2027-02-16"  # 90 days on
    # A visit logged late, older than the last one, moves nothing.
    await world.post(
        f"/providers/{provider['id']}/visits",
        {"visited_on": "2026-10-01", "kind": "virtual", "purpose": "Late entry", "outcome": "good"},
    )
    monitoring = (await world.get(f"/providers/{provider['id']}/monitoring")).json()
    assert monitoring["next_visit_due_on"] == "2027-02-16"


async def test_closing_a_safeguarding_and_reading_it_back(world: World) -> None:
    provider = await world.provider()
    raised = await world.post(
        f"/providers/{provider['id']}/safeguardings",
        {
            "raised_on": "2026-11-01",
            "category": "financial_or_material",
            "reference": "SG-7",
            "summary": "x",
        },
        role="safeguarding",
    )
    assert raised.status_code == 201, raised.text
    sid = raised.json()["id"]
    closed = await world.patch(
        f"/safeguardings/{sid}",
        {
            "status": "closed",
            "outcome": "substantiated",
            "risk_outcome": "risk_reduced",
            "closed_on": "2026-11-15",
        },
        role="safeguarding",
    )
    assert closed.status_code == 200, closed.text
    assert closed.json()["status"] == "closed"
    assert closed.json()["outcome"] == "substantiated"
    read = await world.get(f"/safeguardings/{sid}")
    assert read.json()["closed_on"] == "2026-11-15"


async def test_a_viewer_sees_no_safeguarding_summary_or_reference(world: World) -> None:
    provider = await world.provider()
    await world.post(
        f"/providers/{provider['id']}/safeguardings",
        {
            "raised_on": "2026-11-01",
            "category": "neglect",
            "reference": "SG-SECRET",
            "summary": "SUMMARY-SECRET",
        },
    )
    for path in (
        f"/providers/{provider['id']}/safeguardings",
        f"/providers/{provider['id']}/timeline",
    ):
        response = await world.get(path, role="viewer")
        assert response.status_code == 200
        assert "SECRET" not in response.text
    listed = (await world.get(f"/providers/{provider['id']}/safeguardings", role="viewer")).json()
    assert listed["total"] == 1 and listed["items"][0]["redacted"] is True


async def test_health_and_readiness(client: object, world: World) -> None:
    assert (await world.client.get("/healthz")).json() == {"status": "ok"}
    ready = await world.client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ok"
