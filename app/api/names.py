"""The names of the people an answer mentions by id or by actor label ("user:12"), so that
a caller who may not read /api/v1/users (an officer) still sees who: one query for all
the people of one answer. A scheduled job's label ("job:cqc_sync") names no person, and
its name field is null."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.service import Principal
from app.records.dashboard import user_names

# The fields that hold a user's id, and the field that carries that user's name.
BY_ID = {
    "contract_officer_id": "contract_officer_name",
    "officer_id": "officer_name",
    "created_by": "created_by_name",
    "user_id": "user_name",
    "entered_in_error_by": "entered_in_error_by_name",
    "changed_by": "changed_by_name",
}
# The fields that hold an actor's label, and the field that carries the person's name.
BY_LABEL = {"actor": "actor_name", "started_by": "started_by_name", "ended_by": "ended_by_name"}


def user_of(label: Any) -> int | None:
    """The user id in an actor label, or None for a job (or anything else)."""
    if not isinstance(label, str):
        return None
    kind, _, number = label.partition(":")
    return int(number) if kind == "user" and number.isdigit() else None


def caller_name(principal: Principal) -> dict[int, str]:
    """The caller's own name, by id, as read with their token in this request."""
    assert principal.user.id is not None
    return {principal.user.id: principal.user.name}


async def with_names(
    session: AsyncSession,
    rows: list[dict[str, Any]],
    *fields: str,
    known: Mapping[int, str] | None = None,
) -> list[dict[str, Any]]:
    """The rows, each with the name of the person in each of `fields` (keys of BY_ID or
    BY_LABEL) beside it: null for no one, a job, or a user since deleted. `known` names
    people already read in this request (the caller, whose user was read with its
    token), so that a write's answer naming only its writer reads no one again."""
    names = dict(known or {})
    wanted: set[int] = set()
    for row in rows:
        for field in fields:
            user_id = row.get(field) if field in BY_ID else user_of(row.get(field))
            if isinstance(user_id, int) and user_id not in names:
                wanted.add(user_id)
    names.update(await user_names(session, wanted))
    for row in rows:
        for field in fields:
            if field not in row:
                continue
            user_id = row[field] if field in BY_ID else user_of(row[field])
            name_field = BY_ID.get(field) or BY_LABEL[field]
            row[name_field] = names.get(user_id) if isinstance(user_id, int) else None
    return rows
