"""The record forms under a provider (a visit, a safeguarding, a complaint, a compliment, a
financial check, a concern): each is registered from the one table below, pairing its form
with the service function that writes it, as app/api/records.py does for the API.

This module does not use postponed annotations: the route factory's parameter types
come from its arguments, and FastAPI must see them as real types."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.audit import access_context, add_access_rows
from app.records import service as records
from app.records.service import WriteContext, WriteResult
from app.web import forms
from app.web.deps import FormDep, ProviderId, ServicesDep, Viewer, require
from app.web.formpages import form_page, submit
from app.web.forms import FormSpec

router = APIRouter(include_in_schema=False)

CreateFn = Callable[[AsyncSession, int, Any, WriteContext], Awaitable[WriteResult[Any]]]


@dataclass(frozen=True)
class RecordForm:
    spec: FormSpec
    create: CreateFn


RECORD_FORMS: tuple[RecordForm, ...] = (
    RecordForm(forms.VISIT_FORM, records.record_visit),
    RecordForm(forms.SAFEGUARDING_FORM, records.record_safeguarding),
    RecordForm(forms.COMPLAINT_FORM, records.record_complaint),
    RecordForm(forms.COMPLIMENT_FORM, records.record_compliment),
    RecordForm(forms.FINANCIAL_FORM, records.record_financial_assurance),
    RecordForm(forms.CONCERN_FORM, records.record_concern),
)


def _register(entry: RecordForm) -> None:
    spec = entry.spec
    Writer = Annotated[Viewer, Depends(require(spec.permission))]

    async def show(
        request: Request, provider_id: ProviderId, viewer: Writer, services: ServicesDep
    ) -> Response:
        today = services.clock.today()
        defaults: dict[str, str] = {}
        for item in spec.fields:
            if item.kind == "date" and item.required:
                defaults.update(forms.date_values(item.name, today))
        return await form_page(
            request,
            viewer,
            services,
            spec,
            provider_id=provider_id,
            action=request.url.path,
            values=defaults,
        )

    async def save(
        request: Request,
        provider_id: ProviderId,
        viewer: Writer,
        services: ServicesDep,
        form: FormDep,
    ) -> Response:
        context = WriteContext(
            actor=viewer.principal.actor, clock=services.clock, policy=services.policy
        )

        async def write(session: AsyncSession, data: BaseModel) -> Any:
            result = await entry.create(session, provider_id, data, context)
            if spec.audited:  # in the write's own transaction: no record without its audit row
                add_access_rows(
                    session,
                    principal=viewer.principal,
                    action="create",
                    provider_id=provider_id,
                    safeguarding_ids=[result.record.id],
                    access=access_context(request),
                    at=services.clock.now(),
                )
            return result

        return await submit(
            request,
            viewer,
            services,
            spec,
            form,
            provider_id=provider_id,
            write=write,
            done=f"The {spec.noun} was saved",
        )

    path = f"/providers/{{provider_id:int}}/record/{spec.kind}"
    router.add_api_route(path, show, methods=["GET"], name=f"{spec.kind}_form")
    router.add_api_route(path, save, methods=["POST"], name=f"{spec.kind}_submit")


for _entry in RECORD_FORMS:
    _register(_entry)
