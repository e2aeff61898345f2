"""The dispatcher: claims due deliveries under a lease, sends each message through its
channel outside any transaction, then records the whole batch's outcomes in one statement.

Claims are leased: PostgreSQL skips rows another dispatcher holds (FOR UPDATE SKIP
LOCKED); the claiming UPDATE re-checks each row's state, so a row is claimed by one
dispatcher at a time on either engine. Each claim counts as an attempt. A dispatcher that
dies mid-batch leaves leases that expire; the next claim takes those rows over and sends
them again: at least once, never lost.

Every send that may duplicate a message is counted (carewatch_deliveries_resent_total),
logged by delivery id and marked possibly_duplicated on the delivery: a row taken over
after a lease expired (its first dispatcher may have handed the message over before it
died), and a retry after a connection was lost with the message in flight. See
docs/DEPLOY.md for the size of that window.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import and_, bindparam, or_, select, update

from app.alerting.channel import (
    Channel,
    ConfigurationSendError,
    Outgoing,
    PermanentSendError,
    PossiblyDeliveredError,
    Renderer,
    TransientSendError,
)
from app.clock import Clock
from app.db import Database
from app.events import Actor, EventDraft, append_events
from app.models import Delivery, Event, Provider, User
from app.models.base import DeliveryStatus

log = logging.getLogger(__name__)
DISPATCHER = Actor.job("dispatcher")

LEASE_EXPIRED = "lease_expired"
DROPPED_AFTER_DATA = "dropped_after_data"


class DeliveryObserver(Protocol):
    def observe_delivery(self, outcome: str, latency: float | None) -> None: ...

    def observe_resent(self, reason: str) -> None: ...


@dataclass(frozen=True)
class RetryPolicy:
    first_delay: timedelta = timedelta(seconds=30)
    max_delay: timedelta = timedelta(hours=1)
    give_up_after: timedelta = timedelta(days=3)
    config_pause: timedelta = timedelta(seconds=60)

    def delay(self, attempts: int) -> timedelta:
        seconds = self.first_delay.total_seconds() * 2 ** max(attempts - 1, 0)
        return timedelta(seconds=min(seconds, self.max_delay.total_seconds()))


@dataclass(frozen=True)
class Claim:
    """A delivery as this dispatcher claimed it (attempts already counts this attempt)."""

    id: int
    event_id: int
    event_type: str
    provider_id: int | None
    recipient: str
    channel: str
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    lease_until: datetime
    last_error: str | None
    message_id: str | None
    possibly_duplicated: bool
    taken_over: bool  # its previous dispatcher's lease ran out before it recorded anything


_CLAIMED = (
    Delivery.id,
    Delivery.event_id,
    Delivery.event_type,
    Delivery.provider_id,
    Delivery.recipient,
    Delivery.channel,
    Delivery.attempts,
    Delivery.created_at,
    Delivery.next_attempt_at,
    Delivery.lease_until,
    Delivery.last_error,
    Delivery.message_id,
    Delivery.possibly_duplicated,
)


@dataclass
class Outcome:
    """What became of one claimed delivery; recorded with the rest of its batch."""

    claim: Claim
    kind: str  # sent, retried, failed, paused
    at: datetime
    error: str | None = None
    reference: str | None = None
    next_attempt_at: datetime | None = None
    possibly_delivered: bool = False  # this attempt may have reached the recipient

    def values(self) -> dict[str, Any]:
        """Every column the record statement sets, so the batch is one executemany."""
        claim = self.claim
        sent, failed = self.kind == "sent", self.kind == "failed"
        return {
            "id": claim.id,
            "held_until": claim.lease_until,
            "status": {
                "sent": DeliveryStatus.sent,
                "failed": DeliveryStatus.failed,
            }.get(self.kind, DeliveryStatus.pending),
            # A pause is our configuration's fault, not an attempt at the recipient.
            "attempts": claim.attempts - 1 if self.kind == "paused" else claim.attempts,
            "next_attempt_at": self.next_attempt_at or claim.next_attempt_at,
            "lease_until": None,
            "last_error": None if sent else (self.error or claim.last_error),
            "message_id": self.reference if sent else claim.message_id,
            "sent_at": self.at if sent else None,
            "failed_at": self.at if failed else None,
            "possibly_duplicated": claim.possibly_duplicated or self.possibly_delivered,
        }

    @property
    def latency(self) -> float | None:
        # A delivery is created in its event's transaction, at its event's time.
        return (self.at - self.claim.created_at).total_seconds() if self.kind == "sent" else None


# ORM bulk UPDATE by primary key, each row only while this dispatcher's lease holds it:
# after a lease ran out another dispatcher may have claimed the row, and the outcome is
# then that dispatcher's to record.
_RECORD = (
    update(Delivery)
    .where(
        Delivery.status == DeliveryStatus.sending,
        Delivery.lease_until == bindparam("held_until"),
    )
    .execution_options(synchronize_session=None)
)


@dataclass
class DispatchStats:
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    paused: int = 0
    resent: int = 0
    outcomes: list[tuple[str, float | None]] = field(default_factory=list)


@dataclass
class DispatcherState:
    """What operators need to see: whether sending is paused, and why."""

    paused_until: datetime | None = None
    pause_reason: str | None = None


class Dispatcher:
    def __init__(
        self,
        *,
        database: Database,
        mailer: Channel,
        renderer: Renderer,
        clock: Clock,
        base_url: str,
        lease: timedelta = timedelta(minutes=2),
        batch_size: int = 50,
        concurrency: int = 8,
        retry: RetryPolicy | None = None,
        safeguarding_mailbox: str | None = None,
    ) -> None:
        self.database = database
        # Messages to this address are written for the safeguarding team, not the officer.
        self.safeguarding_mailbox = safeguarding_mailbox
        self.mailer = mailer
        self.renderer = renderer
        self.clock = clock
        self.base_url = base_url.rstrip("/")
        self.lease = lease
        self.batch_size = batch_size
        self.concurrency = concurrency
        self.retry = retry or RetryPolicy()
        self.state = DispatcherState()
        self.stopping = False  # set at shutdown: finish the round in hand, start no other
        self.observers: list[DeliveryObserver] = []

    async def claim(self) -> list[Claim]:
        """Take up to batch_size due deliveries and lease them to this dispatcher."""
        now = self.clock.now()
        pending_due = and_(
            Delivery.status == DeliveryStatus.pending, Delivery.next_attempt_at <= now
        )
        lease_expired = and_(Delivery.status == DeliveryStatus.sending, Delivery.lease_until < now)
        async with self.database.transaction() as session:
            candidates = (
                select(Delivery.id, Delivery.status)
                .where(or_(pending_due, lease_expired))
                .order_by(Delivery.id)
                .limit(self.batch_size)
            )
            if self.database.dialect == "postgresql":
                candidates = candidates.with_for_update(skip_locked=True)
            found = (await session.execute(candidates)).all()
            claims: list[Claim] = []
            # Each UPDATE re-checks its own condition, so what it returns is what it
            # claimed, whatever another dispatcher did since the SELECT.
            for status, condition, taken_over in (
                (DeliveryStatus.pending, pending_due, False),
                (DeliveryStatus.sending, lease_expired, True),
            ):
                ids = [row.id for row in found if row.status == status]
                if not ids:
                    continue
                values: dict[str, Any] = {
                    "status": DeliveryStatus.sending,
                    "lease_until": now + self.lease,
                    "attempts": Delivery.attempts + 1,
                }
                if taken_over:
                    values["possibly_duplicated"] = True
                claimed = await session.execute(
                    update(Delivery)
                    .where(Delivery.id.in_(ids), condition)
                    .values(**values)
                    .returning(*_CLAIMED)
                    .execution_options(synchronize_session=False)
                )
                claims.extend(Claim(**row._asdict(), taken_over=taken_over) for row in claimed)
        for claim in claims:
            if claim.taken_over:
                log.warning(
                    "delivery %s: a dispatcher's lease ran out before it recorded an outcome;"
                    " sending again (attempt %s), possibly a duplicate",
                    claim.id,
                    claim.attempts,
                )
                self._resent(LEASE_EXPIRED)
        return sorted(claims, key=lambda claim: claim.id)

    async def _contexts(self, event_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
        async with self.database.sessions() as session:
            rows = await session.execute(
                select(Event, Provider, User.name)
                .outerjoin(Provider, Provider.id == Event.provider_id)
                .outerjoin(User, User.id == Provider.contract_officer_id)
                .where(Event.id.in_(event_ids))
            )
            contexts: dict[int, dict[str, Any]] = {}
            for event, provider, officer_name in rows:
                contexts[event.id] = {
                    "event": {
                        "id": event.id,
                        "type": event.type,
                        "data": event.data,
                        "created_at": event.created_at,
                    },
                    "provider": None
                    if provider is None
                    else {
                        "id": provider.id,
                        "name": provider.name,
                        "monitoring_level": provider.monitoring_level,
                        "placements_suspended": provider.placements_suspended,
                        "next_visit_due_on": provider.next_visit_due_on,
                        "officer_name": officer_name or "no officer assigned",
                    },
                    "link": f"{self.base_url}/providers/{provider.id}"
                    if provider
                    else f"{self.base_url}/alerts",
                    "base_url": self.base_url,
                }
            return contexts

    async def run_once(self) -> DispatchStats:
        """Claim one batch, send it, record its outcomes. Returns what happened."""
        stats = DispatchStats()
        now = self.clock.now()
        if self.state.paused_until is not None and now < self.state.paused_until:
            return stats
        claims = await self.claim()
        stats.claimed = len(claims)
        stats.resent = sum(claim.taken_over for claim in claims)
        if not claims:
            return stats
        contexts = await self._contexts(sorted({claim.event_id for claim in claims}))
        # The whole batch at once, `concurrency` of them talking to the channel at a time.
        connections = asyncio.Semaphore(self.concurrency)
        outcomes = await asyncio.gather(
            *(self._send_one(claim, contexts[claim.event_id], connections) for claim in claims)
        )
        await self._record(outcomes)
        for outcome in outcomes:
            setattr(stats, outcome.kind, getattr(stats, outcome.kind) + 1)
            if outcome.kind == "sent":
                stats.outcomes.append(("sent", outcome.latency))
            for observer in self.observers:
                observer.observe_delivery(outcome.kind, outcome.latency)
        return stats

    async def _send_one(
        self, claim: Claim, context: dict[str, Any], connections: asyncio.Semaphore
    ) -> Outcome:
        if self.state.paused_until is not None and self.clock.now() < self.state.paused_until:
            return Outcome(
                claim, "paused", self.clock.now(), next_attempt_at=self.state.paused_until
            )
        try:
            rendered = self.renderer.render(
                context["event"]["type"],
                {
                    **context,
                    "channel": claim.channel,
                    "to_safeguarding_team": claim.recipient == self.safeguarding_mailbox,
                },
            )
            outgoing = Outgoing(
                delivery_id=claim.id,
                event_id=claim.event_id,
                provider_id=(context["provider"] or {}).get("id"),
                recipient=claim.recipient,
                message=rendered,
                at=self.clock.now(),
                channel=claim.channel,
                maybe_sent=claim.possibly_duplicated,
            )
            async with connections:
                reference = await self.mailer.send(outgoing)
        except ConfigurationSendError as error:
            # Our configuration is wrong, not the recipient: stop the line, keep attempts.
            now = self.clock.now()
            self.state.paused_until = now + self.retry.config_pause
            self.state.pause_reason = str(error)
            log.error("alert sending PAUSED: %s; fix the SMTP settings", error)
            return Outcome(
                claim, "paused", now, error=str(error), next_attempt_at=self.state.paused_until
            )
        except PermanentSendError as error:
            log.error("delivery %s failed permanently (%s)", claim.id, error.code or "refused")
            return Outcome(claim, "failed", self.clock.now(), error=str(error))
        except TransientSendError as error:
            return self._retry_later(
                claim, str(error), possibly_delivered=isinstance(error, PossiblyDeliveredError)
            )
        except Exception as error:
            # A fault of ours (a template, a bug): this delivery waits and tries again,
            # the rest of the batch is recorded as it went.
            log.exception("delivery %s: unexpected error while sending", claim.id)
            return self._retry_later(claim, f"internal error: {type(error).__name__}")
        self.state.paused_until = None
        self.state.pause_reason = None
        return Outcome(claim, "sent", self.clock.now(), reference=reference)

    def _retry_later(
        self, claim: Claim, error: str, *, possibly_delivered: bool = False
    ) -> Outcome:
        now = self.clock.now()
        if now - claim.created_at >= self.retry.give_up_after:
            log.error("delivery %s failed: gave up after %s attempts", claim.id, claim.attempts)
            return Outcome(
                claim,
                "failed",
                now,
                error=f"gave up after {claim.attempts} attempts: {error}",
                possibly_delivered=possibly_delivered,
            )
        if possibly_delivered:
            # Not again at once, as if nothing had been sent: the server may have the
            # message. The normal backoff gives its queue time to show it.
            log.warning(
                "delivery %s: connection lost with the message in flight (attempt %s);"
                " retrying later, possibly a duplicate",
                claim.id,
                claim.attempts,
            )
            self._resent(DROPPED_AFTER_DATA)
        else:
            log.warning("delivery %s deferred after attempt %s", claim.id, claim.attempts)
        return Outcome(
            claim,
            "retried",
            now,
            error=error,
            next_attempt_at=now + self.retry.delay(claim.attempts),
            possibly_delivered=possibly_delivered,
        )

    def _resent(self, reason: str) -> None:
        for observer in self.observers:
            observer.observe_resent(reason)

    async def _record(self, outcomes: Sequence[Outcome]) -> None:
        """One transaction, one statement for the batch's outcomes; a failed alert is
        itself an alert, to admins (unless it was already that)."""
        failed = [
            o for o in outcomes if o.kind == "failed" and o.claim.event_type != "delivery.failed"
        ]
        async with self.database.transaction() as session:
            await session.execute(_RECORD, [outcome.values() for outcome in outcomes])
            if not failed:
                return
            # Only what this dispatcher failed: a row whose lease it lost is not.
            ours = set(
                (
                    await session.execute(
                        select(Delivery.id).where(
                            Delivery.id.in_([o.claim.id for o in failed]),
                            Delivery.status == DeliveryStatus.failed,
                        )
                    )
                ).scalars()
            )
            await append_events(
                session,
                [
                    EventDraft(
                        "delivery.failed",
                        o.claim.provider_id,
                        {
                            "delivery_id": o.claim.id,
                            "event_id": o.claim.event_id,
                            "failed_event_type": o.claim.event_type,
                            "error": (o.error or "")[:300],
                        },
                        dedup_key=f"delivery.failed:{o.claim.id}",
                    )
                    for o in failed
                    if o.claim.id in ours
                ],
                actor=DISPATCHER,
                at=self.clock.now(),
            )

    async def drain(self, max_rounds: int = 1000) -> DispatchStats:
        """Send everything due now (tests, the CLI and the sweep use it)."""
        total = DispatchStats()
        try:
            for _ in range(max_rounds):
                stats = await self.run_once()
                for name in ("claimed", "sent", "retried", "failed", "paused", "resent"):
                    setattr(total, name, getattr(total, name) + getattr(stats, name))
                total.outcomes.extend(stats.outcomes)
                if stats.claimed == 0 or stats.paused or self.stopping:
                    break
        finally:
            await self.mailer.close_idle()
        return total

    async def run_forever(self, wake: asyncio.Event, sweep_seconds: float) -> None:
        """Send as soon as woken by a commit, and sweep every sweep_seconds regardless."""
        while not self.stopping:
            try:
                await self.drain()
            except Exception:
                log.exception("dispatcher round failed; retrying at the next sweep")
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a
            # cancellation that arrives as the wait completes, and shutdown would hang.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(sweep_seconds):
                    await wake.wait()
            wake.clear()
