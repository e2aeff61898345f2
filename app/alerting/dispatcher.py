"""The dispatcher: claims due deliveries, commits the claim, sends each message outside
any transaction, then records sent, retry-later or failed.

Claims are row by row and leased: PostgreSQL skips rows another dispatcher holds
(FOR UPDATE SKIP LOCKED); SQLite serialises claim transactions (BEGIN IMMEDIATE) and the
UPDATE re-checks the row's state. A dispatcher that dies mid-send leaves a lease that
expires, and the sweep sends the message then: at least once, never lost.

The duplicate window is a crash after the mail server accepted a message and before its
outcome was committed. Outcomes are group-committed as messages finish, typically within
milliseconds, and never more than one claimed batch (batch_size) is outstanding.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import Message
from typing import Any, Protocol
from urllib.parse import urlsplit

from sqlalchemy import and_, bindparam, or_, select, update
from sqlalchemy.engine import Row

from app.alerting.email import (
    ConfigurationSendError,
    EmailRenderer,
    PermanentSendError,
    TransientSendError,
    build_message,
)
from app.clock import Clock
from app.db import Database
from app.events import Actor, append_event
from app.models import Delivery, Event, Provider, User
from app.models.base import DeliveryStatus

log = logging.getLogger(__name__)
DISPATCHER = Actor.job("dispatcher")


class Mailer(Protocol):
    async def send(self, message: Message) -> str: ...

    async def close_idle(self) -> None:
        """Close what send kept open; called at the end of every drain."""
        ...


def _held(delivery_id: Any, leased_until: Any) -> Any:
    """The row, while this lease still holds it: only the lease's holder records the
    outcome (another dispatcher may have claimed the row after the lease ran out)."""
    table = Delivery.__table__.c
    return and_(
        table.id == delivery_id,
        table.status == DeliveryStatus.sending,
        table.lease_until == leased_until,
    )


# One statement for many sent messages (executemany), each row under its own lease.
_MARK_SENT = (
    update(Delivery.__table__)
    .where(_held(bindparam("delivery_id"), bindparam("leased_until")))
    .values(
        status=DeliveryStatus.sent,
        sent_at=bindparam("sent_at"),
        attempts=bindparam("attempt"),
        lease_until=None,
        last_error=None,
        message_id=bindparam("sent_message_id"),
    )
)


class _SentRecorder:
    """Group commit of sent outcomes: those that finish while a write is under way share
    the next transaction instead of one each. Each sender waits until its row is
    recorded, so a failure to record is its own, as when each was recorded alone."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self._waiting: list[tuple[dict[str, Any], asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def record(self, values: dict[str, Any]) -> None:
        done = asyncio.get_running_loop().create_future()
        self._waiting.append((values, done))
        if self._writer is None:
            self._writer = asyncio.create_task(self._write())
        await done

    async def _write(self) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting, []
                try:
                    async with self.database.transaction() as session:
                        await session.execute(_MARK_SENT, [values for values, _ in batch])
                except Exception as error:
                    # Each sender sees the failure as its own, as if it had written alone.
                    self._settle(batch, error)
                except BaseException:
                    self._settle(batch, asyncio.CancelledError())
                    raise
                else:
                    self._settle(batch, None)
        finally:
            self._writer = None

    @staticmethod
    def _settle(
        batch: list[tuple[dict[str, Any], asyncio.Future[None]]], error: BaseException | None
    ) -> None:
        for _, done in batch:
            if done.done():  # its sender was cancelled meanwhile
                continue
            if error is None:
                done.set_result(None)
            else:
                done.set_exception(error)


@dataclass(frozen=True)
class RetryPolicy:
    first_delay: timedelta = timedelta(seconds=30)
    max_delay: timedelta = timedelta(hours=1)
    give_up_after: timedelta = timedelta(days=3)
    config_pause: timedelta = timedelta(seconds=60)

    def delay(self, attempts: int) -> timedelta:
        seconds = self.first_delay.total_seconds() * 2 ** max(attempts - 1, 0)
        return timedelta(seconds=min(seconds, self.max_delay.total_seconds()))


@dataclass
class DispatchStats:
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    paused: int = 0
    outcomes: list[tuple[str, float | None]] = field(default_factory=list)


@dataclass
class DispatcherState:
    """What operators need to see: whether sending is paused, and why."""

    paused_until: datetime | None = None
    pause_reason: str | None = None
    last_run_at: datetime | None = None


class Dispatcher:
    def __init__(
        self,
        *,
        database: Database,
        mailer: Mailer,
        renderer: EmailRenderer,
        clock: Clock,
        mail_from: str,
        base_url: str,
        lease: timedelta = timedelta(minutes=2),
        batch_size: int = 50,
        concurrency: int = 8,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.database = database
        self.mailer = mailer
        self.renderer = renderer
        self.clock = clock
        self.mail_from = mail_from
        self.base_url = base_url.rstrip("/")
        self.domain = urlsplit(base_url).hostname or "carewatch.local"
        self.lease = lease
        self.batch_size = batch_size
        self.concurrency = concurrency
        self.retry = retry or RetryPolicy()
        self.state = DispatcherState()
        self.stopping = False  # set at shutdown: finish the round in hand, start no other
        self.observers: list[Any] = []
        self._sent = _SentRecorder(database)

    async def claim(self) -> list[Row[Any]]:
        """Take up to batch_size due deliveries and lease them to this dispatcher."""
        now = self.clock.now()
        due = or_(
            and_(Delivery.status == DeliveryStatus.pending, Delivery.next_attempt_at <= now),
            and_(Delivery.status == DeliveryStatus.sending, Delivery.lease_until < now),
        )
        async with self.database.transaction() as session:
            candidates = select(Delivery.id).where(due).order_by(Delivery.id).limit(self.batch_size)
            if self.database.dialect == "postgresql":
                candidates = candidates.with_for_update(skip_locked=True)
            ids = list((await session.execute(candidates)).scalars())
            if not ids:
                return []
            claimed = await session.execute(
                update(Delivery)
                .where(Delivery.id.in_(ids), due)
                .values(status=DeliveryStatus.sending, lease_until=now + self.lease)
                .returning(
                    Delivery.id,
                    Delivery.event_id,
                    Delivery.recipient,
                    Delivery.attempts,
                    Delivery.created_at,
                    Delivery.lease_until,
                )
            )
            return list(claimed.all())

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
        """Claim one batch and send it. Returns what happened."""
        stats = DispatchStats()
        now = self.clock.now()
        self.state.last_run_at = now
        if self.state.paused_until is not None and now < self.state.paused_until:
            return stats
        claimed = await self.claim()
        stats.claimed = len(claimed)
        if not claimed:
            return stats
        contexts = await self._contexts(sorted({row.event_id for row in claimed}))
        # The whole batch at once, `concurrency` of them talking to the mail server at a
        # time: a message waiting for its outcome to be recorded does not hold a
        # connection, so the server is kept busy while the database catches up.
        connections = asyncio.Semaphore(self.concurrency)
        await asyncio.gather(
            *(self._send_one(row, contexts[row.event_id], stats, connections) for row in claimed)
        )
        return stats

    async def _send_one(
        self,
        row: Row[Any],
        context: dict[str, Any],
        stats: DispatchStats,
        connections: asyncio.Semaphore,
    ) -> None:
        if self.state.paused_until is not None and self.clock.now() < self.state.paused_until:
            await self._release(row, self.state.paused_until)
            stats.paused += 1
            return
        rendered = self.renderer.render(context["event"]["type"], context)
        message = build_message(
            rendered,
            sender=self.mail_from,
            recipient=row.recipient,
            delivery_id=row.id,
            event_id=row.event_id,
            provider_id=(context["provider"] or {}).get("id"),
            domain=self.domain,
            sent_at=self.clock.now(),
        )
        try:
            async with connections:
                await self.mailer.send(message)
        except ConfigurationSendError as error:
            # Our configuration is wrong, not the recipient: stop the line, keep attempts.
            self.state.paused_until = self.clock.now() + self.retry.config_pause
            self.state.pause_reason = str(error)
            log.error("alert sending PAUSED: %s; fix the SMTP settings", error)
            await self._release(row, self.state.paused_until, last_error=str(error))
            stats.paused += 1
            self._observe("paused", None)
            return
        except PermanentSendError as error:
            await self._fail(row, str(error))
            stats.failed += 1
            self._observe("failed", None)
            return
        except TransientSendError as error:
            if await self._retry_later(row, str(error)):
                stats.retried += 1
                self._observe("retried", None)
            else:
                stats.failed += 1
                self._observe("failed", None)
            return
        self.state.paused_until = None
        self.state.pause_reason = None
        latency = await self._mark_sent(row, message)
        stats.sent += 1
        stats.outcomes.append(("sent", latency))
        self._observe("sent", latency)

    def _observe(self, outcome: str, latency: float | None) -> None:
        for observer in self.observers:
            observer(outcome, latency)

    async def _mark_sent(self, row: Row[Any], message: Message) -> float | None:
        now = self.clock.now()
        await self._sent.record(
            {
                "delivery_id": row.id,
                "leased_until": row.lease_until,
                "sent_at": now,
                "attempt": row.attempts + 1,
                "sent_message_id": str(message["Message-ID"]),
            }
        )
        # A delivery is created in its event's transaction, at its event's time.
        created: datetime = row.created_at
        return (now - created).total_seconds()

    async def _release(self, row: Row[Any], at: datetime, last_error: str | None = None) -> None:
        values: dict[str, Any] = {
            "status": DeliveryStatus.pending,
            "next_attempt_at": at,
            "lease_until": None,
        }
        if last_error is not None:
            values["last_error"] = last_error
        async with self.database.transaction() as session:
            await session.execute(
                update(Delivery).where(_held(row.id, row.lease_until)).values(**values)
            )

    async def _retry_later(self, row: Row[Any], error: str) -> bool:
        now = self.clock.now()
        attempts = row.attempts + 1
        if now - row.created_at >= self.retry.give_up_after:
            await self._fail(row, f"gave up after {attempts} attempts: {error}")
            return False
        async with self.database.transaction() as session:
            await session.execute(
                update(Delivery)
                .where(_held(row.id, row.lease_until))
                .values(
                    status=DeliveryStatus.pending,
                    attempts=attempts,
                    lease_until=None,
                    next_attempt_at=now + self.retry.delay(attempts),
                    last_error=error,
                )
            )
        log.warning("delivery %s deferred after attempt %s: %s", row.id, attempts, error)
        return True

    async def _fail(self, row: Row[Any], error: str) -> None:
        now = self.clock.now()
        async with self.database.transaction() as session:
            result = await session.execute(
                update(Delivery)
                .where(_held(row.id, row.lease_until))
                .values(
                    status=DeliveryStatus.failed,
                    attempts=row.attempts + 1,
                    lease_until=None,
                    failed_at=now,
                    last_error=error,
                )
                .returning(Delivery.event_type, Delivery.provider_id)
            )
            failed = result.first()
            # A failed alert is itself an alert, to admins, unless it was already that.
            if failed is not None and failed.event_type != "delivery.failed":
                await append_event(
                    session,
                    type="delivery.failed",
                    provider_id=failed.provider_id,
                    actor=DISPATCHER,
                    at=now,
                    data={
                        "delivery_id": row.id,
                        "event_id": row.event_id,
                        "failed_event_type": failed.event_type,
                        "error": error[:300],
                    },
                    dedup_key=f"delivery.failed:{row.id}",
                )
        log.error("delivery %s failed permanently: %s", row.id, error)

    async def drain(self, max_rounds: int = 1000) -> DispatchStats:
        """Send everything due now (tests, the CLI and the sweep use it)."""
        total = DispatchStats()
        try:
            for _ in range(max_rounds):
                stats = await self.run_once()
                for name in ("claimed", "sent", "retried", "failed", "paused"):
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
