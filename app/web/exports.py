"""Downloads of the dashboard's provider table (/export/providers.csv and .xlsx): the
page's own filters and order, every row, the columns the reader's role may see; each
download is audited before the file leaves (app/reports/exports.py)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app.auth.audit import access_context
from app.auth.service import Principal
from app.reports import exports
from app.web.deps import Reader, ServicesDep

router = APIRouter(include_in_schema=False)


@router.get("/export/providers.csv")
async def providers_csv(request: Request, viewer: Reader, services: ServicesDep) -> Response:
    return await _download(request, viewer.principal, services, "csv")


@router.get("/export/providers.xlsx")
async def providers_xlsx(request: Request, viewer: Reader, services: ServicesDep) -> Response:
    return await _download(request, viewer.principal, services, "xlsx")


async def _download(
    request: Request,
    principal: Principal,
    services: ServicesDep,
    file_format: exports.ExportFormat,
) -> Response:
    file = await exports.providers_file(
        services,
        principal=principal,
        params=request.query_params,
        access=access_context(request),
        file_format=file_format,
        zone=ZoneInfo(services.settings.timezone),
    )
    return Response(file.body, media_type=file.media_type, headers=exports.attachment_headers(file))
