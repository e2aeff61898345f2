"""Helpers the routers share: path ids and shaping write results."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path

from app.auth.permissions import Permission
from app.auth.service import Principal
from app.models import Event, RecordChange, Safeguarding
from app.records.service import WriteResult

MAX_ID = 2_147_483_647  # ids are 32-bit integers on PostgreSQL
Id = Annotated[int, Path(ge=1, le=MAX_ID)]


def written(result: WriteResult[Any]) -> dict[str, Any]:
    return {
        "monitoring_level": result.monitoring_level,
        "placements_suspended": result.placements_suspended,
        "escalation": None if result.escalation is None else result.escalation.summary(),
    }


# What only the roles with the safeguarding-detail permission may see of a safeguarding:
# on the record, in its change history, and in its events.
SAFEGUARDING_DETAIL = ("reference", "summary", "category", "legacy_category")
SAFEGUARDING_EVENT_DETAIL = ("category", "outcome", "risk_outcome")


def safeguarding_out(record: Safeguarding, principal: Principal) -> dict[str, Any]:
    """A safeguarding as this caller may see it: no reference, summary or category (nor
    the reason it was entered in error) without the safeguarding-detail permission."""
    data = record.model_dump()
    if not principal.can(Permission.read_safeguarding_detail):
        data.update(dict.fromkeys(SAFEGUARDING_DETAIL), redacted=True)
        if data.get("entered_in_error_reason"):
            data["entered_in_error_reason"] = None
    return data


def change_out(change: RecordChange, principal: Principal) -> dict[str, Any]:
    """One change of a record's history as this caller may see it."""
    data = change.model_dump()
    if (
        change.record_type == "safeguarding"
        and change.field in (*SAFEGUARDING_DETAIL, "entered_in_error")
        and not principal.can(Permission.read_safeguarding_detail)
    ):
        data.update(old_value=None, new_value=None, redacted=True)
    return data


def event_out(event: Event, principal: Principal) -> dict[str, Any]:
    """An event as this caller may see it: a safeguarding's category and outcomes are
    withheld (redacted=true) from roles without the safeguarding-detail permission."""
    data = event.model_dump()
    if event.type.startswith("safeguarding.") and not principal.can(
        Permission.read_safeguarding_detail
    ):
        shown = dict(data["data"])
        for key in SAFEGUARDING_EVENT_DETAIL:
            if key in shown:
                shown[key] = None
        data.update(data=shown, redacted=True)
    return data


def safeguardings_in(events: list[Event]) -> list[int | None]:
    """The safeguardings whose details these events show (for the access audit)."""
    found: list[int | None] = []
    for event in events:
        record_id = event.data.get("safeguarding_id")
        is_safeguarding = event.type.startswith("safeguarding.")
        if is_safeguarding and isinstance(record_id, int) and record_id not in found:
            found.append(record_id)
    return found
