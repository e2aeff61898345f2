"""The web front: GOV.UK Frontend pages served beside the JSON API. deps.py holds what
every page shares; each page area is a module with its own router, assembled here."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from app.web import alerts, dashboard, login, market, monitoring, plans, providers, records
from app.web.errors import install_page_errors

STATIC_DIR = Path(__file__).resolve().parent / "static"
PAGE_AREAS = (login, dashboard, providers, records, plans, monitoring, alerts, market)


def install_web(app: FastAPI) -> None:
    """Mount the pages, their assets (vendored by `make frontend`) and their error pages
    (the app's other errors reach `error_page` through app/api/errors.py)."""
    for area in PAGE_AREAS:
        app.include_router(area.router)
    # GOV.UK Frontend's stylesheet asks for its fonts and images under /assets.
    app.mount("/assets", StaticFiles(directory=STATIC_DIR / "govuk" / "assets"), name="assets")
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    install_page_errors(app)
