"""Updating an improvement action from the plan's table on the provider's page (each row
carries its own small form). The plan's other forms are pages of their own, registered in
app/web/decisions.py."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import NotFound
from app.monitoring import plans
from app.web import forms
from app.web.deps import ActionId, FormDep, PlanWriter, ProviderId, ServicesDep
from app.web.formpages import submit

router = APIRouter(include_in_schema=False)


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
