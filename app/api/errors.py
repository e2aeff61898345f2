"""Error answers: every 4xx and 5xx carries one JSON shape, a Problem naming each field
and its problem, and the OpenAPI document says so (the `errors(...)` table each route
lists its answers from). A browser gets a page instead: error_page, given by
app/main.py, decides and renders it. A database out of reach is a 503 with
Retry-After, never a 500."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.db import UNAVAILABLE_ERRORS, unavailable
from app.errors import DomainError
from app.monitoring.errors import DeEscalationRefused


class FieldProblem(BaseModel):
    field: str = Field(description="the field, query parameter or part of the request")
    problem: str


class Problem(BaseModel):
    """The body of every error answer."""

    detail: str = Field(description="every problem in one line: 'field: problem; ...'")
    errors: list[FieldProblem]
    blockers: list[str] = Field(
        default_factory=list, description="only on a refused step down: what still stands"
    )


_WHY = {
    400: "An unknown query parameter (named in errors), or a body that cannot be parsed",
    401: "No bearer token, or one that is invalid, expired or revoked",
    403: "The caller's role or the token's scope does not allow this",
    404: "No such provider or record",
    409: "Conflicts with the current state (named in errors)",
    413: "The request body is over the size limit",
    422: "A field is missing or not valid (each named in errors)",
    429: "Too many failed sign-ins; wait before trying again",
    503: "The database cannot be reached for a moment; retry after Retry-After seconds",
}
_HEADERS = {
    401: {"WWW-Authenticate": {"schema": {"type": "string"}}},
    429: {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds"}},
    503: {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds"}},
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The documented error answers of a route (or of a whole router)."""
    return {
        code: {"model": Problem, "description": _WHY[code], "headers": _HEADERS.get(code, {})}
        for code in codes
    }


# What most routes can answer: the caller's credentials and the database.
SIGNED_IN = errors(401, 403, 503)


def _text(part: Any) -> str:
    # A field name comes from the client (an unknown key): keep it printable as JSON
    # even when it holds a lone surrogate.
    return str(part).encode("utf-8", "backslashreplace").decode("utf-8")


def _field(location: tuple[Any, ...] | list[Any]) -> str:
    parts = [_text(p) for p in location if p not in ("body", "query", "path", "form", "header")]
    return ".".join(parts) or "body"


def answer(
    status_code: int,
    problems: list[tuple[str, str]],
    *,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """The one error answer: every handler below ends here."""
    return JSONResponse(
        status_code=status_code,
        content={
            "detail": "; ".join(f"{field}: {problem}" for field, problem in problems),
            "errors": [{"field": field, "problem": problem} for field, problem in problems],
            **extra,
        },
        headers=headers,
    )


def problem(status_code: int, field: str, message: str, **extra: Any) -> JSONResponse:
    return answer(status_code, [(field, message)], **extra)


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def _allowed_methods(request: Request) -> str:
    """Every method the request's path takes, whichever route serves each: the app's
    routes are asked whether they would take the path with that method."""
    allowed = []
    for method in _METHODS:
        probe: Scope = {
            "type": "http",
            "path": request.scope["path"],
            "root_path": request.scope.get("root_path", ""),
            "method": method,
        }
        if any(
            not isinstance(route, Mount) and route.matches(probe)[0] == Match.FULL
            for route in request.app.router.routes
        ):
            allowed.append(method)
    return ", ".join(allowed)


_HTTP_FIELD = {
    401: "authorization",
    403: "authorization",
    404: "path",
    405: "method",
    413: "body",
    429: "username",
}


# The page for a status, or None when the request wants JSON.
ErrorPage = Callable[[Request, int], Response | None]


def _no_page(_request: Request, _status: int) -> Response | None:
    return None


def install_error_handlers(app: FastAPI, error_page: ErrorPage = _no_page) -> None:
    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, error: RequestValidationError) -> Response:
        if (page := error_page(request, 400)) is not None:
            return page
        problems = []
        unknown_parameter = False
        for item in error.errors():
            message = str(item.get("msg", "is not valid"))
            location = item.get("loc", ())
            if item.get("type") == "extra_forbidden":
                in_query = bool(location) and location[0] == "query"
                unknown_parameter |= in_query
                message = "is not a known query parameter" if in_query else "is not a known field"
            elif item.get("type") == "missing":
                message = "is required"
            problems.append((_field(location), message))
        # An unknown filter is a request the route does not understand at all (400);
        # a known field with a bad value is one it understood and refused (422).
        return answer(400 if unknown_parameter else 422, problems)

    @app.exception_handler(DomainError)
    async def _domain(request: Request, error: DomainError) -> Response:
        if (page := error_page(request, error.status_code)) is not None:
            return page
        extra = {"blockers": error.blockers} if isinstance(error, DeEscalationRefused) else {}
        return problem(error.status_code, error.field, error.problem, **extra)

    async def _unavailable(request: Request, error: Exception) -> Response:
        # A database restarting, failing over or busy is the server's trouble, not the
        # client's, and passing: a retry gets a new connection.
        if not unavailable(error):
            raise error
        if (page := error_page(request, 503)) is not None:
            page.headers["Retry-After"] = "1"
            return page
        return answer(
            503,
            [("database", "the database is unavailable; try again")],
            headers={"Retry-After": "1"},
        )

    for kind in UNAVAILABLE_ERRORS:
        app.add_exception_handler(kind, _unavailable)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, error: StarletteHTTPException) -> Response:
        headers = dict(error.headers or {})
        if error.status_code == 405:
            # Starlette names only the methods of the one route it tried; a path served
            # by several routes (GET and POST /providers) takes them all.
            headers["Allow"] = _allowed_methods(request)
        if (page := error_page(request, error.status_code)) is not None:
            page.headers.update(headers)
            return page
        field = _HTTP_FIELD.get(error.status_code, "request")
        return answer(error.status_code, [(field, str(error.detail))], headers=headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, _error: Exception) -> Response:
        # Starlette logs the exception and raises it on after this answer is sent.
        return error_page(request, 500) or problem(500, "server", "an unexpected error")


class BodySizeLimit:
    """Refuse request bodies over the limit with 413, before any of it is parsed."""

    def __init__(self, app: ASGIApp, max_bytes: int, error_page: ErrorPage = _no_page) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.error_page = error_page

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                await self._refuse(scope, receive, send)
                return
        received = 0
        too_large = False
        refused = False

        async def counting_receive() -> Message:
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    too_large = True
                    # The app sees the body end here; its answer is replaced below.
                    return {"type": "http.request", "body": b"", "more_body": False}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal refused
            if not too_large:
                await send(message)
            elif not refused:
                refused = True
                await self._refuse(scope, receive, send)

        await self.app(scope, counting_receive, guarded_send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = self.error_page(Request(scope), 413) or problem(
            413, "body", f"is larger than {self.max_bytes} bytes"
        )
        await response(scope, receive, send)
