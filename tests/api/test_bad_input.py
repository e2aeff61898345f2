"""Bad input gets a 4xx whose JSON names the field and the problem, and stores nothing."""

from __future__ import annotations

from typing import Any

import pytest

from app.models import Event
from app.services import Services
from tests.conftest import World

VISIT = {
    "visited_on": "2026-11-18",
    "kind": "virtual",
    "purpose": "Contract meeting",
    "outcome": "good",
}
SAFEGUARDING = {"raised_on": "2026-11-18", "category": "neglect", "reference": "SG-1"}
VISIT_JSON = (
    '{"visited_on": "2026-11-18", "kind": "virtual", "purpose": "Meeting",'
    ' "outcome": "good", "notes": "Rotas%s reviewed"}'
)
SAFEGUARDING_JSON = '{"raised_on": "2026-11-18", "category": "neglect", "reference": "SG-%s1"}'
USER_JSON = (
    '{"email": "new@council.gov.uk", "name": "New%s Person", "role": "officer",'
    ' "password": "a long enough password"}'
)

CASES: list[tuple[str, str, dict[str, Any], int, str]] = [
    ("wrong type of date", "visits", {**VISIT, "visited_on": "next tuesday"}, 422, "visited_on"),
    ("unknown enum value", "visits", {**VISIT, "kind": "teleport"}, 422, "kind"),
    ("date in the future", "visits", {**VISIT, "visited_on": "2026-12-25"}, 422, "visited_on"),
    ("unknown field", "visits", {**VISIT, "colour": "blue"}, 422, "colour"),
    (
        "missing field",
        "safeguardings",
        {"raised_on": "2026-11-18", "category": "neglect"},
        422,
        "reference",
    ),
    ("string too long", "safeguardings", {**SAFEGUARDING, "reference": "x" * 51}, 422, "reference"),
    (
        "wrong boolean",
        "concerns",
        {"raised_on": "2026-11-01", "description": "d", "whole_service": "perhaps"},
        422,
        "whole_service",
    ),
    (
        "closing before opening",
        "complaints",
        {
            "received_on": "2026-11-10",
            "subject": "s",
            "status": "closed",
            "closed_on": "2026-11-01",
        },
        422,
        "closed_on",
    ),
    (
        "review before assessment",
        "financial-assurances",
        {"assessed_on": "2026-11-10", "risk": "green", "next_review_on": "2026-10-01"},
        422,
        "next_review_on",
    ),
    (
        "unknown risk",
        "financial-assurances",
        {"assessed_on": "2026-11-10", "risk": "purple"},
        422,
        "risk",
    ),
    ("negative hours are not a record", "visits", {**VISIT, "officer_id": 0}, 422, "officer_id"),
    ("officer who does not exist", "visits", {**VISIT, "officer_id": 99999}, 422, "officer_id"),
    # The document's types are the only ones taken (pydantic alone would convert these).
    (
        "a number where true or false belongs",
        "concerns",
        {"raised_on": "2026-11-01", "description": "d", "whole_service": 1},
        422,
        "whole_service",
    ),
    ("text where a number belongs", "visits", {**VISIT, "officer_id": "5"}, 422, "officer_id"),
    ("a timestamp for a date", "visits", {**VISIT, "visited_on": 1763510400}, 422, "visited_on"),
    ("only spaces where text is needed", "visits", {**VISIT, "purpose": "   "}, 422, "purpose"),
    (
        "new safeguarding already closed",
        "safeguardings",
        {**SAFEGUARDING, "status": "closed"},
        422,
        "status",
    ),
]


async def _stored(services: Services) -> int:
    from sqlalchemy import func, select

    async with services.database.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(Event)) or 0)


@pytest.mark.parametrize(
    ("label", "path", "body", "status", "field"), CASES, ids=[case[0] for case in CASES]
)
async def test_bad_record_is_refused_naming_the_field(
    world: World,
    services: Services,
    label: str,
    path: str,
    body: dict[str, Any],
    status: int,
    field: str,
) -> None:
    provider = await world.provider()
    before = await _stored(services)
    response = await world.post(f"/providers/{provider['id']}/{path}", body)
    assert response.status_code == status, response.text
    errors = response.json()["errors"]
    assert field in {e["field"] for e in errors}, errors
    assert all(e["problem"] for e in errors)
    assert await _stored(services) == before, f"{label}: something was stored"


async def test_a_record_for_a_provider_that_does_not_exist(
    world: World, services: Services
) -> None:
    before = await _stored(services)
    response = await world.post("/providers/424242/visits", VISIT)
    assert response.status_code == 404
    assert response.json()["errors"][0]["field"] == "provider_id"
    assert await _stored(services) == before


async def test_a_provider_with_an_unknown_officer_or_bad_values(world: World) -> None:
    response = await world.post("/providers", {"name": "X", "contract_officer_id": 4242})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "contract_officer_id"
    response = await world.post("/providers", {"name": "X", "weekly_hours": "lots"})
    assert response.json()["errors"][0]["field"] == "weekly_hours"
    response = await world.post("/providers", {"name": "X", "contract_type": "handshake"})
    assert response.json()["errors"][0]["field"] == "contract_type"
    listed = await world.get("/providers")
    assert listed.json()["total"] == 0


async def test_a_body_over_one_megabyte_is_refused(world: World) -> None:
    provider = await world.provider()
    body = {**VISIT, "notes": "x" * (1024 * 1024 + 10)}
    response = await world.post(f"/providers/{provider['id']}/visits", body)
    assert response.status_code == 413
    assert response.json()["errors"][0]["field"] == "body"

    # Streamed without a Content-Length, too.
    async def chunks() -> Any:
        for _ in range(20):
            yield b"x" * 65536

    response = await world.client.post(
        f"/api/v1/providers/{provider['id']}/visits",
        content=chunks(),
        headers={**world.headers["officer"], "Content-Type": "application/json"},
    )
    assert response.status_code == 413


async def test_broken_json_and_closing_a_safeguarding_without_an_outcome(world: World) -> None:
    provider = await world.provider()
    response = await world.client.post(
        f"/api/v1/providers/{provider['id']}/visits",
        content=b"{not json",
        headers={**world.headers["officer"], "Content-Type": "application/json"},
    )
    assert response.status_code == 422
    assert response.json()["errors"]
    raised = await world.post(f"/providers/{provider['id']}/safeguardings", SAFEGUARDING)
    response = await world.patch(f"/safeguardings/{raised.json()['id']}", {"status": "closed"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "outcome"
    assert (await world.get(f"/safeguardings/{raised.json()['id']}")).json()["status"] == "open"


async def test_page_size_is_capped(world: World) -> None:
    response = await world.get("/providers", limit=500)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "limit"


# Raw JSON text, so that the escapes reach the server exactly as a client wrote them.
UNSTORABLE = [("NUL", "\\u0000"), ("lone surrogate", "\\ud800")]
TEXT_CASES: list[tuple[str, str, str]] = [
    ("/providers", '{"name": "Harbour%s Care"}', "name"),
    ("/providers", '{"name": "H", "localities": ["North%s"]}', "localities.0"),
    ("/providers/{pid}/visits", VISIT_JSON, "notes"),
    ("/providers/{pid}/safeguardings", SAFEGUARDING_JSON, "reference"),
    ("/providers/{pid}/complaints", '{"received_on": "2026-11-01", "subject": "a%s"}', "subject"),
    ("/providers/{pid}/locations", '{"cqc_location_id": "1-1", "postcode": "P%s"}', "postcode"),
    ("/users", USER_JSON, "name"),
]


@pytest.mark.parametrize(("kind", "escape"), UNSTORABLE, ids=[u[0] for u in UNSTORABLE])
@pytest.mark.parametrize(("path", "template", "field"), TEXT_CASES, ids=[c[2] for c in TEXT_CASES])
async def test_text_the_database_cannot_store_is_refused_naming_the_field(
    world: World,
    services: Services,
    kind: str,
    escape: str,
    path: str,
    template: str,
    field: str,
) -> None:
    provider = await world.provider()
    before = await _stored(services)
    response = await world.client.post(
        "/api/v1" + path.format(pid=provider["id"]),
        content=(template % escape).encode(),
        headers={**world.headers["admin"], "Content-Type": "application/json"},
    )
    assert response.status_code == 422, response.text
    assert field in {e["field"] for e in response.json()["errors"]}, response.text
    assert await _stored(services) == before, f"{kind} in {field}: something was stored"


async def test_unstorable_text_in_a_patch_a_filter_or_a_sign_in_is_refused(world: World) -> None:
    provider = await world.provider()
    response = await world.client.patch(
        f"/api/v1/providers/{provider['id']}",
        content=b'{"name": "X\\u0000"}',
        headers={**world.headers["admin"], "Content-Type": "application/json"},
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "name"
    assert (await world.get(f"/providers/{provider['id']}")).json()["name"] == provider["name"]
    response = await world.get("/providers", name="Harbour\x00")
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "name"
    response = await world.client.post(
        "/api/v1/auth/token", data={"username": "admin@council.gov.uk\x00", "password": "x"}
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "username"


DATE_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("visits", {**VISIT, "visited_on": "1989-12-31"}, "visited_on"),
    ("safeguardings", {**SAFEGUARDING, "raised_on": "1066-10-14"}, "raised_on"),
    ("compliments", {"received_on": "1900-01-01", "summary": "Kind"}, "received_on"),
    (
        "financial-assurances",
        {"assessed_on": "2026-10-01", "risk": "green", "insurance_expires_on": "1970-01-01"},
        "insurance_expires_on",
    ),
    (
        "ratings",
        {"cqc_location_id": "1-101", "overall": "good", "rated_on": "1989-01-01"},
        "rated_on",
    ),
]


@pytest.mark.parametrize(("path", "body", "field"), DATE_CASES, ids=[c[2] for c in DATE_CASES])
async def test_a_date_before_1990_is_refused_with_a_clear_message(
    world: World, services: Services, path: str, body: dict[str, Any], field: str
) -> None:
    provider = await world.provider()
    before = await _stored(services)
    response = await world.post(f"/providers/{provider['id']}/{path}", body)
    assert response.status_code == 422, response.text
    assert {"field": field, "problem": "must be on or after 1 January 1990"} in response.json()[
        "errors"
    ]
    assert await _stored(services) == before
    on_the_floor = await world.post(
        f"/providers/{provider['id']}/visits", {**VISIT, "visited_on": "1990-01-01"}
    )
    assert on_the_floor.status_code == 201, on_the_floor.text
