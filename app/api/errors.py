"""Error answers: every 4xx carries a JSON body naming the field and the problem."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import DomainError
from app.monitoring.errors import DeEscalationRefused


def _field(location: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in location if p not in ("body", "query", "path", "form", "header")]
    return ".".join(parts) or "body"


def problem(status_code: int, field: str, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse(
        status_code=status_code,
        content={
            "detail": f"{field}: {message}",
            "errors": [{"field": field, "problem": message}],
            **extra,
        },
    )


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, error: RequestValidationError) -> JSONResponse:
        errors = []
        for item in error.errors():
            message = str(item.get("msg", "is not valid"))
            if item.get("type") == "extra_forbidden":
                message = "is not a known field"
            elif item.get("type") == "missing":
                message = "is required"
            errors.append({"field": _field(item.get("loc", ())), "problem": message})
        detail = "; ".join(f"{e['field']}: {e['problem']}" for e in errors)
        return JSONResponse(status_code=422, content={"detail": detail, "errors": errors})

    @app.exception_handler(DomainError)
    async def _domain(_request: Request, error: DomainError) -> JSONResponse:
        extra = {"blockers": error.blockers} if isinstance(error, DeEscalationRefused) else {}
        return problem(error.status_code, error.field, error.problem, **extra)

    @app.exception_handler(DBAPIError)
    async def _database(_request: Request, error: DBAPIError) -> JSONResponse:
        # A connection lost with a database restart is the server's trouble, not the
        # client's, and passing: nothing was written, and a retry gets a new connection.
        if not error.connection_invalidated:
            raise error
        response = problem(503, "database", "the database connection was lost; try again")
        response.headers["Retry-After"] = "1"
        return response

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, error: StarletteHTTPException) -> JSONResponse:
        field = {
            401: "authorization",
            403: "authorization",
            404: "path",
            405: "method",
            413: "body",
            429: "username",
        }.get(error.status_code, "request")
        response = problem(error.status_code, field, str(error.detail))
        if error.headers:
            response.headers.update(error.headers)
        return response


class BodySizeLimit:
    """Refuse request bodies over the limit with 413, before any of it is parsed."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

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
        response = problem(413, "body", f"is larger than {self.max_bytes} bytes")
        await response(scope, receive, send)
