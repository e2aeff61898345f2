"""Request dependencies: the session (committed by the route on success), the caller,
permission checks and the write context."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.audit import AccessContext, add_access_rows
from app.auth.permissions import Permission
from app.auth.service import Principal, resolve_token
from app.logs import request_id as request_id_var
from app.records.service import WriteContext
from app.services import Services

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


async def get_session(request: Request, services: ServicesDep) -> AsyncIterator[AsyncSession]:
    """A session per request; the route commits, anything unfinished is rolled back.
    Reads (GET, HEAD) never take SQLite's write lock."""
    database = services.database
    if request.method in ("GET", "HEAD"):
        async with database.sessions() as session:
            yield session
        return
    async with database.write_session() as session:
        try:
            yield session
        finally:
            if session.in_transaction():
                await session.rollback()


SessionDep = Annotated[AsyncSession, Depends(get_session)]


async def get_principal(
    request: Request,
    services: ServicesDep,
    token: Annotated[str | None, Depends(oauth2_scheme)],
) -> Principal:
    if not token:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "not authenticated",
            headers={"WWW-Authenticate": "Bearer"},
        )
    # Its own short read: the request's session has not begun, so no lock is held.
    async with services.database.sessions() as session:
        principal = await resolve_token(session, token, services.clock.now())
    if principal is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "invalid or expired token",
            headers={"WWW-Authenticate": "Bearer"},
        )
    request.state.principal = principal
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def require(permission: Permission) -> Callable[..., Coroutine[Any, Any, Principal]]:
    async def check(principal: PrincipalDep) -> Principal:
        if not principal.can(permission):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN, f"needs the {permission.value} permission"
            )
        return principal

    return check


Reader = Annotated[Principal, Depends(require(Permission.read))]
RecordWriter = Annotated[Principal, Depends(require(Permission.write_records))]
SafeguardingWriter = Annotated[Principal, Depends(require(Permission.write_safeguardings))]
ProviderManager = Annotated[Principal, Depends(require(Permission.manage_providers))]
MonitoringManager = Annotated[Principal, Depends(require(Permission.manage_monitoring))]
UserManager = Annotated[Principal, Depends(require(Permission.manage_users))]


def write_context(services: Services, principal: Principal) -> WriteContext:
    return WriteContext(actor=principal.actor, clock=services.clock, policy=services.policy)


def access_context(request: Request) -> AccessContext:
    route = getattr(request.scope.get("route"), "path", None) or request.url.path
    return AccessContext(
        route=f"{request.method} {route}",
        client_address=request.client.host if request.client else None,
        request_id=request_id_var.get(),  # set by RequestContext from X-Request-ID or new
    )


async def audit_reads(
    request: Request,
    services: Services,
    principal: Principal,
    *,
    action: str,
    provider_id: int | None,
    safeguarding_ids: list[int | None],
) -> None:
    """Record reads of safeguarding records before the answer leaves: if the audit row
    cannot be written, the data is not sent."""
    if not safeguarding_ids:
        return
    async with services.database.transaction() as session:
        add_access_rows(
            session,
            principal=principal,
            action=action,
            provider_id=provider_id,
            safeguarding_ids=safeguarding_ids,
            access=access_context(request),
            at=services.clock.now(),
        )
