"""The quarterly market quality report's figures: CQC ratings here beside England's and
the region's, old ratings, monitoring levels and their movements, safeguardings,
complaints, visits against the cadence, improvement plans and suspended placements. Every
figure is one grouped query over the whole market (never a query per provider), and no
record entered in error is counted."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.clock import Clock
from app.db import Database
from app.models import (
    Complaint,
    Event,
    ImprovementPlan,
    MonitoringEpisode,
    Provider,
    Safeguarding,
    Visit,
)
from app.models.base import MonitoringLevel
from app.monitoring.policy import MonitoringPolicy
from app.records import dashboard, queries
from app.sql import rating_of_severity

LEVELS = ("routine", "enhanced", "intensive")
RATINGS = ("outstanding", "good", "requires_improvement", "inadequate", "not_rated")
RATED = ("outstanding", "good", "requires_improvement", "inadequate")
NO_RATING = "none"  # no contracted location with a rating recorded
QUARTER_PATTERN = re.compile(r"^\s*(\d{4})\s*-?\s*Q([1-4])\s*$", re.IGNORECASE)
MONTHS = ("January to March", "April to June", "July to September", "October to December")


class QuarterError(ValueError):
    """A quarter that cannot be read, in words for the person who typed it."""


@dataclass(frozen=True, order=True)
class Quarter:
    """A calendar quarter: 2026Q3 is 1 July to 30 September 2026."""

    year: int
    number: int

    @classmethod
    def parse(cls, text: str) -> Quarter:
        match = QUARTER_PATTERN.match(text or "")
        if match is None:
            raise QuarterError(
                f"'{text}' is not a quarter: write the year, Q and the quarter's number, "
                "like 2026Q3 for July to September 2026"
            )
        year = int(match.group(1))
        if not 2000 <= year <= 2100:
            raise QuarterError(f"'{text}' is not a quarter carewatch can report on")
        return cls(year, int(match.group(2)))

    @classmethod
    def containing(cls, day: date) -> Quarter:
        return cls(day.year, (day.month - 1) // 3 + 1)

    @property
    def code(self) -> str:
        return f"{self.year}Q{self.number}"

    @property
    def first_day(self) -> date:
        return date(self.year, 3 * self.number - 2, 1)

    @property
    def last_day(self) -> date:
        return self.following().first_day - timedelta(days=1)

    @property
    def title(self) -> str:
        return f"{MONTHS[self.number - 1]} {self.year}"

    def following(self) -> Quarter:
        if self.number == 4:
            return Quarter(self.year + 1, 1)
        return Quarter(self.year, self.number + 1)

    def previous(self) -> Quarter:
        if self.number == 1:
            return Quarter(self.year - 1, 4)
        return Quarter(self.year, self.number - 1)

    def starts_at(self, zone: tzinfo) -> datetime:
        """Midnight of its first day in the council's time zone, as a UTC instant."""
        return datetime.combine(self.first_day, time(0), zone).astimezone(UTC)


@dataclass
class VisitFigures:
    due: float = 0.0
    done: int = 0


@dataclass
class QuarterFigures:
    """What the report says, as numbers: each dict keyed by enumeration values."""

    quarter: Quarter
    as_of: date  # the quarter's last day, or today while the quarter is still running
    region: str | None
    ratings_here: dict[str, int]
    ratings_england: dict[str, int] | None
    ratings_region: dict[str, int] | None
    national_fetched_at: datetime | None
    old_ratings: dict[str, int]
    old_before: date
    levels_start: dict[str, int]
    levels_end: dict[str, int]
    movements: list[tuple[str, str, int]]  # (from, to, providers moved)
    escalation_reasons: list[tuple[str, int]]  # (the rule's description, escalations)
    step_downs: list[dict[str, Any]]  # provider, on, from, to, reason
    safeguardings_raised: int
    safeguardings_whole_service: int
    safeguardings_by_category: dict[str, int]
    safeguardings_closed: dict[str, int]  # by outcome ("none": closed with no outcome)
    complaints_received: int
    complaints_closed: dict[str, int]  # by finding ("none": closed without one)
    visits: dict[str, VisitFigures]
    cadence_days: dict[str, int]
    plans: dict[str, int]
    placements: dict[str, int]
    notes: list[str] = field(default_factory=list)

    def share_good_or_outstanding(self, counts: dict[str, int] | None) -> float | None:
        """Of those with a published rating (outstanding to inadequate), the share rated
        good or outstanding, as a percentage (None when none is rated)."""
        if counts is None:
            return None
        rated = sum(counts.get(r, 0) for r in RATED)
        if not rated:
            return None
        return 100 * (counts.get("good", 0) + counts.get("outstanding", 0)) / rated


def _two_years_before(day: date) -> date:
    try:
        return day.replace(year=day.year - 2)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 2, day=28)


async def quarter_figures(
    session: AsyncSession,
    quarter: Quarter,
    *,
    zone: tzinfo,
    now: datetime,
    policy: MonitoringPolicy,
    region: str | None,
) -> QuarterFigures:
    today = now.astimezone(zone).date()
    as_of = min(quarter.last_day, today)
    start = quarter.starts_at(zone)
    end = min(quarter.following().starts_at(zone), now)
    first, last = quarter.first_day, as_of
    notes: list[str] = []
    if quarter.first_day > today:
        notes.append("This quarter has not started: its figures are empty.")
    elif as_of < quarter.last_day:
        notes.append("This quarter has not ended: its figures run to today, and its end is today.")

    ratings_here = await _ratings_here(session)
    national = await dashboard.national_distribution(session)
    ratings_england = dict(national.get("national") or {}) if national else None
    ratings_region = None
    if national and region:
        regions = national.get("regions") or {}
        if region in regions:
            ratings_region = dict(regions[region])
        else:
            notes.append(f"CQC's national figures hold no region named {region}.")
    old_before = _two_years_before(as_of)
    worst = dashboard.worst_location()
    old_ratings = {
        rating.value: int(count)
        for severity, count in await session.execute(
            select(worst.c.severity, func.count())
            .where(worst.c.overall_rated_on < old_before, worst.c.severity > 0)
            .group_by(worst.c.severity)
        )
        if (rating := rating_of_severity(severity)) is not None
    }

    movements, reasons, step_downs = await _movements(session, start, end)
    return QuarterFigures(
        quarter=quarter,
        as_of=as_of,
        region=region,
        ratings_here=ratings_here,
        ratings_england=ratings_england,
        ratings_region=ratings_region,
        national_fetched_at=national.get("finished_at") if national else None,
        old_ratings=old_ratings,
        old_before=old_before,
        levels_start=await _levels_at(session, start),
        levels_end=await _levels_at(session, end),
        movements=movements,
        escalation_reasons=reasons,
        step_downs=step_downs,
        **await _safeguardings(session, first, last),
        **await _complaints(session, first, last),
        visits=await _visits(session, start, end, first, last, zone, policy),
        cadence_days={level.value: days for level, days in policy.visit_cadence_days.items()},
        plans=await _plans(session, start, end, first, last),
        placements=await _placements(session, start, end),
        notes=notes,
    )


async def _ratings_here(session: AsyncSession) -> dict[str, int]:
    """Providers by the worst current rating of their contracted locations; those with
    none rated yet counted apart."""
    ranks = queries.worst_ratings()
    counts = dict.fromkeys(RATINGS, 0)
    counted = 0
    for severity, count in await session.execute(
        select(ranks.c.worst, func.count()).group_by(ranks.c.worst)
    ):
        rating = rating_of_severity(severity)
        if rating is not None:
            counts[rating.value] = int(count)
            counted += int(count)
    providers = int(await session.scalar(select(func.count()).select_from(Provider)) or 0)
    counts[NO_RATING] = max(providers - counted, 0)
    return counts


async def _levels_at(session: AsyncSession, moment: datetime) -> dict[str, int]:
    """Providers by monitoring level at an instant, from the episodes' history (routine:
    every provider then contracted and in no episode)."""
    escalated = {
        str(level): int(count)
        for level, count in await session.execute(
            select(
                MonitoringEpisode.level, func.count(func.distinct(MonitoringEpisode.provider_id))
            )
            .where(
                MonitoringEpisode.started_at <= moment,
                or_(MonitoringEpisode.ended_at.is_(None), MonitoringEpisode.ended_at > moment),
            )
            .group_by(MonitoringEpisode.level)
        )
    }
    existing = int(
        await session.scalar(
            select(func.count()).select_from(Provider).where(Provider.created_at <= moment)
        )
        or 0
    )
    enhanced = escalated.get("enhanced", 0)
    intensive = escalated.get("intensive", 0)
    return {
        "routine": max(existing - enhanced - intensive, 0),
        "enhanced": enhanced,
        "intensive": intensive,
    }


async def _movements(
    session: AsyncSession, start: datetime, end: datetime
) -> tuple[list[tuple[str, str, int]], list[tuple[str, int]], list[dict[str, Any]]]:
    """Escalations and step-downs in the quarter: how many of each move, the rules'
    reasons for the escalations, and each step-down with the manager's reason."""
    in_quarter = (Event.created_at >= start, Event.created_at < end)
    moved = ("monitoring.escalated", "monitoring.de_escalated")
    moved_from = Event.data["from"].as_string()
    moved_to = Event.data["to"].as_string()
    movements = [
        (str(source), str(target), int(count))
        for source, target, count in await session.execute(
            select(moved_from, moved_to, func.count())
            .where(Event.type.in_(moved), *in_quarter)
            .group_by(moved_from, moved_to)
        )
    ]
    movements.sort(key=lambda m: (-MonitoringLevel(m[1]).rank, MonitoringLevel(m[0]).rank))
    reasons: dict[str, int] = {}
    # One row per escalation (a quarter's, not the market's), read for its reasons' words.
    for (data,) in await session.execute(
        select(Event.data).where(Event.type == "monitoring.escalated", *in_quarter)
    ):
        for reason in {r.get("description") or "" for r in (data or {}).get("reasons", [])}:
            if reason:
                reasons[reason] = reasons.get(reason, 0) + 1
    step_downs = [
        {
            "provider": name,
            "at": created_at,
            "from": (data or {}).get("from", ""),
            "to": (data or {}).get("to", ""),
            "reason": (data or {}).get("reason", ""),
        }
        for created_at, name, data in await session.execute(
            select(Event.created_at, Provider.name, Event.data)
            .join(Provider, Provider.id == Event.provider_id)
            .where(Event.type == "monitoring.de_escalated", *in_quarter)
            .order_by(Event.created_at, Event.id)
        )
    ]
    return movements, sorted(reasons.items(), key=lambda r: (-r[1], r[0])), step_downs


async def _safeguardings(session: AsyncSession, first: date, last: date) -> dict[str, Any]:
    valid = Safeguarding.entered_in_error_at.is_(None)
    raised = and_(valid, Safeguarding.raised_on >= first, Safeguarding.raised_on <= last)
    by_category: dict[str, int] = {}
    whole_service = 0
    for category, is_whole, count in await session.execute(
        select(Safeguarding.category, Safeguarding.whole_service, func.count())
        .where(raised)
        .group_by(Safeguarding.category, Safeguarding.whole_service)
    ):
        key = str(getattr(category, "value", category) or "other")
        by_category[key] = by_category.get(key, 0) + int(count)
        whole_service += int(count) if is_whole else 0
    closed = {
        str(getattr(outcome, "value", outcome) or "none"): int(count)
        for outcome, count in await session.execute(
            select(Safeguarding.outcome, func.count())
            .where(valid, Safeguarding.closed_on >= first, Safeguarding.closed_on <= last)
            .group_by(Safeguarding.outcome)
        )
    }
    return {
        "safeguardings_raised": sum(by_category.values()),
        "safeguardings_whole_service": whole_service,
        "safeguardings_by_category": by_category,
        "safeguardings_closed": closed,
    }


async def _complaints(session: AsyncSession, first: date, last: date) -> dict[str, Any]:
    valid = Complaint.entered_in_error_at.is_(None)
    received = await session.scalar(
        select(func.count())
        .select_from(Complaint)
        .where(valid, Complaint.received_on >= first, Complaint.received_on <= last)
    )
    closed = {
        str(getattr(upheld, "value", upheld) or "none"): int(count)
        for upheld, count in await session.execute(
            select(Complaint.upheld, func.count())
            .where(valid, Complaint.closed_on >= first, Complaint.closed_on <= last)
            .group_by(Complaint.upheld)
        )
    }
    return {"complaints_received": int(received or 0), "complaints_closed": closed}


async def _visits(
    session: AsyncSession,
    start: datetime,
    end: datetime,
    first: date,
    last: date,
    zone: tzinfo,
    policy: MonitoringPolicy,
) -> dict[str, VisitFigures]:
    """Visits due (the days providers spent at each level over the quarter, divided by
    that level's cadence) against visits done (each at the level its provider was at on
    the day). Only the escalated providers' episodes and visits are read row by row; the
    routine rest is what remains of the grouped totals."""
    figures = {level: VisitFigures() for level in LEVELS}
    if end <= start:
        return figures
    overlapping = (
        MonitoringEpisode.started_at < end,
        or_(MonitoringEpisode.ended_at.is_(None), MonitoringEpisode.ended_at > start),
    )
    episodes: dict[int, list[tuple[str, date, date | None]]] = {}
    escalated_days = dict.fromkeys(LEVELS, 0.0)
    for provider_id, level, started_at, ended_at in await session.execute(
        select(
            MonitoringEpisode.provider_id,
            MonitoringEpisode.level,
            MonitoringEpisode.started_at,
            MonitoringEpisode.ended_at,
        ).where(*overlapping)
    ):
        level_name = str(getattr(level, "value", level))
        stop = min(ended_at or end, end)
        escalated_days[level_name] += (stop - max(started_at, start)).total_seconds() / 86400
        episodes.setdefault(int(provider_id), []).append(
            (
                level_name,
                started_at.astimezone(zone).date(),
                ended_at.astimezone(zone).date() if ended_at else None,
            )
        )
    # Provider-days in the quarter: a provider contracted part-way counts from then.
    quarter_days = (end - start).total_seconds() / 86400
    before = await session.scalar(
        select(func.count()).select_from(Provider).where(Provider.created_at <= start)
    )
    provider_days = int(before or 0) * quarter_days
    for (created_at,) in await session.execute(
        select(Provider.created_at).where(Provider.created_at > start, Provider.created_at < end)
    ):
        provider_days += (end - created_at).total_seconds() / 86400
    routine_days = max(provider_days - escalated_days["enhanced"] - escalated_days["intensive"], 0)
    days = {"routine": routine_days, **{k: escalated_days[k] for k in ("enhanced", "intensive")}}
    for level in LEVELS:
        cadence = policy.visit_cadence_days[MonitoringLevel(level)]
        figures[level].due = days[level] / cadence
    valid_visit = (
        Visit.entered_in_error_at.is_(None),
        Visit.visited_on >= first,
        Visit.visited_on <= last,
    )
    done = int(
        await session.scalar(select(func.count()).select_from(Visit).where(*valid_visit)) or 0
    )
    escalated_providers = select(MonitoringEpisode.provider_id).where(*overlapping)
    assigned = 0
    for provider_id, visited_on in await session.execute(
        select(Visit.provider_id, Visit.visited_on).where(
            *valid_visit, Visit.provider_id.in_(escalated_providers)
        )
    ):
        for level, began, ended in episodes.get(int(provider_id), []):
            if began <= visited_on and (ended is None or visited_on < ended):
                figures[level].done += 1
                assigned += 1
                break
    figures["routine"].done = done - assigned
    return figures


async def _plans(
    session: AsyncSession, start: datetime, end: datetime, first: date, last: date
) -> dict[str, int]:
    plan = ImprovementPlan
    agreed_in_quarter = and_(plan.agreed_on >= first, plan.agreed_on <= last)
    row = (
        await session.execute(
            select(
                func.count().filter(and_(plan.created_at >= start, plan.created_at < end)),
                func.count().filter(agreed_in_quarter),
                func.count().filter(and_(agreed_in_quarter, plan.agreed_on > plan.agree_by_on)),
                func.count().filter(and_(plan.closed_at >= start, plan.closed_at < end)),
                func.count().filter(
                    and_(
                        plan.created_at < end,
                        plan.agree_by_on < last,
                        or_(plan.agreed_on.is_(None), plan.agreed_on > last),
                        or_(plan.closed_at.is_(None), plan.closed_at >= end),
                    )
                ),
            )
        )
    ).one()
    opened, agreed, agreed_late, closed, unagreed = (int(value or 0) for value in row)
    return {
        "opened": opened,
        "agreed": agreed,
        "agreed_late": agreed_late,
        "closed": closed,
        "not_agreed_past_due": unagreed,
    }


async def _placements(session: AsyncSession, start: datetime, end: datetime) -> dict[str, int]:
    kinds = ("placements.suspended", "placements.lifted")
    in_quarter = {
        str(kind): int(count)
        for kind, count in await session.execute(
            select(Event.type, func.count())
            .where(Event.type.in_(kinds), Event.created_at >= start, Event.created_at < end)
            .group_by(Event.type)
        )
    }
    # Suspended at the end: those whose latest suspension event by then is a suspension.
    latest = (
        select(Event.provider_id, func.max(Event.id).label("id"))
        .where(Event.type.in_(kinds), Event.created_at < end)
        .group_by(Event.provider_id)
        .subquery()
    )
    suspended_at_end = await session.scalar(
        select(func.count())
        .select_from(Event)
        .join(latest, latest.c.id == Event.id)
        .where(Event.type == "placements.suspended")
    )
    return {
        "suspended": in_quarter.get("placements.suspended", 0),
        "lifted": in_quarter.get("placements.lifted", 0),
        "suspended_at_end": int(suspended_at_end or 0),
    }


@dataclass(frozen=True)
class ReportServices:
    """What building the report needs (the application's services give it all)."""

    database: Database
    clock: Clock
    policy: MonitoringPolicy
    zone: tzinfo
    region: str | None


async def build_figures(services: ReportServices, quarter: Quarter) -> QuarterFigures:
    """The quarter's figures, read in one read-only session (one consistent picture on
    PostgreSQL; SQLite's reader sees one snapshot within its transaction too)."""
    async with services.database.sessions() as session:
        return await quarter_figures(
            session,
            quarter,
            zone=services.zone,
            now=services.clock.now(),
            policy=services.policy,
            region=services.region,
        )
