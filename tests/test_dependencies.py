"""No route's dependency is a plain function: FastAPI runs those in its thread pool, a
hand-off to another thread and back on every request (docs/PERFORMANCE.md)."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

from fastapi.routing import APIRoute
from fastapi.security import OAuth2PasswordRequestForm

from app.config import Settings
from app.main import create_app
from app.services import Services

# The login form is parsed by FastAPI's own class on one route; nothing else may be sync.
ALLOWED = {OAuth2PasswordRequestForm}


def _api_routes(routes: list[Any]) -> Iterator[APIRoute]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):  # an included router
            yield from _api_routes(route.original_router.routes)


def _calls(dependant: Any) -> Iterator[Any]:
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield sub.call
        yield from _calls(sub)


def _runs_in_the_thread_pool(call: Any) -> bool:
    if inspect.isclass(call):  # instantiated by FastAPI: always in the thread pool
        return call not in ALLOWED
    target = call if inspect.isfunction(call) else type(call).__call__  # an instance
    return not (inspect.iscoroutinefunction(target) or inspect.isasyncgenfunction(target))


async def test_every_dependency_and_endpoint_runs_in_the_request_task(
    settings: Settings, services: Services
) -> None:
    app = create_app(settings, services)
    routes = list(_api_routes(app.routes))
    assert len(routes) > 20
    offenders = sorted(
        f"{route.path}: {getattr(call, '__qualname__', call)}"
        for route in routes
        for call in (route.endpoint, *_calls(route.dependant))
        if _runs_in_the_thread_pool(call)
    )
    assert offenders == []
