"""A manager's retry of a failed delivery: the row goes back to pending, due now, and the
retry is on record as an event. The attempt count is kept, so the history stays honest."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import Conflict, NotFound
from app.events import Actor, append_event
from app.models import Delivery
from app.models.base import DeliveryStatus


async def retry_delivery(
    session: AsyncSession, delivery_id: int, *, actor: Actor, now: datetime
) -> Delivery:
    delivery = await session.get(Delivery, delivery_id, with_for_update=True)
    if delivery is None:
        raise NotFound("delivery_id", f"no delivery with id {delivery_id}")
    if delivery.status != DeliveryStatus.failed:
        raise Conflict(
            "status", f"only a failed delivery can be retried (this one is {delivery.status})"
        )
    delivery.status = DeliveryStatus.pending
    delivery.next_attempt_at = now
    delivery.failed_at = None
    delivery.lease_until = None
    await append_event(
        session,
        type="delivery.retried",
        provider_id=delivery.provider_id,
        actor=actor,
        at=now,
        data={"delivery_id": delivery.id, "event_type": delivery.event_type},
    )
    return delivery
