"""The service as the benchmark serves it: one uvicorn worker over the benchmark database,
plus a bare baseline route that inserts the same visit row with one raw SQL statement
(no auth, no event, no rules, no routing), so the write path is compared with the least
any endpoint could do in the same process; and, for the mixed workload, routes that run
the sweep and a CQC sync (against a fake CQC in this process) in the serving process, as
the scheduler runs its jobs there.

    python -m bench.server --database-url URL --port N
"""

from __future__ import annotations

import argparse
import gc
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import text

from app.cqc.sync import sync_changes
from app.jobs.tasks import evaluate_time_rules
from app.main import create_app
from app.services import build_services
from bench.scenarios import MIXED_SYNC_CHANGES, bench_settings
from tests.fakes.cqc_server import FakeCqc

ROOT = Path(__file__).resolve().parent.parent
INSERT_VISIT = text(
    "INSERT INTO visits (provider_id, visited_on, kind, purpose, outcome, notes, "
    "follow_up_actions, created_at) VALUES (:provider_id, :visited_on, :kind, :purpose, "
    ":outcome, :notes, '', :created_at)"
)


def build(database_url: str) -> FastAPI:
    # No dispatcher: the write path ends at the outbox row.
    fake = FakeCqc(api_key="bench-key")
    # The generator's first locations, rated today: each sync's answers are newer than
    # what is held, so the sync writes them as real changes would be written.
    changed = [f"1-{700000000 + i}" for i in range(MIXED_SYNC_CHANGES)]
    for location_id in changed:
        fake.add_location(location_id, rating="good", rated_on=date.today().isoformat())
    settings = bench_settings(
        database_url,
        outbox_dir=ROOT / "var" / "bench" / "outbox",
        cqc_api_key=SecretStr(fake.api_key),
        cqc_base_url="http://cqc.bench/public/v1",
    )
    services = build_services(settings, cqc_transport=httpx.ASGITransport(app=fake.app()))
    app = create_app(settings, services)

    @app.post("/bench/jobs/sweep", include_in_schema=False)
    async def sweep() -> dict[str, bool]:
        await evaluate_time_rules(services)
        return {"ok": True}

    @app.post("/bench/jobs/cqc-sync", include_in_schema=False)
    async def cqc_sync() -> dict[str, bool]:
        context = services.cqc_context()
        assert context is not None
        at = datetime.now(UTC)
        for location_id in changed:
            fake.change(location_id, at)
        await sync_changes(context)
        return {"ok": True}

    @app.post("/bench/baseline/providers/{provider_id}/visits", include_in_schema=False)
    async def baseline(provider_id: int, body: dict[str, Any]) -> dict[str, bool]:
        async with services.database.transaction() as session:
            await session.execute(
                INSERT_VISIT,
                {
                    "provider_id": provider_id,
                    "visited_on": date.fromisoformat(body["visited_on"]),
                    "kind": body["kind"],
                    "purpose": body["purpose"],
                    "outcome": body["outcome"],
                    "notes": body.get("notes", ""),
                    "created_at": datetime.now(UTC),
                },
            )
        return {"ok": True}

    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--port", type=int, required=True)
    options = parser.parse_args()
    app = build(options.database_url)
    gc.freeze()  # as python -m app serve does
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=options.port,
        workers=1,
        log_level="warning",
        access_log=False,
    )


if __name__ == "__main__":
    main()
