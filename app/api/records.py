"""Visits, safeguardings, complaints, compliments, financial assurances and concerns:
create and list under a provider; by id, read, update or correct, mark entered in error
and read the change history; visits' follow-up actions.

This module does not use postponed annotations: the route factory's parameter types
come from its arguments, and FastAPI must see them as real types."""

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel

from app.api import schemas as out
from app.api.common import Id, change_out, safeguarding_out, written
from app.api.deps import (
    Reader,
    RecordWriter,
    SafeguardingWriter,
    ServicesDep,
    SessionDep,
    write_context,
)
from app.api.errors import SIGNED_IN, errors
from app.api.listing import CaseFilters, RecordFilters, SafeguardingFilters, page
from app.api.names import with_names
from app.api.schemas import VisitDetail
from app.auth.audit import access_context, add_access_rows, audit_reads
from app.auth.permissions import Permission
from app.auth.service import Principal
from app.models import (
    Complaint,
    Compliment,
    Concern,
    FinancialAssurance,
    Safeguarding,
    Visit,
    VisitAction,
)
from app.records import queries, schemas
from app.records import service as records
from app.records.service import WriteContext, WriteResult

router = APIRouter(prefix="/api/v1", tags=["records"], responses=SIGNED_IN)

Serializer = Callable[[Any, Principal], dict[str, Any]]
CreateFn = Callable[[AsyncSession, int, Any, WriteContext], Awaitable[WriteResult[Any]]]


def _plain(record: SQLModel, _principal: Principal) -> dict[str, Any]:
    return record.model_dump()


def _register(
    *,
    path: str,
    noun: str,
    model: type[SQLModel],
    body_type: type[BaseModel],
    writer: Any,
    create: CreateFn,
    read: type[BaseModel],
    written_type: type[BaseModel],
    filters: type[RecordFilters] = RecordFilters,
    serialize: Serializer = _plain,
    people: tuple[str, ...] = (),
    audited: bool = False,
) -> None:
    async def create_route(
        request: Request,
        provider_id: Id,
        body: body_type,  # type: ignore[valid-type]
        principal: writer,
        services: ServicesDep,
        session: SessionDep,
    ) -> dict[str, Any]:
        result = await create(session, provider_id, body, write_context(services, principal))
        if audited:  # in the write's own transaction: no record without its audit row
            add_access_rows(
                session,
                principal=principal,
                action="create",
                provider_id=provider_id,
                safeguarding_ids=[result.record.id],
                access=access_context(request),
                at=services.clock.now(),
            )
        await session.commit()
        shown = {**serialize(result.record, principal), **written(result)}
        return (await with_names(session, [shown], "created_by", *people))[0]

    async def list_route(
        request: Request,
        provider_id: Id,
        principal: Reader,
        services: ServicesDep,
        session: SessionDep,
        query: Annotated[filters, Query()],  # type: ignore[valid-type]
    ) -> out.Page[Any]:
        asked: RecordFilters = query
        found = await queries.list_records(
            session,
            model,
            provider_id,
            since=asked.since,
            until=asked.until,
            status=getattr(asked, "status", None),
            limit=asked.limit,
            offset=asked.offset,
        )
        if audited:
            await audit_reads(
                request,
                services,
                principal,
                action="list",
                provider_id=provider_id,
                safeguarding_ids=[r.id for r in found.items],
            )
        shown = [serialize(r, principal) for r in found.items]
        return page(
            await with_names(session, shown, "created_by", "entered_in_error_by", *people),
            found.total,
            asked,
        )

    create_route.__doc__ = f"Record a {noun}; the answer shows the provider's resulting level."
    list_route.__doc__ = f"The provider's {noun}s, newest first, optionally within dates."
    router.add_api_route(
        f"/providers/{{provider_id}}/{path}",
        create_route,
        methods=["POST"],
        status_code=201,
        response_model=written_type,
        responses=errors(400, 404, 413, 422),
        name=f"create_{path.replace('-', '_')}",
    )
    router.add_api_route(
        f"/providers/{{provider_id}}/{path}",
        list_route,
        methods=["GET"],
        response_model=out.Page[read],  # type: ignore[valid-type]
        responses=errors(400, 404, 422),
        name=f"list_{path.replace('-', '_')}",
    )


_register(
    path="visits",
    noun="visit or contract meeting",
    model=Visit,
    body_type=schemas.VisitIn,
    writer=RecordWriter,
    create=records.record_visit,
    read=out.VisitRead,
    written_type=out.VisitWritten,
    people=("officer_id",),
)
_register(
    path="safeguardings",
    noun="safeguarding",
    model=Safeguarding,
    body_type=schemas.SafeguardingIn,
    writer=SafeguardingWriter,
    create=records.record_safeguarding,
    read=out.SafeguardingRead,
    written_type=out.SafeguardingWritten,
    filters=SafeguardingFilters,
    serialize=safeguarding_out,
    audited=True,
)
_register(
    path="complaints",
    noun="complaint",
    model=Complaint,
    body_type=schemas.ComplaintIn,
    writer=RecordWriter,
    create=records.record_complaint,
    read=out.ComplaintRead,
    written_type=out.ComplaintWritten,
    filters=CaseFilters,
)
_register(
    path="compliments",
    noun="compliment",
    model=Compliment,
    body_type=schemas.ComplimentIn,
    writer=RecordWriter,
    create=records.record_compliment,
    read=out.ComplimentRead,
    written_type=out.ComplimentWritten,
)
_register(
    path="financial-assurances",
    noun="financial assurance",
    model=FinancialAssurance,
    body_type=schemas.FinancialAssuranceIn,
    writer=RecordWriter,
    create=records.record_financial_assurance,
    read=out.FinancialAssuranceRead,
    written_type=out.FinancialAssuranceWritten,
)
_register(
    path="concerns",
    noun="concern",
    model=Concern,
    body_type=schemas.ConcernIn,
    writer=SafeguardingWriter,
    create=records.record_concern,
    read=out.ConcernRead,
    written_type=out.ConcernWritten,
    filters=CaseFilters,
)


UpdateFn = Callable[[AsyncSession, int, Any, WriteContext], Awaitable[WriteResult[Any]]]


def _register_item(
    *,
    path: str,
    kind: str,
    noun: str,
    model: type[SQLModel],
    read: type[BaseModel],
    written_type: type[BaseModel],
    update: UpdateFn,
    update_body: type[BaseModel],
    writer: Any,
    serialize: Serializer = _plain,
    people: tuple[str, ...] = (),
    audited: bool = False,
    update_doc: str = "",
) -> None:
    """A record's own routes, by id: read it, update or correct it, mark it entered in
    error, and read its change history. A safeguarding's are on the access audit trail."""
    shown_people = ("created_by", "entered_in_error_by", *people)

    async def _audit_write(
        request: Request, session: AsyncSession, services: Any, principal: Principal, record: Any
    ) -> None:
        if audited:  # in the write's own transaction: no change without its audit row
            add_access_rows(
                session,
                principal=principal,
                action="update",
                provider_id=record.provider_id,
                safeguarding_ids=[record.id],
                access=access_context(request),
                at=services.clock.now(),
            )

    async def _answer(
        session: AsyncSession, principal: Principal, result: WriteResult[Any]
    ) -> dict[str, Any]:
        shown = {**serialize(result.record, principal), **written(result)}
        return (await with_names(session, [shown], *shown_people))[0]

    async def get_route(
        request: Request,
        record_id: Id,
        principal: Reader,
        services: ServicesDep,
        session: SessionDep,
    ) -> dict[str, Any]:
        record: Any = await queries.get_record(session, model, record_id)
        if audited:
            await audit_reads(
                request,
                services,
                principal,
                action="read",
                provider_id=record.provider_id,
                safeguarding_ids=[record.id],
            )
        shown = serialize(record, principal)
        if model is Visit:
            actions = await queries.visit_actions(session, visit_id=record_id)
            shown["actions"] = [action.model_dump() for action in actions]
        return (await with_names(session, [shown], *shown_people))[0]

    async def update_route(
        request: Request,
        record_id: Id,
        body: update_body,  # type: ignore[valid-type]
        principal: writer,
        services: ServicesDep,
        session: SessionDep,
    ) -> dict[str, Any]:
        result = await update(session, record_id, body, write_context(services, principal))
        await _audit_write(request, session, services, principal, result.record)
        await session.commit()
        return await _answer(session, principal, result)

    async def error_route(
        request: Request,
        record_id: Id,
        body: schemas.EnteredInError,
        principal: writer,
        services: ServicesDep,
        session: SessionDep,
    ) -> dict[str, Any]:
        result = await records.mark_entered_in_error(
            session,
            kind,
            record_id,
            body,
            write_context(services, principal),
            may_mark_others=principal.can(Permission.manage_monitoring),
        )
        await _audit_write(request, session, services, principal, result.record)
        await session.commit()
        return await _answer(session, principal, result)

    async def changes_route(
        request: Request,
        record_id: Id,
        principal: Reader,
        services: ServicesDep,
        session: SessionDep,
    ) -> list[dict[str, Any]]:
        record: Any = await queries.get_record(session, model, record_id)
        found = await queries.record_changes(session, kind, [record_id])
        if audited:
            await audit_reads(
                request,
                services,
                principal,
                action="read",
                provider_id=record.provider_id,
                safeguarding_ids=[record.id],
            )
        shown = [change_out(change, principal) for change in found]
        return await with_names(session, shown, "changed_by")

    get_route.__doc__ = f"One {noun}, with who recorded it and whether it was entered in error."
    update_route.__doc__ = update_doc or f"Correct a {noun}: only the fields given change."
    error_route.__doc__ = (
        f"Mark a {noun} entered in error, with the reason: it stays on record, cannot change"
        " after, and no rule counts it. Its author or a manager may."
    )
    changes_route.__doc__ = f"Every change made to a {noun}: field, before, after, who, when."
    name = path.replace("-", "_")
    item = f"/{path}/{{record_id}}"
    router.add_api_route(
        item,
        get_route,
        methods=["GET"],
        response_model=VisitDetail if model is Visit else read,
        responses=errors(404, 422),
        name=f"get_{name}",
    )
    router.add_api_route(
        item,
        update_route,
        methods=["PATCH"],
        response_model=written_type,
        responses=errors(400, 404, 409, 413, 422),
        name=f"update_{name}",
    )
    router.add_api_route(
        f"{item}/entered-in-error",
        error_route,
        methods=["POST"],
        response_model=written_type,
        responses=errors(400, 404, 409, 413, 422),
        name=f"mark_{name}_entered_in_error",
    )
    router.add_api_route(
        f"{item}/changes",
        changes_route,
        methods=["GET"],
        response_model=list[out.RecordChangeRead],
        responses=errors(404, 422),
        name=f"{name}_changes",
    )


_register_item(
    path="visits",
    kind="visit",
    noun="visit",
    model=Visit,
    read=out.VisitRead,
    written_type=out.VisitWritten,
    update=records.update_visit,
    update_body=schemas.VisitUpdate,
    writer=RecordWriter,
    people=("officer_id",),
)
_register_item(
    path="safeguardings",
    kind="safeguarding",
    noun="safeguarding",
    model=Safeguarding,
    read=out.SafeguardingRead,
    written_type=out.SafeguardingWritten,
    update=records.update_safeguarding,
    update_body=schemas.SafeguardingUpdate,
    writer=SafeguardingWriter,
    serialize=safeguarding_out,
    audited=True,
    update_doc="Move a safeguarding to enquiry or close it (closing needs the outcome, and"
    " the risk outcome unless withdrawn), or correct a field.",
)
_register_item(
    path="complaints",
    kind="complaint",
    noun="complaint",
    model=Complaint,
    read=out.ComplaintRead,
    written_type=out.ComplaintWritten,
    update=records.update_complaint,
    update_body=schemas.ComplaintUpdate,
    writer=RecordWriter,
    update_doc="Record a complaint's finding and close it (closing needs the finding), or"
    " correct a field.",
)
_register_item(
    path="compliments",
    kind="compliment",
    noun="compliment",
    model=Compliment,
    read=out.ComplimentRead,
    written_type=out.ComplimentWritten,
    update=records.update_compliment,
    update_body=schemas.ComplimentUpdate,
    writer=RecordWriter,
)
_register_item(
    path="financial-assurances",
    kind="financial_assurance",
    noun="financial assurance",
    model=FinancialAssurance,
    read=out.FinancialAssuranceRead,
    written_type=out.FinancialAssuranceWritten,
    update=records.update_financial_assurance,
    update_body=schemas.FinancialAssuranceUpdate,
    writer=RecordWriter,
)
_register_item(
    path="concerns",
    kind="concern",
    noun="concern",
    model=Concern,
    read=out.ConcernRead,
    written_type=out.ConcernWritten,
    update=records.update_concern,
    update_body=schemas.ConcernUpdate,
    writer=SafeguardingWriter,
    update_doc="Resolve a concern (closing needs its outcome), re-open it, or correct a field.",
)


@router.get(
    "/providers/{provider_id}/visit-actions",
    response_model=list[out.VisitActionRead],
    responses=errors(404, 422),
)
async def list_visit_actions(
    provider_id: Id, _principal: Reader, session: SessionDep
) -> list[VisitAction]:
    """The follow-up actions of the provider's visits (not of a visit entered in error):
    open ones first, by due date."""
    await queries.require_provider(session, provider_id)
    return await queries.visit_actions(session, provider_id=provider_id)


@router.post(
    "/visits/{visit_id}/actions",
    status_code=201,
    response_model=out.VisitActionWritten,
    responses=errors(400, 404, 409, 413, 422),
)
async def add_visit_action(
    visit_id: Id,
    body: schemas.VisitActionIn,
    principal: RecordWriter,
    services: ServicesDep,
    session: SessionDep,
) -> dict[str, Any]:
    """Add a follow-up action to a visit; the overdue job reminds the officer when late."""
    result = await records.add_visit_action(
        session, visit_id, body, write_context(services, principal)
    )
    await session.commit()
    return {**result.record.model_dump(), **written(result)}


@router.patch(
    "/visit-actions/{action_id}",
    response_model=out.VisitActionWritten,
    responses=errors(400, 404, 409, 413, 422),
)
async def update_visit_action(
    action_id: Id,
    body: schemas.VisitActionUpdate,
    principal: RecordWriter,
    services: ServicesDep,
    session: SessionDep,
) -> dict[str, Any]:
    """Update a follow-up action, or mark it done (dated today unless a date is given)."""
    result = await records.update_visit_action(
        session, action_id, body, write_context(services, principal)
    )
    await session.commit()
    return {**result.record.model_dump(), **written(result)}
