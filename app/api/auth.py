"""Tokens and users: the OAuth2 password flow, the caller's own account, user admin."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel, ConfigDict, Field

from app.api.common import Id, Limit, Offset
from app.api.deps import PrincipalDep, ServicesDep, SessionDep, UserManager
from app.api.schemas import Page, TokenRead, UserRead
from app.auth import service as auth
from app.auth.throttle import LoginThrottle, SignInLocked
from app.models import ApiToken, User

router = APIRouter(prefix="/api/v1", tags=["auth and users"])


@router.post("/auth/token", response_model=TokenRead)
async def issue_token(
    request: Request,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    services: ServicesDep,
    session: SessionDep,
) -> TokenRead:
    """Exchange an email and password for a bearer token (OAuth2 password flow)."""
    throttle: LoginThrottle = request.app.state.login_throttle
    address = request.client.host if request.client else "unknown"
    try:
        user = await throttle.guard(
            form.username,
            address,
            lambda: auth.authenticate(session, form.username, form.password),
        )
    except SignInLocked as locked:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            locked.message,
            headers={"Retry-After": str(locked.retry_after)},
        ) from None
    if user is None:
        # One answer for every failure: unknown email, wrong password, disabled user.
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "incorrect email or password",
            headers={"WWW-Authenticate": "Bearer"},
        )
    now = services.clock.now()
    ttl = timedelta(minutes=services.settings.token_ttl_minutes)
    token = await auth.issue_token(session, user, now=now, ttl=ttl)
    await session.commit()
    return TokenRead(access_token=token, expires_at=now + ttl)


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    current_password: str = Field(max_length=200)
    new_password: str = Field(min_length=auth.MIN_PASSWORD_LENGTH, max_length=200)


@router.get("/auth/me", response_model=UserRead)
async def me(principal: PrincipalDep) -> User:
    return principal.user


@router.post("/auth/password", status_code=204)
async def change_password(
    body: PasswordChange, principal: PrincipalDep, services: ServicesDep, session: SessionDep
) -> None:
    """Change your own password; every token you hold is revoked."""
    user = await session.get(User, principal.user.id)
    assert user is not None
    await auth.change_password(
        session, user, body.current_password, body.new_password, now=services.clock.now()
    )
    await session.commit()


class PersonalTokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    name: str = Field(min_length=1, max_length=100)
    scope: Literal["read", "write", "metrics"]
    expires_in_days: int = Field(default=90, ge=1, le=366)


class PersonalTokenRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str | None
    scope: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None


class PersonalTokenIssued(PersonalTokenRead):
    token: str = Field(description="shown once; only its hash is kept")


@router.post("/auth/tokens", response_model=PersonalTokenIssued, status_code=201)
async def create_personal_token(
    body: PersonalTokenIn, principal: PrincipalDep, services: ServicesDep, session: SessionDep
) -> dict[str, object]:
    """A personal API token for a machine client (read, write or metrics scope), limited
    by your own role. The secret is shown once."""
    now = services.clock.now()
    user = await session.get(User, principal.user.id)
    assert user is not None
    token, row = await auth.issue_personal_token(
        session,
        user,
        now=now,
        ttl=timedelta(days=body.expires_in_days),
        scope=body.scope,
        name=body.name,
    )
    await session.commit()
    return {**row.model_dump(), "token": token}


@router.get("/auth/tokens", response_model=list[PersonalTokenRead])
async def list_personal_tokens(principal: PrincipalDep, session: SessionDep) -> list[ApiToken]:
    return await auth.personal_tokens(session, principal.user.id or 0)


@router.delete("/auth/tokens/{token_id}", status_code=204)
async def revoke_personal_token(
    token_id: Id, principal: PrincipalDep, services: ServicesDep, session: SessionDep
) -> None:
    await auth.revoke_personal_token(
        session, principal.user.id or 0, token_id, services.clock.now()
    )
    await session.commit()


@router.post("/users", response_model=UserRead, status_code=201)
async def create_user(
    body: auth.UserIn, principal: UserManager, services: ServicesDep, session: SessionDep
) -> User:
    user = await auth.create_user(session, body, actor=principal.actor, now=services.clock.now())
    await session.commit()
    return user


@router.get("/users", response_model=Page[UserRead])
async def list_users(
    _principal: UserManager, session: SessionDep, limit: Limit = 50, offset: Offset = 0
) -> dict[str, object]:
    users, total = await auth.list_users(session, limit, offset)
    return {"items": users, "total": total, "limit": limit, "offset": offset}


@router.patch("/users/{user_id}", response_model=UserRead)
async def update_user(
    user_id: Id,
    body: auth.UserUpdate,
    principal: UserManager,
    services: ServicesDep,
    session: SessionDep,
) -> User:
    """Change a user's name, role or whether they may sign in (disabling revokes tokens)."""
    user = await auth.update_user(
        session, user_id, body, actor=principal.actor, now=services.clock.now()
    )
    await session.commit()
    return user
