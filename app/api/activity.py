"""The event log, a provider's timeline, alert deliveries and the dashboard figures."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from app.alerting.retry import retry_delivery
from app.api.common import Id, event_out, safeguarding_out, safeguardings_in
from app.api.deps import (
    MonitoringManager,
    Reader,
    ServicesDep,
    SessionDep,
    UserManager,
)
from app.api.errors import SIGNED_IN, errors
from app.api.listing import AuditFilters, DeliveryFilters, EventFilters, ListQuery, page
from app.api.names import with_names
from app.api.schemas import AuditRead, DeliveryRead, EventRead, Page, TimelineItem
from app.auth.audit import audit_reads, list_audit
from app.auth.permissions import Permission
from app.models import Delivery, Safeguarding
from app.records import queries

router = APIRouter(prefix="/api/v1", tags=["activity"], responses=SIGNED_IN)


@router.get(
    "/providers/{provider_id}/timeline",
    response_model=Page[TimelineItem],
    responses=errors(400, 404, 422),
)
async def get_timeline(
    request: Request,
    services: ServicesDep,
    provider_id: Id,
    principal: Reader,
    session: SessionDep,
    query: Annotated[ListQuery, Query()],
) -> Page[Any]:
    """Every record and event of the provider, newest first."""
    found, records = await queries.timeline(session, provider_id, query.limit, query.offset)
    shown_ids = [r.id for r in records.values() if isinstance(r, Safeguarding)]
    shown_ids += [i for i in safeguardings_in(found.items) if i not in shown_ids]
    await audit_reads(
        request,
        services,
        principal,
        action="timeline",
        provider_id=provider_id,
        safeguarding_ids=shown_ids,
    )
    items = []
    for event in found.items:
        record = records.get(event.id)
        shown = None
        if isinstance(record, Safeguarding):
            shown = safeguarding_out(record, principal)
        elif record is not None:
            shown = record.model_dump()
        items.append({"event": event_out(event, principal), "record": shown})
    await with_names(
        session,
        [part for item in items for part in (item["event"], item["record"]) if part is not None],
        "actor",
        "officer_id",
        "created_by",
    )
    return page(items, found.total, query)


@router.get("/events", response_model=Page[EventRead], responses=errors(400, 422))
async def list_events(
    request: Request,
    services: ServicesDep,
    principal: Reader,
    session: SessionDep,
    query: Annotated[EventFilters, Query()],
) -> Page[Any]:
    """The event log, newest first, of one provider or one type if asked. A
    safeguarding's category and outcomes are shown only to the roles that may read
    safeguarding details, and each showing is on the access audit trail."""
    found = await queries.list_events(
        session,
        provider_id=query.provider_id,
        event_type=query.type,
        limit=query.limit,
        offset=query.offset,
    )
    if principal.can(Permission.read_safeguarding_detail):
        await audit_reads(
            request,
            services,
            principal,
            action="events",
            provider_id=query.provider_id,
            safeguarding_ids=safeguardings_in(found.items),
        )
    shown = [event_out(event, principal) for event in found.items]
    events = await with_names(session, shown, "actor")
    return page(events, found.total, query)


@router.get("/deliveries", response_model=Page[DeliveryRead], responses=errors(400, 422))
async def list_deliveries(
    _principal: Reader, session: SessionDep, query: Annotated[DeliveryFilters, Query()]
) -> Page[Any]:
    """Alert deliveries with status, attempts and last error (e.g. ?status=failed)."""
    found = await queries.list_deliveries(
        session,
        provider_id=query.provider_id,
        status=query.status,
        limit=query.limit,
        offset=query.offset,
    )
    return page(found.items, found.total, query)


@router.post(
    "/deliveries/{delivery_id}/retry",
    response_model=DeliveryRead,
    responses=errors(404, 409, 422),
)
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


@router.get("/audit", response_model=Page[AuditRead], responses=errors(400, 422))
async def read_audit(
    _principal: UserManager, session: SessionDep, query: Annotated[AuditFilters, Query()]
) -> Page[Any]:
    """The safeguarding access trail (admins): who read or wrote which record, when and
    from where, newest first."""
    rows, total = await list_audit(
        session,
        user_id=query.user_id,
        safeguarding_id=query.safeguarding_id,
        provider_id=query.provider_id,
        since=query.since,
        until=query.until,
        limit=query.limit,
        offset=query.offset,
    )
    shown = await with_names(session, [row.model_dump() for row in rows], "actor")
    return page(shown, total, query)
