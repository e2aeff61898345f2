"""An officer's week (/my-work): visits due this week and overdue, visits' follow-up
actions and improvement actions due, open safeguardings and concerns of their own
providers, and plans awaiting agreement, each linking to its own page. Managers see
everyone's, with the officer named. Showing a safeguarding's details is on the access
audit; a viewer sees counts only."""

from __future__ import annotations

from itertools import groupby

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app.auth.audit import audit_reads
from app.auth.permissions import Permission
from app.records import workload
from app.web.deps import Reader, ServicesDep, render
from app.web.forms import SAFEGUARDING_CATEGORIES

router = APIRouter(include_in_schema=False)


@router.get("/my-work")
async def my_work_page(request: Request, viewer: Reader, services: ServicesDep) -> Response:
    today = services.clock.today()
    everyone = viewer.principal.can(Permission.manage_monitoring)
    detail = viewer.principal.can(Permission.read_safeguarding_detail)
    async with services.database.sessions() as session:
        week = await workload.my_week(
            session,
            today,
            None if everyone else viewer.principal.user.id,
            safeguarding_details=detail,
        )
    if detail:
        by_provider = groupby(
            sorted(week.safeguardings, key=lambda s: s["provider_id"]),
            key=lambda s: s["provider_id"],
        )
        for provider_id, shown in by_provider:
            await audit_reads(
                request,
                services,
                viewer.principal,
                action="web_my_work",
                provider_id=provider_id,
                safeguarding_ids=[s["id"] for s in shown],
            )
    return render(
        request,
        "my_work.html",
        {
            "week": week,
            "today": today,
            "everyone": everyone,
            "detail": detail,
            "category_labels": {choice.value: choice.label for choice in SAFEGUARDING_CATEGORIES},
        },
        viewer=viewer,
    )
