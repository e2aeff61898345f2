"""A seeded generator of a national-scale dataset: providers, one contracted location
each with a CQC rating, and records spread over five years in realistic proportions,
each with its event. Provider 1 has a long history (a share of the records, capped), for
the provider page's row. Bulk-inserted (no rule evaluation): benchmarks measure the
service, not the loading."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import insert

from app.db import Database
from app.models import (
    Complaint,
    Compliment,
    Concern,
    Event,
    FinancialAssurance,
    Location,
    Provider,
    Safeguarding,
    User,
    Visit,
)
from app.models.base import Role

RATINGS = (
    ["outstanding"] * 5
    + ["good"] * 74
    + ["requires_improvement"] * 15
    + ["inadequate"] * 2
    + ["not_rated"] * 4
)
# Of every 100 records: visits 40, safeguardings 15, complaints 15, compliments 20,
# financial checks 8, concerns 2.
KINDS = (
    ["visit"] * 40
    + ["safeguarding"] * 15
    + ["complaint"] * 15
    + ["compliment"] * 20
    + ["financial"] * 8
    + ["concern"] * 2
)
BATCH = 5000
# Provider 1's history: one record in LONG_HISTORY_SHARE, at most LONG_HISTORY_CAP.
LONG_HISTORY_SHARE = 50
LONG_HISTORY_CAP = 5000


async def generate(
    database: Database, *, providers: int, records: int, today: date, seed: int = 20261122
) -> dict[str, int]:
    rng = random.Random(seed)
    now = datetime.combine(today, time(9), UTC)
    async with database.transaction() as session:
        officer = User(
            email="bench.officer@bench-council.gov.uk",
            name="Bench Officer",
            role=Role.officer,
            password_hash="x",
            created_at=now,
        )
        session.add(officer)
        await session.flush()
        officer_id = officer.id
    provider_rows: list[dict[str, Any]] = [
        {
            "name": f"Provider {i:05d}",
            "contract_type": rng.choice(["spot", "block", "framework"]),
            "weekly_hours": rng.randint(50, 2000),
            "contract_officer_id": officer_id,
            "monitoring_level": rng.choices(["routine", "enhanced", "intensive"], [85, 12, 3])[0],
            "placements_suspended": rng.random() < 0.01,
            "next_visit_due_on": today + timedelta(days=rng.randint(-30, 90)),
            "acknowledged_firings": {},
            "created_at": now,
            "updated_at": now,
        }
        for i in range(providers)
    ]
    await _bulk(database, Provider, provider_rows)
    location_rows = []
    for i in range(providers):
        rating = rng.choice(RATINGS)
        location_rows.append(
            {
                "provider_id": i + 1,
                "cqc_location_id": f"1-{700000000 + i}",
                "overall_rating": rating,
                "overall_rated_on": today - timedelta(days=rng.randint(30, 2500)),
                **{
                    f"{q}_rating": rating
                    for q in ("safe", "effective", "caring", "responsive", "well_led")
                },
                "key_questions": {},
                # Synced before, as in a live database: a sync fetches what changed,
                # not every location as on the first run.
                "last_checked_at": now,
                "created_at": now,
            }
        )
    await _bulk(database, Location, location_rows)
    rows: dict[str, list[dict[str, Any]]] = {k: [] for k in set(KINDS)}
    events: list[dict[str, Any]] = []
    inserted = 0
    long_history = min(records // LONG_HISTORY_SHARE, LONG_HISTORY_CAP)
    for index in range(records):
        kind = rng.choice(KINDS)
        provider_id = 1 if index < long_history else rng.randint(1, providers)
        day = today - timedelta(days=int(rng.triangular(0, 5 * 365, 0)))
        rows[kind].append(_record(kind, provider_id, day, now, officer_id, rng, index))
        events.append(
            {
                "type": f"{kind}.recorded",
                "provider_id": provider_id,
                "actor": "job:bench",
                "data": {},
                "created_at": now,
            }
        )
        if len(events) >= BATCH or index == records - 1:
            for table_kind, batch in rows.items():
                if batch:
                    await _bulk(database, MODELS[table_kind], batch)
                    inserted += len(batch)
                    batch.clear()
            await _bulk(database, Event, events)
            events.clear()
    return {"providers": providers, "records": inserted}


def _record(
    kind: str,
    provider_id: int,
    day: date,
    now: datetime,
    officer_id: int | None,
    rng: random.Random,
    index: int,
) -> dict[str, Any]:
    base = {"provider_id": provider_id, "created_at": now, "created_by": officer_id}
    if kind == "visit":
        return {
            **base,
            "visited_on": day,
            "kind": "virtual",
            "purpose": "Contract meeting",
            "outcome": rng.choices(["good", "some_concerns", "serious_concerns"], [85, 13, 2])[0],
            "notes": "",
            "follow_up_actions": "",
            "officer_id": officer_id,
        }
    if kind == "safeguarding":
        closed = day < now.date() - timedelta(days=60)
        return {
            **base,
            "reference": f"B{index}",
            "raised_on": day,
            "category": "neglect",
            "summary": "",
            "status": "closed" if closed else "open",
            "outcome": rng.choice(["substantiated", "not_substantiated", "inconclusive"])
            if closed
            else None,
            "whole_service": rng.random() < 0.002,
            "closed_on": day + timedelta(days=30) if closed else None,
            "updated_at": now,
        }
    if kind == "complaint":
        return {
            **base,
            "received_on": day,
            "subject": "Late calls",
            "status": "closed",
            "upheld": rng.choice(["upheld", "partly_upheld", "not_upheld", "not_upheld"]),
            "closed_on": day,
            "updated_at": now,
        }
    if kind == "compliment":
        return {**base, "received_on": day, "summary": "Thank you"}
    if kind == "financial":
        return {
            **base,
            "assessed_on": day,
            "risk": rng.choices(["green", "amber", "red"], [85, 12, 3])[0],
            "notes": "",
            "next_review_on": day + timedelta(days=365),
            "insurance_expires_on": day + timedelta(days=365),
        }
    return {
        **base,
        "raised_on": day,
        "description": "Concern",
        "raised_by": "",
        "whole_service": False,
        "status": "closed",
        "closed_on": day,
        "updated_at": now,
    }


MODELS: dict[str, Any] = {
    "visit": Visit,
    "safeguarding": Safeguarding,
    "complaint": Complaint,
    "compliment": Compliment,
    "financial": FinancialAssurance,
    "concern": Concern,
}


async def _bulk(database: Database, model: Any, rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), BATCH):
        async with database.transaction() as session:
            await session.execute(insert(model), rows[start : start + BATCH])
