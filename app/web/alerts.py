"""The alerts page: every alert email and text, to which provider, and where it stands
(sent, or written to a file when no SMTP server is configured), and a manager's retry of
a failed one."""

from __future__ import annotations

from math import ceil

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app.alerting.email import written_to_file
from app.alerting.retry import retry_delivery
from app.errors import DomainError
from app.models.base import DeliveryStatus
from app.records import queries
from app.web.deps import (
    DeliveryId,
    FormDep,
    MonitoringManager,
    PageError,
    Reader,
    ServicesDep,
    choice,
    int_param,
    redirect,
    render,
)

router = APIRouter(include_in_schema=False)

DELIVERIES_PAGE_SIZE = 50


@router.get("/alerts")
async def alerts_page(request: Request, viewer: Reader, services: ServicesDep) -> Response:
    status = choice(request.query_params.get("status"), {s.value for s in DeliveryStatus})
    page_number = int_param(request.query_params.get("page"), 1, 1, 100_000)
    async with services.database.sessions() as session:
        page = await queries.list_deliveries(
            session,
            status=status,
            limit=DELIVERIES_PAGE_SIZE,
            offset=(page_number - 1) * DELIVERIES_PAGE_SIZE,
        )
        by_status = await queries.delivery_counts(session)
        names = await queries.provider_names(
            session, {d.provider_id for d in page.items if d.provider_id is not None}
        )
    return render(
        request,
        "alerts.html",
        {
            "deliveries": page.items,
            "provider_names": names,
            "to_file": {d.id for d in page.items if written_to_file(d.message_id)},
            "total": page.total,
            "status": status or "",
            "statuses": [s.value for s in DeliveryStatus],
            "by_status": by_status,
            "page_number": page_number,
            "pages": max(1, ceil(page.total / DELIVERIES_PAGE_SIZE)),
            "retried": request.query_params.get("retried"),
        },
        viewer=viewer,
    )


@router.post("/alerts/{delivery_id:int}/retry")
async def alert_retry(
    delivery_id: DeliveryId, viewer: MonitoringManager, services: ServicesDep, _form: FormDep
) -> Response:
    try:
        async with services.database.transaction() as session:
            await retry_delivery(
                session, delivery_id, actor=viewer.principal.actor, now=services.clock.now()
            )
    except DomainError as error:
        raise PageError(error.status_code, "Cannot retry", error.problem) from None
    services.wake_event.set()
    return redirect(f"/alerts?retried={delivery_id}")
