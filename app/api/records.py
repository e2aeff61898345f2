"""Visits, safeguardings, complaints, compliments, financial assurances and concerns:
create and list under a provider, read and update by id.

This module does not use postponed annotations: the route factory's parameter types
come from its arguments, and FastAPI must see them as real types."""

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel

from app.api import schemas as out
from app.api.common import Id, safeguarding_out, written
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
from app.auth.audit import access_context, add_access_rows, audit_reads
from app.auth.service import Principal
from app.models import Complaint, Compliment, Concern, FinancialAssurance, Safeguarding, Visit
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
        return (await with_names(session, [shown], *people))[0]

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
        return page(await with_names(session, shown, *people), found.total, asked)

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


@router.get(
    "/safeguardings/{safeguarding_id}",
    response_model=out.SafeguardingRead,
    responses=errors(404, 422),
)
async def get_safeguarding(
    request: Request,
    safeguarding_id: Id,
    principal: Reader,
    services: ServicesDep,
    session: SessionDep,
) -> dict[str, Any]:
    record = await queries.get_record(session, Safeguarding, safeguarding_id)
    await audit_reads(
        request,
        services,
        principal,
        action="read",
        provider_id=record.provider_id,
        safeguarding_ids=[record.id],
    )
    return safeguarding_out(record, principal)


@router.patch(
    "/safeguardings/{safeguarding_id}",
    response_model=out.SafeguardingWritten,
    responses=errors(400, 404, 413, 422),
)
async def update_safeguarding(
    request: Request,
    safeguarding_id: Id,
    body: schemas.SafeguardingUpdate,
    principal: SafeguardingWriter,
    services: ServicesDep,
    session: SessionDep,
) -> dict[str, Any]:
    """Update or close a safeguarding (closing needs an outcome)."""
    result = await records.update_safeguarding(
        session, safeguarding_id, body, write_context(services, principal)
    )
    add_access_rows(
        session,
        principal=principal,
        action="update",
        provider_id=result.record.provider_id,
        safeguarding_ids=[result.record.id],
        access=access_context(request),
        at=services.clock.now(),
    )
    await session.commit()
    return {**safeguarding_out(result.record, principal), **written(result)}


@router.get(
    "/complaints/{complaint_id}", response_model=out.ComplaintRead, responses=errors(404, 422)
)
async def get_complaint(complaint_id: Id, _principal: Reader, session: SessionDep) -> Complaint:
    return await queries.get_record(session, Complaint, complaint_id)


@router.patch(
    "/complaints/{complaint_id}",
    response_model=out.ComplaintWritten,
    responses=errors(400, 404, 413, 422),
)
async def update_complaint(
    complaint_id: Id,
    body: schemas.ComplaintUpdate,
    principal: RecordWriter,
    services: ServicesDep,
    session: SessionDep,
) -> dict[str, Any]:
    result = await records.update_complaint(
        session, complaint_id, body, write_context(services, principal)
    )
    await session.commit()
    return {**result.record.model_dump(), **written(result)}


@router.get("/concerns/{concern_id}", response_model=out.ConcernRead, responses=errors(404, 422))
async def get_concern(concern_id: Id, _principal: Reader, session: SessionDep) -> Concern:
    return await queries.get_record(session, Concern, concern_id)


@router.patch(
    "/concerns/{concern_id}",
    response_model=out.ConcernWritten,
    responses=errors(400, 404, 413, 422),
)
async def update_concern(
    concern_id: Id,
    body: schemas.ConcernUpdate,
    principal: SafeguardingWriter,
    services: ServicesDep,
    session: SessionDep,
) -> dict[str, Any]:
    result = await records.update_concern(
        session, concern_id, body, write_context(services, principal)
    )
    await session.commit()
    return {**result.record.model_dump(), **written(result)}
