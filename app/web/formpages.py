"""A form's round trip, shared by every page area with forms: show the form, turn the post
into the schema's input, write it through the service function in one transaction, then
redirect to the provider's page with a banner, or show the form again with the GOV.UK
error summary and nothing stored."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Back:
    """Where a form's back and cancel links lead, and the caption above its title, for a
    form that is not about one provider (a new provider, a user account)."""

    url: str
    text: str
    caption: str = ""


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
    provider_id: int | None,
    action: str,
    values: dict[str, str] | None = None,
    errors: FormErrors | None = None,
    status: int = 200,
    back: Back | None = None,
) -> HTMLResponse:
    if back is None:
        assert provider_id is not None
        name = await provider_name(services, provider_id)
        back = Back(f"/providers/{provider_id}", f"Back to {name}", name)
    return render(
        request,
        "form.html",
        {
            "spec": spec,
            "provider_id": provider_id,
            "back": back,
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
    provider_id: int | None,
    write: Write,
    done: str | Callable[[Any], str],
    back: Back | None = None,
    done_url: Callable[[Any], str] | None = None,
    after: Callable[[Any], Awaitable[str]] | None = None,
) -> Response:
    """Validate, write through the service function and commit; or show the form again
    with the GOV.UK error summary and nothing stored. The banner says `done` (or what it
    makes of the result: "North was added"); `after` runs once the write is committed
    (fetching from CQC, say) and gives the banner's message instead."""
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
    message = done(result) if callable(done) else done
    if after is not None:
        message = await after(result)
    url = done_url(result) if done_url is not None else None
    return flash_redirect(request, services, provider_id, message, result, url=url)
