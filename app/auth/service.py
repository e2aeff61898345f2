"""User management and bearer tokens. Tokens are random secrets; only their SHA-256 is
stored, so a database leak yields no usable token, and revocation is a row update."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.mobile import normalise_uk_mobile
from app.auth.passwords import hash_password, verify_password
from app.auth.permissions import Permission, permissions_for
from app.errors import Conflict, DomainError, NotFound
from app.events import Actor, append_event
from app.inputs import Email, Flag, Omissible, Storable, drop_null_defaults, limits
from app.models import ApiToken, User
from app.models.base import Role
from app.models.user import NO_PASSWORD

MIN_PASSWORD_LENGTH = 12
UserName = Storable[Annotated[str, limits(1, 200)]]
Password = Storable[Annotated[str, limits(MIN_PASSWORD_LENGTH, 200)]]


# The forms the API documents (and schemathesis generates from): 07700 900123,
# (07700) 900123, +44 7700 900123, with or without the spaces.
MOBILE_PATTERN = r"^(\+44 ?7[0-9]{3}|\(?07[0-9]{3}\)?) ?[0-9]{3} ?[0-9]{3}$"


def _mobile_number(value: str | None) -> str | None:
    """Optional; a UK mobile number, kept as +447..."""
    return normalise_uk_mobile(value) if value else None


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    email: Email
    name: UserName
    role: Role
    password: Password
    mobile_number: str | None = Field(default=None, max_length=40, pattern=MOBILE_PATTERN)

    _mobile = field_validator("mobile_number")(_mobile_number)


class UserUpdate(BaseModel):
    model_config = ConfigDict(
        extra="forbid", str_strip_whitespace=True, json_schema_extra=drop_null_defaults
    )

    name: Omissible[UserName] = None
    role: Omissible[Role] = None
    active: Omissible[Flag] = None
    # null removes the number: this one field may be cleared.
    mobile_number: str | None = Field(default=None, max_length=40, pattern=MOBILE_PATTERN)

    _mobile = field_validator("mobile_number")(_mobile_number)


@dataclass(frozen=True)
class Principal:
    """The authenticated caller of one request."""

    user: User
    permissions: frozenset[Permission]
    token_id: int

    @property
    def actor(self) -> Actor:
        assert self.user.id is not None
        return Actor.user(self.user.id)

    def can(self, permission: Permission) -> bool:
        return permission in self.permissions


def digest(token: str) -> str:
    """What is stored of a token, and what it is looked up by."""
    return hashlib.sha256(token.encode()).hexdigest()


async def create_user(session: AsyncSession, data: UserIn, *, actor: Actor, now: datetime) -> User:
    email = data.email.lower()
    if await session.scalar(select(func.count()).select_from(User).where(User.email == email)):
        raise Conflict("email", "a user with this email already exists")
    user = User(
        email=email,
        name=data.name,
        role=data.role,
        password_hash=hash_password(data.password),
        mobile_number=data.mobile_number,
        created_at=now,
    )
    session.add(user)
    await session.flush()
    await append_event(
        session,
        type="user.created",
        provider_id=None,
        actor=actor,
        at=now,
        data={"user_id": user.id, "role": user.role},
    )
    return user


async def provision_user(
    session: AsyncSession,
    *,
    email: str,
    name: str,
    role: Role,
    actor: Actor,
    now: datetime,
    identity: tuple[str, str] | None = None,
    directory_id: str | None = None,
    active: bool = True,
) -> User:
    """An account with no carewatch password, made by the council's identity provider (a
    first sign-in: `identity` is its issuer and subject) or its directory (SCIM)."""
    email = email.strip().lower()
    if await session.scalar(select(func.count()).select_from(User).where(User.email == email)):
        raise Conflict("email", "a user with this email already exists")
    if directory_id is not None and await user_by_directory_id(session, directory_id):
        raise Conflict("externalId", "a user with this directory id already exists")
    user = User(
        email=email,
        name=name[:200],
        role=role,
        password_hash=NO_PASSWORD,
        active=active,
        created_at=now,
        identity_issuer=identity[0] if identity else None,
        identity_subject=identity[1] if identity else None,
        directory_id=directory_id,
    )
    session.add(user)
    await session.flush()
    await append_event(
        session,
        type="user.created",
        provider_id=None,
        actor=actor,
        at=now,
        data={"user_id": user.id, "role": user.role, "source": user.source},
    )
    return user


async def user_by_identity(session: AsyncSession, issuer: str, subject: str) -> User | None:
    return (
        await session.execute(
            select(User).where(User.identity_issuer == issuer, User.identity_subject == subject)
        )
    ).scalar_one_or_none()


async def user_by_directory_id(session: AsyncSession, directory_id: str) -> User | None:
    return (
        await session.execute(select(User).where(User.directory_id == directory_id))
    ).scalar_one_or_none()


async def user_by_email(session: AsyncSession, email: str) -> User | None:
    return (
        await session.execute(select(User).where(User.email == email.strip().lower()))
    ).scalar_one_or_none()


async def link_identity(
    session: AsyncSession, user: User, issuer: str, subject: str, *, actor: Actor, now: datetime
) -> None:
    """Tie an account the directory provisioned to the identity that signs in as it."""
    user.identity_issuer, user.identity_subject = issuer, subject
    await append_event(
        session,
        type="user.updated",
        provider_id=None,
        actor=actor,
        at=now,
        data={"user_id": user.id, "fields": ["identity"]},
    )


async def set_directory_fields(
    session: AsyncSession,
    user: User,
    *,
    actor: Actor,
    now: datetime,
    email: str | None = None,
    directory_id: str | None = None,
) -> None:
    """The directory renames an account (its userName, our email) or gives its own id."""
    changed: list[str] = []
    if email is not None and email.strip().lower() != user.email:
        email = email.strip().lower()
        other = await user_by_email(session, email)
        if other is not None and other.id != user.id:
            raise Conflict("email", "a user with this email already exists")
        user.email = email
        changed.append("email")
    if directory_id is not None and directory_id != user.directory_id:
        other = await user_by_directory_id(session, directory_id)
        if other is not None and other.id != user.id:
            raise Conflict("externalId", "a user with this directory id already exists")
        user.directory_id = directory_id
        changed.append("directory_id")
    if changed:
        await append_event(
            session,
            type="user.updated",
            provider_id=None,
            actor=actor,
            at=now,
            data={"user_id": user.id, "fields": changed},
        )


async def change_role(
    session: AsyncSession, user: User, role: Role, *, actor: Actor, now: datetime
) -> bool:
    """Set the role the identity provider asserts; True (and an event) if it changed."""
    if user.role == role:
        return False
    previous, user.role = Role(user.role), role
    await append_event(
        session,
        type="user.role_changed",
        provider_id=None,
        actor=actor,
        at=now,
        data={"user_id": user.id, "from": previous, "to": role},
    )
    return True


async def record_sign_in(
    session: AsyncSession, user: User, *, method: str, actor: Actor, now: datetime
) -> None:
    await append_event(
        session,
        type="user.signed_in",
        provider_id=None,
        actor=actor,
        at=now,
        data={"user_id": user.id, "method": method},
    )


async def record_failed_sign_in(
    session: AsyncSession,
    *,
    method: str,
    reason: str,
    actor: Actor,
    now: datetime,
    user_id: int | None = None,
) -> None:
    """A failed or refused sign-in: how and why (a short code), never who typed what."""
    await append_event(
        session,
        type="user.sign_in_failed",
        provider_id=None,
        actor=actor,
        at=now,
        data={"method": method, "reason": reason, "user_id": user_id},
    )


async def update_user(
    session: AsyncSession, user_id: int, data: UserUpdate, *, actor: Actor, now: datetime
) -> User:
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound("user_id", f"no user with id {user_id}")
    changes = data.model_dump(exclude_unset=True)
    for key, value in changes.items():
        if value is None and key != "mobile_number":
            raise DomainError(key, "cannot be null")
        setattr(user, key, value)
    if changes.get("active") is False:
        await revoke_tokens(session, user_id, now)
    await append_event(
        session,
        type="user.updated",
        provider_id=None,
        actor=actor,
        at=now,
        data={"user_id": user_id, "fields": sorted(changes)},
    )
    return user


async def change_password(
    session: AsyncSession, user: User, current: str, new: str, *, now: datetime
) -> None:
    if not verify_password(current, user.password_hash):
        raise DomainError("current_password", "is not correct")
    if len(new) < MIN_PASSWORD_LENGTH:
        raise DomainError("new_password", f"must be at least {MIN_PASSWORD_LENGTH} characters")
    user.password_hash = hash_password(new)
    assert user.id is not None
    await revoke_tokens(session, user.id, now)


async def revoke_tokens(session: AsyncSession, user_id: int, now: datetime) -> None:
    await session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )


async def revoke_token(session: AsyncSession, token: str, now: datetime) -> None:
    """End one session (logout); a no-op for an unknown or already revoked token."""
    await session.execute(
        update(ApiToken)
        .where(ApiToken.token_hash == digest(token), ApiToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )


async def authenticate(session: AsyncSession, email: str, password: str) -> User | None:
    """The same argon2 work for unknown users as for known ones."""
    user = (
        await session.execute(select(User).where(User.email == email.strip().lower()))
    ).scalar_one_or_none()
    if not verify_password(password, user.password_hash if user else None):
        return None
    if user is None or not user.active:
        return None
    return user


async def issue_token(
    session: AsyncSession,
    user: User,
    *,
    now: datetime,
    ttl: timedelta,
    kind: str = "session",
    scope: str = "write",
    name: str | None = None,
) -> str:
    token = secrets.token_urlsafe(32)
    assert user.id is not None
    session.add(
        ApiToken(
            user_id=user.id,
            token_hash=digest(token),
            kind=kind,
            scope=scope,
            name=name,
            created_at=now,
            expires_at=now + ttl,
        )
    )
    await session.flush()
    return token


# Built once, as every request asks it: only the token's digest is bound per call.
_TOKEN_AND_USER = (
    select(ApiToken, User)
    .join(User, User.id == ApiToken.user_id)
    .where(ApiToken.token_hash == bindparam("token_hash"))
)


async def principal_for(session: AsyncSession, token: str, now: datetime) -> Principal | None:
    """Who a bearer token or web session token belongs to, read afresh in the caller's
    session on every request: None if the token is unknown, revoked or expired, or its
    user is disabled. So a revocation, a disabled user or a new role applies to the very
    next request, whichever process serves it."""
    row = (await session.execute(_TOKEN_AND_USER, {"token_hash": digest(token)})).first()
    if row is None:
        return None
    api_token, user = row
    if api_token.revoked_at is not None or api_token.expires_at <= now or not user.active:
        return None
    assert api_token.id is not None
    return Principal(user, permissions_for(Role(user.role), api_token.scope), api_token.id)


async def list_users(session: AsyncSession, limit: int, offset: int) -> tuple[list[User], int]:
    total = await session.scalar(select(func.count()).select_from(User))
    users = (
        (await session.execute(select(User).order_by(User.id).limit(limit).offset(offset)))
        .scalars()
        .all()
    )
    return list(users), int(total or 0)


async def get_user(session: AsyncSession, user_id: int) -> User:
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound("user_id", f"no user with id {user_id}")
    return user


async def last_sign_ins(session: AsyncSession, user_ids: list[int]) -> dict[int, datetime]:
    """When each user last signed in: their newest session (page or API sign-in)."""
    if not user_ids:
        return {}
    rows = await session.execute(
        select(ApiToken.user_id, func.max(ApiToken.created_at))
        .where(ApiToken.user_id.in_(user_ids), ApiToken.kind == "session")
        .group_by(ApiToken.user_id)
    )
    return {row[0]: row[1] for row in rows.all()}


async def issue_personal_token(
    session: AsyncSession, user: User, *, now: datetime, ttl: timedelta, scope: str, name: str
) -> tuple[str, ApiToken]:
    token = await issue_token(
        session, user, now=now, ttl=ttl, kind="personal", scope=scope, name=name
    )
    row = (
        await session.execute(select(ApiToken).where(ApiToken.token_hash == digest(token)))
    ).scalar_one()
    return token, row


async def personal_tokens(session: AsyncSession, user_id: int) -> list[ApiToken]:
    rows = await session.execute(
        select(ApiToken)
        .where(ApiToken.user_id == user_id, ApiToken.kind == "personal")
        .order_by(ApiToken.id)
    )
    return list(rows.scalars())


async def revoke_personal_token(
    session: AsyncSession, user_id: int, token_id: int, now: datetime
) -> None:
    token = await session.get(ApiToken, token_id)
    if token is None or token.user_id != user_id or token.kind != "personal":
        raise NotFound("token_id", f"you have no personal token with id {token_id}")
    token.revoked_at = token.revoked_at or now
