"""Visits, safeguardings, complaints, compliments, financial assurances and concerns:
create and list under a provider; by id, read, update or correct, mark entered in error
and read the change history; visits' follow-up actions.

This module does not use postponed annotations: the route factory's parameter types
come from its arguments, and FastAPI must see them as real types."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
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
from app.api.names import caller_name, with_names
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


UpdateFn = Callable[[AsyncSession, int, Any, WriteContext], Awaitable[WriteResult[Any]]]


@dataclass(frozen=True)
class RecordKind:
    """One kind of evidence and everything its routes need: the table below is the only
    place a kind is described."""

    path: str  # the URL segment: /providers/{id}/<path>, /<path>/{id}
    kind: str  # the name the change history and entered-in-error use
    noun: str
    model: type[SQLModel]
    body_type: type[BaseModel]
    create: CreateFn
    update_body: type[BaseModel]
    update: UpdateFn
    read: type[BaseModel]
    written_type: type[BaseModel]
    writer: Any
    filters: type[RecordFilters] = RecordFilters
    serialize: Serializer = _plain
    people: tuple[str, ...] = ()
    audited: bool = False
    update_doc: str = ""


def _register(spec: RecordKind, writer: Any) -> None:
    """A kind's routes under its provider: record one, and list them. `writer` is
    spec.writer, the dependency that admits its writers, passed as an Any-typed
    parameter so that it may annotate the routes."""
    body_type, filters, read = spec.body_type, spec.filters, spec.read  # plain names for types

    async def create_route(
        request: Request,
        provider_id: Id,
        body: body_type,  # type: ignore[valid-type]
        principal: writer,
        services: ServicesDep,
        session: SessionDep,
    ) -> dict[str, Any]:
        result = await spec.create(session, provider_id, body, write_context(services, principal))
        if spec.audited:  # in the write's own transaction: no record without its audit row
            add_access_rows(
                session,
                principal=principal,
                action="create",
                provider_id=provider_id,
                safeguarding_ids=[result.record.id],
                access=access_context(request),
                at=services.clock.now(),
            )
        # The answer is read in the write's own transaction: a read after the commit
        # would begin another (on SQLite, a second turn at the one writer connection).
        shown = {**spec.serialize(result.record, principal), **written(result)}
        named = await with_names(
            session, [shown], "created_by", *spec.people, known=caller_name(principal)
        )
        answer = named[0]
        await session.commit()
        return answer

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
            spec.model,
            provider_id,
            since=asked.since,
            until=asked.until,
            status=getattr(asked, "status", None),
            limit=asked.limit,
            offset=asked.offset,
        )
        if spec.audited:
            await audit_reads(
                request,
                services,
                principal,
                action="list",
                provider_id=provider_id,
                safeguarding_ids=[r.id for r in found.items],
            )
        shown = [spec.serialize(r, principal) for r in found.items]
        return page(
            await with_names(session, shown, "created_by", "entered_in_error_by", *spec.people),
            found.total,
            asked,
        )

    create_route.__doc__ = f"Record a {spec.noun}; the answer shows the provider's resulting level."
    list_route.__doc__ = f"The provider's {spec.noun}s, newest first, optionally within dates."
    router.add_api_route(
        f"/providers/{{provider_id}}/{spec.path}",
        create_route,
        methods=["POST"],
        status_code=201,
        response_model=spec.written_type,
        responses=errors(400, 404, 413, 422),
        name=f"create_{spec.path.replace('-', '_')}",
    )
    router.add_api_route(
        f"/providers/{{provider_id}}/{spec.path}",
        list_route,
        methods=["GET"],
        response_model=out.Page[read],  # type: ignore[valid-type]
        responses=errors(400, 404, 422),
        name=f"list_{spec.path.replace('-', '_')}",
    )


def _register_item(spec: RecordKind, writer: Any) -> None:
    """A record's own routes, by id: read it, update or correct it, mark it entered in
    error, and read its change history. A safeguarding's are on the access audit trail."""
    update_body = spec.update_body  # a plain name, to annotate with
    shown_people = ("created_by", "entered_in_error_by", *spec.people)

    async def _audit_write(
        request: Request, session: AsyncSession, services: Any, principal: Principal, record: Any
    ) -> None:
        if spec.audited:  # in the write's own transaction: no change without its audit row
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
        """The answer to a write, read before its commit, in the write's own transaction."""
        shown = {**spec.serialize(result.record, principal), **written(result)}
        return (await with_names(session, [shown], *shown_people, known=caller_name(principal)))[0]

    async def get_route(
        request: Request,
        record_id: Id,
        principal: Reader,
        services: ServicesDep,
        session: SessionDep,
    ) -> dict[str, Any]:
        record: Any = await queries.get_record(session, spec.model, record_id)
        if spec.audited:
            await audit_reads(
                request,
                services,
                principal,
                action="read",
                provider_id=record.provider_id,
                safeguarding_ids=[record.id],
            )
        shown = spec.serialize(record, principal)
        if spec.model is Visit:
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
        result = await spec.update(session, record_id, body, write_context(services, principal))
        await _audit_write(request, session, services, principal, result.record)
        answer = await _answer(session, principal, result)
        await session.commit()
        return answer

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
            spec.kind,
            record_id,
            body,
            write_context(services, principal),
            may_mark_others=principal.can(Permission.manage_monitoring),
        )
        await _audit_write(request, session, services, principal, result.record)
        answer = await _answer(session, principal, result)
        await session.commit()
        return answer

    async def changes_route(
        request: Request,
        record_id: Id,
        principal: Reader,
        services: ServicesDep,
        session: SessionDep,
    ) -> list[dict[str, Any]]:
        record: Any = await queries.get_record(session, spec.model, record_id)
        found = await queries.record_changes(session, spec.kind, [record_id])
        if spec.audited:
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

    get_route.__doc__ = (
        f"One {spec.noun}, with who recorded it and whether it was entered in error."
    )
    update_route.__doc__ = (
        spec.update_doc or f"Correct a {spec.noun}: only the fields given change."
    )
    error_route.__doc__ = (
        f"Mark a {spec.noun} entered in error, with the reason: it stays on record, cannot change"
        " after, and no rule counts it. Its author or a manager may."
    )
    changes_route.__doc__ = f"Every change made to a {spec.noun}: field, before, after, who, when."
    name = spec.path.replace("-", "_")
    item = f"/{spec.path}/{{record_id}}"
    router.add_api_route(
        item,
        get_route,
        methods=["GET"],
        response_model=VisitDetail if spec.model is Visit else spec.read,
        responses=errors(404, 422),
        name=f"get_{name}",
    )
    router.add_api_route(
        item,
        update_route,
        methods=["PATCH"],
        response_model=spec.written_type,
        responses=errors(400, 404, 409, 413, 422),
        name=f"update_{name}",
    )
    router.add_api_route(
        f"{item}/entered-in-error",
        error_route,
        methods=["POST"],
        response_model=spec.written_type,
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


RECORD_KINDS = (
    RecordKind(
        path="visits",
        kind="visit",
        noun="visit or contract meeting",
        model=Visit,
        body_type=schemas.VisitIn,
        create=records.record_visit,
        update_body=schemas.VisitUpdate,
        update=records.update_visit,
        read=out.VisitRead,
        written_type=out.VisitWritten,
        writer=RecordWriter,
        people=("officer_id",),
    ),
    RecordKind(
        path="safeguardings",
        kind="safeguarding",
        noun="safeguarding",
        model=Safeguarding,
        body_type=schemas.SafeguardingIn,
        create=records.record_safeguarding,
        update_body=schemas.SafeguardingUpdate,
        update=records.update_safeguarding,
        read=out.SafeguardingRead,
        written_type=out.SafeguardingWritten,
        writer=SafeguardingWriter,
        filters=SafeguardingFilters,
        serialize=safeguarding_out,
        audited=True,
        update_doc="Move a safeguarding to enquiry or close it (closing needs the outcome,"
        " and the risk outcome unless withdrawn), or correct a field.",
    ),
    RecordKind(
        path="complaints",
        kind="complaint",
        noun="complaint",
        model=Complaint,
        body_type=schemas.ComplaintIn,
        create=records.record_complaint,
        update_body=schemas.ComplaintUpdate,
        update=records.update_complaint,
        read=out.ComplaintRead,
        written_type=out.ComplaintWritten,
        writer=RecordWriter,
        filters=CaseFilters,
        update_doc="Record a complaint's finding and close it (closing needs the finding),"
        " or correct a field.",
    ),
    RecordKind(
        path="compliments",
        kind="compliment",
        noun="compliment",
        model=Compliment,
        body_type=schemas.ComplimentIn,
        create=records.record_compliment,
        update_body=schemas.ComplimentUpdate,
        update=records.update_compliment,
        read=out.ComplimentRead,
        written_type=out.ComplimentWritten,
        writer=RecordWriter,
    ),
    RecordKind(
        path="financial-assurances",
        kind="financial_assurance",
        noun="financial assurance",
        model=FinancialAssurance,
        body_type=schemas.FinancialAssuranceIn,
        create=records.record_financial_assurance,
        update_body=schemas.FinancialAssuranceUpdate,
        update=records.update_financial_assurance,
        read=out.FinancialAssuranceRead,
        written_type=out.FinancialAssuranceWritten,
        writer=RecordWriter,
    ),
    RecordKind(
        path="concerns",
        kind="concern",
        noun="concern",
        model=Concern,
        body_type=schemas.ConcernIn,
        create=records.record_concern,
        update_body=schemas.ConcernUpdate,
        update=records.update_concern,
        read=out.ConcernRead,
        written_type=out.ConcernWritten,
        writer=SafeguardingWriter,
        filters=CaseFilters,
        update_doc="Resolve a concern (closing needs its outcome), re-open it, or correct a field.",
    ),
)
# All list routes first, then the by-id routes: the order FastAPI has always matched in.
for _spec in RECORD_KINDS:
    _register(_spec, _spec.writer)
for _spec in RECORD_KINDS:
    _register_item(_spec, _spec.writer)


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
