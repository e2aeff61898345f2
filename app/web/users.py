"""User accounts for admins (/users): every account with its role and when it last signed
in, creating an account, changing a role, deactivating a leaver (their sessions and
tokens stop at the next request), and the providers a leaver leaves to be reassigned.
The same service functions as /api/v1/users."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import service as accounts
from app.auth.permissions import Permission
from app.errors import NotFound
from app.models import User
from app.models.base import Role
from app.records import workload
from app.services import Services
from app.web.deps import FormDep, PageError, ServicesDep, Viewer, in_range, render, require
from app.web.formpages import Back, form_page, submit
from app.web.forms import Choice, Field, FormSpec, choices
from app.web.sessions import FLASH_COOKIE, codec

router = APIRouter(include_in_schema=False)

UserManager = Annotated[Viewer, Depends(require(Permission.manage_users))]

ROLE_HINTS = {
    "admin": "Administrator",
    "manager": "Manager (head of commissioning)",
    "officer": "Contract officer",
    "safeguarding": "Safeguarding colleague",
    "viewer": "Viewer (reads; never sees safeguarding details)",
}
ROLE_FIELD = Field("role", "Role", "radios", options=choices(Role, ROLE_HINTS))

NEW_USER_FORM = FormSpec(
    kind="user",
    title="Create an account",
    noun="account",
    schema=accounts.UserIn,
    permission=Permission.manage_users,
    fields=(
        Field("name", "Full name", width="20"),
        Field("email", "Email address", hint="Their council email address", width="30"),
        ROLE_FIELD,
        Field(
            "password",
            "Password",
            "password",
            hint=f"At least {accounts.MIN_PASSWORD_LENGTH} characters. Give it to them in "
            "person; they can change it once signed in",
            width="20",
        ),
        Field(
            "mobile_number",
            "Mobile number",
            hint="For urgent text messages, for example 07700 900123",
            required=False,
            width="20",
        ),
    ),
    submit="Create the account",
)
ACCOUNT_FORM = FormSpec(
    kind="account",
    title="Change the account",
    noun="account",
    schema=accounts.UserUpdate,
    permission=Permission.manage_users,
    fields=(
        ROLE_FIELD,
        Field(
            "active",
            "Account",
            "radios",
            options=(
                Choice("true", "Active: may sign in"),
                Choice("false", "Deactivated: a leaver; they are signed out at once"),
            ),
        ),
    ),
    submit="Save the account",
)
USERS_BACK = Back("/users", "Back to user accounts")


@dataclass(frozen=True)
class Column:
    """One column of the accounts table: its heading and its value for a user (`extra`
    holds what is not on the user, such as when they last signed in). kind "instant"
    shows a time in the council's time zone."""

    heading: str
    value: Callable[[User, dict[str, Any]], Any]
    kind: str = "text"


# The accounts table, in order after the name; a new column is one more entry.
COLUMNS: tuple[Column, ...] = (
    Column("Email address", lambda user, extra: user.email),
    Column("Role", lambda user, extra: ROLE_HINTS.get(str(user.role), str(user.role))),
    Column("Account", lambda user, extra: "Active" if user.active else "Deactivated"),
    Column("Last signed in", lambda user, extra: extra.get("last_signed_in"), "instant"),
    Column("Signs in with", lambda user, extra: sign_in_source(user.source)),
)


def sign_in_source(source: str) -> str:
    """Where an account comes from, in an admin's words (the API's `source`)."""
    if source == "local":
        return "A carewatch password"
    if source == "directory":
        return "The council's account (made by the directory, not signed in yet)"
    return f"The council's account ({source})"


@router.get("/users")
async def users_page(request: Request, viewer: UserManager, services: ServicesDep) -> Response:
    async with services.database.sessions() as session:
        users, _ = await accounts.list_users(session, limit=10_000, offset=0)
        signed_in = await accounts.last_sign_ins(session, [u.id for u in users if u.id])
        to_reassign = await workload.providers_to_reassign(session)
    rows = [
        {
            "user": user,
            "cells": [
                column.value(user, {"last_signed_in": signed_in.get(user.id or 0)})
                for column in COLUMNS
            ],
        }
        for user in users
    ]
    flash = codec(services).load_flash(request.cookies.get(FLASH_COOKIE))
    response = render(
        request,
        "users.html",
        {
            "columns": COLUMNS,
            "rows": rows,
            "to_reassign": to_reassign,
            "flash": flash,
        },
        viewer=viewer,
    )
    if flash is not None:
        response.delete_cookie(FLASH_COOKIE, path="/")
    return response


@router.get("/users/new")
async def new_user_form(request: Request, viewer: UserManager, services: ServicesDep) -> Response:
    return await form_page(
        request,
        viewer,
        services,
        NEW_USER_FORM,
        provider_id=None,
        action=request.url.path,
        values={"role": Role.officer.value},
        back=USERS_BACK,
    )


@router.post("/users/new")
async def new_user_submit(
    request: Request, viewer: UserManager, services: ServicesDep, form: FormDep
) -> Response:

    async def write(session: AsyncSession, data: BaseModel) -> Any:
        assert isinstance(data, accounts.UserIn)
        return await accounts.create_user(
            session, data, actor=viewer.principal.actor, now=services.clock.now()
        )

    return await submit(
        request,
        viewer,
        services,
        NEW_USER_FORM,
        form,
        provider_id=None,
        write=write,
        done="The account was created",
        back=USERS_BACK,
        done_url=lambda user: "/users",
    )


async def _user(services: Services, user_id: int) -> User:
    async with services.database.sessions() as session:
        try:
            return await accounts.get_user(session, in_range(user_id))
        except NotFound:
            raise PageError(404, "Page not found", "There is no such user.") from None


def _account_back(user: User) -> Back:
    return Back("/users", "Back to user accounts", f"{user.name} ({user.email})")


@router.get("/users/{user_id:int}")
async def account_form(
    request: Request, user_id: int, viewer: UserManager, services: ServicesDep
) -> Response:
    user = await _user(services, user_id)
    return await form_page(
        request,
        viewer,
        services,
        ACCOUNT_FORM,
        provider_id=None,
        action=request.url.path,
        values={"role": str(user.role), "active": "true" if user.active else "false"},
        back=_account_back(user),
    )


@router.post("/users/{user_id:int}")
async def account_submit(
    request: Request, user_id: int, viewer: UserManager, services: ServicesDep, form: FormDep
) -> Response:
    user = await _user(services, user_id)

    async def write(session: AsyncSession, data: BaseModel) -> Any:
        assert isinstance(data, accounts.UserUpdate)
        return await accounts.update_user(
            session, user_id, data, actor=viewer.principal.actor, now=services.clock.now()
        )

    return await submit(
        request,
        viewer,
        services,
        ACCOUNT_FORM,
        form,
        provider_id=None,
        write=write,
        done=f"The account of {user.name} was saved",
        back=_account_back(user),
        done_url=lambda saved: "/users",
    )
