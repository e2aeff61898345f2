"""The event log, a provider's timeline, alert deliveries and the dashboard figures."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request

from app.alerting.retry import retry_delivery
from app.api.common import Id, IdFilter, Limit, Offset, safeguarding_out
from app.api.deps import (
    MonitoringManager,
    Reader,
    ServicesDep,
    SessionDep,
    UserManager,
)
from app.api.schemas import AuditRead, DeliveryRead, EventRead, Page, TimelineItem
from app.auth.audit import audit_reads, list_audit
from app.models import Delivery, Safeguarding
from app.models.base import DeliveryStatus
from app.records import queries

router = APIRouter(prefix="/api/v1", tags=["activity"])


@router.get("/providers/{provider_id}/timeline", response_model=Page[TimelineItem])
async def get_timeline(
    request: Request,
    services: ServicesDep,
    provider_id: Id,
    principal: Reader,
    session: SessionDep,
    limit: Limit = 50,
    offset: Offset = 0,
) -> dict[str, Any]:
    """Every record and event of the provider, newest first."""
    page, records = await queries.timeline(session, provider_id, limit, offset)
    await audit_reads(
        request,
        services,
        principal,
        action="timeline",
        provider_id=provider_id,
        safeguarding_ids=[r.id for r in records.values() if isinstance(r, Safeguarding)],
    )
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


@router.post("/deliveries/{delivery_id}/retry", response_model=DeliveryRead)
async def retry_failed_delivery(
    delivery_id: Id, principal: MonitoringManager, services: ServicesDep, session: SessionDep
) -> Delivery:
    """Queue a failed delivery again (manager or admin); 409 unless it has failed."""
    delivery = await retry_delivery(
        session, delivery_id, actor=principal.actor, now=services.clock.now()
    )
    await session.commit()
    services.wake_event.set()
    return delivery


@router.get("/dashboard")
async def dashboard(
    _principal: Reader, services: ServicesDep, session: SessionDep
) -> dict[str, Any]:
    """Headline figures: providers by level and rating, overdue follow-up, alert health."""
    counts = await queries.dashboard_counts(session, services.clock.today())
    state = services.dispatcher.state
    counts["alert_sending_paused"] = state.paused_until is not None
    return counts


@router.get("/audit", response_model=Page[AuditRead])
async def read_audit(
    _principal: UserManager,
    session: SessionDep,
    user_id: IdFilter = None,
    safeguarding_id: IdFilter = None,
    provider_id: IdFilter = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> dict[str, Any]:
    """The safeguarding access trail (admins): who read or wrote which record, when and
    from where, newest first."""
    rows, total = await list_audit(
        session,
        user_id=user_id,
        safeguarding_id=safeguarding_id,
        provider_id=provider_id,
        since=since,
        until=until,
        limit=limit,
        offset=offset,
    )
    return {"items": rows, "total": total, "limit": limit, "offset": offset}
