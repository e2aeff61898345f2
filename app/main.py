"""create_app(settings): routers, error handlers, and a lifespan that runs the dispatcher
(and, later, the scheduler) beside the web process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse

from app.api import activity, auth, cqc, monitoring, providers, records
from app.api.errors import BodySizeLimit, install_error_handlers
from app.config import Settings
from app.jobs.scheduler import SchedulerLeader
from app.migrations import current_revision, head_revision
from app.services import Services, build_services

log = logging.getLogger(__name__)


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
    )
    app.state.services = services
    app.state.settings = settings
    install_error_handlers(app)

    api = APIRouter(prefix="/api/v1")
    for module in (auth, providers, records, monitoring, activity, cqc):
        api.include_router(module.router)
    app.include_router(api)

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"])
    async def readyz() -> JSONResponse:
        """The database answers and its schema is at the newest migration."""
        try:
            revision = await current_revision(services.database.engine)
        except Exception:
            return JSONResponse({"status": "unavailable", "database": "unreachable"}, 503)
        expected = head_revision()
        if revision != expected:
            return JSONResponse(
                {"status": "unavailable", "schema": revision, "expected": expected}, 503
            )
        return JSONResponse({"status": "ok", "schema": revision})

    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    return app
