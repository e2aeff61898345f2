"""One function per kind of record: validate against the clock and the database, store
the record, append its event and evaluate the rules for the provider, all in the
caller's transaction. Nothing here commits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Generic, TypeVar

from pydantic_core import to_jsonable_python
from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel

from app.clock import Clock
from app.errors import Conflict, DomainError, NotFound
from app.events import EVENT_TYPES, Actor, append_event
from app.locks import lock_provider
from app.models import (
    Complaint,
    Compliment,
    Concern,
    FinancialAssurance,
    Locality,
    LocalityLead,
    Location,
    LocationRating,
    Provider,
    ProviderLocality,
    Safeguarding,
    User,
    Visit,
)
from app.models.base import (
    KEY_QUESTIONS,
    RATING_SEVERITY,
    CaseStatus,
    MonitoringLevel,
    Rating,
    SafeguardingStatus,
)
from app.monitoring.escalation import Escalation, apply_rules_to
from app.monitoring.policy import MonitoringPolicy
from app.records import schemas

RecordT = TypeVar("RecordT", bound=SQLModel)


@dataclass(frozen=True)
class WriteContext:
    """Who is writing, the time, and the council's monitoring policy."""

    actor: Actor
    clock: Clock
    policy: MonitoringPolicy


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


def _not_before(field: str, value: date | None, other_field: str, other: date) -> None:
    if value is not None and value < other:
        raise DomainError(field, f"cannot be before {other_field} ({other.isoformat()})")


async def _check_user(session: AsyncSession, field: str, user_id: int | None) -> None:
    if user_id is None:
        return
    user = await session.get(User, user_id)
    if user is None or not user.active:
        raise DomainError(field, f"no active user with id {user_id}")


async def _finish(
    session: AsyncSession,
    ctx: WriteContext,
    provider: Provider,
    record: Any,
    event_type: str,
    data: dict[str, Any],
) -> WriteResult[Any]:
    """Append the record's event (flushing the record's changes first), then evaluate the
    rules for its provider, which the writer has locked."""
    assert provider.id is not None
    await append_event(
        session,
        type=event_type,
        provider_id=provider.id,
        actor=ctx.actor,
        at=ctx.clock.now(),
        data=data,
    )
    escalation = await apply_rules_to(
        session,
        provider,
        policy=ctx.policy,
        actor=ctx.actor,
        now=ctx.clock.now(),
        trigger=trigger_of(event_type, data),
    )
    level = MonitoringLevel(provider.monitoring_level)
    return WriteResult(record, level, provider.placements_suspended, escalation)


async def _add(session: AsyncSession, record: SQLModel) -> None:
    """Store a new record now, so that its event can name its id."""
    session.add(record)
    await session.flush()


# Providers and locations -------------------------------------------------------------


async def _locality_names(session: AsyncSession, chosen: list[int | str]) -> list[str]:
    """The names of the chosen localities (by id or name), each of which must be on the
    council's list; DomainError names the first that is not."""
    ids = [value for value in chosen if isinstance(value, int)]
    names = [value for value in chosen if isinstance(value, str)]
    found = (
        await session.execute(
            select(Locality.id, Locality.name).where(
                or_(Locality.id.in_(ids), Locality.name.in_(names))
            )
        )
    ).all()
    by_id = {row.id: row.name for row in found}
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
    await _check_user(session, "contract_officer_id", data.contract_officer_id)
    now = ctx.clock.now()
    provider = Provider(
        **data.model_dump(exclude={"localities"}),
        created_at=now,
        updated_at=now,
        monitoring_level=MonitoringLevel.routine,
        next_visit_due_on=now.date(),  # a new contract is visited at once
    )
    session.add(provider)
    await session.flush()
    assert provider.id is not None
    await _set_localities(session, provider.id, data.localities)
    await append_event(
        session,
        type="provider.created",
        provider_id=provider.id,
        actor=ctx.actor,
        at=now,
        data={"name": provider.name, "contract_type": provider.contract_type},
    )
    return provider


async def update_provider(
    session: AsyncSession, provider_id: int, data: schemas.ProviderUpdate, ctx: WriteContext
) -> Provider:
    provider = await lock_provider(session, provider_id)
    changes = data.model_dump(exclude_unset=True)
    for required in ("name", "contract_type", "weekly_hours"):
        if required in changes and changes[required] is None:
            raise DomainError(required, "cannot be null")
    if "contract_officer_id" in changes:
        await _check_user(session, "contract_officer_id", changes["contract_officer_id"])
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
    if existing is not None:
        raise Conflict("cqc_location_id", "this CQC location is already contracted")
    location = Location(provider_id=provider_id, **data.model_dump(), created_at=ctx.clock.now())
    session.add(location)
    await session.flush()
    await append_event(
        session,
        type="location.added",
        provider_id=provider_id,
        actor=ctx.actor,
        at=ctx.clock.now(),
        data={"cqc_location_id": data.cqc_location_id, "location_id": location.id},
    )
    return location


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


async def record_visit(
    session: AsyncSession, provider_id: int, data: schemas.VisitIn, ctx: WriteContext
) -> WriteResult[Visit]:
    _not_future("visited_on", data.visited_on, ctx.clock.today())
    await _check_user(session, "officer_id", data.officer_id)
    provider = await lock_provider(session, provider_id)
    # A visit logged late, older than the last one on record, moves neither date.
    if provider.last_visit_on is None or provider.last_visit_on <= data.visited_on:
        provider.last_visit_on = data.visited_on
        provider.next_visit_due_on = ctx.policy.next_visit_due(
            provider.monitoring_level, data.visited_on
        )
    visit = Visit(
        provider_id=provider_id,
        **data.model_dump(exclude={"officer_id"}),
        officer_id=data.officer_id or ctx.actor.user_id,
        created_by=ctx.actor.user_id,
        created_at=ctx.clock.now(),
    )
    await _add(session, visit)
    return await _finish(
        session,
        ctx,
        provider,
        visit,
        "visit.recorded",
        {
            "visit_id": visit.id,
            "visited_on": data.visited_on,
            "kind": data.kind,
            "outcome": data.outcome,
        },
    )


async def record_safeguarding(
    session: AsyncSession, provider_id: int, data: schemas.SafeguardingIn, ctx: WriteContext
) -> WriteResult[Safeguarding]:
    today = ctx.clock.today()
    _not_future("raised_on", data.raised_on, today)
    if data.status == SafeguardingStatus.closed:
        raise DomainError("status", "a new safeguarding cannot start closed; close it by update")
    provider = await lock_provider(session, provider_id)
    now = ctx.clock.now()
    safeguarding = Safeguarding(
        provider_id=provider_id,
        **data.model_dump(),
        created_by=ctx.actor.user_id,
        created_at=now,
        updated_at=now,
    )
    await _add(session, safeguarding)
    # The event carries no summary and no reference: emails and timelines link instead.
    return await _finish(
        session,
        ctx,
        provider,
        safeguarding,
        "safeguarding.raised",
        {
            "safeguarding_id": safeguarding.id,
            "raised_on": data.raised_on,
            "category": data.category,
            "whole_service": data.whole_service,
        },
    )


async def update_safeguarding(
    session: AsyncSession,
    safeguarding_id: int,
    data: schemas.SafeguardingUpdate,
    ctx: WriteContext,
) -> WriteResult[Safeguarding]:
    safeguarding = await _get(session, Safeguarding, safeguarding_id, "safeguarding_id")
    provider = await lock_provider(session, safeguarding.provider_id)
    changes = _non_null_changes(data, nullable={"outcome", "closed_on"})
    today = ctx.clock.today()
    closing = _open_or_close(safeguarding, changes, closed=SafeguardingStatus.closed, today=today)
    status = changes.get("status", safeguarding.status)
    if status == SafeguardingStatus.closed and changes.get("outcome", safeguarding.outcome) is None:
        raise DomainError("outcome", "is required to close a safeguarding")
    for key, value in changes.items():
        setattr(safeguarding, key, value)
    safeguarding.updated_at = ctx.clock.now()
    return await _finish(
        session,
        ctx,
        provider,
        safeguarding,
        "safeguarding.closed" if closing else "safeguarding.updated",
        {
            "safeguarding_id": safeguarding.id,
            "status": safeguarding.status,
            "outcome": safeguarding.outcome,
            "fields": sorted(changes),
        },
    )


async def record_complaint(
    session: AsyncSession, provider_id: int, data: schemas.ComplaintIn, ctx: WriteContext
) -> WriteResult[Complaint]:
    today = ctx.clock.today()
    _not_future("received_on", data.received_on, today)
    _check_closing(
        data.status, data.closed_on, CaseStatus.closed, "received_on", data.received_on, today
    )
    provider = await lock_provider(session, provider_id)
    now = ctx.clock.now()
    closed_on = data.closed_on or (today if data.status == CaseStatus.closed else None)
    complaint = Complaint(
        provider_id=provider_id,
        **data.model_dump(exclude={"closed_on"}),
        closed_on=closed_on,
        created_by=ctx.actor.user_id,
        created_at=now,
        updated_at=now,
    )
    await _add(session, complaint)
    return await _finish(
        session,
        ctx,
        provider,
        complaint,
        "complaint.received",
        {"complaint_id": complaint.id, "received_on": data.received_on, "upheld": data.upheld},
    )


async def update_complaint(
    session: AsyncSession, complaint_id: int, data: schemas.ComplaintUpdate, ctx: WriteContext
) -> WriteResult[Complaint]:
    complaint = await _get(session, Complaint, complaint_id, "complaint_id")
    provider = await lock_provider(session, complaint.provider_id)
    changes = _non_null_changes(data, nullable={"upheld", "closed_on"})
    _open_or_close(complaint, changes, closed=CaseStatus.closed, today=ctx.clock.today())
    for key, value in changes.items():
        setattr(complaint, key, value)
    complaint.updated_at = ctx.clock.now()
    return await _finish(
        session,
        ctx,
        provider,
        complaint,
        "complaint.updated",
        {"complaint_id": complaint.id, "status": complaint.status, "upheld": complaint.upheld},
    )


async def record_compliment(
    session: AsyncSession, provider_id: int, data: schemas.ComplimentIn, ctx: WriteContext
) -> WriteResult[Compliment]:
    _not_future("received_on", data.received_on, ctx.clock.today())
    provider = await lock_provider(session, provider_id)
    compliment = Compliment(
        provider_id=provider_id,
        **data.model_dump(),
        created_by=ctx.actor.user_id,
        created_at=ctx.clock.now(),
    )
    await _add(session, compliment)
    return await _finish(
        session,
        ctx,
        provider,
        compliment,
        "compliment.received",
        {"compliment_id": compliment.id, "received_on": data.received_on},
    )


async def record_financial_assurance(
    session: AsyncSession, provider_id: int, data: schemas.FinancialAssuranceIn, ctx: WriteContext
) -> WriteResult[FinancialAssurance]:
    _not_future("assessed_on", data.assessed_on, ctx.clock.today())
    _not_before("next_review_on", data.next_review_on, "assessed_on", data.assessed_on)
    provider = await lock_provider(session, provider_id)
    assurance = FinancialAssurance(
        provider_id=provider_id,
        **data.model_dump(),
        created_by=ctx.actor.user_id,
        created_at=ctx.clock.now(),
    )
    await _add(session, assurance)
    return await _finish(
        session,
        ctx,
        provider,
        assurance,
        "financial_assurance.recorded",
        {
            "financial_assurance_id": assurance.id,
            "assessed_on": data.assessed_on,
            "risk": data.risk,
            "next_review_on": data.next_review_on,
            "insurance_expires_on": data.insurance_expires_on,
        },
    )


async def record_concern(
    session: AsyncSession, provider_id: int, data: schemas.ConcernIn, ctx: WriteContext
) -> WriteResult[Concern]:
    _not_future("raised_on", data.raised_on, ctx.clock.today())
    provider = await lock_provider(session, provider_id)
    now = ctx.clock.now()
    concern = Concern(
        provider_id=provider_id,
        **data.model_dump(),
        created_by=ctx.actor.user_id,
        created_at=now,
        updated_at=now,
    )
    await _add(session, concern)
    return await _finish(
        session,
        ctx,
        provider,
        concern,
        "concern.raised",
        {
            "concern_id": concern.id,
            "raised_on": data.raised_on,
            "whole_service": data.whole_service,
        },
    )


async def update_concern(
    session: AsyncSession, concern_id: int, data: schemas.ConcernUpdate, ctx: WriteContext
) -> WriteResult[Concern]:
    concern = await _get(session, Concern, concern_id, "concern_id")
    provider = await lock_provider(session, concern.provider_id)
    changes = _non_null_changes(data, nullable={"closed_on"})
    closing = _open_or_close(concern, changes, closed=CaseStatus.closed, today=ctx.clock.today())
    for key, value in changes.items():
        setattr(concern, key, value)
    concern.updated_at = ctx.clock.now()
    return await _finish(
        session,
        ctx,
        provider,
        concern,
        "concern.closed" if closing else "concern.updated",
        {
            "concern_id": concern.id,
            "status": concern.status,
            "whole_service": concern.whole_service,
        },
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
        getattr(record, start_field),
        today,
    )
    return status == closed and "status" in changes


def _check_closing(
    status: str, closed_on: date | None, closed: str, start_field: str, start: date, today: date
) -> None:
    """A closing date lies between the record's start and today, on a closed record."""
    _not_future("closed_on", closed_on, today)
    _not_before("closed_on", closed_on, start_field, start)
    if status != closed and closed_on is not None:
        raise DomainError("closed_on", "only a closed record has a closing date")


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
