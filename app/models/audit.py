"""The append-only audit trail of safeguarding access: who read or wrote which record,
when and from where. Database triggers refuse UPDATE and DELETE (see its migration)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from app.models.base import instant


class SafeguardingAudit(SQLModel, table=True):
    __tablename__ = "safeguarding_audit"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = instant(index=True)
    user_id: int | None = Field(default=None, foreign_key="users.id", index=True)
    actor: str = Field(max_length=100)
    action: str = Field(max_length=20)  # read | list | create | update | timeline
    provider_id: int | None = Field(default=None, index=True)
    safeguarding_id: int | None = Field(default=None, index=True)
    route: str = Field(max_length=200)
    client_address: str | None = Field(default=None, max_length=64)
    request_id: str | None = Field(default=None, max_length=64)
