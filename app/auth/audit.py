"""The audit trail of safeguarding access: every read and write of a safeguarding record
is attributed to a user, with the route and the address it came from. Rows can only be
added (database triggers refuse UPDATE, and DELETE within the retention period)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request

from app.auth.service import Principal
from app.clock import Clock
from app.db import Database
from app.logs import request_id as request_id_var
from app.models import SafeguardingAudit


class AuditServices(Protocol):
    """What audit_reads needs of the application's services (app.services.Services, which
    sits above auth and so is not imported here)."""

    database: Database
    clock: Clock


@dataclass(frozen=True)
class AccessContext:
    """Where a request came from, as the audit records it."""

    route: str
    client_address: str | None
    request_id: str | None


def access_context(request: Request) -> AccessContext:
    """The audit's view of a request (API or web page): route template, address, id."""
    route = getattr(request.scope.get("route"), "path", None) or request.url.path
    return AccessContext(
        route=f"{request.method} {route}",
        client_address=request.client.host if request.client else None,
        request_id=request_id_var.get(),  # set by RequestContext from X-Request-ID or new
    )


async def audit_reads(
    request: Request,
    services: AuditServices,
    principal: Principal,
    *,
    action: str,
    provider_id: int | None,
    safeguarding_ids: list[int | None],
) -> None:
    """Record reads of safeguarding records before the answer leaves: if the audit row
    cannot be written, the data is not sent. A page can show hundreds of safeguardings, so
    the rows go in one bulk INSERT."""
    if not safeguarding_ids:
        return
    rows = access_rows(
        principal=principal,
        action=action,
        provider_id=provider_id,
        safeguarding_ids=safeguarding_ids,
        access=access_context(request),
        at=services.clock.now(),
    )
    async with services.database.transaction() as session:
        await session.execute(insert(SafeguardingAudit), rows)


def access_rows(
    *,
    principal: Principal,
    action: str,
    provider_id: int | None,
    safeguarding_ids: Iterable[int | None],
    access: AccessContext,
    at: datetime,
) -> list[dict[str, Any]]:
    """The audit's columns for each safeguarding touched, one row each."""
    common = {
        "at": at,
        "user_id": principal.user.id,
        "actor": principal.actor.label,
        "action": action,
        "provider_id": provider_id,
        "route": access.route[:200],
        "client_address": (access.client_address or "")[:64] or None,
        "request_id": (access.request_id or "")[:64] or None,
    }
    return [{**common, "safeguarding_id": safeguarding_id} for safeguarding_id in safeguarding_ids]


def add_access_rows(
    session: AsyncSession,
    *,
    principal: Principal,
    action: str,
    provider_id: int | None,
    safeguarding_ids: Iterable[int | None],
    access: AccessContext,
    at: datetime,
) -> int:
    """Add one audit row per safeguarding touched, in the caller's transaction (a write
    touches one or a few, so they go with the caller's other objects at its flush)."""
    rows = access_rows(
        principal=principal,
        action=action,
        provider_id=provider_id,
        safeguarding_ids=safeguarding_ids,
        access=access,
        at=at,
    )
    session.add_all(SafeguardingAudit(**row) for row in rows)
    return len(rows)


async def list_audit(
    session: AsyncSession,
    *,
    user_id: int | None,
    safeguarding_id: int | None,
    provider_id: int | None,
    since: datetime | None,
    until: datetime | None,
    limit: int,
    offset: int,
) -> tuple[list[SafeguardingAudit], int]:
    query = select(SafeguardingAudit).order_by(
        SafeguardingAudit.at.desc(), SafeguardingAudit.id.desc()
    )
    if user_id is not None:
        query = query.where(SafeguardingAudit.user_id == user_id)
    if safeguarding_id is not None:
        query = query.where(SafeguardingAudit.safeguarding_id == safeguarding_id)
    if provider_id is not None:
        query = query.where(SafeguardingAudit.provider_id == provider_id)
    if since is not None:
        query = query.where(SafeguardingAudit.at >= since)
    if until is not None:
        query = query.where(SafeguardingAudit.at < until)
    total = await session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    rows = (await session.execute(query.limit(limit).offset(offset))).scalars().all()
    return list(rows), int(total or 0)


async def purge_expired(session: AsyncSession, *, retention_days: int, now: datetime) -> int:
    """Delete audit rows older than the retention period (the only delete the database
    allows); returns how many went."""
    from datetime import timedelta

    from sqlalchemy import delete

    result = await session.execute(
        delete(SafeguardingAudit).where(SafeguardingAudit.at < now - timedelta(days=retention_days))
    )
    return int(getattr(result, "rowcount", 0) or 0)
