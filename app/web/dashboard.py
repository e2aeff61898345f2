"""The intelligence dashboard: the tiles (each links to the providers it counts), the CQC
ratings beside England's with when those were last fetched (a manager can fetch them
again from the page), and the table of providers with its filters, totals, sorting and
pages."""

from __future__ import annotations

from math import ceil
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.responses import Response

from app.cqc.sync import run_market_benchmark
from app.market import queries as market_queries
from app.models.base import MonitoringLevel, Rating
from app.records import dashboard, queries
from app.web.deps import (
    FormDep,
    MonitoringManager,
    PageError,
    Reader,
    ServicesDep,
    int_param,
    redirect,
    render,
)

router = APIRouter(include_in_schema=False)

TABLE_PAGE_SIZE = 100


@router.get("/")
async def dashboard_page(request: Request, viewer: Reader, services: ServicesDep) -> Response:
    params = request.query_params
    own = viewer.principal.user
    filters = dashboard.read_table_filters(
        params,
        own_officer_id=own.id if own.role == "officer" else None,  # an officer's own first
        limit=TABLE_PAGE_SIZE,
    )
    officer_id = filters.officer_id
    rating = filters.rating.value if filters.rating else None
    page_number = int_param(params.get("page"), 1, 1, 100_000)
    filters.offset = (page_number - 1) * TABLE_PAGE_SIZE
    today = services.clock.today()
    async with services.database.sessions() as session:
        counts = await queries.dashboard_counts(session, today)
        tiles = await dashboard.tile_counts(session, today)
        table = await dashboard.provider_table(session, today, filters)
        national = await dashboard.national_distribution(session)
        officers = await dashboard.officers(session)
        counting = await dashboard.benchmark_running_since(session, services.clock.now())
        market_tiles = await market_queries.market_tiles(session, today)
    selected = {
        "officer": "all" if officer_id is None else str(officer_id),
        "locality": filters.locality or "",
        "level": filters.level or "",
        "rating": rating or "",
        "show": filters.tile or "",
    }

    def link(**changes: Any) -> str:
        query = {**selected, "sort": filters.sort, "order": "desc" if filters.descending else ""}
        query.update({key: str(value) for key, value in changes.items()})
        return "/?" + urlencode({key: value for key, value in query.items() if value})

    def export_link(extension: str) -> str:
        """The whole filtered list, in the table's order, as a file."""
        query = {**selected, "sort": filters.sort, "order": "desc" if filters.descending else ""}
        shown = urlencode({key: value for key, value in query.items() if value})
        return f"/export/providers.{extension}?{shown}"

    return render(
        request,
        "dashboard.html",
        {
            "counts": counts,
            "tiles": tiles,
            "market_tiles": market_tiles,
            "table": table,
            "cqc_enabled": services.cqc_context() is not None,
            "counting_since": counting,
            "fetching": params.get("fetching") == "1",
            "chart": _rating_chart(counts["providers_by_rating"], national),
            "national": national,
            "officers": officers,
            "selected": selected,
            "filters": filters,
            "page_number": page_number,
            "pages": max(1, ceil(table.total / TABLE_PAGE_SIZE)),
            "link": link,
            "export_link": export_link,
            "ratings": [r.value for r in Rating],
            "levels": [m.value for m in MonitoringLevel],
        },
        viewer=viewer,
    )


@router.post("/")
async def fetch_national_figures(
    viewer: MonitoringManager,
    services: ServicesDep,
    _form: FormDep,
    background: BackgroundTasks,
) -> Response:
    """A manager fetches England's figures now: the market benchmark the scheduler runs
    weekly, started after the answer (it pages through every home care location)."""
    context = services.cqc_context()
    if context is None:
        raise PageError(
            409,
            "Cannot fetch the national figures",
            "The CQC connection is not set up: ask an administrator to add the CQC "
            "subscription key.",
        )
    async with services.database.sessions() as session:
        if await dashboard.benchmark_running_since(session, services.clock.now()) is not None:
            raise PageError(
                409,
                "Cannot fetch the national figures",
                "A count of England's figures is already under way.",
            )
    background.add_task(run_market_benchmark, context)
    return redirect("/?fetching=1")


def _rating_chart(council: dict[str, int], national: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Each rating's share here and nationally, as rows for the table and its bars."""
    council_total = sum(council.values()) or 1
    national_counts: dict[str, int] = (national or {}).get("national", {}) or {}
    national_total = sum(national_counts.values()) or 1
    rows = []
    for rating in ("outstanding", "good", "requires_improvement", "inadequate", "not_rated"):
        here = council.get(rating, 0)
        there = national_counts.get(rating, 0)
        rows.append(
            {
                "rating": rating,
                "council": here,
                "council_pct": round(100 * here / council_total),
                "national": there if national else None,
                "national_pct": round(100 * there / national_total) if national else None,
            }
        )
    return rows
