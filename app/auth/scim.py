"""SCIM 2.0 users (RFC 7643, 7644) for the council's directory: the subset Entra ID's
provisioning uses (create, filter by userName, get, PATCH, PUT, delete), turned into the
user service's own calls, so a deactivation ends every session and token at once. A
SCIM userName is the account's email; nothing is ever deleted."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.oidc import role_from_claims
from app.auth.service import (
    UserUpdate,
    provision_user,
    set_directory_fields,
    update_user,
    user_by_directory_id,
)
from app.errors import Conflict
from app.events import Actor
from app.models import User
from app.models.base import Role

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
LIST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"
MAX_PAGE = 200
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
FILTER = re.compile(r'^\s*(userName|externalId)\s+eq\s+"((?:[^"\\]|\\.)*)"\s*$', re.IGNORECASE)
# The role a directory account gets when the directory sends none that maps: it can read,
# and signing in through the council's account sets the real one.
DEFAULT_ROLE = Role.viewer


class ScimError(Exception):
    """An RFC 7644 section 3.12 error: its HTTP status, scimType and detail."""

    def __init__(self, status: int, detail: str, scim_type: str | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.scim_type = scim_type

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "schemas": [ERROR_SCHEMA],
            "status": str(self.status),
            "detail": self.detail,
        }
        if self.scim_type:
            body["scimType"] = self.scim_type
        return body


def as_bool(value: object, attribute: str) -> bool:
    """Entra sends booleans as strings ("False"); both are accepted."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in {"true", "false"}:
        return value.strip().lower() == "true"
    raise ScimError(400, f"{attribute} must be true or false", "invalidValue")


def _text(value: object, attribute: str, max_length: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ScimError(400, f"{attribute} must be a non-empty string", "invalidValue")
    if len(value.strip()) > max_length:
        raise ScimError(400, f"{attribute} is longer than {max_length} characters", "invalidValue")
    return value.strip()


def _user_name(value: object) -> str:
    name = _text(value, "userName", 254)
    if not EMAIL.match(name):
        raise ScimError(
            400, "userName must be an email address (the user principal name)", "invalidValue"
        )
    return name.lower()


@dataclass
class Changes:
    """What a request asks of one account, gathered before anything is written."""

    user_name: str | None = None
    display_name: str | None = None
    formatted_name: str | None = None
    given_name: str | None = None
    family_name: str | None = None
    external_id: str | None = None
    active: bool | None = None
    roles: list[str] | None = None
    ignored: set[str] = field(default_factory=set)

    def name(self) -> str | None:
        if self.display_name or self.formatted_name:
            return self.display_name or self.formatted_name
        joined = " ".join(part for part in (self.given_name, self.family_name) if part)
        return joined or None


def _role_values(value: object) -> list[str]:
    """roles as SCIM sends them: a list of {"value": ...} (or of strings), or one."""
    items = value if isinstance(value, list) else [value]
    values: list[str] = []
    for item in items:
        if isinstance(item, Mapping):
            item = item.get("value")
        if isinstance(item, str) and item.strip():
            values.append(item.strip())
    return values


def _apply(changes: Changes, attribute: str, value: object) -> None:
    """One attribute (its path, case-insensitive, maybe dotted) and its new value."""
    key = attribute.strip()
    lower = key.lower()
    if lower.startswith(USER_SCHEMA.lower() + ":"):
        lower = lower[len(USER_SCHEMA) + 1 :]
    if lower == "username":
        changes.user_name = _user_name(value)
    elif lower == "displayname":
        changes.display_name = _text(value, "displayName", 200)
    elif lower == "name.formatted":
        changes.formatted_name = _text(value, "name.formatted", 200)
    elif lower == "name.givenname":
        changes.given_name = _text(value, "name.givenName", 100)
    elif lower == "name.familyname":
        changes.family_name = _text(value, "name.familyName", 100)
    elif lower == "name":
        if not isinstance(value, Mapping):
            raise ScimError(400, "name must be an object", "invalidValue")
        for part, part_value in value.items():
            _apply(changes, f"name.{part}", part_value)
    elif lower == "externalid":
        changes.external_id = _text(value, "externalId", 255)
    elif lower == "active":
        changes.active = as_bool(value, "active")
    elif lower == "roles" or lower.startswith("roles["):
        changes.roles = _role_values(value)
    else:
        # Attributes carewatch does not keep (title, emails, addresses...): the directory
        # maps many by default, and refusing them would stop its provisioning.
        changes.ignored.add(key.split("[")[0].split(".")[0][:40])


def changes_from_resource(body: Mapping[str, Any]) -> Changes:
    """A whole User resource (POST, PUT)."""
    changes = Changes()
    for key, value in body.items():
        if key in {"schemas", "id", "meta"} or value is None:
            continue
        if key.lower() == "name" and isinstance(value, Mapping):
            for part, part_value in value.items():
                if part_value is not None:
                    _apply(changes, f"name.{part}", part_value)
            continue
        _apply(changes, key, value)
    return changes


def changes_from_patch(body: Mapping[str, Any]) -> Changes:
    """A PatchOp (RFC 7644 3.5.2), in the shapes Entra sends: Replace/Add with a path and
    a value, or without a path and an object of attributes; Remove is accepted only for
    attributes carewatch does not keep."""
    operations = body.get("Operations")
    if not isinstance(operations, list) or not operations:
        raise ScimError(400, "Operations must be a non-empty list", "invalidSyntax")
    changes = Changes()
    for operation in operations:
        if not isinstance(operation, Mapping):
            raise ScimError(400, "each operation must be an object", "invalidSyntax")
        op = str(operation.get("op", "")).lower()
        path = operation.get("path")
        value = operation.get("value")
        if op not in {"add", "replace", "remove"}:
            raise ScimError(400, "op must be add, replace or remove", "invalidSyntax")
        if path is not None and not isinstance(path, str):
            raise ScimError(400, "path must be a string", "invalidPath")
        if op == "remove":
            if not path:
                raise ScimError(400, "remove needs a path", "noTarget")
            if path.split("[")[0].split(".")[0].lower() in {
                "username",
                "active",
                "displayname",
            }:
                raise ScimError(400, f"{path} cannot be removed", "mutability")
            if path.lower().startswith("roles"):
                changes.roles = []
            continue
        if path:
            _apply(changes, path, value)
        elif isinstance(value, Mapping):
            for key, item in value.items():
                _apply(changes, key, item)
        else:
            raise ScimError(
                400, "an operation without a path needs an object value", "invalidValue"
            )
    return changes


def resource(user: User, base_url: str) -> dict[str, Any]:
    """The account as a SCIM User."""
    assert user.id is not None
    body: dict[str, Any] = {
        "schemas": [USER_SCHEMA],
        "id": str(user.id),
        "userName": user.email,
        "displayName": user.name,
        "name": {"formatted": user.name},
        "emails": [{"value": user.email, "type": "work", "primary": True}],
        "active": user.active,
        "roles": [{"value": str(user.role), "primary": True}],
        "meta": {
            "resourceType": "User",
            "created": user.created_at.isoformat(),
            "location": f"{base_url.rstrip('/')}/scim/v2/Users/{user.id}",
        },
    }
    if user.directory_id:
        body["externalId"] = user.directory_id
    return body


@dataclass(frozen=True)
class Directory:
    """The SCIM service for one request: the role map, the actor its events carry."""

    role_map: Mapping[str, str]
    roles_claim: str = "roles"
    actor: Actor = field(default_factory=Actor.directory)

    def role_of(self, values: list[str]) -> Role | None:
        """A role the directory sends: one of the provider's app roles (the same map as
        the ID token's claim) or carewatch's own name for it."""
        mapped = role_from_claims({"roles": values}, "roles", self.role_map)
        if mapped is not None:
            return mapped
        return next((Role(value) for value in values if value in Role.__members__), None)

    async def get(self, session: AsyncSession, user_id: str) -> User:
        user = await session.get(User, _id(user_id)) if _id(user_id) else None
        if user is None:
            raise ScimError(404, f"no user with id {user_id[:40]}")
        return user

    async def search(
        self, session: AsyncSession, filter_text: str | None, start_index: int, count: int
    ) -> tuple[list[User], int]:
        query = select(User)
        if filter_text:
            match = FILTER.match(filter_text)
            if match is None:
                raise ScimError(
                    400,
                    'only userName eq "..." and externalId eq "..." filters are supported',
                    "invalidFilter",
                )
            attribute, value = match.group(1).lower(), match.group(2).replace('\\"', '"')
            if attribute == "username":
                query = query.where(User.email == value.strip().lower())
            else:
                query = query.where(User.directory_id == value)
        total = await session.scalar(select(func.count()).select_from(query.subquery()))
        rows = await session.execute(
            query.order_by(User.id).offset(start_index - 1).limit(min(count, MAX_PAGE))
        )
        return list(rows.scalars()), int(total or 0)

    async def create(self, session: AsyncSession, body: Mapping[str, Any], now: datetime) -> User:
        changes = changes_from_resource(body)
        if changes.user_name is None:
            raise ScimError(400, "userName is required", "invalidValue")
        if changes.external_id and await user_by_directory_id(session, changes.external_id):
            raise ScimError(409, "a user with this externalId already exists", "uniqueness")
        role = self.role_of(changes.roles or []) or DEFAULT_ROLE
        try:
            return await provision_user(
                session,
                email=changes.user_name,
                name=changes.name() or changes.user_name.split("@")[0],
                role=role,
                actor=self.actor,
                now=now,
                directory_id=changes.external_id,
                active=True if changes.active is None else changes.active,
            )
        except Conflict:
            raise ScimError(409, "a user with this userName already exists", "uniqueness") from None

    async def change(
        self, session: AsyncSession, user: User, changes: Changes, now: datetime
    ) -> User:
        """Apply what was asked through the user service: a deactivation revokes every
        session and token of the account in this same transaction."""
        assert user.id is not None
        try:
            await set_directory_fields(
                session,
                user,
                actor=self.actor,
                now=now,
                email=changes.user_name,
                directory_id=changes.external_id,
            )
        except Conflict as conflict:
            field_name = "userName" if conflict.field == "email" else "externalId"
            raise ScimError(409, f"another user has this {field_name}", "uniqueness") from None
        update: dict[str, Any] = {}
        name = changes.name()
        if name is not None and name != user.name:
            update["name"] = name
        if changes.active is not None and changes.active != user.active:
            update["active"] = changes.active
        if changes.roles:
            role = self.role_of(changes.roles)
            if role is not None and role != user.role:
                update["role"] = role
        if update:
            try:
                data = UserUpdate.model_validate(update)
            except ValidationError as error:
                problem = error.errors()[0]
                raise ScimError(
                    400, f"{problem['loc'][0]}: {problem['msg']}", "invalidValue"
                ) from None
            await update_user(session, user.id, data, actor=self.actor, now=now)
        return user

    async def deactivate(self, session: AsyncSession, user: User, now: datetime) -> None:
        await self.change(session, user, Changes(active=False), now)


def _id(value: str) -> int | None:
    return int(value) if value.isdigit() and 0 < int(value) <= 2_147_483_647 else None
