"""A manager's monitoring decisions on a provider: stepping monitoring down (refused while
rules still fire, unless overridden with a reason) and suspending or lifting new
placements."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from app.models.base import MonitoringLevel
from app.monitoring import decisions as monitoring
from app.monitoring.errors import DeEscalationRefused
from app.monitoring.schemas import DeEscalation, PlacementsChange
from app.records import queries
from app.services import Services
from app.web import forms
from app.web.deps import FormDep, MonitoringManager, PageError, ProviderId, ServicesDep
from app.web.formpages import form_page, submit

router = APIRouter(include_in_schema=False)


@router.get("/providers/{provider_id:int}/de-escalate")
async def de_escalate_form(
    request: Request, provider_id: ProviderId, viewer: MonitoringManager, services: ServicesDep
) -> Response:
    return await form_page(
        request,
        viewer,
        services,
        await _step_down_form(services, provider_id),
        provider_id=provider_id,
        action=request.url.path,
    )


async def _step_down_form(services: Services, provider_id: int) -> forms.FormSpec:
    """The form for this provider's level: only the levels below it are offered."""
    async with services.database.sessions() as session:
        current = MonitoringLevel(
            (await queries.get_provider(session, provider_id))["monitoring_level"]
        )
    if current == MonitoringLevel.routine:
        raise PageError(
            409, "Cannot step down", "This provider is at routine monitoring, the lowest level."
        )
    return forms.de_escalate_form(current)


@router.post("/providers/{provider_id:int}/de-escalate")
async def de_escalate_submit(
    request: Request,
    provider_id: ProviderId,
    viewer: MonitoringManager,
    services: ServicesDep,
    form: FormDep,
) -> Response:

    async def write(session: AsyncSession, data: BaseModel) -> Any:
        assert isinstance(data, DeEscalation)
        try:
            return await monitoring.de_escalate(
                session,
                provider_id=provider_id,
                to=data.to,
                reason=data.reason,
                override=data.override,
                policy=services.policy,
                actor=viewer.principal.actor,
                now=services.clock.now(),
                today=services.clock.today(),
            )
        except DeEscalationRefused:
            await session.commit()  # the refusal itself is on record, as through the API
            raise

    return await submit(
        request,
        viewer,
        services,
        await _step_down_form(services, provider_id),
        form,
        provider_id=provider_id,
        write=write,
        done="Monitoring was stepped down",
    )


@router.get("/providers/{provider_id:int}/placements")
async def placements_form(
    request: Request, provider_id: ProviderId, viewer: MonitoringManager, services: ServicesDep
) -> Response:
    return await form_page(
        request,
        viewer,
        services,
        forms.PLACEMENTS_FORM,
        provider_id=provider_id,
        action=request.url.path,
    )


@router.post("/providers/{provider_id:int}/placements")
async def placements_submit(
    request: Request,
    provider_id: ProviderId,
    viewer: MonitoringManager,
    services: ServicesDep,
    form: FormDep,
) -> Response:

    async def write(session: AsyncSession, data: BaseModel) -> Any:
        assert isinstance(data, PlacementsChange)
        return await monitoring.set_placements_suspended(
            session,
            provider_id=provider_id,
            suspended=data.suspended,
            reason=data.reason,
            policy=services.policy,
            actor=viewer.principal.actor,
            now=services.clock.now(),
            today=services.clock.today(),
        )

    return await submit(
        request,
        viewer,
        services,
        forms.PLACEMENTS_FORM,
        form,
        provider_id=provider_id,
        write=write,
        done="The placements decision was saved",
    )
