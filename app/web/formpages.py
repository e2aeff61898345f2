"""A form's round trip, shared by every page area with forms: show the form, turn the post
into the schema's input, write it through the service function in one transaction, then
redirect to the provider's page with a banner, or show the form again with the GOV.UK
error summary and nothing stored."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import DomainError, NotFound
from app.monitoring.errors import DeEscalationRefused
from app.records import queries
from app.services import Services
from app.web import forms
from app.web.deps import PageError, Viewer, flash_redirect, render
from app.web.forms import FormErrors, FormSpec

Write = Callable[[AsyncSession, BaseModel], Awaitable[Any]]


async def provider_name(services: Services, provider_id: int) -> str:
    async with services.database.sessions() as session:
        try:
            provider = await queries.get_provider(session, provider_id)
        except NotFound:
            raise PageError(404, "Page not found", "There is no such provider.") from None
    return str(provider["name"])


async def form_page(
    request: Request,
    viewer: Viewer,
    services: Services,
    spec: FormSpec,
    *,
    provider_id: int,
    action: str,
    values: dict[str, str] | None = None,
    errors: FormErrors | None = None,
    status: int = 200,
    back: tuple[str, str] | None = None,
) -> HTMLResponse:
    """The form; `back` is the page it returns to, (url, name), the provider's unless
    given (a record's own page)."""
    name = await provider_name(services, provider_id)
    back_url, back_name = back or (f"/providers/{provider_id}", name)
    return render(
        request,
        "form.html",
        {
            "spec": spec,
            "provider_id": provider_id,
            "provider_name": name,
            "back_url": back_url,
            "back_name": back_name,
            "action": action,
            "values": values or {},
            "errors": errors or FormErrors(),
            "today": services.clock.today(),
        },
        viewer=viewer,
        status=status,
    )


async def submit(
    request: Request,
    viewer: Viewer,
    services: Services,
    spec: FormSpec,
    form: dict[str, str],
    *,
    provider_id: int,
    write: Write,
    done: str,
    back: tuple[str, str] | None = None,
) -> Response:
    """Validate, write through the service function and commit; or show the form again
    with the GOV.UK error summary and nothing stored. Success returns to `back` (a
    record's page) or the provider's, with the banner."""
    values = forms.form_values(spec, form)
    data, errors = forms.parse(spec, values, services.clock.today())
    result: Any = None
    if data is not None:
        try:
            async with services.database.transaction() as session:
                result = await write(session, data)
        except DeEscalationRefused as refusal:
            errors.add("to", "Cannot step down yet: " + "; ".join(refusal.blockers))
        except DomainError as error:
            errors.add(*forms.domain_message(spec, error.field, error.problem))
    if errors:
        return await form_page(
            request,
            viewer,
            services,
            spec,
            provider_id=provider_id,
            action=request.url.path,
            values=values,
            errors=errors,
            status=400,
            back=back,
        )
    return flash_redirect(
        request, services, provider_id, done, result, to=back[0] if back else None
    )
