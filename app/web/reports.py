"""The managers' reports page (/reports): choose a quarter, download the quarterly market
quality report as PDF or spreadsheet. Managers and admins only; each download is an event
on the log."""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app.records.dashboard import national_distribution
from app.reports import papers, quarterly
from app.web.deps import MonitoringManager, ServicesDep, render

router = APIRouter(include_in_schema=False)

QUARTERS_OFFERED = 8  # this quarter and the seven before it


@dataclass(frozen=True)
class ChoiceError:
    field: str
    message: str


async def _page(
    request: Request,
    viewer: MonitoringManager,
    services: ServicesDep,
    *,
    chosen: str | None = None,
    error: ChoiceError | None = None,
) -> Response:
    current = quarterly.Quarter.containing(services.clock.today())
    quarters = [current]
    while len(quarters) < QUARTERS_OFFERED:
        quarters.append(quarters[-1].previous())
    async with services.database.sessions() as session:
        national = await national_distribution(session)
    return render(
        request,
        "reports.html",
        {
            "quarters": quarters,
            # The last whole quarter first: the one a paper is usually about.
            "chosen": chosen or current.previous().code,
            "national": national,
            "region": services.settings.region,
            "error": error,
        },
        viewer=viewer,
        status=400 if error else 200,
    )


@router.get("/reports")
async def reports_page(
    request: Request, viewer: MonitoringManager, services: ServicesDep
) -> Response:
    return await _page(request, viewer, services)


@router.get("/reports/quarterly")
async def quarterly_report(
    request: Request, viewer: MonitoringManager, services: ServicesDep
) -> Response:
    params = request.query_params
    file_format = params.get("format", "pdf")
    if file_format not in papers.FORMATS:
        return await _page(
            request,
            viewer,
            services,
            chosen=params.get("quarter"),
            error=ChoiceError("quarter", "Choose PDF or spreadsheet"),
        )
    try:
        quarter = quarterly.Quarter.parse(params.get("quarter", ""))
    except quarterly.QuarterError:
        return await _page(
            request,
            viewer,
            services,
            error=ChoiceError("quarter", "Choose a quarter from the list"),
        )
    zone = ZoneInfo(services.settings.timezone)
    file = await papers.quarterly_file(
        quarterly.ReportServices(
            services.database, services.clock, services.policy, zone, services.settings.region
        ),
        quarter,
        file_format,
        actor=viewer.principal.actor,
    )
    return Response(
        file.body,
        media_type=file.media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{file.filename}"',
            "Cache-Control": "no-store",
        },
    )
