"""create_app(settings): routers, error handlers, and a lifespan that runs the dispatcher
(and, later, the scheduler) beside the web process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, HTTPException, Request
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse, JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy.ext.asyncio import AsyncSession

from app.api import (
    activity,
    auth,
    cqc,
    exports,
    market,
    monitoring,
    notify,
    providers,
    records,
)
from app.api.errors import BodySizeLimit, install_error_handlers
from app.api.middleware import RequestContext
from app.api.scim import install_scim
from app.api.security import SecurityHeaders, inline_script_hashes
from app.auth.permissions import Permission
from app.auth.service import principal_for
from app.auth.throttle import LoginThrottle
from app.config import Settings
from app.jobs.scheduler import SchedulerLeader
from app.market.queries import locality_gauges
from app.metrics import domain_snapshot, render
from app.migrations import current_revision, head_revision
from app.records.queries import dashboard_counts
from app.services import Services, build_services
from app.web import install_web
from app.web.errors import error_page

log = logging.getLogger(__name__)
SWAGGER_UI = "/static/swagger-ui"  # app/web/static/swagger-ui, vendored by `make frontend`


def create_app(settings: Settings, services: Services | None = None) -> FastAPI:
    """Build the application. Nothing global: every collaborator hangs off app.state."""
    services = services or build_services(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        tasks: list[asyncio.Task[None]] = []
        if settings.dispatcher_enabled:
            services.wake_event.set()  # sweep once at start: a restart picks up leftovers
            tasks.append(
                asyncio.create_task(
                    services.dispatcher.run_forever(
                        services.wake_event, settings.dispatch_sweep_seconds
                    ),
                    name="dispatcher",
                )
            )
        if settings.scheduler_enabled:
            leader = SchedulerLeader(services)
            app.state.scheduler = leader
            tasks.append(asyncio.create_task(leader.run(), name="scheduler"))
        try:
            yield
        finally:
            # Let the dispatcher finish the message in hand rather than cancel it between
            # the SMTP answer and recording it; cancel whatever does not stop in time.
            services.dispatcher.stopping = True
            services.wake_event.set()
            dispatching = [t for t in tasks if t.get_name() == "dispatcher"]
            if dispatching:
                await asyncio.wait(dispatching, timeout=15)
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await services.close()

    app = FastAPI(
        title="carewatch",
        summary="Provider quality monitoring for adult social care commissioning",
        version="0.1.0",
        lifespan=lifespan,
        # /docs is served below from the vendored Swagger UI, not from a CDN; no ReDoc.
        docs_url=None,
        redoc_url=None,
    )
    app.state.services = services
    app.state.settings = settings
    install_error_handlers(app, error_page)

    # One level of inclusion, so each route's template is its full path (metrics labels).
    for module in (auth, exports, providers, records, monitoring, activity, cqc, notify, market):
        app.include_router(module.router)
    install_scim(app)
    install_web(app)
    docs_scripts = install_docs(app)

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"])
    async def readyz() -> JSONResponse:
        """The database answers and its schema is at the newest migration."""
        try:
            revision = await current_revision(services.database.reader)
        except Exception:
            return JSONResponse({"status": "unavailable", "database": "unreachable"}, 503)
        expected = head_revision()
        if revision != expected:
            return JSONResponse(
                {"status": "unavailable", "schema": revision, "expected": expected}, 503
            )
        return JSONResponse({"status": "ok", "schema": revision})

    @app.get("/metrics", include_in_schema=False)
    async def metrics(request: Request) -> Response:
        """Prometheus text format. Needs CAREWATCH_METRICS_TOKEN (or a personal token with
        the metrics scope) as a bearer token; with neither configured, loopback only."""
        async with services.database.sessions() as session:
            await authorise_metrics(request, services, session)
            counts = await dashboard_counts(session, services.clock.today())
            counts["localities"] = await locality_gauges(session, services.clock.today())
            snapshot = await domain_snapshot(session, counts)
        return Response(render(services.metrics, snapshot), media_type=CONTENT_TYPE_LATEST)

    app.state.login_throttle = LoginThrottle.from_settings(settings)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes, error_page=error_page)
    app.add_middleware(SecurityHeaders, script_hashes=docs_scripts)
    app.add_middleware(RequestContext, metrics=services.metrics)
    return app


def install_docs(app: FastAPI) -> dict[str, tuple[str, ...]]:
    """The interactive API docs from Swagger UI's files under /static (vendored from npm by
    `make frontend`), so they work offline. Both pages are fixed, so each inline script is
    allowed by its hash; returns them by path for the Content-Security-Policy."""
    docs_url, redirect_url = "/docs", app.swagger_ui_oauth2_redirect_url
    assert app.openapi_url is not None and redirect_url is not None
    docs_page = bytes(
        get_swagger_ui_html(
            openapi_url=app.openapi_url,
            title=f"{app.title}: API documentation",
            swagger_js_url=f"{SWAGGER_UI}/swagger-ui-bundle.js",
            swagger_css_url=f"{SWAGGER_UI}/swagger-ui.css",
            swagger_favicon_url=f"{SWAGGER_UI}/favicon-32x32.png",
            oauth2_redirect_url=redirect_url,
            # No badge from validator.swagger.io: nothing leaves the browser for elsewhere.
            swagger_ui_parameters={"validatorUrl": None},
        ).body
    )
    redirect_page = bytes(get_swagger_ui_oauth2_redirect_html().body)

    @app.get(docs_url, include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return HTMLResponse(docs_page)

    @app.get(redirect_url, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return HTMLResponse(redirect_page)

    return {
        docs_url: inline_script_hashes(docs_page),
        redirect_url: inline_script_hashes(redirect_page),
    }


async def authorise_metrics(request: Request, services: Services, session: AsyncSession) -> None:
    settings = services.settings
    header = request.headers.get("authorization", "")
    token = header[7:].strip() if header.lower().startswith("bearer ") else ""
    if token:
        configured = settings.metrics_token.get_secret_value() if settings.metrics_token else ""
        if configured and secrets.compare_digest(token.encode(), configured.encode()):
            return
        principal = await principal_for(session, token, services.clock.now())
        if principal is not None and principal.can(Permission.read_metrics):
            return
        raise HTTPException(403, "this token may not read metrics")
    if settings.metrics_token is None:
        client = request.client.host if request.client else ""
        if client in ("127.0.0.1", "::1", "localhost") or client.startswith("127."):
            return
    raise HTTPException(401, "a bearer token is required", headers={"WWW-Authenticate": "Bearer"})
