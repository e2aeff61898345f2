"""Request dependencies: the session (committed by the route on success), the caller,
permission checks and the write context."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.permissions import Permission
from app.auth.service import Principal, principal_for
from app.db import close_session
from app.records.service import WriteContext
from app.services import Services, services_of

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


ServicesDep = Annotated[Services, Depends(services_of)]


async def get_session(request: Request, services: ServicesDep) -> AsyncIterator[AsyncSession]:
    """A session per request; the route commits, anything unfinished is rolled back.
    Reads (GET, HEAD) never take SQLite's write lock; a writing route writes in this
    session (on SQLite a writer transaction of its own would wait for the one connection
    this session holds)."""
    database = services.database
    reading = request.method in ("GET", "HEAD")
    session = database.sessions() if reading else database.writer_sessions()
    try:
        yield session
    finally:
        await close_session(session)


SessionDep = Annotated[AsyncSession, Depends(get_session)]


async def get_principal(
    request: Request,
    services: ServicesDep,
    session: SessionDep,
    token: Annotated[str | None, Depends(oauth2_scheme)],
) -> Principal:
    if not token:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "not authenticated",
            headers={"WWW-Authenticate": "Bearer"},
        )
    # Read on every request: a revocation, a disabled user or a new role applies to the
    # very next request, on every replica.
    database = services.database
    if request.method in ("GET", "HEAD") or database.reader is database.engine:
        principal = await principal_for(session, token, services.clock.now())
    else:
        # SQLite's writer session holds the one writer connection from its first read
        # to its commit; the token is read beside it, in a reader session, so a writer
        # queues for its writes only, not for who it is.
        async with database.sessions() as reader:
            principal = await principal_for(reader, token, services.clock.now())
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
