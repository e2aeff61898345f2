"""Helpers the routers share: path ids and shaping write results."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path

from app.auth.permissions import Permission
from app.auth.service import Principal
from app.models import Safeguarding
from app.records.service import WriteResult

MAX_ID = 2_147_483_647  # ids are 32-bit integers on PostgreSQL
Id = Annotated[int, Path(ge=1, le=MAX_ID)]


def written(result: WriteResult[Any]) -> dict[str, Any]:
    return {
        "monitoring_level": result.monitoring_level,
        "placements_suspended": result.placements_suspended,
        "escalation": None if result.escalation is None else result.escalation.summary(),
    }


def safeguarding_out(record: Safeguarding, principal: Principal) -> dict[str, Any]:
    """A safeguarding as this caller may see it: no summary or reference without the
    safeguarding-detail permission."""
    data = record.model_dump()
    if not principal.can(Permission.read_safeguarding_detail):
        data.update(reference=None, summary=None, redacted=True)
    return data
