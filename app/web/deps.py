"""What every page shares: who is signed in and what their role lets them open, the CSRF
check of a posted form, ids and query parameters made safe, and rendering a template or
redirecting after a post."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic_core import to_jsonable_python

from app.auth.permissions import Permission
from app.auth.service import Principal
from app.services import Services, services_of
from app.web.sessions import CSRF_FIELD, FLASH_COOKIE, codec, current_session, set_cookie
from app.web.templating import build_templates

templates = build_templates()

MAX_ID = 2_147_483_647


class LoginRequired(Exception):
    def __init__(self, next_path: str) -> None:
        self.next_path = next_path


class PageError(Exception):
    """An error shown as a page: not found, not allowed, an expired form."""

    def __init__(self, status: int, title: str, message: str) -> None:
        self.status = status
        self.title = title
        self.message = message


ServicesDep = Annotated[Services, Depends(services_of)]


@dataclass(frozen=True)
class Viewer:
    """The signed-in user of one page, and the CSRF token their forms carry."""

    principal: Principal
    csrf: str

    def can(self, permission: str) -> bool:
        return self.principal.can(Permission(permission))


async def signed_in(request: Request, services: ServicesDep) -> Viewer:
    found = await current_session(request, services)
    if found is None:
        raise LoginRequired(request.url.path)
    principal, csrf = found
    request.state.principal = principal
    return Viewer(principal, csrf)


ViewerDep = Annotated[Viewer, Depends(signed_in)]


def require(permission: Permission) -> Callable[..., Awaitable[Viewer]]:
    async def check(viewer: ViewerDep) -> Viewer:
        if not viewer.principal.can(permission):
            raise PageError(403, "You cannot do this", "Your role does not allow this page.")
        return viewer

    return check


Reader = Annotated[Viewer, Depends(require(Permission.read))]
PlanWriter = Annotated[Viewer, Depends(require(Permission.write_records))]
MonitoringManager = Annotated[Viewer, Depends(require(Permission.manage_monitoring))]


async def csrf_checked_form(request: Request, viewer: ViewerDep) -> dict[str, str]:
    """The submitted form, once its CSRF token matches the session's."""
    form = await request.form()
    submitted = form.get(CSRF_FIELD)
    if not isinstance(submitted, str) or not hmac.compare_digest(submitted, viewer.csrf):
        raise PageError(
            403, "This form has expired", "Go back, reload the page and submit the form again."
        )
    # A field posted more than once (a group of checkboxes) keeps every value, one a line.
    values: dict[str, list[str]] = {}
    for key, value in form.multi_items():
        if isinstance(value, str):
            values.setdefault(key, []).append(value)
    return {key: "\n".join(posted) for key, posted in values.items()}


FormDep = Annotated[dict[str, str], Depends(csrf_checked_form)]


def in_range(value: int) -> int:
    """Ids beyond the database's integer range cannot exist: a page, not a 422."""
    if not 1 <= value <= MAX_ID:
        raise PageError(404, "Page not found", "There is no such record.")
    return value


# Async, as every dependency here: FastAPI runs a plain function in its thread pool.
async def _provider_id(provider_id: int) -> int:
    return in_range(provider_id)


async def _action_id(action_id: int) -> int:
    return in_range(action_id)


async def _delivery_id(delivery_id: int) -> int:
    return in_range(delivery_id)


async def _record_id(record_id: int) -> int:
    return in_range(record_id)


ProviderId = Annotated[int, Depends(_provider_id)]
ActionId = Annotated[int, Depends(_action_id)]
DeliveryId = Annotated[int, Depends(_delivery_id)]
RecordId = Annotated[int, Depends(_record_id)]


def choice(value: str | None, allowed: set[str]) -> str | None:
    """A query parameter if it is one of the allowed values; nonsense is ignored."""
    return value if value in allowed else None


def int_param(value: str | None, default: int, low: int, high: int) -> int:
    """A whole-number query parameter, clamped; nonsense gives the default."""
    try:
        number = int(value) if value else default
    except ValueError:
        return default
    return min(max(number, low), high)


def render(
    request: Request,
    template: str,
    context: dict[str, Any],
    *,
    viewer: Viewer | None = None,
    status: int = 200,
) -> HTMLResponse:
    return templates.TemplateResponse(
        request,
        template,
        {"viewer": viewer, "csrf_field": CSRF_FIELD, **context},
        status_code=status,
    )


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def flash_redirect(
    request: Request,
    services: Services,
    provider_id: int | None,
    message: str,
    result: Any = None,
    *,
    url: str | None = None,
) -> Response:
    """Back to the provider's page (or `url`: a user's list, a new provider's page), which
    shows the message (and any escalation) once."""
    escalation = getattr(result, "escalation", None)
    # Reasons carry their evidence (dates, counts): made JSON-safe for the signed cookie.
    banner = to_jsonable_python(escalation.summary()) if escalation is not None else None
    response = redirect(url or f"/providers/{provider_id}")
    set_cookie(
        request,
        response,
        FLASH_COOKIE,
        codec(services).dump_flash({"message": message, "escalation": banner}),
        max_age=120,
    )
    return response
