"""Delivery receipts from GOV.UK Notify: the final status of a notification, recorded on
the delivery whose id was sent as its reference. A failure (the number or address does
not exist, the phone was off for 72 hours, a fault at Notify) marks the delivery failed,
with words for the people reading /alerts, and alerts the admins as a refused email
does (delivery.failed)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import DomainError, NotFound
from app.events import Actor, append_event
from app.models import Delivery
from app.models.base import DeliveryStatus

NOTIFY = Actor.job("notify_receipts")
# What each of Notify's final failure statuses means, for the people reading /alerts.
FAILURES = {
    "permanent-failure": "GOV.UK Notify could not deliver it: the email address or phone"
    " number does not exist or cannot take messages",
    "temporary-failure": "GOV.UK Notify could not deliver it: the inbox was full or the phone"
    " was off for 72 hours",
    "technical-failure": "GOV.UK Notify could not deliver it because of a fault on its side;"
    " retry it",
}
FINAL = {"delivered", *FAILURES}


class Receipt(BaseModel):
    """Notify's callback body; fields carewatch does not use are ignored."""

    model_config = ConfigDict(extra="ignore")

    id: str = Field(min_length=1, max_length=100)
    reference: str | None = Field(default=None, max_length=100)
    to: str = Field(default="", max_length=254)
    status: str = Field(min_length=1, max_length=32)


async def record_receipt(session: AsyncSession, receipt: Receipt, *, now: datetime) -> Delivery:
    """Record one receipt; NotFound for a reference that is not one of our deliveries."""
    reference = receipt.reference or ""
    delivery = (
        await session.get(Delivery, int(reference), with_for_update=True)
        if reference.isdigit() and len(reference) < 19
        else None
    )
    if delivery is None:
        raise NotFound("reference", "no delivery has this reference")
    if receipt.status not in FINAL:
        raise DomainError("status", "must be one of " + ", ".join(sorted(FINAL)))
    delivery.receipt_status = receipt.status
    delivery.receipt_at = now
    if receipt.status in FAILURES and delivery.status != DeliveryStatus.failed:
        delivery.status = DeliveryStatus.failed
        delivery.failed_at = now
        delivery.lease_until = None
        delivery.last_error = FAILURES[receipt.status]
        if delivery.event_type != "delivery.failed":
            await append_event(
                session,
                type="delivery.failed",
                provider_id=delivery.provider_id,
                actor=NOTIFY,
                at=now,
                data={
                    "delivery_id": delivery.id,
                    "event_id": delivery.event_id,
                    "failed_event_type": delivery.event_type,
                    "error": FAILURES[receipt.status],
                },
                # One alert per notification that failed (a retried delivery is a new one).
                dedup_key=f"delivery.failed:receipt:{receipt.id}"[:200],
            )
    return delivery
