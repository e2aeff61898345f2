"""The dashboard's provider table as a file over the API: /api/v1/exports/providers.csv
and .xlsx, with the dashboard's filters and order, every row, the caller's role's
columns, and the same audit as the page's download (app/reports/exports.py)."""

from __future__ import annotations

from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from app.api.deps import Reader, ServicesDep
from app.api.errors import SIGNED_IN, errors
from app.api.listing import IdFilter, Search
from app.auth.audit import access_context
from app.inputs import Omissible, drop_null_defaults
from app.models.base import MonitoringLevel, Rating
from app.records.dashboard import SORT_KEYS, TILES
from app.reports import exports

router = APIRouter(prefix="/api/v1", tags=["exports"], responses=SIGNED_IN)

SortKey = Literal[SORT_KEYS]  # type: ignore[valid-type]
Tile = Literal[TILES]  # type: ignore[valid-type]


class ExportQuery(BaseModel):
    """The dashboard's query parameters; anything else is refused (400)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=drop_null_defaults)

    officer: Omissible[IdFilter | Literal["all"]] = Field(
        default=None, description="the contract officer's id, or all (the default)"
    )
    locality: Omissible[Search] = Field(default=None, description="one of the localities")
    level: Omissible[MonitoringLevel] = Field(default=None, description="monitoring level")
    rating: Omissible[Rating] = Field(default=None, description="worst current CQC rating")
    show: Omissible[Tile] = Field(
        default=None, description="only the providers one of the dashboard's tiles counts"
    )
    sort: SortKey = Field(default="name", description="the column the rows are sorted by")
    order: Literal["asc", "desc"] = "asc"


FILE_ANSWERS = {
    200: {
        "description": "every provider the filters select, as a file to download",
        "content": {media: {} for media in exports.MEDIA_TYPES.values()},
    },
    **errors(400, 422),
}


async def _file(
    request: Request,
    principal: Reader,
    services: ServicesDep,
    query: ExportQuery,
    file_format: exports.ExportFormat,
) -> Response:
    params = {
        key: str(value.value if hasattr(value, "value") else value)
        for key, value in query.model_dump(exclude_none=True).items()
    }
    file = await exports.providers_file(
        services,
        principal=principal,
        params=params,
        access=access_context(request),
        file_format=file_format,
        zone=ZoneInfo(services.settings.timezone),
        own_first=False,  # the API answers what it is asked: every officer's, unless named
    )
    return Response(file.body, media_type=file.media_type, headers=exports.attachment_headers(file))


@router.get("/exports/providers.csv", response_class=Response, responses=FILE_ANSWERS)
async def export_providers_csv(
    request: Request,
    principal: Reader,
    services: ServicesDep,
    query: Annotated[ExportQuery, Query()],
) -> Response:
    """The dashboard's providers as CSV (UTF-8): a viewer's file has no safeguarding
    columns; a role that reads safeguarding details gets the open safeguardings'
    references too, each on the access audit. Every export is an event on the log."""
    return await _file(request, principal, services, query, "csv")


@router.get("/exports/providers.xlsx", response_class=Response, responses=FILE_ANSWERS)
async def export_providers_xlsx(
    request: Request,
    principal: Reader,
    services: ServicesDep,
    query: Annotated[ExportQuery, Query()],
) -> Response:
    """The same as providers.csv, as a spreadsheet: real dates, a filter on each column and
    a sheet saying what the list covers."""
    return await _file(request, principal, services, query, "xlsx")
