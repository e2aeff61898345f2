"""Read models for the API and the web pages: filtered, paginated, set-based queries.

Pages fetch related data in bulk (localities, worst ratings, officers) rather than a
query per row."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

from sqlalchemy import Select, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel

from app.errors import DomainError, NotFound
from app.models import (
    Complaint,
    Compliment,
    Concern,
    Delivery,
    Event,
    FinancialAssurance,
    ImprovementAction,
    ImprovementPlan,
    Location,
    LocationRating,
    MonitoringEpisode,
    Provider,
    ProviderLocality,
    RecordChange,
    Safeguarding,
    User,
    Visit,
    VisitAction,
)
from app.models.base import RATING_SEVERITY, ActionStatus, PlanStatus, Rating
from app.monitoring.escalation import current_firings
from app.monitoring.plans import open_plan
from app.monitoring.policy import MonitoringPolicy
from app.sql import OPEN_SAFEGUARDING, rating_of_severity, rating_severity

ModelT = TypeVar("ModelT", bound=SQLModel)


@dataclass
class PageResult:
    items: list[Any]
    total: int


async def _page(session: AsyncSession, query: Select[Any], limit: int, offset: int) -> PageResult:
    total = await session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    rows = (await session.execute(query.limit(limit).offset(offset))).scalars().all()
    return PageResult(list(rows), int(total or 0))


def worst_ratings() -> Any:
    """Each provider's worst current CQC rating, as a severity (`worst`): the highest of
    its contracted locations' overall ratings."""
    return (
        select(
            Location.provider_id,
            func.max(rating_severity(Location.overall_rating)).label("worst"),
        )
        .where(Location.removed_at.is_(None))
        .group_by(Location.provider_id)
        .subquery()
    )


async def provider_details(
    session: AsyncSession, providers: Sequence[Provider]
) -> list[dict[str, Any]]:
    """Providers with their localities and worst current CQC rating, in two bulk queries."""
    ids = [p.id for p in providers]
    localities: dict[int, list[str]] = {}
    worst: dict[int, Rating] = {}
    if ids:
        for provider_id, locality in await session.execute(
            select(ProviderLocality.provider_id, ProviderLocality.locality)
            .where(ProviderLocality.provider_id.in_(ids))
            .order_by(ProviderLocality.locality)
        ):
            localities.setdefault(provider_id, []).append(locality)
        ranks = worst_ratings()
        for provider_id, severity in await session.execute(
            select(ranks.c.provider_id, ranks.c.worst).where(ranks.c.provider_id.in_(ids))
        ):
            rating = rating_of_severity(severity)
            if rating is not None:
                worst[provider_id] = rating
    return [
        {
            **p.model_dump(),
            "localities": localities.get(p.id or 0, []),
            "worst_cqc_rating": worst.get(p.id or 0),
        }
        for p in providers
    ]


async def list_providers(
    session: AsyncSession,
    *,
    officer_id: int | None = None,
    locality: str | None = None,
    level: str | None = None,
    rating: Rating | None = None,
    name: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> PageResult:
    query = select(Provider).order_by(Provider.name, Provider.id)
    if officer_id is not None:
        query = query.where(Provider.contract_officer_id == officer_id)
    if level is not None:
        query = query.where(Provider.monitoring_level == level)
    if name:
        query = query.where(func.lower(Provider.name).contains(name.lower()))
    if locality:
        query = query.where(
            Provider.id.in_(
                select(ProviderLocality.provider_id).where(ProviderLocality.locality == locality)
            )
        )
    if rating is not None:
        ranks = worst_ratings()
        query = query.where(
            Provider.id.in_(
                select(ranks.c.provider_id).where(ranks.c.worst == RATING_SEVERITY[rating])
            )
        )
    page = await _page(session, query, limit, offset)
    page.items = await provider_details(session, page.items)
    return page


async def get_provider(session: AsyncSession, provider_id: int) -> dict[str, Any]:
    provider = await session.get(Provider, provider_id)
    if provider is None:
        raise NotFound("provider_id", f"no provider with id {provider_id}")
    return (await provider_details(session, [provider]))[0]


async def get_record(session: AsyncSession, model: type[ModelT], record_id: int) -> ModelT:
    record = await session.get(model, record_id)
    if record is None:
        raise NotFound("id", f"no record with id {record_id}")
    return record


async def require_provider(session: AsyncSession, provider_id: int) -> None:
    if await session.get(Provider, provider_id) is None:
        raise NotFound("provider_id", f"no provider with id {provider_id}")


RECORD_DATES: dict[type[SQLModel], Any] = {
    Visit: Visit.visited_on,
    Safeguarding: Safeguarding.raised_on,
    Complaint: Complaint.received_on,
    Compliment: Compliment.received_on,
    FinancialAssurance: FinancialAssurance.assessed_on,
    Concern: Concern.raised_on,
}


async def list_records(
    session: AsyncSession,
    model: type[ModelT],
    provider_id: int,
    *,
    since: date | None = None,
    until: date | None = None,
    status: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> PageResult:
    await require_provider(session, provider_id)
    day = RECORD_DATES[model]
    query = (
        select(model).where(model.provider_id == provider_id).order_by(day.desc(), model.id.desc())
    )
    if since is not None:
        query = query.where(day >= since)
    if until is not None:
        query = query.where(day <= until)
    if status is not None:
        column = model.__table__.c.get("status")
        allowed = [m.value for m in column.type.enum_class] if column is not None else []
        if status not in allowed:
            raise DomainError(
                "status", f"must be one of {', '.join(allowed) or 'nothing'} for this record"
            )
        query = query.where(column == status)
    return await _page(session, query, limit, offset)


async def record_changes(
    session: AsyncSession, record_type: str, record_ids: Sequence[int]
) -> list[RecordChange]:
    """The change history of some records of one kind, oldest first."""
    if not record_ids:
        return []
    query = (
        select(RecordChange)
        .where(RecordChange.record_type == record_type, RecordChange.record_id.in_(record_ids))
        .order_by(RecordChange.changed_at, RecordChange.id)
    )
    return list((await session.execute(query)).scalars())


async def visit_actions(
    session: AsyncSession, *, visit_id: int | None = None, provider_id: int | None = None
) -> list[VisitAction]:
    """Follow-up actions of one visit or of a provider's visits (not those of a visit
    entered in error), by due date."""
    query = (
        select(VisitAction)
        .join(Visit, Visit.id == VisitAction.visit_id)
        .order_by(VisitAction.done, VisitAction.due_on, VisitAction.id)
    )
    if visit_id is not None:
        query = query.where(VisitAction.visit_id == visit_id)
    if provider_id is not None:
        query = query.where(
            VisitAction.provider_id == provider_id, Visit.entered_in_error_at.is_(None)
        )
    return list((await session.execute(query)).scalars())


async def list_locations(
    session: AsyncSession, provider_id: int, *, removed: bool = False
) -> list[Location]:
    """The provider's contracted CQC locations; with `removed`, those taken off its
    contract instead (kept, with their ratings, as its history), last removed first."""
    await require_provider(session, provider_id)
    query = select(Location).where(Location.provider_id == provider_id)
    if removed:
        query = query.where(Location.removed_at.is_not(None)).order_by(
            Location.removed_at.desc(), Location.id
        )
    else:
        query = query.where(Location.removed_at.is_(None)).order_by(Location.id)
    return list((await session.execute(query)).scalars())


async def location_ratings(
    session: AsyncSession, location_ids: list[int]
) -> dict[int, list[LocationRating]]:
    """The ratings recorded of these locations, newest first, by location."""
    found: dict[int, list[LocationRating]] = {}
    if location_ids:
        query = (
            select(LocationRating)
            .where(LocationRating.location_id.in_(location_ids))
            .order_by(LocationRating.recorded_at.desc(), LocationRating.id.desc())
        )
        for rating in (await session.execute(query)).scalars():
            found.setdefault(rating.location_id, []).append(rating)
    return found


async def list_ratings(
    session: AsyncSession, provider_id: int, limit: int, offset: int
) -> PageResult:
    await require_provider(session, provider_id)
    query = (
        select(LocationRating)
        .where(LocationRating.provider_id == provider_id)
        .order_by(LocationRating.recorded_at.desc(), LocationRating.id.desc())
    )
    return await _page(session, query, limit, offset)


async def list_events(
    session: AsyncSession,
    *,
    provider_id: int | None = None,
    event_type: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> PageResult:
    query = select(Event).order_by(Event.created_at.desc(), Event.id.desc())
    if provider_id is not None:
        query = query.where(Event.provider_id == provider_id)
    if event_type is not None:
        query = query.where(Event.type == event_type)
    return await _page(session, query, limit, offset)


RECORD_KEYS: dict[str, type[SQLModel]] = {
    "visit_id": Visit,
    "safeguarding_id": Safeguarding,
    "complaint_id": Complaint,
    "compliment_id": Compliment,
    "financial_assurance_id": FinancialAssurance,
    "concern_id": Concern,
}


async def timeline(
    session: AsyncSession, provider_id: int, limit: int, offset: int
) -> tuple[PageResult, dict[int, SQLModel]]:
    """The provider's events newest first, each with the record it concerns (bulk-loaded)."""
    await require_provider(session, provider_id)
    page = await list_events(session, provider_id=provider_id, limit=limit, offset=offset)
    references: dict[int, tuple[type[SQLModel], int]] = {}
    for event in page.items:
        for key, model in RECORD_KEYS.items():
            if isinstance(event.data.get(key), int):
                references[event.id] = (model, event.data[key])
                break
    ids_by_model: dict[type[SQLModel], set[int]] = {}
    for model, record_id in references.values():
        ids_by_model.setdefault(model, set()).add(record_id)
    loaded: dict[tuple[type[SQLModel], int], SQLModel] = {}
    for model, ids in ids_by_model.items():
        rows = await session.execute(select(model).where(model.id.in_(ids)))
        for record in rows.scalars():
            loaded[(model, record.id)] = record
    records = {event_id: loaded[ref] for event_id, ref in references.items() if ref in loaded}
    return page, records


async def list_deliveries(
    session: AsyncSession,
    *,
    provider_id: int | None = None,
    status: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> PageResult:
    query = select(Delivery).order_by(Delivery.created_at.desc(), Delivery.id.desc())
    if provider_id is not None:
        query = query.where(Delivery.provider_id == provider_id)
    if status is not None:
        query = query.where(Delivery.status == status)
    return await _page(session, query, limit, offset)


async def provider_names(session: AsyncSession, provider_ids: set[int]) -> dict[int, str]:
    """The names of the providers a page mentions (the alerts page), in one query."""
    if not provider_ids:
        return {}
    rows = await session.execute(
        select(Provider.id, Provider.name).where(Provider.id.in_(provider_ids))
    )
    return {int(provider_id): str(name) for provider_id, name in rows}


async def monitoring_view(
    session: AsyncSession, provider_id: int, policy: MonitoringPolicy, today: date
) -> dict[str, Any]:
    provider = await session.get(Provider, provider_id)
    if provider is None:
        raise NotFound("provider_id", f"no provider with id {provider_id}")
    episodes = (
        (
            await session.execute(
                select(MonitoringEpisode)
                .where(MonitoringEpisode.provider_id == provider_id)
                .order_by(MonitoringEpisode.started_at.desc(), MonitoringEpisode.id.desc())
            )
        )
        .scalars()
        .all()
    )
    firings = (await current_firings(session, policy, today, [provider_id])).get(provider_id, [])
    return {
        "level": provider.monitoring_level,
        "placements_suspended": provider.placements_suspended,
        "next_visit_due_on": provider.next_visit_due_on,
        "last_visit_on": provider.last_visit_on,
        "firing_rules": [f.as_reason() | {"level": f.level} for f in firings],
        "episodes": list(episodes),
    }


async def plan_view(session: AsyncSession, provider_id: int) -> dict[str, Any]:
    await require_provider(session, provider_id)
    plan = await open_plan(session, provider_id)
    if plan is None:
        raise NotFound("provider_id", "this provider has no open improvement plan")
    actions = (
        (
            await session.execute(
                select(ImprovementAction)
                .where(ImprovementAction.plan_id == plan.id)
                .order_by(ImprovementAction.due_on, ImprovementAction.id)
            )
        )
        .scalars()
        .all()
    )
    return {
        "id": plan.id,
        "status": plan.status,
        "agree_by_on": plan.agree_by_on,
        "agreed_on": plan.agreed_on,
        "actions": list(actions),
    }


async def delivery_counts(session: AsyncSession) -> dict[str, int]:
    """Alert deliveries by status (every status named, zero or not)."""
    counted: dict[str, int] = dict(
        (
            await session.execute(select(Delivery.status, func.count()).group_by(Delivery.status))
        ).all()
    )
    return {status: counted.get(status, 0) for status in ("pending", "sending", "sent", "failed")}


async def dashboard_counts(session: AsyncSession, today: date) -> dict[str, Any]:
    # One pass over providers for the level counts, suspensions and overdue visits.
    by_level = (
        await session.execute(
            select(
                Provider.monitoring_level,
                func.count(),
                func.sum(case((Provider.placements_suspended.is_(True), 1), else_=0)),
                func.sum(case((Provider.next_visit_due_on < today, 1), else_=0)),
            ).group_by(Provider.monitoring_level)
        )
    ).all()
    levels = {str(level): int(count) for level, count, _s, _o in by_level}
    suspended = sum(int(s or 0) for _l, _c, s, _o in by_level)
    visits_overdue = sum(int(o or 0) for _l, _c, _s, o in by_level)
    actions_overdue = await session.scalar(
        select(func.count())
        .select_from(ImprovementAction)
        .join(ImprovementPlan, ImprovementPlan.id == ImprovementAction.plan_id)
        .where(
            ImprovementAction.status != ActionStatus.complete,
            ImprovementAction.due_on < today,
            ImprovementPlan.status != PlanStatus.closed,
        )
    )
    safeguardings_open = await session.scalar(
        select(func.count()).select_from(Safeguarding).where(OPEN_SAFEGUARDING)
    )
    ranks = worst_ratings()
    by_rating: dict[str, int] = {}
    for severity, count in await session.execute(
        select(ranks.c.worst, func.count()).group_by(ranks.c.worst)
    ):
        rating = rating_of_severity(severity)
        if rating is not None:
            by_rating[rating.value] = count
    return {
        "providers_by_level": {
            level: levels.get(level, 0) for level in ("routine", "enhanced", "intensive")
        },
        "placements_suspended": int(suspended or 0),
        "visits_overdue": int(visits_overdue or 0),
        "improvement_actions_overdue": int(actions_overdue or 0),
        "safeguardings_open": int(safeguardings_open or 0),
        "deliveries_by_status": await delivery_counts(session),
        "providers_by_rating": by_rating,
        "users": int(await session.scalar(select(func.count()).select_from(User)) or 0),
    }
