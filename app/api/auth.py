"""Tokens and users: the OAuth2 password flow, the caller's own account, user admin."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, status
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel, ConfigDict, Field

from app.api.common import Id, Limit, Offset
from app.api.deps import PrincipalDep, ServicesDep, SessionDep, UserManager
from app.api.schemas import Page, TokenRead, UserRead
from app.auth import service as auth
from app.models import User

router = APIRouter(tags=["auth and users"])


@router.post("/auth/token", response_model=TokenRead)
async def issue_token(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    services: ServicesDep,
    session: SessionDep,
) -> TokenRead:
    """Exchange an email and password for a bearer token (OAuth2 password flow)."""
    user = await auth.authenticate(session, form.username, form.password)
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
