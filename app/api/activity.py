"""The event log, a provider's timeline, alert deliveries and the dashboard figures."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from app.api.common import Id, IdFilter, Limit, Offset, safeguarding_out
from app.api.deps import Reader, ServicesDep, SessionDep
from app.api.schemas import DeliveryRead, EventRead, Page, TimelineItem
from app.models import Safeguarding
from app.models.base import DeliveryStatus
from app.records import queries

router = APIRouter(prefix="/api/v1", tags=["activity"])


@router.get("/providers/{provider_id}/timeline", response_model=Page[TimelineItem])
async def get_timeline(
    provider_id: Id, principal: Reader, session: SessionDep, limit: Limit = 50, offset: Offset = 0
) -> dict[str, Any]:
    """Every record and event of the provider, newest first."""
    page, records = await queries.timeline(session, provider_id, limit, offset)
    items = []
    for event in page.items:
        record = records.get(event.id)
        shown = None
        if isinstance(record, Safeguarding):
            shown = safeguarding_out(record, principal)
        elif record is not None:
            shown = record.model_dump()
        items.append({"event": event, "record": shown})
    return {"items": items, "total": page.total, "limit": limit, "offset": offset}


@router.get("/events", response_model=Page[EventRead])
async def list_events(
    _principal: Reader,
    session: SessionDep,
    provider_id: IdFilter = None,
    type: str | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> dict[str, Any]:
    page = await queries.list_events(
        session, provider_id=provider_id, event_type=type, limit=limit, offset=offset
    )
    return {"items": page.items, "total": page.total, "limit": limit, "offset": offset}


@router.get("/deliveries", response_model=Page[DeliveryRead])
async def list_deliveries(
    _principal: Reader,
    session: SessionDep,
    provider_id: IdFilter = None,
    status: DeliveryStatus | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> dict[str, Any]:
    """Alert deliveries with status, attempts and last error (e.g. ?status=failed)."""
    page = await queries.list_deliveries(
        session, provider_id=provider_id, status=status, limit=limit, offset=offset
    )
    return {"items": page.items, "total": page.total, "limit": limit, "offset": offset}


@router.get("/dashboard")
async def dashboard(
    _principal: Reader, services: ServicesDep, session: SessionDep
) -> dict[str, Any]:
    """Headline figures: providers by level and rating, overdue follow-up, alert health."""
    counts = await queries.dashboard_counts(session, services.clock.today())
    state = services.dispatcher.state
    counts["alert_sending_paused"] = state.paused_until is not None
    return counts
