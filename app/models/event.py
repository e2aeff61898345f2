"""The event log (timeline, audit trail and outbox source) and the deliveries it routes to."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, UniqueConstraint, false, text
from sqlmodel import Field, SQLModel

from app.models.base import DeliveryStatus, choice, instant, json_field


class Event(SQLModel, table=True):
    __tablename__ = "events"

    id: int | None = Field(default=None, primary_key=True)
    type: str = Field(max_length=60, index=True)
    provider_id: int | None = Field(default=None, foreign_key="providers.id", index=True)
    actor: str = Field(max_length=100)  # "user:12" or "job:cqc_sync"
    actor_user_id: int | None = Field(default=None, foreign_key="users.id")
    data: dict[str, Any] = json_field()
    # One event per occurrence: the same key twice (a retried job, an overlapping
    # CQC window) is refused by the database.
    dedup_key: str | None = Field(default=None, max_length=200, unique=True)
    created_at: datetime = instant(index=True)


class Delivery(SQLModel, table=True):
    """One message of one event to one recipient: the outbox row the dispatcher claims."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("event_id", "recipient", "channel"),
        Index(
            "ix_deliveries_due",
            "next_attempt_at",
            sqlite_where=text("status IN ('pending', 'sending')"),
            postgresql_where=text("status IN ('pending', 'sending')"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    event_id: int = Field(foreign_key="events.id", index=True)
    provider_id: int | None = Field(default=None, foreign_key="providers.id", index=True)
    event_type: str = Field(max_length=60)
    recipient: str = Field(max_length=254)
    channel: str = Field(default="email", max_length=16)
    status: DeliveryStatus = choice(DeliveryStatus, DeliveryStatus.pending, index=True)
    attempts: int = 0
    next_attempt_at: datetime = instant()
    lease_until: datetime | None = instant(nullable=True)
    last_error: str | None = Field(default=None, max_length=1000)
    message_id: str | None = Field(default=None, max_length=200)
    created_at: datetime = instant()
    sent_at: datetime | None = instant(nullable=True)
    failed_at: datetime | None = instant(nullable=True)
    # An attempt may have reached the recipient before this one was made (a lease taken
    # over, a connection lost with the message in flight): the recipient may have it twice.
    possibly_duplicated: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    # A delivery receipt's final word (GOV.UK Notify: delivered, permanent-failure,
    # temporary-failure, technical-failure) and when it came.
    receipt_status: str | None = Field(default=None, max_length=32)
    receipt_at: datetime | None = instant(nullable=True)
