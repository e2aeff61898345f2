"""The provider's own forms outside the record forms, registered from one table as
app/web/records.py does: each entry pairs a form (shown at its path and posted back to
the same path) with the service function that writes it. Stepping down, placements, the
improvement plan's new action, agreement and closure.

This module does not use postponed annotations: the route factory's parameter types
come from its arguments, and FastAPI must see them as real types."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from app.models.base import MonitoringLevel
from app.monitoring import decisions as monitoring
from app.monitoring import plans
from app.monitoring.errors import DeEscalationRefused
from app.monitoring.schemas import (
    DeEscalation,
    PlacementsChange,
    PlanAgreement,
    PlanClosure,
)
from app.records import queries
from app.records.service import WriteContext
from app.services import Services
from app.web import forms
from app.web.deps import FormDep, PageError, ProviderId, ServicesDep, Viewer, require
from app.web.formpages import form_page, submit
from app.web.forms import FormSpec

router = APIRouter(include_in_schema=False)

DecisionWrite = Callable[[AsyncSession, int, Any, WriteContext], Awaitable[Any]]


@dataclass(frozen=True)
class DecisionForm:
    spec: FormSpec
    path: str  # under /providers/{provider_id}/
    write: DecisionWrite
    done: str
    # The form for this provider, when it depends on the provider (the step-down form
    # offers only the levels below the current one).
    spec_for: Callable[[Services, int], Awaitable[FormSpec]] | None = None


async def _step_down_form(services: Services, provider_id: int) -> FormSpec:
    """The step-down form for this provider's level: only the levels below it."""
    async with services.database.sessions() as session:
        current = MonitoringLevel(
            (await queries.get_provider(session, provider_id))["monitoring_level"]
        )
    if current == MonitoringLevel.routine:
        raise PageError(
            409, "Cannot step down", "This provider is at routine monitoring, the lowest level."
        )
    return forms.de_escalate_form(current)


async def _de_escalate(
    session: AsyncSession, provider_id: int, data: DeEscalation, ctx: WriteContext
) -> Any:
    try:
        return await monitoring.de_escalate(
            session,
            provider_id=provider_id,
            to=data.to,
            reason=data.reason,
            override=data.override,
            policy=ctx.policy,
            actor=ctx.actor,
            now=ctx.clock.now(),
            today=ctx.clock.today(),
        )
    except DeEscalationRefused:
        await session.commit()  # the refusal itself is on record, as through the API
        raise


async def _placements(
    session: AsyncSession, provider_id: int, data: PlacementsChange, ctx: WriteContext
) -> Any:
    return await monitoring.set_placements_suspended(
        session,
        provider_id=provider_id,
        suspended=data.suspended,
        reason=data.reason,
        policy=ctx.policy,
        actor=ctx.actor,
        now=ctx.clock.now(),
        today=ctx.clock.today(),
    )


async def _add_action(
    session: AsyncSession, provider_id: int, data: plans.ActionIn, ctx: WriteContext
) -> Any:
    return await plans.add_action(
        session, provider_id=provider_id, data=data, actor=ctx.actor, now=ctx.clock.now()
    )


async def _agree(
    session: AsyncSession, provider_id: int, data: PlanAgreement, ctx: WriteContext
) -> Any:
    return await plans.agree_plan(
        session,
        provider_id=provider_id,
        agreed_on=data.agreed_on,
        actor=ctx.actor,
        now=ctx.clock.now(),
        today=ctx.clock.today(),
    )


async def _close(
    session: AsyncSession, provider_id: int, data: PlanClosure, ctx: WriteContext
) -> Any:
    return await plans.close_plan(
        session, provider_id=provider_id, reason=data.reason, actor=ctx.actor, now=ctx.clock.now()
    )


DECISION_FORMS: tuple[DecisionForm, ...] = (
    DecisionForm(
        forms.DE_ESCALATE_FORM,
        "de-escalate",
        _de_escalate,
        "Monitoring was stepped down",
        spec_for=_step_down_form,
    ),
    DecisionForm(
        forms.PLACEMENTS_FORM, "placements", _placements, "The placements decision was saved"
    ),
    DecisionForm(
        forms.ACTION_FORM, "plan/actions/new", _add_action, "The improvement action was added"
    ),
    DecisionForm(forms.AGREE_FORM, "plan/agree", _agree, "The improvement plan was marked agreed"),
    DecisionForm(forms.PLAN_CLOSE_FORM, "plan/close", _close, "The improvement plan was closed"),
)


def _register(entry: DecisionForm) -> None:
    Allowed = Annotated[Viewer, Depends(require(entry.spec.permission))]

    async def spec_of(services: Services, provider_id: int) -> FormSpec:
        if entry.spec_for is None:
            return entry.spec
        return await entry.spec_for(services, provider_id)

    async def show(
        request: Request, provider_id: ProviderId, viewer: Allowed, services: ServicesDep
    ) -> Response:
        spec = await spec_of(services, provider_id)
        defaults: dict[str, str] = {}
        for item in spec.fields:
            if item.kind == "date" and item.not_future:
                defaults.update(forms.date_values(item.name, services.clock.today()))
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
        viewer: Allowed,
        services: ServicesDep,
        form: FormDep,
    ) -> Response:
        spec = await spec_of(services, provider_id)
        context = WriteContext(
            actor=viewer.principal.actor, clock=services.clock, policy=services.policy
        )

        async def write(session: AsyncSession, data: BaseModel) -> Any:
            return await entry.write(session, provider_id, data, context)

        return await submit(
            request,
            viewer,
            services,
            spec,
            form,
            provider_id=provider_id,
            write=write,
            done=entry.done,
        )

    path = f"/providers/{{provider_id:int}}/{entry.path}"
    router.add_api_route(path, show, methods=["GET"], name=f"{entry.spec.kind}_form")
    router.add_api_route(path, save, methods=["POST"], name=f"{entry.spec.kind}_submit")


for _entry in DECISION_FORMS:
    _register(_entry)
