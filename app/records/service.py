"""One function per kind of record: validate against the clock and the database, store
the record, append its event and evaluate the rules for the provider, all in the
caller's transaction. Nothing here commits."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Generic, TypeVar

from pydantic_core import to_jsonable_python
from sqlalchemy import delete, func, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel, col

from app.clock import Clock, long_date
from app.db import is_postgres
from app.errors import Conflict, DomainError, Forbidden, NotFound
from app.events import EVENT_TYPES, Actor, EventDraft, append_event, append_events
from app.locks import lock_provider, lock_providers
from app.models import (
    Complaint,
    Compliment,
    Concern,
    CqcUnreadableLocation,
    FinancialAssurance,
    Locality,
    LocalityLead,
    Location,
    LocationRating,
    Provider,
    ProviderLocality,
    RecordChange,
    Safeguarding,
    User,
    Visit,
    VisitAction,
)
from app.models.base import (
    KEY_QUESTIONS,
    RATING_SEVERITY,
    CaseStatus,
    MonitoringLevel,
    Rating,
    Role,
    SafeguardingOutcome,
    SafeguardingStatus,
)
from app.monitoring.escalation import Escalation, apply_rules_to
from app.monitoring.policy import MonitoringPolicy
from app.records import schemas

RecordT = TypeVar("RecordT", bound=SQLModel)
# A new record's column values, as its builder (_new_visit, ...) checks and makes them:
# the one-at-a-time functions store it as an ORM object, write_many as a row of a
# multi-row INSERT.
Row = dict[str, Any]


@dataclass(frozen=True)
class WriteContext:
    """Who is writing, the time, and the council's monitoring policy.

    An import of the council's history sets `rules_deferred`, so that the rules run
    once per provider when the import ends (monitoring.escalation.apply_rules) rather
    than after each of its rows; it writes through write_many, each event dated by its
    record's own day (Batched.happened_at), not the moment of the import."""

    actor: Actor
    clock: Clock
    policy: MonitoringPolicy
    rules_deferred: bool = False


@dataclass
class WriteResult(Generic[RecordT]):
    """The record written and where its provider stands after the rules ran."""

    record: RecordT
    monitoring_level: MonitoringLevel
    placements_suspended: bool
    escalation: Escalation | None


TRIGGER_FIELDS = (
    "category",
    "whole_service",
    "outcome",
    "risk",
    "upheld",
    "old",
    "new",
    "location_name",
    "cqc_location_id",
    "raised_on",
    "visited_on",
    "rated_on",
)


def trigger_of(event_type: str, data: dict[str, Any]) -> dict[str, Any]:
    """The write that caused an escalation, as the escalation email describes it: the
    event's meaning and its non-personal facts (never a summary or a reference)."""
    return {
        "type": event_type,
        "description": EVENT_TYPES.get(event_type, event_type),
        **{key: data.get(key) for key in TRIGGER_FIELDS},  # a fixed shape for templates
    }


def _not_future(field: str, value: date | None, today: date) -> None:
    if value is not None and value > today:
        raise DomainError(field, "cannot be in the future")


# The dates a later one is checked against, as a refusal names them to an officer.
_DATE_IN_WORDS = {
    "raised_on": "the date it was raised",
    "received_on": "the date it was received",
    "assessed_on": "the date of the assessment",
}


def _not_before(field: str, value: date | None, other_field: str, other: date) -> None:
    if value is not None and value < other:
        words = _DATE_IN_WORDS.get(other_field, "the date it began")
        raise DomainError(field, f"must be on or after {words}, {long_date(other)}")


async def _check_user(session: AsyncSession, field: str, user_id: int | None) -> None:
    if user_id is None:
        return
    user = await session.get(User, user_id)
    if user is None or not user.active:
        raise DomainError(field, f"no active user with id {user_id}")


# Who may hold a provider's contract: the roles that visit and answer for providers.
CONTRACT_OFFICER_ROLES = frozenset({Role.officer, Role.manager})


async def _check_contract_officer(session: AsyncSession, user_id: int | None) -> None:
    """A contract officer must be an active user with the officer or manager role."""
    if user_id is not None:
        _refuse_contract_officer(user_id, await session.get(User, user_id))


def _refuse_contract_officer(user_id: int, user: User | None) -> None:
    if user is None or not user.active:
        raise DomainError("contract_officer_id", f"no active user with id {user_id}")
    if user.role not in CONTRACT_OFFICER_ROLES:
        raise DomainError("contract_officer_id", "must be an officer or a manager")


async def finish_write(
    session: AsyncSession,
    ctx: WriteContext,
    provider: Provider,
    record: Any,
    event_type: str,
    data: dict[str, Any],
) -> WriteResult[Any]:
    """Append the record's event (flushing the record's changes first), then evaluate the
    rules for its provider, which the writer has locked (unless they are deferred: an
    import runs them once per provider at its end). Every write of evidence ends here,
    the market's returns too."""
    assert provider.id is not None
    await append_event(
        session,
        type=event_type,
        provider_id=provider.id,
        actor=ctx.actor,
        at=ctx.clock.now(),
        data=data,
    )
    level = MonitoringLevel(provider.monitoring_level)
    if ctx.rules_deferred:
        return WriteResult(record, level, provider.placements_suspended, None)
    escalation = await apply_rules_to(
        session,
        provider,
        policy=ctx.policy,
        actor=ctx.actor,
        now=ctx.clock.now(),
        today=ctx.clock.today(),
        trigger=trigger_of(event_type, data),
    )
    level = MonitoringLevel(provider.monitoring_level)
    return WriteResult(record, level, provider.placements_suspended, escalation)


async def _add(session: AsyncSession, record: RecordT) -> RecordT:
    """Store a new record now, so that its event can name its id."""
    session.add(record)
    await session.flush()
    return record


# Providers and locations -------------------------------------------------------------


async def _locality_names(session: AsyncSession, chosen: list[int | str]) -> list[str]:
    """The names of the chosen localities (by id or name), each of which must be on the
    council's list; DomainError names the first that is not."""
    return _resolve_localities(chosen, await _localities_by_id(session, chosen))


async def _localities_by_id(session: AsyncSession, chosen: Sequence[int | str]) -> dict[int, str]:
    """The localities chosen (by id or name) that are on the council's list."""
    ids = [value for value in chosen if isinstance(value, int)]
    names = [value for value in chosen if isinstance(value, str)]
    found = (
        await session.execute(
            select(Locality.id, Locality.name).where(
                or_(Locality.id.in_(ids), Locality.name.in_(names))
            )
        )
    ).all()
    return {row.id: row.name for row in found}


def _resolve_localities(chosen: list[int | str], by_id: dict[int, str]) -> list[str]:
    known = set(by_id.values())
    resolved = []
    for index, value in enumerate(chosen):
        name = by_id.get(value) if isinstance(value, int) else (value if value in known else None)
        if name is None:
            raise DomainError(f"localities.{index}", f"no locality {value!r} on the list")
        resolved.append(name)
    return list(dict.fromkeys(resolved))


async def _set_localities(
    session: AsyncSession, provider_id: int, localities: list[int | str]
) -> None:
    names = await _locality_names(session, localities)
    led = (
        await session.execute(
            select(Locality.name)
            .join(LocalityLead, LocalityLead.locality_id == Locality.id)
            .where(LocalityLead.provider_id == provider_id, LocalityLead.ended_on.is_(None))
        )
    ).scalars()
    for name in led:
        if name not in names:
            raise DomainError("localities", f"the provider leads {name}: choose another lead first")
    await session.execute(
        delete(ProviderLocality).where(ProviderLocality.provider_id == provider_id)
    )
    for name in names:
        session.add(ProviderLocality(provider_id=provider_id, locality=name))


async def create_provider(
    session: AsyncSession, data: schemas.ProviderIn, ctx: WriteContext
) -> Provider:
    await _check_contract_officer(session, data.contract_officer_id)
    provider = _new_provider(data, ctx)
    session.add(provider)
    await session.flush()
    assert provider.id is not None
    await _set_localities(session, provider.id, data.localities)
    await append_event(
        session,
        type="provider.created",
        provider_id=provider.id,
        actor=ctx.actor,
        at=ctx.clock.now(),
        data=_provider_created(provider),
    )
    return provider


def _new_provider(data: schemas.ProviderIn, ctx: WriteContext) -> Provider:
    now = ctx.clock.now()
    return Provider(
        **data.model_dump(exclude={"localities"}),
        created_at=now,
        updated_at=now,
        monitoring_level=MonitoringLevel.routine,
        next_visit_due_on=ctx.clock.today(),  # a new contract is visited at once
    )


def _provider_created(provider: Provider) -> dict[str, Any]:
    return {"name": provider.name, "contract_type": provider.contract_type}


async def update_provider(
    session: AsyncSession, provider_id: int, data: schemas.ProviderUpdate, ctx: WriteContext
) -> Provider:
    provider = await lock_provider(session, provider_id)
    changes = data.model_dump(exclude_unset=True)
    for required in ("name", "contract_type", "weekly_hours"):
        if required in changes and changes[required] is None:
            raise DomainError(required, "cannot be null")
    if "contract_officer_id" in changes:
        await _check_contract_officer(session, changes["contract_officer_id"])
    localities = changes.pop("localities", None)
    for key, value in changes.items():
        setattr(provider, key, value)
    if localities is not None:
        await _set_localities(session, provider_id, localities)
    provider.updated_at = ctx.clock.now()
    await append_event(
        session,
        type="provider.updated",
        provider_id=provider_id,
        actor=ctx.actor,
        at=ctx.clock.now(),
        data={"fields": sorted([*changes, *(["localities"] if localities is not None else [])])},
    )
    return provider


async def add_location(
    session: AsyncSession, provider_id: int, data: schemas.LocationIn, ctx: WriteContext
) -> Location:
    await lock_provider(session, provider_id)
    existing = (
        await session.execute(
            select(Location).where(Location.cqc_location_id == data.cqc_location_id)
        )
    ).scalar_one_or_none()
    location = _contracted_location(provider_id, data, existing, ctx)
    session.add(location)
    await session.flush()
    await append_event(
        session,
        type="location.added",
        provider_id=provider_id,
        actor=ctx.actor,
        at=ctx.clock.now(),
        data=_location_added(location),
    )
    return location


def _contracted_location(
    provider_id: int, data: schemas.LocationIn, existing: Location | None, ctx: WriteContext
) -> Location:
    """The location row a provider's contract now holds: `existing` (the row of that CQC
    location carewatch already holds, if any) unless it is contracted now."""
    if existing is not None and existing.removed_at is None:
        raise Conflict("cqc_location_id", "this CQC location is already contracted")
    if existing is None:
        return Location(provider_id=provider_id, **data.model_dump(), created_at=ctx.clock.now())
    # Contracted again (to this provider or another): the one row, so that its past
    # ratings stay with it; those stored under its earlier provider stay theirs.
    existing.provider_id = provider_id
    existing.removed_at = None
    existing.removed_by = None
    return existing


def _location_added(location: Location) -> dict[str, Any]:
    return {"cqc_location_id": location.cqc_location_id, "location_id": location.id}


async def remove_location(
    session: AsyncSession, provider_id: int, location_id: int, ctx: WriteContext
) -> None:
    """Take a CQC location off the provider's contract. Nothing is deleted: the location
    is marked removed, with when and by whom, and keeps its ratings, so its history stays
    readable; from now no rating of it counts (the signals, the worst rating) and the sync
    stops following it. Levels never fall by themselves, so no rule runs."""
    await lock_provider(session, provider_id)
    location = await session.get(Location, location_id)
    if location is None or location.provider_id != provider_id or location.removed_at:
        raise NotFound("location_id", "this provider has no such CQC location")
    data = {
        "cqc_location_id": location.cqc_location_id,
        "location_name": location.name,
        "overall_rating": location.overall_rating,
    }
    location.removed_at = ctx.clock.now()
    location.removed_by = ctx.actor.user_id
    # Not history: the sync's note that CQC's last answer could not be read.
    await session.execute(
        delete(CqcUnreadableLocation).where(CqcUnreadableLocation.location_id == location_id)
    )
    await session.flush()
    await append_event(
        session,
        type="location.removed",
        provider_id=provider_id,
        actor=ctx.actor,
        at=ctx.clock.now(),
        data=data,
    )


def rating_direction(previous: str | None, new: str) -> str:
    """up / down / same / first, judging by severity (not_rated is no judgement)."""
    if previous is None or previous == Rating.not_rated:
        return "first" if previous is None else ("same" if new == previous else "first")
    if new == Rating.not_rated:
        return "same"
    old_severity, new_severity = RATING_SEVERITY[Rating(previous)], RATING_SEVERITY[Rating(new)]
    if new_severity > old_severity:
        return "down"
    return "up" if new_severity < old_severity else "same"


async def record_rating(
    session: AsyncSession,
    *,
    location_id: int,
    overall: Rating,
    rated_on: date | None,
    key_questions: dict[str, dict[str, Any]],
    report_url: str | None,
    source: str,
    ctx: WriteContext,
    inherited_from: str | None = None,
) -> WriteResult[LocationRating] | None:
    """Store a location's rating and evaluate the rules. Returns None when the ratings
    (overall and every key question) are what we already hold: a new report date or link
    with the same judgements is kept quietly, never announced.

    A location's first rating, or one inherited from a predecessor on re-registration, is
    a baseline (`cqc.rating_recorded`); a real change is `cqc.rating_changed`."""
    key_questions = to_jsonable_python(key_questions)
    location = await _get(session, Location, location_id, "location_id")
    provider = await lock_provider(session, location.provider_id)
    await session.refresh(location)
    new_questions = {q: (key_questions.get(q) or {}).get("rating") for q in KEY_QUESTIONS}
    old_questions = {q: getattr(location, f"{q}_rating") for q in KEY_QUESTIONS}
    previous = location.overall_rating
    location.key_questions = key_questions
    location.report_url = report_url
    if inherited_from is not None:
        location.predecessor_cqc_location_id = inherited_from
    if previous == overall and old_questions == new_questions:
        location.overall_rated_on = rated_on
        return None
    baseline = previous is None or (inherited_from is not None and previous == Rating.not_rated)
    direction = (
        "inherited"
        if inherited_from is not None and baseline
        else ("first" if baseline else rating_direction(previous, overall))
    )
    now = ctx.clock.now()
    location.overall_rating = overall
    location.overall_rated_on = rated_on
    for question in KEY_QUESTIONS:
        setattr(location, f"{question}_rating", new_questions[question])
    rating = LocationRating(
        location_id=location.id,
        provider_id=location.provider_id,
        source=source,
        overall_rating=overall,
        overall_rated_on=rated_on,
        previous_overall_rating=previous,
        direction=direction,
        key_questions=key_questions,
        recorded_at=now,
    )
    session.add(rating)
    await session.flush()
    data = {
        "cqc_location_id": location.cqc_location_id,
        "location_name": location.name,
        "old": previous,
        "new": overall,
        "rated_on": rated_on,
        "direction": direction,
        "source": source,
        "key_questions": new_questions,
        "inherited_from": inherited_from,
    }
    fingerprint = ",".join(str(new_questions[q]) for q in KEY_QUESTIONS)
    event_type = "cqc.rating_recorded" if baseline else "cqc.rating_changed"
    # The same judgement seen again (an overlapping window, a second process) is one event.
    await append_event(
        session,
        type=event_type,
        provider_id=provider.id,
        actor=ctx.actor,
        at=now,
        data=data,
        dedup_key=f"{event_type}:{location.cqc_location_id}:{previous}:{overall}:{rated_on}:{fingerprint}",
    )
    escalation = await apply_rules_to(
        session,
        provider,
        policy=ctx.policy,
        actor=ctx.actor,
        now=now,
        today=ctx.clock.today(),
        trigger=trigger_of(event_type, data),
    )
    level = MonitoringLevel(provider.monitoring_level)
    return WriteResult(rating, level, provider.placements_suspended, escalation)


async def update_location_details(
    session: AsyncSession,
    location_id: int,
    *,
    name: str | None,
    postcode: str | None,
    registration_status: str | None,
    checked_at: datetime,
) -> Location:
    """What CQC says about the location itself (kept quietly; ratings go above)."""
    location = await _get(session, Location, location_id, "location_id")
    if name:
        location.name = name
    if postcode:
        location.postcode = postcode
    if registration_status:
        location.registration_status = registration_status
    location.last_checked_at = checked_at
    return location


async def record_manual_rating(
    session: AsyncSession, provider_id: int, data: schemas.RatingIn, ctx: WriteContext
) -> WriteResult[LocationRating] | None:
    _not_future("rated_on", data.rated_on, ctx.clock.today())
    await lock_provider(session, provider_id)
    location = (
        await session.execute(
            select(Location).where(
                Location.cqc_location_id == data.cqc_location_id,
                Location.provider_id == provider_id,
                Location.removed_at.is_(None),
            )
        )
    ).scalar_one_or_none()
    if location is None:
        raise DomainError("cqc_location_id", "not a contracted location of this provider")
    questions = {
        question: {"rating": value, "rated_on": data.rated_on}
        for question, value in data.key_questions.model_dump().items()
        if value is not None
    }
    return await record_rating(
        session,
        location_id=location.id,
        overall=data.overall,
        rated_on=data.rated_on,
        key_questions=questions,
        report_url=data.report_url,
        source="manual",
        ctx=ctx,
    )


# Records ------------------------------------------------------------------------------

# Each kind of record: its table, and the name its events and ids go by ("visit":
# visit.recorded, visit.updated, ...; {"visit_id": 7}).
RECORD_KINDS: dict[str, type[SQLModel]] = {
    "visit": Visit,
    "safeguarding": Safeguarding,
    "complaint": Complaint,
    "compliment": Compliment,
    "financial_assurance": FinancialAssurance,
    "concern": Concern,
}
KIND_OF: dict[type[SQLModel], str] = {model: kind for kind, model in RECORD_KINDS.items()}
Record = Visit | Safeguarding | Complaint | Compliment | FinancialAssurance | Concern


def _value_text(value: Any) -> str | None:
    """A field's value as the change history keeps it: its JSON text."""
    if value is None:
        return None
    plain = to_jsonable_python(value)
    return plain if isinstance(plain, str) else json.dumps(plain)


def _apply_changes(
    session: AsyncSession,
    ctx: WriteContext,
    record: Any,
    record_type: str,
    changes: dict[str, Any],
) -> list[str]:
    """Set the fields that really change, each with its row in the change history (the
    value before and after, who and when); returns their names."""
    changed: list[str] = []
    now = ctx.clock.now()
    for key, value in changes.items():
        old = getattr(record, key)
        if old == value:
            continue
        session.add(
            RecordChange(
                provider_id=record.provider_id,
                record_type=record_type,
                record_id=record.id,
                field=key,
                old_value=_value_text(old),
                new_value=_value_text(value),
                changed_by=ctx.actor.user_id,
                actor=ctx.actor.label,
                changed_at=now,
            )
        )
        setattr(record, key, value)
        changed.append(key)
    if not changed:
        raise DomainError("body", "nothing would change: every value given is the one held")
    if hasattr(record, "updated_at"):
        record.updated_at = now
    return sorted(changed)


def _refuse_if_in_error(record: Record) -> None:
    if record.entered_in_error_at is not None:
        raise Conflict("id", "this record was marked entered in error and cannot change")


async def _refresh_visit_dates(
    session: AsyncSession, provider: Provider, ctx: WriteContext
) -> None:
    """The provider's last visit and next visit due, from the visits that count (after a
    visit's date was corrected or a visit was marked entered in error). A provider with
    no visit that counts is due one now."""
    latest = await session.scalar(
        select(func.max(Visit.visited_on)).where(
            Visit.provider_id == provider.id, Visit.entered_in_error_at.is_(None)
        )
    )
    if latest == provider.last_visit_on:
        return
    provider.last_visit_on = latest
    provider.next_visit_due_on = (
        ctx.policy.next_visit_due(provider.monitoring_level, latest)
        if latest is not None
        else ctx.clock.today()
    )


def _new_visit(provider: Provider, data: schemas.VisitIn, ctx: WriteContext) -> Row:
    _not_future("visited_on", data.visited_on, ctx.clock.today())
    # A visit logged late, older than the last one on record, moves neither date.
    if provider.last_visit_on is None or provider.last_visit_on <= data.visited_on:
        provider.last_visit_on = data.visited_on
        provider.next_visit_due_on = ctx.policy.next_visit_due(
            provider.monitoring_level, data.visited_on
        )
    return {
        "provider_id": provider.id,
        **data.model_dump(exclude={"officer_id"}),
        "officer_id": data.officer_id or ctx.actor.user_id,
        "created_by": ctx.actor.user_id,
        "created_at": ctx.clock.now(),
    }


def _visit_recorded(visit_id: int | None, visit: Row) -> dict[str, Any]:
    return {
        "visit_id": visit_id,
        "visited_on": visit["visited_on"],
        "kind": visit["kind"],
        "outcome": visit["outcome"],
    }


async def record_visit(
    session: AsyncSession, provider_id: int, data: schemas.VisitIn, ctx: WriteContext
) -> WriteResult[Visit]:
    _not_future("visited_on", data.visited_on, ctx.clock.today())
    await _check_user(session, "officer_id", data.officer_id)
    provider = await lock_provider(session, provider_id)
    row = _new_visit(provider, data, ctx)
    visit = await _add(session, Visit(**row))
    return await finish_write(
        session, ctx, provider, visit, "visit.recorded", _visit_recorded(visit.id, row)
    )


async def update_visit(
    session: AsyncSession, visit_id: int, data: schemas.VisitUpdate, ctx: WriteContext
) -> WriteResult[Visit]:
    """Correct a visit's fields; a corrected date moves the provider's visit dates."""
    visit = await _get(session, Visit, visit_id, "visit_id")
    _refuse_if_in_error(visit)
    provider = await lock_provider(session, visit.provider_id)
    changes = _non_null_changes(data, nullable=set())
    _not_future("visited_on", changes.get("visited_on"), ctx.clock.today())
    if "officer_id" in changes:
        await _check_user(session, "officer_id", changes["officer_id"])
    fields = _apply_changes(session, ctx, visit, "visit", changes)
    if "visited_on" in fields:
        await session.flush()
        await _refresh_visit_dates(session, provider, ctx)
    return await finish_write(
        session,
        ctx,
        provider,
        visit,
        "visit.updated",
        {
            "visit_id": visit.id,
            "visited_on": visit.visited_on,
            "outcome": visit.outcome,
            "fields": fields,
        },
    )


async def add_visit_action(
    session: AsyncSession, visit_id: int, data: schemas.VisitActionIn, ctx: WriteContext
) -> WriteResult[VisitAction]:
    """A follow-up action agreed at a visit, due no earlier than the visit."""
    visit = await _get(session, Visit, visit_id, "visit_id")
    _refuse_if_in_error(visit)
    _not_before("due_on", data.due_on, "the visit", visit.visited_on)
    provider = await lock_provider(session, visit.provider_id)
    now = ctx.clock.now()
    action = VisitAction(
        visit_id=visit_id,
        provider_id=visit.provider_id,
        **data.model_dump(),
        created_by=ctx.actor.user_id,
        created_at=now,
        updated_at=now,
    )
    await _add(session, action)
    return await finish_write(
        session,
        ctx,
        provider,
        action,
        "visit_action.added",
        {"visit_id": visit_id, "visit_action_id": action.id, "due_on": data.due_on},
    )


async def update_visit_action(
    session: AsyncSession, action_id: int, data: schemas.VisitActionUpdate, ctx: WriteContext
) -> WriteResult[VisitAction]:
    """Update a follow-up action or mark it done (dated today unless a date is given)."""
    action = await _get(session, VisitAction, action_id, "visit_action_id")
    visit = await _get(session, Visit, action.visit_id, "visit_id")
    _refuse_if_in_error(visit)
    provider = await lock_provider(session, action.provider_id)
    changes = _non_null_changes(data, nullable={"done_on"})
    today = ctx.clock.today()
    done = changes.get("done", action.done)
    if "done_on" not in changes:
        if done and action.done_on is None:
            changes["done_on"] = today
        elif not done and "done" in changes:
            changes["done_on"] = None
    done_on = changes.get("done_on", action.done_on)
    if not done and done_on is not None:
        raise DomainError("done_on", "only a done action has a date done")
    _not_future("done_on", done_on, today)
    _not_before("done_on", done_on, "the visit", visit.visited_on)
    _not_before("due_on", changes.get("due_on"), "the visit", visit.visited_on)
    completing = done and not action.done
    fields = _apply_changes(session, ctx, action, "visit_action", changes)
    return await finish_write(
        session,
        ctx,
        provider,
        action,
        "visit_action.completed" if completing else "visit_action.updated",
        {
            "visit_id": visit.id,
            "visit_action_id": action.id,
            "due_on": action.due_on,
            "done": action.done,
            "fields": fields,
        },
    )


def _check_enquiry(
    status: str, enquiry_started_on: date | None, raised_on: date, today: date
) -> None:
    """A Section 42 enquiry's date lies between the raising and today, on a
    safeguarding under enquiry or one closed after it."""
    _not_future("enquiry_started_on", enquiry_started_on, today)
    _not_before("enquiry_started_on", enquiry_started_on, "raised_on", raised_on)
    if status == SafeguardingStatus.enquiry and enquiry_started_on is None:
        raise DomainError("enquiry_started_on", "is required for a safeguarding under enquiry")
    if status == SafeguardingStatus.open and enquiry_started_on is not None:
        raise DomainError("enquiry_started_on", "only a safeguarding under enquiry has one")


def _new_safeguarding(provider: Provider, data: schemas.SafeguardingIn, ctx: WriteContext) -> Row:
    today = ctx.clock.today()
    _not_future("raised_on", data.raised_on, today)
    if data.status == SafeguardingStatus.closed:
        raise DomainError(
            "status", "cannot be closed on a new safeguarding: record it, then close it"
        )
    enquiry_on = data.enquiry_started_on
    if data.status == SafeguardingStatus.enquiry and enquiry_on is None:
        enquiry_on = today
    _check_enquiry(data.status, enquiry_on, data.raised_on, today)
    now = ctx.clock.now()
    return {
        "provider_id": provider.id,
        **data.model_dump(exclude={"enquiry_started_on"}),
        "enquiry_started_on": enquiry_on,
        "created_by": ctx.actor.user_id,
        "created_at": now,
        "updated_at": now,
    }


def _safeguarding_raised(safeguarding_id: int | None, safeguarding: Row) -> dict[str, Any]:
    # The event carries no summary and no reference: emails and timelines link instead.
    return {
        "safeguarding_id": safeguarding_id,
        "raised_on": safeguarding["raised_on"],
        "category": safeguarding["category"],
        "whole_service": safeguarding["whole_service"],
    }


async def record_safeguarding(
    session: AsyncSession, provider_id: int, data: schemas.SafeguardingIn, ctx: WriteContext
) -> WriteResult[Safeguarding]:
    provider = await lock_provider(session, provider_id)
    row = _new_safeguarding(provider, data, ctx)
    safeguarding = await _add(session, Safeguarding(**row))
    return await finish_write(
        session,
        ctx,
        provider,
        safeguarding,
        "safeguarding.raised",
        _safeguarding_raised(safeguarding.id, row),
    )


async def update_safeguarding(
    session: AsyncSession,
    safeguarding_id: int,
    data: schemas.SafeguardingUpdate,
    ctx: WriteContext,
) -> WriteResult[Safeguarding]:
    """Move a safeguarding along open → enquiry → closed (or back), or correct a field.
    Closing needs the outcome, and the risk outcome unless the concern was withdrawn; a
    safeguarding re-opened loses its outcomes and closing date unless they are given."""
    safeguarding = await _get(session, Safeguarding, safeguarding_id, "safeguarding_id")
    _refuse_if_in_error(safeguarding)
    provider = await lock_provider(session, safeguarding.provider_id)
    event_type, event = _change_safeguarding(session, safeguarding, data, ctx)
    return await finish_write(session, ctx, provider, safeguarding, event_type, event)


def _change_safeguarding(
    session: AsyncSession,
    safeguarding: Safeguarding,
    data: schemas.SafeguardingUpdate,
    ctx: WriteContext,
) -> tuple[str, dict[str, Any]]:
    """update_safeguarding's checks and changes, once its provider is locked: the type
    and data of the event that records them."""
    changes = _non_null_changes(
        data, nullable={"outcome", "risk_outcome", "closed_on", "enquiry_started_on"}
    )
    today = ctx.clock.today()
    _not_future("raised_on", changes.get("raised_on"), today)
    status = changes.get("status", safeguarding.status)
    moving = "status" in changes and status != safeguarding.status
    if moving and status == SafeguardingStatus.enquiry:
        changes.setdefault("enquiry_started_on", safeguarding.enquiry_started_on or today)
    if moving and status == SafeguardingStatus.open:
        changes.setdefault("enquiry_started_on", None)
    if moving and status != SafeguardingStatus.closed:
        changes.setdefault("outcome", None)
        changes.setdefault("risk_outcome", None)
    closing = _open_or_close(safeguarding, changes, closed=SafeguardingStatus.closed, today=today)
    _check_enquiry(
        status,
        changes.get("enquiry_started_on", safeguarding.enquiry_started_on),
        changes.get("raised_on", safeguarding.raised_on),
        today,
    )
    outcome = changes.get("outcome", safeguarding.outcome)
    risk = changes.get("risk_outcome", safeguarding.risk_outcome)
    if status == SafeguardingStatus.closed:
        if outcome is None:
            raise DomainError("outcome", "is required to close a safeguarding")
        if risk is None and outcome != SafeguardingOutcome.withdrawn:
            raise DomainError("risk_outcome", "is required to close a safeguarding")
    else:
        if outcome is not None:
            raise DomainError("outcome", "only a closed safeguarding has an outcome")
        if risk is not None:
            raise DomainError("risk_outcome", "only a closed safeguarding has a risk outcome")
    if "category" in changes:
        changes["legacy_category"] = None  # chosen from the Care Act's types at last
    fields = _apply_changes(session, ctx, safeguarding, "safeguarding", changes)
    if closing:
        event_type = "safeguarding.closed"
    elif moving and status == SafeguardingStatus.enquiry:
        event_type = "safeguarding.enquiry_started"
    else:
        event_type = "safeguarding.updated"
    return event_type, {
        "safeguarding_id": safeguarding.id,
        "status": safeguarding.status,
        "outcome": safeguarding.outcome,
        "risk_outcome": safeguarding.risk_outcome,
        "whole_service": safeguarding.whole_service,
        "fields": fields,
    }


def _new_complaint(provider: Provider, data: schemas.ComplaintIn, ctx: WriteContext) -> Row:
    today = ctx.clock.today()
    _not_future("received_on", data.received_on, today)
    _check_closing(
        data.status, data.closed_on, CaseStatus.closed, "received_on", data.received_on, today
    )
    if data.status == CaseStatus.closed and data.upheld is None:
        raise DomainError("upheld", "is required to close a complaint")
    now = ctx.clock.now()
    closed_on = data.closed_on or (today if data.status == CaseStatus.closed else None)
    return {
        "provider_id": provider.id,
        **data.model_dump(exclude={"closed_on"}),
        "closed_on": closed_on,
        "created_by": ctx.actor.user_id,
        "created_at": now,
        "updated_at": now,
    }


def _complaint_received(complaint_id: int | None, complaint: Row) -> dict[str, Any]:
    return {
        "complaint_id": complaint_id,
        "received_on": complaint["received_on"],
        "upheld": complaint["upheld"],
    }


async def record_complaint(
    session: AsyncSession, provider_id: int, data: schemas.ComplaintIn, ctx: WriteContext
) -> WriteResult[Complaint]:
    provider = await lock_provider(session, provider_id)
    row = _new_complaint(provider, data, ctx)
    complaint = await _add(session, Complaint(**row))
    return await finish_write(
        session,
        ctx,
        provider,
        complaint,
        "complaint.received",
        _complaint_received(complaint.id, row),
    )


async def update_complaint(
    session: AsyncSession, complaint_id: int, data: schemas.ComplaintUpdate, ctx: WriteContext
) -> WriteResult[Complaint]:
    """Record a complaint's finding and close it (closing needs the finding), or correct
    a field."""
    complaint = await _get(session, Complaint, complaint_id, "complaint_id")
    _refuse_if_in_error(complaint)
    provider = await lock_provider(session, complaint.provider_id)
    changes = _non_null_changes(data, nullable={"upheld", "closed_on"})
    today = ctx.clock.today()
    _not_future("received_on", changes.get("received_on"), today)
    closing = _open_or_close(complaint, changes, closed=CaseStatus.closed, today=today)
    closed = changes.get("status", complaint.status) == CaseStatus.closed
    if closed and changes.get("upheld", complaint.upheld) is None:
        raise DomainError("upheld", "is required to close a complaint")
    fields = _apply_changes(session, ctx, complaint, "complaint", changes)
    return await finish_write(
        session,
        ctx,
        provider,
        complaint,
        "complaint.closed" if closing else "complaint.updated",
        {
            "complaint_id": complaint.id,
            "status": complaint.status,
            "upheld": complaint.upheld,
            "fields": fields,
        },
    )


def _new_compliment(provider: Provider, data: schemas.ComplimentIn, ctx: WriteContext) -> Row:
    _not_future("received_on", data.received_on, ctx.clock.today())
    return {
        "provider_id": provider.id,
        **data.model_dump(),
        "created_by": ctx.actor.user_id,
        "created_at": ctx.clock.now(),
    }


def _compliment_received(compliment_id: int | None, compliment: Row) -> dict[str, Any]:
    return {"compliment_id": compliment_id, "received_on": compliment["received_on"]}


async def record_compliment(
    session: AsyncSession, provider_id: int, data: schemas.ComplimentIn, ctx: WriteContext
) -> WriteResult[Compliment]:
    provider = await lock_provider(session, provider_id)
    row = _new_compliment(provider, data, ctx)
    compliment = await _add(session, Compliment(**row))
    return await finish_write(
        session,
        ctx,
        provider,
        compliment,
        "compliment.received",
        _compliment_received(compliment.id, row),
    )


async def update_compliment(
    session: AsyncSession, compliment_id: int, data: schemas.ComplimentUpdate, ctx: WriteContext
) -> WriteResult[Compliment]:
    compliment = await _get(session, Compliment, compliment_id, "compliment_id")
    _refuse_if_in_error(compliment)
    provider = await lock_provider(session, compliment.provider_id)
    changes = _non_null_changes(data, nullable=set())
    _not_future("received_on", changes.get("received_on"), ctx.clock.today())
    fields = _apply_changes(session, ctx, compliment, "compliment", changes)
    return await finish_write(
        session,
        ctx,
        provider,
        compliment,
        "compliment.updated",
        {"compliment_id": compliment.id, "fields": fields},
    )


def _new_financial_assurance(
    provider: Provider, data: schemas.FinancialAssuranceIn, ctx: WriteContext
) -> Row:
    _not_future("assessed_on", data.assessed_on, ctx.clock.today())
    _not_before("next_review_on", data.next_review_on, "assessed_on", data.assessed_on)
    return {
        "provider_id": provider.id,
        **data.model_dump(),
        "created_by": ctx.actor.user_id,
        "created_at": ctx.clock.now(),
    }


def _financial_assurance_recorded(assurance_id: int | None, assurance: Row) -> dict[str, Any]:
    return {
        "financial_assurance_id": assurance_id,
        "assessed_on": assurance["assessed_on"],
        "risk": assurance["risk"],
        "next_review_on": assurance["next_review_on"],
        "insurance_expires_on": assurance["insurance_expires_on"],
    }


async def record_financial_assurance(
    session: AsyncSession, provider_id: int, data: schemas.FinancialAssuranceIn, ctx: WriteContext
) -> WriteResult[FinancialAssurance]:
    provider = await lock_provider(session, provider_id)
    row = _new_financial_assurance(provider, data, ctx)
    assurance = await _add(session, FinancialAssurance(**row))
    return await finish_write(
        session,
        ctx,
        provider,
        assurance,
        "financial_assurance.recorded",
        _financial_assurance_recorded(assurance.id, row),
    )


async def update_financial_assurance(
    session: AsyncSession,
    assurance_id: int,
    data: schemas.FinancialAssuranceUpdate,
    ctx: WriteContext,
) -> WriteResult[FinancialAssurance]:
    assurance = await _get(session, FinancialAssurance, assurance_id, "financial_assurance_id")
    _refuse_if_in_error(assurance)
    provider = await lock_provider(session, assurance.provider_id)
    changes = _non_null_changes(
        data,
        nullable={
            "credit_check_passed",
            "accounts_filed_on_time",
            "insurance_expires_on",
            "next_review_on",
        },
    )
    _not_future("assessed_on", changes.get("assessed_on"), ctx.clock.today())
    _not_before(
        "next_review_on",
        changes.get("next_review_on", assurance.next_review_on),
        "assessed_on",
        changes.get("assessed_on", assurance.assessed_on),
    )
    fields = _apply_changes(session, ctx, assurance, "financial_assurance", changes)
    return await finish_write(
        session,
        ctx,
        provider,
        assurance,
        "financial_assurance.updated",
        {
            "financial_assurance_id": assurance.id,
            "risk": assurance.risk,
            "fields": fields,
        },
    )


def _new_concern(provider: Provider, data: schemas.ConcernIn, ctx: WriteContext) -> Row:
    _not_future("raised_on", data.raised_on, ctx.clock.today())
    now = ctx.clock.now()
    return {
        "provider_id": provider.id,
        **data.model_dump(),
        "created_by": ctx.actor.user_id,
        "created_at": now,
        "updated_at": now,
    }


def _concern_raised(concern_id: int | None, concern: Row) -> dict[str, Any]:
    return {
        "concern_id": concern_id,
        "raised_on": concern["raised_on"],
        "whole_service": concern["whole_service"],
    }


async def record_concern(
    session: AsyncSession, provider_id: int, data: schemas.ConcernIn, ctx: WriteContext
) -> WriteResult[Concern]:
    provider = await lock_provider(session, provider_id)
    row = _new_concern(provider, data, ctx)
    concern = await _add(session, Concern(**row))
    return await finish_write(
        session, ctx, provider, concern, "concern.raised", _concern_raised(concern.id, row)
    )


async def update_concern(
    session: AsyncSession, concern_id: int, data: schemas.ConcernUpdate, ctx: WriteContext
) -> WriteResult[Concern]:
    """Resolve a concern (closing needs how it was resolved), re-open it, or correct a
    field. Resolving the last whole-service concern stops its rule firing, so a manager
    may then step the provider down without an override."""
    concern = await _get(session, Concern, concern_id, "concern_id")
    _refuse_if_in_error(concern)
    provider = await lock_provider(session, concern.provider_id)
    event_type, event = _change_concern(session, concern, data, ctx)
    return await finish_write(session, ctx, provider, concern, event_type, event)


def _change_concern(
    session: AsyncSession, concern: Concern, data: schemas.ConcernUpdate, ctx: WriteContext
) -> tuple[str, dict[str, Any]]:
    """update_concern's checks and changes, once its provider is locked: the type and
    data of the event that records them."""
    changes = _non_null_changes(data, nullable={"closed_on"})
    today = ctx.clock.today()
    _not_future("raised_on", changes.get("raised_on"), today)
    closing = _open_or_close(concern, changes, closed=CaseStatus.closed, today=today)
    closed = changes.get("status", concern.status) == CaseStatus.closed
    if closed and not changes.get("outcome", concern.outcome):
        raise DomainError("outcome", "is required to resolve a concern")
    fields = _apply_changes(session, ctx, concern, "concern", changes)
    return "concern.closed" if closing else "concern.updated", {
        "concern_id": concern.id,
        "status": concern.status,
        "whole_service": concern.whole_service,
        "fields": fields,
    }


async def mark_entered_in_error(
    session: AsyncSession,
    kind: str,
    record_id: int,
    data: schemas.EnteredInError,
    ctx: WriteContext,
    *,
    may_mark_others: bool,
) -> WriteResult[Any]:
    """Mark a record entered in error, with the reason: it stays on record, cannot
    change after, and no rule counts it. Its author may, and whoever `may_mark_others`
    (a manager: the caller decides from the permission table)."""
    model = RECORD_KINDS[kind]
    record: Any = await _get(session, model, record_id, f"{kind}_id")
    if record.entered_in_error_at is not None:
        raise Conflict("id", "this record is already marked entered in error")
    if not may_mark_others and (
        ctx.actor.user_id is None or record.created_by != ctx.actor.user_id
    ):
        raise Forbidden("id", "only the person who recorded it or a manager may mark it")
    provider = await lock_provider(session, record.provider_id)
    now = ctx.clock.now()
    session.add(
        RecordChange(
            provider_id=record.provider_id,
            record_type=kind,
            record_id=record_id,
            field="entered_in_error",
            old_value=None,
            new_value="true",
            changed_by=ctx.actor.user_id,
            actor=ctx.actor.label,
            changed_at=now,
        )
    )
    record.entered_in_error_at = now
    record.entered_in_error_by = ctx.actor.user_id
    record.entered_in_error_reason = data.reason
    if hasattr(record, "updated_at"):
        record.updated_at = now
    if isinstance(record, Visit):
        await session.flush()
        await _refresh_visit_dates(session, provider, ctx)
    return await finish_write(
        session, ctx, provider, record, f"{kind}.entered_in_error", {f"{kind}_id": record_id}
    )


# Helpers ------------------------------------------------------------------------------


# Safeguardings, complaints and concerns: each has a status, a closing date, and the
# day it began (raised or received), between which and today the closing date lies.
_START_FIELD = {Safeguarding: "raised_on", Complaint: "received_on", Concern: "raised_on"}


def _open_or_close(
    record: Safeguarding | Complaint | Concern,
    changes: dict[str, Any],
    *,
    closed: str,
    today: date,
) -> bool:
    """A record's open/close transition, the one for every kind that closes: a record
    closed without a date closes today, and one re-opened loses its date unless a date
    is given. Puts the closing date it decides into `changes`, checks the date, and
    returns whether this change closes the record."""
    status = changes.get("status", record.status)
    if "closed_on" not in changes:
        if status == closed and record.closed_on is None:
            changes["closed_on"] = today
        elif status != closed and "status" in changes:
            changes["closed_on"] = None  # re-opened
    start_field = _START_FIELD[type(record)]
    _check_closing(
        status,
        changes.get("closed_on", record.closed_on),
        closed,
        start_field,
        changes.get(start_field, getattr(record, start_field)),
        today,
    )
    return status == closed and record.status != closed


def _check_closing(
    status: str, closed_on: date | None, closed: str, start_field: str, start: date, today: date
) -> None:
    """A closing date lies between the record's start and today, on a closed record."""
    _not_future("closed_on", closed_on, today)
    _not_before("closed_on", closed_on, start_field, start)
    if status != closed and closed_on is not None:
        raise DomainError("closed_on", "can only be given when the status is closed")


def _non_null_changes(data: schemas.Input, *, nullable: set[str]) -> dict[str, Any]:
    changes = data.model_dump(exclude_unset=True)
    for key, value in changes.items():
        if value is None and key not in nullable:
            raise DomainError(key, "cannot be null")
    if not changes:
        raise DomainError("body", "no fields to change")
    return changes


async def _get(session: AsyncSession, model: type[RecordT], record_id: int, field: str) -> RecordT:
    record = await session.get(model, record_id)
    if record is None:
        raise NotFound(field, f"no record with id {record_id}")
    return record


# Batches: an import of the council's history -----------------------------------------


@dataclass(frozen=True)
class Batched:
    """One write of a batch: its provider, what is written (a new record's input, or an
    update of the record with id `record_id`), and the instant its event is dated."""

    provider_id: int
    data: schemas.Input
    happened_at: datetime | None = None
    record_id: int | None = None


EventOf = Callable[[int | None, Row], dict[str, Any]]
# Each new record's input: the function that checks it and makes its row, its model,
# its event's type and the event's data. The one-at-a-time functions call the same.
_NEW: dict[type[schemas.Input], tuple[Callable[..., Row], type[SQLModel], str, EventOf]] = {
    schemas.VisitIn: (_new_visit, Visit, "visit.recorded", _visit_recorded),
    schemas.SafeguardingIn: (
        _new_safeguarding,
        Safeguarding,
        "safeguarding.raised",
        _safeguarding_raised,
    ),
    schemas.ComplaintIn: (_new_complaint, Complaint, "complaint.received", _complaint_received),
    schemas.ComplimentIn: (
        _new_compliment,
        Compliment,
        "compliment.received",
        _compliment_received,
    ),
    schemas.FinancialAssuranceIn: (
        _new_financial_assurance,
        FinancialAssurance,
        "financial_assurance.recorded",
        _financial_assurance_recorded,
    ),
    schemas.ConcernIn: (_new_concern, Concern, "concern.raised", _concern_raised),
}
# Each update's record model and the function that checks and applies it.
_CHANGE: dict[
    type[schemas.Input], tuple[type[SQLModel], Callable[..., tuple[str, dict[str, Any]]]]
] = {
    schemas.SafeguardingUpdate: (Safeguarding, _change_safeguarding),
    schemas.ConcernUpdate: (Concern, _change_concern),
}


async def write_many(
    session: AsyncSession, items: Sequence[Batched], ctx: WriteContext
) -> list[int | DomainError]:
    """The batch form of the record_* functions (and of update_safeguarding and
    update_concern) for an import of history, whose rules run once per provider when it
    ends (ctx.rules_deferred). Every provider is locked first, in id order, and the
    records to update read in one query per kind; each item is checked and built by the
    same function its one-at-a-time form calls; then the new records are stored in one
    multi-row INSERT per kind and the events appended in one statement. An item that
    fails its checks writes nothing and is answered, in its place, with its DomainError;
    the others are answered with their record's id."""
    assert ctx.rules_deferred, "a batch leaves the rules to its caller"
    providers = await lock_providers(session, {item.provider_id for item in items})
    officers = await _active_user_ids(
        session,
        {
            item.data.officer_id
            for item in items
            if isinstance(item.data, schemas.VisitIn) and item.data.officer_id is not None
        },
    )
    held = await _records_to_change(session, items)
    answers: list[int | DomainError] = []
    new_rows: dict[type[SQLModel], list[Row]] = {}
    changed: list[tuple[int, Batched, str, dict[str, Any]]] = []
    added: list[tuple[int, Batched, str, Row, EventOf]] = []
    for place, item in enumerate(items):
        answers.append(0)  # the record's id, once it is known
        try:
            provider = providers.get(item.provider_id)
            if provider is None:
                raise NotFound("provider_id", f"no provider with id {item.provider_id}")
            if item.record_id is not None:
                model, change = _CHANGE[type(item.data)]
                record = held.get((model, item.record_id))
                if record is None or record.provider_id != item.provider_id:
                    raise NotFound("id", f"no record with id {item.record_id}")
                _refuse_if_in_error(record)
                event_type, event = change(session, record, item.data, ctx)
                changed.append((place, item, event_type, event))
                answers[place] = item.record_id
                continue
            officer_id = getattr(item.data, "officer_id", None)
            if officer_id is not None and officer_id not in officers:
                raise DomainError("officer_id", f"no active user with id {officer_id}")
            new, model, event_type, event_of = _NEW[type(item.data)]
            row = new(provider, item.data, ctx)
        except DomainError as error:
            answers[place] = error
            continue
        new_rows.setdefault(model, []).append(row)
        added.append((place, item, event_type, row, event_of))
    for model, rows in new_rows.items():
        await _insert_rows(session, model, rows)
    events: list[tuple[int, EventDraft]] = [
        (place, EventDraft(event_type, item.provider_id, event, at=item.happened_at))
        for place, item, event_type, event in changed
    ]
    for place, item, event_type, row, event_of in added:
        answers[place] = row["id"]
        event = event_of(row["id"], row)
        events.append((place, EventDraft(event_type, item.provider_id, event, at=item.happened_at)))
    drafts = [draft for _, draft in sorted(events, key=lambda pair: pair[0])]
    await append_events(session, drafts, actor=ctx.actor, at=ctx.clock.now())
    return answers


async def _records_to_change(
    session: AsyncSession, items: Sequence[Batched]
) -> dict[tuple[type[SQLModel], int], Any]:
    """The records a batch updates, read in one query per kind (and per 500 ids)."""
    wanted: dict[type[SQLModel], list[int]] = {}
    for item in items:
        if item.record_id is not None:
            wanted.setdefault(_CHANGE[type(item.data)][0], []).append(item.record_id)
    held: dict[tuple[type[SQLModel], int], Any] = {}
    for model, ids in wanted.items():
        for start in range(0, len(ids), 500):
            chosen = select(model).where(col(model.id).in_(ids[start : start + 500]))
            for record in await session.scalars(chosen):
                held[(model, record.id)] = record
    return held


async def _insert_rows(session: AsyncSession, model: type[SQLModel], rows: list[Row]) -> None:
    """Store new rows of one model in one multi-row INSERT (the ORM's bulk INSERT of
    plain rows, with no object built for each), and give each row its id. The model's
    defaults fill the fields the builder leaves out, as constructing it would. On
    SQLite the rows are numbered before they are stored, for the reason
    _number_new_rows gives; PostgreSQL answers their ids in order."""
    defaults = {
        name: field.get_default(call_default_factory=True)
        for name, field in model.model_fields.items()
        if name != "id" and name not in rows[0] and not field.is_required()
    }
    full = [{**defaults, **row} for row in rows]
    if is_postgres(session):
        statement = insert(model).returning(model.id, sort_by_parameter_order=True)
        ids = list((await session.scalars(statement, full)).all())
    else:
        await session.flush()  # any pending row of the model takes its id first
        highest = await session.scalar(select(func.max(model.id))) or 0
        ids = list(range(highest + 1, highest + 1 + len(full)))
        for row, number in zip(full, ids, strict=True):
            row["id"] = number
        await session.execute(insert(model), full)
    for row, number in zip(rows, ids, strict=True):
        row["id"] = number


@dataclass(frozen=True)
class NewProvider:
    """A provider of a batch, with the CQC locations its contract covers."""

    data: schemas.ProviderIn
    locations: list[schemas.LocationIn]


async def create_providers(
    session: AsyncSession, items: Sequence[NewProvider], ctx: WriteContext
) -> list[Provider | DomainError]:
    """The batch form of create_provider and add_location, for an import: each provider
    checked as create_provider checks it (its contract officer, its localities) and each
    location as add_location does, from one read of the users, the localities and the
    locations named; the providers stored in one flush, then their localities and
    locations in another, and their events appended in one statement. A provider that
    fails a check (or names a location another provider of the batch took) writes
    nothing and is answered, in its place, with its DomainError."""
    officer_ids = {i.data.contract_officer_id for i in items} - {None}
    users = {
        user.id: user
        for user in await session.scalars(select(User).where(col(User.id).in_(officer_ids)))
    }
    localities = await _localities_by_id(session, [c for i in items for c in i.data.localities])
    cqc_ids = [location.cqc_location_id for i in items for location in i.locations]
    held = {
        location.cqc_location_id: location
        for start in range(0, len(cqc_ids), 500)
        for location in await session.scalars(
            select(Location).where(col(Location.cqc_location_id).in_(cqc_ids[start : start + 500]))
        )
    }
    answers: list[Provider | DomainError] = []
    built: list[tuple[NewProvider, Provider, list[str]]] = []
    taken: set[str] = set()
    for item in items:
        try:
            if item.data.contract_officer_id is not None:
                officer_id = item.data.contract_officer_id
                _refuse_contract_officer(officer_id, users.get(officer_id))
            names = _resolve_localities(item.data.localities, localities)
            wanted = [location.cqc_location_id for location in item.locations]
            for cqc_id in wanted:
                if cqc_id in taken or (cqc_id in held and held[cqc_id].removed_at is None):
                    raise Conflict("cqc_location_id", "this CQC location is already contracted")
        except DomainError as error:
            answers.append(error)
            continue
        taken.update(wanted)
        provider = _new_provider(item.data, ctx)
        session.add(provider)
        built.append((item, provider, names))
        answers.append(provider)
    await _number_new_rows(session)
    await session.flush()  # the providers' ids, for their localities and locations
    drafts: list[EventDraft] = []
    locations: list[Location] = []
    for item, provider, names in built:
        assert provider.id is not None
        drafts.append(EventDraft("provider.created", provider.id, _provider_created(provider)))
        session.add_all(ProviderLocality(provider_id=provider.id, locality=n) for n in names)
        for data in item.locations:
            location = _contracted_location(provider.id, data, held.get(data.cqc_location_id), ctx)
            session.add(location)
            locations.append(location)
    await _number_new_rows(session)
    await session.flush()  # the locations' ids, for their events
    drafts += [
        EventDraft("location.added", location.provider_id, _location_added(location))
        for location in locations
    ]
    await append_events(session, drafts, actor=ctx.actor, at=ctx.clock.now())
    return answers


async def _active_user_ids(session: AsyncSession, user_ids: set[int]) -> set[int]:
    if not user_ids:
        return set()
    rows = await session.scalars(
        select(User.id).where(col(User.id).in_(sorted(user_ids)), col(User.active).is_(True))
    )
    return {user_id for user_id in rows if user_id is not None}


async def _number_new_rows(session: AsyncSession) -> None:
    """On SQLite, give the session's new rows their ids before they are flushed. SQLite
    cannot tie the rows an INSERT ... RETURNING answers to the order of its parameters,
    so the ORM inserts rows whose id the database chooses one statement each; rows that
    carry their id go in one executemany. The ids are those SQLite itself would choose,
    the highest held plus one onwards, and this writer holds the database's one write
    lock (its transaction began IMMEDIATE), so no other writer can take them.
    PostgreSQL batches the INSERTs by itself, ids from their sequences."""
    if is_postgres(session):
        return
    pending: dict[type[Any], list[Any]] = {}
    for row in session.new:
        if getattr(row, "id", 0) is None:
            pending.setdefault(type(row), []).append(row)
    for model, rows in pending.items():
        with session.no_autoflush:  # the rows wait for their ids
            highest = await session.scalar(select(func.max(model.id))) or 0
        for number, row in enumerate(rows, start=highest + 1):
            row.id = number
