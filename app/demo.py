"""`python -m app demo`: seed a realistic (invented) demo council through the write path,
like a city of Plymouth's size: ~20 home care providers, ~14,000 contracted hours a week
for ~1,000 people, four officers, a year of contract meetings and some intelligence, and
a completed national market benchmark.

The history is written in the order it happened, each write on a clock set to its own
day, so a visit in March is on the timeline in March and the rules saw the evidence as
it came; the benchmark is written as the CQC sync would leave one."""

from __future__ import annotations

import os
import random
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.service import UserIn, create_user
from app.clock import FakeClock, SystemClock
from app.config import Settings
from app.events import Actor
from app.market import schemas as market_schemas
from app.market import service as market
from app.market.kpis import KpiThresholds
from app.models import CqcBenchmark, Locality, Provider, User
from app.models.base import Rating, Role
from app.records import schemas
from app.records import service as records
from app.records.service import WriteContext
from app.services import build_services

DOMAIN = "carewatch-demo.gov.uk"
LOCALITIES = [
    "Central",
    "North",
    "East",
    "South West",
    "Plympton and Plymstock",
    "Devonport and Stonehouse",
]
# The provider whose missed visits turn red two months running, and so escalates.
MISSED_VISITS_STORY = "Crownhill Companions"
STAFF = [
    ("Asha Patel", "officer"),
    ("Tom Hughes", "officer"),
    ("Megan Trelawny", "officer"),
    ("Daniel Okafor", "officer"),
    ("Ruth Penrose", "manager"),
    ("Sam Keane", "safeguarding"),
    ("Viewer Account", "viewer"),
    ("Service Admin", "admin"),
]
# name, contract type, partner role, weekly hours, people, CQC rating
PROVIDERS: list[tuple[str, str, str | None, int, int, Rating]] = [
    ("Tamar Homecare Ltd", "framework", "locality_partner", 1650, 118, Rating.good),
    ("Drake's Island Care", "framework", "locality_partner", 1420, 101, Rating.good),
    ("Hoe Community Support", "framework", "locality_partner", 1380, 97, Rating.outstanding),
    ("Plym Valley Care Services", "framework", "locality_partner", 1290, 92, Rating.good),
    ("Sound Care at Home", "framework", "locality_partner", 1180, 84, Rating.requires_improvement),
    ("Saltash Road Domiciliary", "block", "locality_partner", 950, 68, Rating.good),
    ("Mount Batten Home Support", "block", "provider_partner", 880, 62, Rating.good),
    ("Stonehouse Care Partners", "block", "provider_partner", 760, 55, Rating.good),
    ("Devonport Living Well", "spot", None, 640, 46, Rating.requires_improvement),
    ("Crownhill Companions", "spot", None, 590, 41, Rating.good),
    ("Efford Homecare", "spot", None, 520, 37, Rating.good),
    ("Leigham Care Co", "spot", None, 470, 34, Rating.outstanding),
    ("Estover Support Services", "spot", None, 420, 30, Rating.good),
    ("Ham Green Care", "spot", None, 380, 27, Rating.requires_improvement),
    ("Mutley Plain Care", "spot", None, 340, 24, Rating.good),
    ("Peverell Home Help", "spot", None, 300, 21, Rating.good),
    ("Southway Care Team", "spot", None, 260, 19, Rating.good),
    ("Tothill Helping Hands", "spot", None, 220, 16, Rating.good),
    ("Barbican Care Collective", "spot", None, 180, 13, Rating.requires_improvement),
    ("Keyham Home Services", "spot", None, 140, 10, Rating.good),
]


# The national benchmark the demo shows beside the council's ratings: invented figures of
# the shape CQC's register gives (homecare locations by current overall rating).
NATIONAL = {"outstanding": 312, "good": 6148, "requires_improvement": 987, "inadequate": 94}
REGIONS = {
    "South West": {"outstanding": 41, "good": 702, "requires_improvement": 96, "inadequate": 8},
    "London": {"outstanding": 38, "good": 1104, "requires_improvement": 221, "inadequate": 23},
    "North West": {"outstanding": 44, "good": 861, "requires_improvement": 118, "inadequate": 11},
}
HISTORY_DAYS = 380  # the contracts came into carewatch this long ago
ROLE_ORDER = ["admin", "manager", "officer", "safeguarding", "viewer"]

Action = Callable[[AsyncSession, WriteContext], Awaitable[object]]
ProviderWrite = Callable[[AsyncSession, int, Any, WriteContext], Awaitable[object]]


@dataclass
class Seeded:
    """What earlier steps created, by name, for the steps after them."""

    providers: dict[str, int] = field(default_factory=dict)
    locations: dict[str, int] = field(default_factory=dict)
    localities: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Step:
    """One write of the history: when it happened, by whom (a staff name; None for the
    demo's own set-up) and what."""

    at: datetime
    by: str | None
    action: Action


async def _holds_data(session: AsyncSession) -> bool:
    return bool(await session.scalar(select(func.count()).select_from(Provider)))


def _email(name: str) -> str:
    return f"{name.lower().replace(' ', '.')}@{DOMAIN}"


def _on(seeded: Seeded, name: str, record: ProviderWrite, data: Any) -> Action:
    """A record for the provider called `name`, written through the write path."""

    async def write(session: AsyncSession, ctx: WriteContext) -> object:
        return await record(session, seeded.providers[name], data, ctx)

    return write


def _contract(seeded: Seeded, index: int, data: schemas.ProviderIn) -> Action:
    """The provider comes into carewatch with its one CQC location."""

    async def write(session: AsyncSession, ctx: WriteContext) -> object:
        provider = await records.create_provider(session, data, ctx)
        assert provider.id is not None
        location = await records.add_location(
            session,
            provider.id,
            schemas.LocationIn(
                cqc_location_id=f"1-{100000000 + index}",
                name=f"{data.name} (Plymouth office)",
                postcode=f"PL{index % 9 + 1} {index % 9 + 1}ZZ",
            ),
            ctx,
        )
        assert location.id is not None
        seeded.providers[data.name] = provider.id
        seeded.locations[data.name] = location.id
        return provider

    return write


def _rating(seeded: Seeded, name: str, rating: Rating, rated_on: date) -> Action:
    async def write(session: AsyncSession, ctx: WriteContext) -> object:
        return await records.record_rating(
            session,
            location_id=seeded.locations[name],
            overall=rating,
            rated_on=rated_on,
            key_questions={
                q: {"rating": rating, "rated_on": rated_on}
                for q in ("safe", "effective", "caring", "responsive", "well_led")
            },
            report_url=None,
            source="cqc",
            ctx=ctx,
        )

    return write


def _locality(seeded: Seeded, name: str) -> Action:
    async def write(session: AsyncSession, ctx: WriteContext) -> Locality:
        locality = await market.create_locality(session, market_schemas.LocalityIn(name=name), ctx)
        assert locality.id is not None
        seeded.localities[name] = locality.id
        return locality

    return write


def _lead(seeded: Seeded, locality: str, provider: str, from_on: date) -> Action:
    async def write(session: AsyncSession, ctx: WriteContext) -> object:
        data = market_schemas.LeadIn(provider_id=seeded.providers[provider], from_on=from_on)
        return await market.set_lead(session, seeded.localities[locality], data, ctx)

    return write


def _waiting(seeded: Seeded, locality: str, data: market_schemas.WaitingIn) -> Action:
    async def write(session: AsyncSession, ctx: WriteContext) -> object:
        return await market.record_waiting(session, seeded.localities[locality], data, ctx)

    return write


def _kpis(seeded: Seeded, name: str, data: market_schemas.KpiIn, kpis: KpiThresholds) -> Action:
    async def write(session: AsyncSession, ctx: WriteContext) -> object:
        return await market.record_kpis(session, seeded.providers[name], data, ctx, kpis)

    return write


def _months_before(today: date, back: int) -> date:
    months = today.year * 12 + today.month - 1 - back
    return date(months // 12, months % 12 + 1, 1)


def market_history(
    today: date, began: datetime, seeded: Seeded, kpis: KpiThresholds, during: Any
) -> list[Step]:
    """The market's year: six localities with a lead each, weekly waiting-list counts,
    and every provider's monthly capacity return and call-monitoring figures, each
    written early in the month after the one it covers."""
    rng = random.Random(20261202)
    steps = [
        Step(began - timedelta(minutes=10 - index), None, _locality(seeded, name))
        for index, name in enumerate(LOCALITIES)
    ]
    for index, name in enumerate(LOCALITIES):
        provider = PROVIDERS[index][0]
        steps.append(
            Step(
                began + timedelta(hours=1 + index),
                None,
                _lead(seeded, name, provider, (began + timedelta(hours=1)).date()),
            )
        )
    # Counted up to last week: this week's count is the officer's to make.
    for week in range(12, 0, -1):
        counted_on = today - timedelta(days=7 * week)
        for index, name in enumerate(LOCALITIES):
            people = max(0, 8 + index - week // 3 + rng.randint(-2, 2))
            data = market_schemas.WaitingIn(
                counted_on=counted_on,
                people_waiting=people,
                hours_waiting=round(people * rng.uniform(7, 12), 1),
            )
            steps.append(Step(during(counted_on), "Ruth Penrose", _waiting(seeded, name, data)))
    for back in range(12, 0, -1):
        month = _months_before(today, back)
        month_end = _months_before(today, back - 1) - timedelta(days=1)
        written_on = month_end + timedelta(days=5)
        for index, (name, _contract, _partner, weekly, people, _rating) in enumerate(PROVIDERS):
            commissioned = round(weekly * (month_end.day / 7))
            handed_back = 1 if rng.random() < 0.15 else 0
            capacity = market_schemas.CapacityIn(
                period_start=month,
                period_end=month_end,
                hours_commissioned=commissioned,
                hours_delivered=round(commissioned * rng.uniform(0.92, 0.995), 1),
                people_supported=people + rng.randint(-3, 3),
                packages_accepted=rng.randint(0, 4),
                packages_declined=rng.randint(0, 3),
                packages_handed_back=handed_back,
                hours_handed_back=handed_back * rng.choice([7.0, 10.5, 14.0]),
                staff_vacancies=rng.randint(0, 6),
            )
            officer = STAFF[index % 4][0]
            steps.append(
                Step(
                    during(written_on),
                    officer,
                    _on(seeded, name, market.record_capacity, capacity),
                )
            )
            planned = round(people * 2.6 * month_end.day)
            missed_share = rng.uniform(0.002, 0.018)
            if name == MISSED_VISITS_STORY and back <= 2:
                missed_share = 0.026 if back == 2 else 0.034  # red, then red again
            missed = round(planned * missed_share)
            made = planned - missed
            late_share = rng.uniform(0.03, 0.12) if index % 7 else rng.uniform(0.12, 0.2)
            figures = market_schemas.KpiIn(
                month=month,
                visits_planned=planned,
                visits_missed=missed,
                visits_late=round(made * late_share),
                calls_logged_in_home=round(made * rng.uniform(0.86, 0.96)),
            )
            steps.append(Step(during(written_on), officer, _kpis(seeded, name, figures, kpis)))
    return steps


def history(
    staff: dict[str, User],
    today: date,
    now: datetime,
    seeded: Seeded,
    kpis: KpiThresholds | None = None,
) -> list[Step]:
    """Every write of the demo's year in the order it happened. Dates come from one
    seeded generator and times of day from another, so the demo is the same council
    every time (relative to today)."""
    rng = random.Random(20261122)
    hours = random.Random(1122)
    began = now - timedelta(days=HISTORY_DAYS)
    officers = [name for name, role in STAFF if role == "officer"]
    steps: list[Step] = []

    def during(day: date) -> datetime:
        """An instant in working hours on `day`, never after now."""
        at = datetime.combine(day, time(9, 0), tzinfo=UTC)
        return min(at + timedelta(minutes=hours.randint(0, 480)), now - timedelta(minutes=1))

    for index, (name, contract, partner, weekly, people, rating) in enumerate(PROVIDERS):
        officer = officers[index % len(officers)]
        joined = began + timedelta(minutes=5 * index)
        steps.append(
            Step(
                joined,
                None,
                _contract(
                    seeded,
                    index,
                    schemas.ProviderIn(
                        name=name,
                        cqc_provider_id=f"1-{200000000 + index}",
                        contract_type=contract,
                        partner_role=partner,
                        localities=[LOCALITIES[index % len(LOCALITIES)]],  # by name
                        contract_officer_id=staff[officer].id,
                        weekly_hours=weekly,
                        people_supported=people,
                    ),
                ),
            )
        )
        # The rating is fetched when the location is added, or when CQC publishes it.
        rated_on = today - timedelta(days=rng.randint(120, 900))
        fetched = max(joined + timedelta(minutes=1), during(rated_on))
        steps.append(Step(fetched, None, _rating(seeded, name, rating, rated_on)))
        # A year of quarterly contract meetings, alternating virtual and face to face.
        for quarter in range(4):
            visit = schemas.VisitIn(
                visited_on=today - timedelta(days=350 - quarter * 90 + rng.randint(0, 10)),
                kind="virtual" if quarter % 2 else "face_to_face",
                purpose="Quarterly contract monitoring meeting",
                outcome="some_concerns"
                if rating == Rating.requires_improvement and quarter == 3
                else "good",
                notes="Rotas, call monitoring and training records reviewed.",
            )
            steps.append(
                Step(
                    during(visit.visited_on),
                    officer,
                    _on(seeded, name, records.record_visit, visit),
                )
            )
        if index % 3 == 0:
            compliment = schemas.ComplimentIn(
                received_on=today - timedelta(days=rng.randint(5, 80)),
                summary="Family thanked the carers for their patience and kindness.",
            )
            steps.append(
                Step(
                    during(compliment.received_on),
                    officer,
                    _on(seeded, name, records.record_compliment, compliment),
                )
            )
        if index % 4 == 1:
            complaint = schemas.ComplaintIn(
                received_on=today - timedelta(days=rng.randint(10, 150)),
                subject="Late and shortened calls",
                upheld="partly_upheld",
                status="closed",
            )
            steps.append(
                Step(
                    during(complaint.received_on),
                    officer,
                    _on(seeded, name, records.record_complaint, complaint),
                )
            )
        assurance = schemas.FinancialAssuranceIn(
            assessed_on=today - timedelta(days=rng.randint(30, 300)),
            risk="amber" if index in (8, 13) else "green",
            credit_check_passed=True,
            accounts_filed_on_time=index != 13,
            insurance_expires_on=today + timedelta(days=rng.randint(20, 330)),
            next_review_on=today + timedelta(days=rng.randint(-10, 200)),
        )
        steps.append(
            Step(
                during(assurance.assessed_on),
                officer,
                _on(seeded, name, records.record_financial_assurance, assurance),
            )
        )

    # The stories the demo tells: a safeguarding cluster, and a whole-service concern.
    for days, category in ((70, "neglect"), (41, "physical"), (12, "neglect")):
        safeguarding = schemas.SafeguardingIn(
            raised_on=today - timedelta(days=days),
            category=category,
            reference=f"S42-{rng.randint(10000, 99999)}",
            summary="Details are held in the safeguarding case system.",
        )
        steps.append(
            Step(
                during(safeguarding.raised_on),
                "Sam Keane",
                _on(seeded, "Mutley Plain Care", records.record_safeguarding, safeguarding),
            )
        )
    concern = schemas.ConcernIn(
        raised_on=today - timedelta(days=6),
        raised_by="District nursing team",
        description="Repeated missed medication calls across several packages; "
        "staffing appears unable to cover the rota.",
        whole_service=True,
    )
    steps.append(
        Step(
            during(concern.raised_on),
            "Sam Keane",
            _on(seeded, "Barbican Care Collective", records.record_concern, concern),
        )
    )
    if kpis is not None:
        steps.extend(market_history(today, began, seeded, kpis, during))
    return sorted(steps, key=lambda step: step.at)


def market_benchmark(now: datetime) -> CqcBenchmark:
    """A completed national benchmark from three days ago, as the weekly job leaves one
    (the first real run, `python -m app cqc benchmark`, takes its place)."""
    finished = now - timedelta(days=3)
    seen = sum(NATIONAL.values())
    return CqcBenchmark(
        status="complete",
        started_at=finished - timedelta(minutes=42),
        finished_at=finished,
        next_page=16,
        total_pages=15,
        locations_seen=seen,
        requests=seen + 15,
        distribution={
            "national": dict(NATIONAL),
            "regions": {k: dict(v) for k, v in REGIONS.items()},
        },
    )


async def seed_demo(settings: Settings, *, force: bool = False) -> int:
    services = build_services(settings)
    real = SystemClock(settings.timezone)
    now, today = real.now(), real.today()
    clock = FakeClock(now - timedelta(days=HISTORY_DAYS + 7), settings.timezone)
    password = os.environ.get("CAREWATCH_DEMO_PASSWORD", "demo-password-change-me")
    try:
        async with services.database.transaction() as session:
            if await _holds_data(session) and not force:
                print(
                    "refusing: this database already holds providers (use --force to add the "
                    "demo anyway)",
                    file=sys.stderr,
                )
                return 1
            seeder = Actor.job("demo")
            staff: dict[str, User] = {}
            for name, role in STAFF:
                existing = (
                    await session.execute(select(User).where(User.email == _email(name)))
                ).scalar_one_or_none()
                staff[name] = existing or await create_user(
                    session,
                    UserIn(email=_email(name), name=name, role=Role(role), password=password),
                    actor=seeder,
                    now=clock.now(),
                )
            contexts = {
                name: WriteContext(
                    actor=Actor.user(user.id or 0), clock=clock, policy=services.policy
                )
                for name, user in staff.items()
            }
            setup = WriteContext(actor=seeder, clock=clock, policy=services.policy)
            steps = history(staff, today, now, Seeded(), services.kpis)
            for step in steps:
                clock.set(step.at)
                await step.action(session, contexts[step.by] if step.by else setup)
            session.add(market_benchmark(now))
        _print_sign_in(settings, staff, password, len(steps))
        return 0
    finally:
        await services.database.dispose()


def _print_sign_in(settings: Settings, staff: dict[str, User], password: str, writes: int) -> None:
    print(
        f"demo council seeded: {len(PROVIDERS)} providers in {len(LOCALITIES)} localities, "
        f"{len(staff)} staff, a year of history with monthly capacity returns and "
        f"call-monitoring figures ({writes} writes, each on the day it happened) and a "
        "national benchmark"
    )
    print(f"sign in at {settings.base_url}/login with the password {password!r} as:")
    people = sorted(staff.values(), key=lambda user: (ROLE_ORDER.index(user.role), user.name))
    width = max(len(user.email) for user in people)
    for user in people:
        print(f"  {user.email:<{width}}  {user.role:<12}  {user.name}")
