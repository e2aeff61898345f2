"""The event log: append an event (with its dedup key) in the caller's transaction.

Every appended event id is remembered on the session, so the commit hook installed by
alerting routes it to deliveries in the same transaction, whoever appended it. The one
exception is explicit and kept in the log: the events an import of the council's history
appends (its actor is `Actor.importer`) are the past, not news, and are never routed; the
import routes one summary of the standing it leaves instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic_core import to_jsonable_python
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Event

NEW_EVENT_IDS = "carewatch.new_event_ids"
NEW_EVENT_TYPES = "carewatch.new_event_types"  # beside the ids, so routing can skip early
UNROUTED_EVENT_IDS = "carewatch.unrouted_event_ids"  # appended by an import of history


@dataclass(frozen=True)
class Actor:
    """Who acted: a user (by id) or an automated job (by name)."""

    label: str
    user_id: int | None = None
    # False for an import of history: its events are logged but never routed.
    routed: bool = True

    @classmethod
    def user(cls, user_id: int) -> Actor:
        return cls(label=f"user:{user_id}", user_id=user_id)

    @classmethod
    def job(cls, name: str) -> Actor:
        return cls(label=f"job:{name}")

    @classmethod
    def identity_provider(cls, issuer: str) -> Actor:
        """The council's OpenID Connect provider, which vouched for a sign-in."""
        return cls(label=f"oidc:{issuer}"[:100])

    @classmethod
    def importer(cls, user_id: int | None) -> Actor:
        """A user's import of the council's tracker: what it writes is history, so its
        events tell nobody (the import's own summary, appended as the user, does)."""
        return cls(label=f"import:{user_id or 'cli'}", user_id=user_id, routed=False)

    @classmethod
    def directory(cls) -> Actor:
        """The council's directory, provisioning accounts over SCIM with its token."""
        return cls(label="scim:directory")


def _insert_skipping_used_keys(dialect: str) -> Any:
    """INSERT into events that skips a row whose dedup key was already used. Events are
    appended with this statement rather than the ORM's unit of work because a repeated
    occurrence must be skipped, not fail its writer's transaction."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return insert(Event.__table__).on_conflict_do_nothing(index_elements=["dedup_key"])


# Built once per dialect: one event, and many (returning the type beside each id).
_EVENTS: Any = Event.__table__
_APPEND_ONE = {
    dialect: _insert_skipping_used_keys(dialect).returning(_EVENTS.c.id)
    for dialect in ("postgresql", "sqlite")
}
_APPEND_MANY = {
    dialect: _insert_skipping_used_keys(dialect).returning(_EVENTS.c.id, _EVENTS.c.type)
    for dialect in ("postgresql", "sqlite")
}


def _row(
    type: str,
    provider_id: int | None,
    data: dict[str, Any] | None,
    dedup_key: str | None,
    actor: Actor,
    at: datetime,
) -> dict[str, Any]:
    return {
        "type": type,
        "provider_id": provider_id,
        "actor": actor.label,
        "actor_user_id": actor.user_id,
        "data": to_jsonable_python(data or {}),
        "dedup_key": dedup_key,
        "created_at": at,
    }


async def append_event(
    session: AsyncSession,
    *,
    type: str,
    provider_id: int | None,
    actor: Actor,
    at: datetime,
    data: dict[str, Any] | None = None,
    dedup_key: str | None = None,
) -> int | None:
    """Append one event; returns its id, or None when its dedup key was already used.
    Changes pending in the session are flushed first, so that what is read after the
    event (the rules) sees them."""
    await session.flush()
    row = _row(type, provider_id, data, dedup_key, actor, at)
    statement = _APPEND_ONE[session.get_bind().dialect.name]
    event_id: int | None = (await session.execute(statement, row)).scalar_one_or_none()
    if event_id is not None:
        _remember(session, [(event_id, type)], actor)
    return event_id


def _remember(session: AsyncSession, appended: list[tuple[int, str]], actor: Actor) -> None:
    """Keep the new events' ids (and types) for the outbox's commit hook."""
    info = session.sync_session.info
    info.setdefault(NEW_EVENT_IDS, []).extend(i for i, _ in appended)
    info.setdefault(NEW_EVENT_TYPES, []).extend(t for _, t in appended)
    if not actor.routed:
        info.setdefault(UNROUTED_EVENT_IDS, set()).update(i for i, _ in appended)


@dataclass(frozen=True)
class EventDraft:
    """An event to append in bulk (see append_events); `at`, when given, dates it
    instead of the batch's instant (an imported record's event is dated its own day)."""

    type: str
    provider_id: int | None
    data: dict[str, Any]
    dedup_key: str | None = None
    at: datetime | None = None


async def append_events(
    session: AsyncSession, drafts: list[EventDraft], *, actor: Actor, at: datetime
) -> list[tuple[int, str]]:
    """Append many events at once (a sweep raises thousands): one statement executed
    with every row, which SQLAlchemy sends as a few multi-row INSERTs. A draft whose
    dedup key was already used is skipped. Returns (id, type) of those appended."""
    await session.flush()
    if not drafts:
        return []
    rows = [_row(d.type, d.provider_id, d.data, d.dedup_key, actor, d.at or at) for d in drafts]
    statement = _APPEND_MANY[session.get_bind().dialect.name]
    appended = [(row.id, row.type) for row in await session.execute(statement, rows)]
    _remember(session, appended, actor)
    return appended


# Every event type the service appends, with what it means (routes are checked against it).
EVENT_TYPES: dict[str, str] = {
    "provider.created": "A provider was added",
    "provider.updated": "A provider's contract details changed",
    "location.added": "A CQC location was added to a provider's contract",
    "location.removed": "A CQC location was taken off a provider's contract",
    "cqc.rating_changed": "A contracted location's CQC rating changed",
    "cqc.rating_recorded": "A location's first (or inherited) CQC rating was recorded",
    "visit.recorded": "A visit or contract meeting was logged",
    "visit.updated": "A visit was corrected",
    "visit.entered_in_error": "A visit was marked as entered in error",
    "visit_action.added": "A visit follow-up action was added",
    "visit_action.updated": "A visit follow-up action was updated",
    "visit_action.completed": "A visit follow-up action was done",
    "visit_action.overdue": "A visit follow-up action is overdue",
    "safeguarding.raised": "A safeguarding concern was raised",
    "safeguarding.enquiry_started": "A Section 42 enquiry was started",
    "safeguarding.updated": "A safeguarding was updated",
    "safeguarding.closed": "A safeguarding was closed",
    "safeguarding.entered_in_error": "A safeguarding was marked as entered in error",
    "complaint.received": "A complaint was received",
    "complaint.updated": "A complaint was updated",
    "complaint.closed": "A complaint was closed with its finding",
    "complaint.entered_in_error": "A complaint was marked as entered in error",
    "compliment.received": "A compliment was received",
    "compliment.updated": "A compliment was corrected",
    "compliment.entered_in_error": "A compliment was marked as entered in error",
    "financial_assurance.recorded": "A financial check was recorded",
    "financial_assurance.updated": "A financial check was corrected",
    "financial_assurance.entered_in_error": "A financial check was marked as entered in error",
    "concern.raised": "A concern was raised",
    "concern.updated": "A concern was updated",
    "concern.closed": "A concern was resolved",
    "concern.entered_in_error": "A concern was marked as entered in error",
    "monitoring.escalated": "A provider was escalated to closer monitoring",
    "monitoring.de_escalated": "A provider was stepped down",
    "monitoring.de_escalation_refused": "A step-down was refused while evidence remains",
    "placements.suspended": "New placements with a provider were suspended",
    "placements.lifted": "A suspension of new placements was lifted",
    "improvement_plan.agreed": "An improvement plan was agreed",
    "improvement_plan.closed": "An improvement plan was closed",
    "improvement_plan.not_agreed": "An improvement plan is past its agree-by date",
    "improvement_action.added": "An improvement action was added",
    "improvement_action.updated": "An improvement action was updated",
    "improvement_action.completed": "An improvement action was completed",
    "improvement_action.overdue": "An improvement action is overdue",
    "visit.overdue": "A monitoring visit is overdue",
    "visit.due_tomorrow": "An intensive monitoring visit is due tomorrow",
    "financial_review.due": "A financial review is due",
    "insurance.expiring": "A provider's insurance expires soon",
    "delivery.failed": "An alert email could not be delivered",
    "delivery.retried": "A failed alert email was queued again",
    "locality.created": "A locality was added to the council's list",
    "locality.updated": "A locality was renamed",
    "locality.lead_changed": "A locality's lead provider changed",
    "capacity.recorded": "A provider's capacity return was recorded",
    "kpis.recorded": "A provider's call-monitoring figures were recorded",
    "waiting.recorded": "A locality's waiting list was counted",
    "import.completed": "The council's tracker was imported",
    "user.created": "A user was created",
    "user.updated": "A user was changed",
    "user.signed_in": "A user signed in",
    "user.sign_in_failed": "A sign-in failed or was refused",
    "user.role_changed": "A user's role changed",
    "export.downloaded": "A list of providers was downloaded",
    "report.downloaded": "A quarterly market quality report was downloaded",
}
