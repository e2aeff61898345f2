"""CQC polling: its status, and starting a sync by hand (manager or admin)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, BackgroundTasks

from app.api.deps import MonitoringManager, Reader, ServicesDep, SessionDep
from app.api.errors import SIGNED_IN, errors
from app.cqc.sync import disabled_reason, queue_run, sync_changes, sync_status
from app.errors import Conflict

router = APIRouter(prefix="/api/v1", tags=["cqc"], responses=SIGNED_IN)


@router.post("/cqc/sync", status_code=202, responses=errors(409))
async def start_sync(
    _principal: MonitoringManager,
    services: ServicesDep,
    session: SessionDep,
    background: BackgroundTasks,
) -> dict[str, Any]:
    """Start a changes-driven sync now; follow it with GET /api/v1/cqc/status."""
    context = services.cqc_context()
    if context is None:
        raise Conflict("cqc_api_key", disabled_reason(services.settings) or "polling is off")
    run_id = await queue_run(session, services.clock)
    await session.commit()
    background.add_task(sync_changes, context, run_id)
    return {"run_id": run_id}


@router.get("/cqc/status")
async def status(_principal: Reader, services: ServicesDep) -> dict[str, Any]:
    """Whether polling is on (and why not), the last successful window, recent runs with
    their requests, changes, updates, unreadable ids and errors, the latest market
    benchmark, and `unreadable_locations`: tracked locations whose latest CQC answer could
    not be read (count; each with its failures, first and last time and the reason), which
    every sync fetches again until one reads."""
    return await sync_status(services.database, services.settings)
