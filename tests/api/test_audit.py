"""Every read and write of a safeguarding is on record, and the record cannot be changed."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from app.services import Services
from tests.conftest import World


async def _trail(world: World, **filters: object) -> list[dict[str, object]]:
    response = await world.get("/audit", role="admin", limit=200, **filters)
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


async def test_reads_and_writes_are_attributed(world: World) -> None:
    provider = await world.provider()
    pid = provider["id"]
    raised = await world.post(
        f"/providers/{pid}/safeguardings",
        {"raised_on": "2026-11-18", "category": "neglect", "reference": "SG-1"},
        role="safeguarding",
    )
    sid = raised.json()["id"]
    await world.get(f"/providers/{pid}/safeguardings", role="officer")
    await world.get(f"/safeguardings/{sid}", role="officer")
    await world.get(f"/providers/{pid}/timeline", role="viewer")
    await world.patch(f"/safeguardings/{sid}", {"status": "enquiry"}, role="safeguarding")
    await world.get(f"/providers/{pid}/complaints", role="viewer")  # not safeguarding data

    trail = await _trail(world, safeguarding_id=sid)
    seen = [(row["action"], row["user_id"]) for row in reversed(trail)]
    assert seen == [
        ("create", world.users["safeguarding"].id),
        ("list", world.users["officer"].id),
        ("read", world.users["officer"].id),
        ("timeline", world.users["viewer"].id),
        ("update", world.users["safeguarding"].id),
    ]
    assert all(row["route"] and row["client_address"] for row in trail)
    assert trail[-1]["route"] == "POST /api/v1/providers/{provider_id}/safeguardings"
    viewer_rows = await _trail(world, user_id=world.users["viewer"].id)
    assert [row["action"] for row in viewer_rows] == ["timeline"]


async def test_only_admins_read_the_trail(world: World) -> None:
    for role in ("manager", "officer", "safeguarding", "viewer"):
        assert (await world.get("/audit", role=role)).status_code == 403


async def test_retention_purges_only_rows_past_the_period(world: World, services: Services) -> None:
    from datetime import timedelta

    from app.jobs.tasks import purge_audit
    from app.models import SafeguardingAudit

    provider = await world.provider()
    await world.post(
        f"/providers/{provider['id']}/safeguardings",
        {"raised_on": "2026-11-18", "category": "neglect", "reference": "SG-1"},
    )
    async with services.database.transaction() as session:
        session.add(
            SafeguardingAudit(
                at=services.clock.now() - timedelta(days=2200),
                user_id=None,
                actor="user:0",
                action="read",
                route="GET /old",
                provider_id=None,
                safeguarding_id=None,
            )
        )
    assert len(await _trail(world)) == 2
    assert await purge_audit(services) == 1
    assert [row["route"] for row in await _trail(world)] == [
        "POST /api/v1/providers/{provider_id}/safeguardings"
    ]


async def test_the_database_refuses_to_change_or_delete_audit_rows(
    world: World,
    services: Services,
) -> None:
    provider = await world.provider()
    await world.post(
        f"/providers/{provider['id']}/safeguardings",
        {"raised_on": "2026-11-18", "category": "neglect", "reference": "SG-1"},
    )
    for statement in (
        "UPDATE safeguarding_audit SET action = 'nothing'",
        "DELETE FROM safeguarding_audit",
    ):
        with pytest.raises(DBAPIError):
            async with services.database.transaction() as session:
                await session.execute(text(statement))
    assert len(await _trail(world)) == 1
