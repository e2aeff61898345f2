"""The outbox: every event appended in a transaction is routed to deliveries (one per
event and recipient, unique) just before that transaction commits, whoever appended it.

Installed on a Database as a before_commit hook, so no writer can forget it. The hook
runs inside SQLAlchemy's greenlet, so it uses the synchronous Session API. Events an
import of history appended (app/events.py, `Actor.importer`) are committed and counted
but not routed: the past sends no alerts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.alerting.routes import RouteTable
from app.db import Database
from app.events import NEW_EVENT_IDS, NEW_EVENT_TYPES, UNROUTED_EVENT_IDS
from app.models import Delivery, Event, Provider, User

log = logging.getLogger(__name__)
DELIVERIES_ADDED = "carewatch.deliveries_added"
COMMITTED_EVENT_TYPES = "carewatch.committed_event_types"


@dataclass(frozen=True)
class Mailboxes:
    safeguarding: str
    named: dict[str, str]

    def address(self, name: str) -> str:
        return self.safeguarding if name == "safeguarding" else self.named[name]


CHUNK = 1000  # rows per statement: asyncpg takes at most 32,767 parameters


def route_pending_events(
    session: Session, routes: RouteTable, mailboxes: Mailboxes, *, texts: bool = False
) -> int:
    """Create the deliveries of the events appended in this transaction; returns how many.
    A sweep can append thousands of events at once, so they are routed in chunks. Routes
    with channel sms are followed only when texts can be sent (`texts`)."""
    event_ids = session.info.pop(NEW_EVENT_IDS, None)
    event_types = session.info.pop(NEW_EVENT_TYPES, None) or []
    unrouted = session.info.pop(UNROUTED_EVENT_IDS, None)
    if unrouted and len(event_types) == len(event_ids or []):
        history = [t for i, t in zip(event_ids or [], event_types, strict=True) if i in unrouted]
        session.info.setdefault(COMMITTED_EVENT_TYPES, []).extend(history)
        kept = [
            (i, t) for i, t in zip(event_ids or [], event_types, strict=True) if i not in unrouted
        ]
        event_ids, event_types = [i for i, _ in kept], [t for _, t in kept]
    elif unrouted:
        event_ids = [i for i in event_ids or [] if i not in unrouted]
    if not event_ids:
        return 0
    if len(event_types) == len(event_ids) and not any(routes.may_route(t) for t in event_types):
        # Most writes (a visit, a compliment) tell nobody: no need to read anything back.
        session.info.setdefault(COMMITTED_EVENT_TYPES, []).extend(event_types)
        return 0
    events = [
        event
        for start in range(0, len(event_ids), CHUNK)
        for event in session.execute(
            select(Event).where(Event.id.in_(event_ids[start : start + CHUNK]))
        ).scalars()
    ]
    session.info.setdefault(COMMITTED_EVENT_TYPES, []).extend(e.type for e in events)
    provider_ids = {e.provider_id for e in events if e.provider_id is not None}
    # A person as routing needs them: their email address and mobile number (or None).
    officers: dict[int, tuple[str, str | None]] = {}
    ordered_ids = sorted(provider_ids)
    for start in range(0, len(ordered_ids), CHUNK):
        rows = session.execute(
            select(Provider.id, User.email, User.mobile_number)
            .join(User, User.id == Provider.contract_officer_id)
            .where(Provider.id.in_(ordered_ids[start : start + CHUNK]), User.active.is_(True))
        )
        officers.update({row[0]: (row[1], row[2]) for row in rows})
    by_role: dict[str, list[tuple[str, str | None]]] = {}
    channels = ("email", "sms") if texts else ("email",)

    def people_with_role(role: str) -> list[tuple[str, str | None]]:
        if role not in by_role:
            by_role[role] = [
                (row[0], row[1])
                for row in session.execute(
                    select(User.email, User.mobile_number).where(
                        User.role == role, User.active.is_(True)
                    )
                )
            ]
        return by_role[role]

    def resolve(event: Event, channel: str) -> list[str]:
        people: list[tuple[str, str | None]] = []
        addresses: list[str] = []
        for spec in routes.recipients_for(event.type, event.data, channel):
            kind, _, name = spec.partition(":")
            if spec == "contract_officer":
                if event.provider_id in officers:
                    people.append(officers[event.provider_id])
                elif event.provider_id is not None:
                    # No active officer (a leaver not yet replaced): the managers are told
                    # meanwhile, so a provider's alert never goes to no one.
                    people.extend(people_with_role("manager"))
            elif kind == "role":
                people.extend(people_with_role(name))
            else:
                addresses.append(mailboxes.address(name))
        if channel == "sms":
            return list(dict.fromkeys(mobile for _, mobile in people if mobile))
        addresses = [email for email, _ in people] + addresses
        return list(dict.fromkeys(r.lower() for r in addresses))

    # One message per person and channel per escalation: an escalation's recipients are
    # not sent the other events of that provider from the same transaction (the rating
    # change or the safeguarding that caused it, a suspension); the escalation names its
    # trigger.
    covered: dict[tuple[int, str], set[str]] = {}
    for event in events:
        if event.type == "monitoring.escalated" and event.provider_id is not None:
            for channel in channels:
                covered.setdefault((event.provider_id, channel), set()).update(
                    resolve(event, channel)
                )
    rows_to_insert: list[dict[str, object]] = []
    now = datetime.now(UTC)
    for event in events:
        for channel in channels:
            recipients = resolve(event, channel)
            if event.type != "monitoring.escalated" and event.provider_id is not None:
                already = covered.get((event.provider_id, channel), set())
                recipients = [r for r in recipients if r not in already]
            for recipient in recipients:
                rows_to_insert.append(
                    {
                        "event_id": event.id,
                        "provider_id": event.provider_id,
                        "event_type": event.type,
                        "recipient": recipient,
                        "channel": channel,
                        "status": "pending",
                        "attempts": 0,
                        "next_attempt_at": event.created_at,
                        "created_at": event.created_at if event.created_at else now,
                    }
                )
    if not rows_to_insert:
        return 0
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    # (event, recipient, channel) is unique: routing the same event twice adds nothing.
    for start in range(0, len(rows_to_insert), CHUNK):
        session.execute(
            insert(Delivery.__table__)
            .values(rows_to_insert[start : start + CHUNK])
            .on_conflict_do_nothing(index_elements=["event_id", "recipient", "channel"])
        )
    session.info[DELIVERIES_ADDED] = True
    return len(rows_to_insert)


class WakeUp:
    """Tells the in-process dispatcher that committed deliveries are waiting."""

    def __init__(self) -> None:
        self._listeners: list[Callable[[], None]] = []

    def subscribe(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    def notify(self) -> None:
        for listener in list(self._listeners):
            listener()


def install_outbox(
    database: Database,
    routes: RouteTable,
    mailboxes: Mailboxes,
    wake_up: WakeUp,
    on_events: Callable[[list[str]], None] | None = None,
    *,
    texts: bool = False,
) -> None:
    """Route every new event before each commit; wake the dispatcher after it."""

    def before_commit(session: Session) -> None:
        route_pending_events(session, routes, mailboxes, texts=texts)

    def after_commit(session: Session) -> None:
        committed = session.info.pop(COMMITTED_EVENT_TYPES, [])
        if committed and on_events is not None:
            on_events(committed)
        if session.info.pop(DELIVERIES_ADDED, False):
            wake_up.notify()

    def after_rollback(session: Session) -> None:
        session.info.pop(NEW_EVENT_IDS, None)
        session.info.pop(NEW_EVENT_TYPES, None)
        session.info.pop(UNROUTED_EVENT_IDS, None)
        session.info.pop(DELIVERIES_ADDED, None)
        session.info.pop(COMMITTED_EVENT_TYPES, None)

    database.on_before_commit(before_commit)
    database.on_after_commit(after_commit)
    database.on_after_rollback(after_rollback)
