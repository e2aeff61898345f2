"""`python -m app demo`: seed a realistic (invented) demo council through the write path,
like a city of Plymouth's size: ~20 home care providers, ~14,000 contracted hours a week
for ~1,000 people, four officers, a year of contract meetings and some intelligence."""

from __future__ import annotations

import os
import random
import sys
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.service import UserIn, create_user
from app.clock import SystemClock
from app.config import Settings
from app.events import Actor
from app.models import Provider, User
from app.models.base import Rating, Role
from app.records import schemas
from app.records import service as records
from app.records.service import WriteContext
from app.services import build_services

DOMAIN = "carewatch-demo.gov.uk"
LOCALITIES = ["Central", "North", "East", "South West", "Plympton and Plymstock"]
STAFF = [
    ("Asha Patel", "officer"),
    ("Tom Hughes", "officer"),
    ("Megan Trelawny", "officer"),
    ("Daniel Okafor", "officer"),
    ("Ruth Penrose", "manager"),
    ("Sam Keane", "safeguarding"),
    ("Viewer Account", "viewer"),
]
# name, contract type, partner role, weekly hours, people, CQC rating
PROVIDERS: list[tuple[str, str, str | None, int, int, Rating]] = [
    ("Tamar Homecare Ltd", "framework", "locality_partner", 1650, 118, Rating.good),
    ("Drake's Island Care", "framework", "locality_partner", 1420, 101, Rating.good),
    ("Hoe Community Support", "framework", "locality_partner", 1380, 97, Rating.outstanding),
    ("Plym Valley Care Services", "framework", "locality_partner", 1290, 92, Rating.good),
    ("Sound Care at Home", "framework", "locality_partner", 1180, 84, Rating.requires_improvement),
    ("Saltash Road Domiciliary", "block", "provider_partner", 950, 68, Rating.good),
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


async def _holds_data(session: AsyncSession) -> bool:
    return bool(await session.scalar(select(func.count()).select_from(Provider)))


async def seed_demo(settings: Settings, *, force: bool = False) -> int:
    services = build_services(settings)
    rng = random.Random(20261122)
    clock = SystemClock()
    today = clock.today()
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
                email = f"{name.lower().replace(' ', '.')}@{DOMAIN}"
                existing = (
                    await session.execute(select(User).where(User.email == email))
                ).scalar_one_or_none()
                staff[name] = existing or await create_user(
                    session,
                    UserIn(email=email, name=name, role=Role(role), password=password),
                    actor=seeder,
                    now=clock.now(),
                )
            officers = [u for u in staff.values() if u.role == Role.officer]
            context = WriteContext(actor=seeder, clock=clock, policy=services.policy)
            for index, (name, contract, partner, hours, people, rating) in enumerate(PROVIDERS):
                officer = officers[index % len(officers)]
                assert officer.id is not None
                officer_context = WriteContext(
                    actor=Actor.user(officer.id), clock=clock, policy=services.policy
                )
                provider = await records.create_provider(
                    session,
                    schemas.ProviderIn(
                        name=name,
                        cqc_provider_id=f"1-{200000000 + index}",
                        contract_type=contract,
                        partner_role=partner,
                        localities=[LOCALITIES[index % len(LOCALITIES)]],
                        contract_officer_id=officer.id,
                        weekly_hours=hours,
                        people_supported=people,
                    ),
                    context,
                )
                assert provider.id is not None
                location = await records.add_location(
                    session,
                    provider.id,
                    schemas.LocationIn(
                        cqc_location_id=f"1-{100000000 + index}",
                        name=f"{name} (Plymouth office)",
                        postcode=f"PL{index % 9 + 1} {index % 9 + 1}ZZ",
                    ),
                    context,
                )
                rated_on = today - timedelta(days=rng.randint(120, 900))
                await records.record_rating(
                    session,
                    location_id=location.id,
                    overall=rating,
                    rated_on=rated_on,
                    key_questions={
                        q: {"rating": rating, "rated_on": rated_on}
                        for q in ("safe", "effective", "caring", "responsive", "well_led")
                    },
                    report_url=None,
                    source="cqc",
                    ctx=context,
                )
                # A year of quarterly contract meetings, alternating virtual and face to face.
                for quarter in range(4):
                    await records.record_visit(
                        session,
                        provider.id,
                        schemas.VisitIn(
                            visited_on=today
                            - timedelta(days=350 - quarter * 90 + rng.randint(0, 10)),
                            kind="virtual" if quarter % 2 else "face_to_face",
                            purpose="Quarterly contract monitoring meeting",
                            outcome="some_concerns"
                            if rating == Rating.requires_improvement and quarter == 3
                            else "good",
                            notes="Rotas, call monitoring and training records reviewed.",
                        ),
                        officer_context,
                    )
                if index % 3 == 0:
                    await records.record_compliment(
                        session,
                        provider.id,
                        schemas.ComplimentIn(
                            received_on=today - timedelta(days=rng.randint(5, 80)),
                            summary="Family thanked the carers for their patience and kindness.",
                        ),
                        officer_context,
                    )
                if index % 4 == 1:
                    await records.record_complaint(
                        session,
                        provider.id,
                        schemas.ComplaintIn(
                            received_on=today - timedelta(days=rng.randint(10, 150)),
                            subject="Late and shortened calls",
                            upheld="partly_upheld",
                            status="closed",
                        ),
                        officer_context,
                    )
                await records.record_financial_assurance(
                    session,
                    provider.id,
                    schemas.FinancialAssuranceIn(
                        assessed_on=today - timedelta(days=rng.randint(30, 300)),
                        risk="amber" if index in (8, 13) else "green",
                        credit_check_passed=True,
                        accounts_filed_on_time=index != 13,
                        insurance_expires_on=today + timedelta(days=rng.randint(20, 330)),
                        next_review_on=today + timedelta(days=rng.randint(-10, 200)),
                    ),
                    officer_context,
                )
            # The stories the demo tells: a safeguarding cluster, and a whole-service concern.
            by_name = {p.name: p for p in (await session.execute(select(Provider))).scalars()}
            safeguarding = staff["Sam Keane"]
            assert safeguarding.id is not None
            safeguarding_context = WriteContext(
                actor=Actor.user(safeguarding.id), clock=clock, policy=services.policy
            )
            cluster = by_name["Mutley Plain Care"]
            for days, category in ((70, "neglect"), (41, "medication"), (12, "neglect")):
                await records.record_safeguarding(
                    session,
                    cluster.id or 0,
                    schemas.SafeguardingIn(
                        raised_on=today - timedelta(days=days),
                        category=category,
                        reference=f"S42-{rng.randint(10000, 99999)}",
                        summary="Details are held in the safeguarding case system.",
                    ),
                    safeguarding_context,
                )
            failing = by_name["Barbican Care Collective"]
            await records.record_concern(
                session,
                failing.id or 0,
                schemas.ConcernIn(
                    raised_on=today - timedelta(days=6),
                    raised_by="District nursing team",
                    description="Repeated missed medication calls across several packages; "
                    "staffing appears unable to cover the rota.",
                    whole_service=True,
                ),
                safeguarding_context,
            )
        print(
            f"demo council seeded: {len(PROVIDERS)} providers, {len(STAFF)} staff "
            f"(password for every demo user: {password!r}); staff sign in as "
            f"firstname.lastname@{DOMAIN}"
        )
        return 0
    finally:
        await services.database.dispose()
