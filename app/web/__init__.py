"""The web front: GOV.UK Frontend pages served beside the JSON API. deps.py holds what
every page shares; each page area is a module with its own router, assembled here."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware

from app.auth.oidc import CouncilSignIn
from app.config import Settings
from app.web import (
    alerts,
    contracts,
    dashboard,
    decisions,
    exports,
    imports,
    login,
    market,
    mywork,
    plans,
    providers,
    records,
    reports,
    users,
)
from app.web.errors import install_page_errors

STATIC_DIR = Path(__file__).resolve().parent / "static"
PAGE_AREAS = (
    login,
    dashboard,
    providers,
    contracts,
    records,
    plans,
    decisions,
    alerts,
    users,
    mywork,
    market,
    exports,
    reports,
    imports,
)


def install_web(app: FastAPI) -> None:
    """Mount the pages, their assets (vendored by `make frontend`) and their error pages
    (the app's other errors reach `error_page` through app/api/errors.py)."""
    for area in PAGE_AREAS:
        app.include_router(area.router)
    # GOV.UK Frontend's stylesheet asks for its fonts and images under /assets.
    app.mount("/assets", StaticFiles(directory=STATIC_DIR / "govuk" / "assets"), name="assets")
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    install_page_errors(app)
    settings: Settings = app.state.settings
    if settings.oidc_enabled:
        install_council_sign_in(app, settings)


# Long enough to sign in at the provider (a password, a second factor), no longer.
SIGN_IN_WINDOW_SECONDS = 600


def install_council_sign_in(app: FastAPI, settings: Settings) -> None:
    """The council's OpenID Connect provider. authlib keeps the state, nonce and PKCE
    verifier of a sign-in under way in request.session: Starlette's signed-cookie session,
    sent only to /login/oidc and its callback and gone after ten minutes, so no other
    page has or needs it (carewatch's own sessions are rows, app/web/sessions.py)."""
    app.state.council_sign_in = CouncilSignIn(settings)
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.secret_key.get_secret_value() + ":oidc-sign-in",
        session_cookie="carewatch_oidc",
        max_age=SIGN_IN_WINDOW_SECONDS,
        path="/login/oidc",
        same_site="lax",
        https_only=settings.base_url.startswith("https://"),
    )
