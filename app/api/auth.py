"""Tokens and users: the OAuth2 password flow, the caller's own account, user admin."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, HTTPException, Query, Request, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.common import Id
from app.api.deps import PrincipalDep, ServicesDep, SessionDep, UserManager
from app.api.errors import SIGNED_IN, errors
from app.api.listing import ListQuery, page, page_of_all
from app.api.schemas import Page, TokenRead, UserRead
from app.auth import service as auth
from app.auth.throttle import LoginThrottle, SignInLocked
from app.events import Actor
from app.inputs import Numeric, Omissible, Storable, limits
from app.models import User
from app.services import Services

router = APIRouter(prefix="/api/v1", tags=["auth and users"])


class SignIn(BaseModel):
    """The OAuth2 password flow's form (RFC 6749 4.3), its text storable like any input;
    scope and client credentials, which carewatch does not use, are ignored."""

    grant_type: Omissible[Literal["password"]] = None
    username: Storable[Annotated[str, limits(max_length=254)]] = Field(
        description="the account's email"
    )
    password: Storable[Annotated[str, limits(max_length=200)]]


@router.post(
    "/auth/token", response_model=TokenRead, responses=errors(400, 401, 413, 422, 429, 503)
)
async def issue_token(
    request: Request,
    form: Annotated[SignIn, Form()],
    services: ServicesDep,
    session: SessionDep,
) -> TokenRead:
    """Exchange an email and password for a bearer token (OAuth2 password flow). Off
    when CAREWATCH_PASSWORD_LOGIN=false: people sign in with their council account, and
    machine clients use personal API tokens."""
    if not services.settings.password_login:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "sign-in is through the council's account (open /login in a browser); machine"
            " clients use a personal API token (POST /api/v1/auth/tokens)",
        )
    throttle: LoginThrottle = request.app.state.login_throttle
    address = request.client.host if request.client else "unknown"
    try:
        user = await throttle.guard(
            form.username,
            address,
            lambda: auth.authenticate(session, form.username, form.password),
        )
    except SignInLocked as locked:
        await _failed(session, services, "locked")
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            locked.message,
            headers={"Retry-After": str(locked.retry_after)},
        ) from None
    if user is None:
        await _failed(session, services, "wrong_credentials")
        # One answer for every failure: unknown email, wrong password, disabled user.
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "incorrect email or password",
            headers={"WWW-Authenticate": "Bearer"},
        )
    now = services.clock.now()
    ttl = timedelta(minutes=services.settings.token_ttl_minutes)
    token = await auth.issue_token(session, user, now=now, ttl=ttl)
    assert user.id is not None
    await auth.record_sign_in(session, user, method="password", actor=Actor.user(user.id), now=now)
    await session.commit()
    return TokenRead(access_token=token, expires_at=now + ttl)


async def _failed(session: AsyncSession, services: Services, reason: str) -> None:
    """The failed sign-in's event, kept although the request answers with an error."""
    await auth.record_failed_sign_in(
        session,
        method="password",
        reason=reason,
        actor=Actor(label="sign-in:password"),
        now=services.clock.now(),
    )
    await session.commit()


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    current_password: Storable[Annotated[str, limits(max_length=200)]]
    new_password: auth.Password


@router.get("/auth/me", response_model=UserRead, responses=errors(401, 503))
async def me(principal: PrincipalDep) -> User:
    return principal.user


@router.post("/auth/password", status_code=204, responses=errors(400, 401, 413, 422, 503))
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
    name: Storable[Annotated[str, limits(1, 100)]]
    scope: Literal["read", "write", "metrics"]
    expires_in_days: Numeric[Annotated[int, Field(ge=1, le=366)]] = 90


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


@router.post(
    "/auth/tokens",
    response_model=PersonalTokenIssued,
    status_code=201,
    responses=errors(400, 401, 413, 422, 503),
)
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


@router.get(
    "/auth/tokens",
    response_model=Page[PersonalTokenRead],
    responses=errors(400, 401, 422, 503),
)
async def list_personal_tokens(
    principal: PrincipalDep, session: SessionDep, query: Annotated[ListQuery, Query()]
) -> Page[Any]:
    """Your personal tokens (never their secrets), newest first."""
    return page_of_all(await auth.personal_tokens(session, principal.user.id or 0), query)


@router.delete("/auth/tokens/{token_id}", status_code=204, responses=errors(401, 404, 422, 503))
async def revoke_personal_token(
    token_id: Id, principal: PrincipalDep, services: ServicesDep, session: SessionDep
) -> None:
    await auth.revoke_personal_token(
        session, principal.user.id or 0, token_id, services.clock.now()
    )
    await session.commit()


@router.post(
    "/users",
    response_model=UserRead,
    status_code=201,
    responses={**SIGNED_IN, **errors(400, 409, 413, 422)},
)
async def create_user(
    body: auth.UserIn, principal: UserManager, services: ServicesDep, session: SessionDep
) -> User:
    user = await auth.create_user(session, body, actor=principal.actor, now=services.clock.now())
    await session.commit()
    return user


@router.get("/users", response_model=Page[UserRead], responses={**SIGNED_IN, **errors(400, 422)})
async def list_users(
    _principal: UserManager, session: SessionDep, query: Annotated[ListQuery, Query()]
) -> Page[Any]:
    users, total = await auth.list_users(session, query.limit, query.offset)
    return page(users, total, query)


@router.patch(
    "/users/{user_id}",
    response_model=UserRead,
    responses={**SIGNED_IN, **errors(400, 404, 413, 422)},
)
async def update_user(
    user_id: Id,
    body: auth.UserUpdate,
    principal: UserManager,
    services: ServicesDep,
    session: SessionDep,
) -> User:
    """Change a user's name, role, mobile number (null removes it) or whether they may
    sign in (disabling revokes tokens)."""
    user = await auth.update_user(
        session, user_id, body, actor=principal.actor, now=services.clock.now()
    )
    await session.commit()
    return user
