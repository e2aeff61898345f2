"""The improvement plan's forms on a provider's page: add an action, update one, and mark
the plan agreed with the provider."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import NotFound
from app.monitoring import plans
from app.monitoring.schemas import PlanAgreement
from app.web import forms
from app.web.deps import ActionId, FormDep, PlanWriter, ProviderId, ServicesDep
from app.web.formpages import form_page, submit

router = APIRouter(include_in_schema=False)


@router.get("/providers/{provider_id:int}/plan/actions/new")
async def action_form(
    request: Request, provider_id: ProviderId, viewer: PlanWriter, services: ServicesDep
) -> Response:
    return await form_page(
        request,
        viewer,
        services,
        forms.ACTION_FORM,
        provider_id=provider_id,
        action=f"/providers/{provider_id}/plan/actions",
    )


@router.post("/providers/{provider_id:int}/plan/actions")
async def action_add(
    request: Request,
    provider_id: ProviderId,
    viewer: PlanWriter,
    services: ServicesDep,
    form: FormDep,
) -> Response:

    async def write(session: AsyncSession, data: BaseModel) -> Any:
        assert isinstance(data, plans.ActionIn)
        return await plans.add_action(
            session,
            provider_id=provider_id,
            data=data,
            actor=viewer.principal.actor,
            now=services.clock.now(),
        )

    return await submit(
        request,
        viewer,
        services,
        forms.ACTION_FORM,
        form,
        provider_id=provider_id,
        write=write,
        done="The improvement action was added",
    )


@router.post("/providers/{provider_id:int}/plan/actions/{action_id:int}")
async def action_update(
    request: Request,
    provider_id: ProviderId,
    action_id: ActionId,
    viewer: PlanWriter,
    services: ServicesDep,
    form: FormDep,
) -> Response:

    async def write(session: AsyncSession, data: BaseModel) -> Any:
        assert isinstance(data, plans.ActionUpdate)
        action = await plans.update_action(
            session,
            action_id=action_id,
            data=data,
            actor=viewer.principal.actor,
            now=services.clock.now(),
            today=services.clock.today(),
        )
        if action.provider_id != provider_id:
            raise NotFound("action_id", "this provider has no such improvement action")
        return action

    return await submit(
        request,
        viewer,
        services,
        forms.ACTION_UPDATE_FORM,
        form,
        provider_id=provider_id,
        write=write,
        done="The improvement action was updated",
    )


@router.post("/providers/{provider_id:int}/plan/agree")
async def plan_agree(
    request: Request,
    provider_id: ProviderId,
    viewer: PlanWriter,
    services: ServicesDep,
    form: FormDep,
) -> Response:

    async def write(session: AsyncSession, data: BaseModel) -> Any:
        assert isinstance(data, PlanAgreement)
        return await plans.agree_plan(
            session,
            provider_id=provider_id,
            agreed_on=data.agreed_on,
            actor=viewer.principal.actor,
            now=services.clock.now(),
            today=services.clock.today(),
        )

    return await submit(
        request,
        viewer,
        services,
        forms.AGREE_FORM,
        form,
        provider_id=provider_id,
        write=write,
        done="The improvement plan was marked agreed",
    )
