"""The web front: GOV.UK Frontend pages served beside the JSON API. deps.py holds what
every page shares; each page area is a module with its own router, assembled here."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from app.web import alerts, dashboard, login, monitoring, plans, providers, records
from app.web.deps import LoginRequired, PageError, render

STATIC_DIR = Path(__file__).resolve().parent / "static"
PAGE_AREAS = (login, dashboard, providers, records, plans, monitoring, alerts)


def install_web(app: FastAPI) -> None:
    """Mount the pages, their assets (vendored by `make frontend`) and their error pages."""
    for area in PAGE_AREAS:
        app.include_router(area.router)
    # GOV.UK Frontend's stylesheet asks for its fonts and images under /assets.
    app.mount("/assets", StaticFiles(directory=STATIC_DIR / "govuk" / "assets"), name="assets")
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, error: LoginRequired) -> Response:
        return RedirectResponse("/login?" + urlencode({"next": error.next_path}), status_code=303)

    @app.exception_handler(PageError)
    async def page_error(request: Request, error: PageError) -> Response:
        return render(
            request,
            "error.html",
            {"title": error.title, "message": error.message},
            status=error.status,
        )
