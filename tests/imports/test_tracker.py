"""The council's tracker in: a messy workbook (a merged title row, dates typed three
ways, ratings in odd capitals and misspelt, a duplicate provider, an officer who does
not exist, blank rows) in a dry run and a real run, twice; historic events keep their
dates and send nothing; one summary goes to the managers."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from io import BytesIO
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from sqlalchemy import func, select

from app.clock import local_date
from app.imports.service import Importer, ImportReport, run_import
from app.models import Complaint, Concern, Delivery, Event, Provider, Safeguarding, Visit
from app.services import Services
from tests.conftest import World


def ago(services: Services, days: int) -> date:
    return services.clock.today() - timedelta(days=days)


def dmy(day: date) -> str:
    return f"{day.day}/{day.month}/{day.year}"


def messy_tracker(services: Services, *, officer: str, bad: bool) -> bytes:
    """A council's tracker as kept by hand. With `bad`, it also has the rows a person
    must fix: an officer who does not exist, a misspelt rating, a date that is none."""
    book = Workbook()
    providers = book.active
    assert providers is not None
    providers.title = "Providers"
    providers.append(["Home care providers 2020-2026 (kept by the commissioning team)"])
    providers.merge_cells("A1:H1")
    providers.append(
        [
            "PROVIDER NAME ",
            "cqc provider id",
            "CQC Location ID",
            "Contract Officer",
            "Contract type",
            "Localities",
            "Hours per week",
            "People supported",
            "RAG (old)",
        ]
    )
    providers.append(
        ["Harbour Home Care Ltd", "1-101", "1-2001, 1-2002", officer, "Block", "North", 420, 35]
    )
    providers.append([])
    providers.append(
        ["Moorland Care", "1-102", "1-2003", officer.upper(), "spot ", "South", "210", ""]
    )
    # The same provider again, cell for cell: read once.
    providers.append(
        ["Harbour Home Care Ltd", "1-101", "1-2001, 1-2002", officer, "Block", "North", 420, 35]
    )
    if bad:
        providers.append(["Ghost Care", "", "", "nobody@council.gov.uk", "Spot", "East", 10, 1])

    visits = book.create_sheet("Visits and meetings")
    visits.append(["Provider", "Visit date", "Type", "Purpose", "Outcome", "Notes"])
    visits.append(
        [
            "Harbour Home Care Ltd",
            datetime.combine(ago(services, 400), datetime.min.time()),
            "Face to face",
            "Annual review",
            "GOOD",
            "",
        ]
    )
    visits.append(
        [
            "moorland care ",
            ago(services, 20).strftime("%d-%m-%Y"),
            "phone",
            "Check-in",
            "Serious Concerns",
            "Staffing gaps",
        ]
    )
    visits.append([None, None, None, None, None, None])
    if bad:
        visits.append(
            [
                "Moorland Care",
                ago(services, 10).isoformat(),
                "Virtual",
                "Call",
                "Requires improvment",
                "",
            ]
        )
        visits.append(["Ghost Care", ago(services, 9).isoformat(), "Virtual", "Call", "Good", ""])

    safeguardings = book.create_sheet("Safeguardings")
    safeguardings.append(
        ["Provider", "Raised", "Ref", "Category", "Status", "Outcome", "Risk outcome", "Closed"]
    )
    old = ago(services, 700)
    safeguardings.append(
        [
            "Harbour Home Care Ltd",
            old.strftime("%-d %b %Y"),
            "SG-1",
            "Neglect and acts of omission",
            "Closed",
            "SUBSTANTIATED",
            "risk reduced",
            dmy(old + timedelta(days=30)),
        ]
    )
    for n, back in enumerate((50, 40, 30), start=2):
        safeguardings.append(
            ["Moorland Care", dmy(ago(services, back)), f"SG-{n}", "physical", "", "", "", ""]
        )
    if bad:
        safeguardings.append(["Moorland Care", "31/02/2025", "SG-9", "Physical", "", "", "", ""])

    complaints = book.create_sheet("Complaints")
    complaints.append(["Provider", "Date received", "Subject", "Finding", "Closed"])
    complaints.append(
        [
            "Harbour Home Care Ltd",
            dmy(ago(services, 300)),
            "Late calls",
            "Partly Upheld",
            dmy(ago(services, 280)),
        ]
    )
    complaints.append(["Moorland Care", dmy(ago(services, 5)), "Missed call", "", ""])

    compliments = book.create_sheet("Compliments")
    compliments.append(["Provider", "Received", "Summary"])
    compliments.append(["Moorland Care", dmy(ago(services, 60)), "Kind carers"])

    finance = book.create_sheet("Financial checks")
    finance.append(
        ["Provider", "Assessed", "RAG", "Credit check", "Insurance expiry", "Next review"]
    )
    finance.append(
        [
            "Harbour Home Care Ltd",
            dmy(ago(services, 100)),
            "amber",
            "Y",
            dmy(ago(services, -200)),
            dmy(ago(services, -100)),
        ]
    )

    concerns = book.create_sheet("Concerns")
    concerns.append(["Provider", "Raised", "Description", "Whole service", "Outcome", "Resolved"])
    concerns.append(
        [
            "Harbour Home Care Ltd",
            dmy(ago(services, 900)),
            "Rota failures",
            "yes",
            "New manager in post",
            dmy(ago(services, 850)),
        ]
    )
    book.create_sheet("Notes").append(["Anything the team wrote down"])
    out = BytesIO()
    book.save(out)
    return out.getvalue()


async def run(
    services: Services, data: bytes, *, dry_run: bool, user_id: int | None = None
) -> ImportReport:
    importer = Importer(user_id=user_id, clock=services.clock, policy=services.policy)
    return await run_import(
        services.database, "tracker.xlsx", BytesIO(data), importer, dry_run=dry_run
    )


async def count(services: Services, model: Any) -> int:
    async with services.database.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


def counts(report: ImportReport) -> dict[str, tuple[int, int, int]]:
    return {name: (c.new, c.matched, c.errors) for name, c in report.counts.items()}


async def test_a_messy_tracker_names_every_error_and_stores_nothing(
    world: World, services: Services
) -> None:
    officer = world.users["officer"].email
    data = messy_tracker(services, officer=officer, bad=True)
    events_before = await count(services, Event)
    for dry_run in (True, False):
        report = await run(services, data, dry_run=dry_run)
        assert report.errors == [
            "Providers row 7, Contract Officer: no active officer or manager has the email "
            "'nobody@council.gov.uk'",
            "Visits and meetings row 5, Outcome: 'Requires improvment' is not one of Good, "
            "Some concerns or Serious concerns",
            "Visits and meetings row 6, Provider: 'Ghost Care' is not imported: its row on the "
            "providers sheet has errors",
            "Safeguardings row 6, Raised: '31/02/2025' is not a date (day first, e.g. "
            "1/12/2026 or 1 Dec 2026)",
        ]
        assert not report.stored
        assert report.lines()[-1] == "4 error(s): nothing stored"
        assert counts(report)["providers"] == (2, 1, 1)
        assert counts(report)["visits"] == (2, 0, 2)
        assert "Providers: columns not read: RAG (old)" in report.notes
        assert "Providers row 6 repeats row 3: read once" in report.notes
    assert await count(services, Provider) == 0
    assert await count(services, Visit) == 0
    assert await count(services, Event) == events_before


async def test_a_clean_tracker_imports_once_with_its_own_dates_and_one_summary(
    world: World, services: Services
) -> None:
    manager = world.users["manager"]
    officer = world.users["officer"].email
    data = messy_tracker(services, officer=officer, bad=False)
    events_before = await count(services, Event)

    dry = await run(services, data, dry_run=True, user_id=world.users["admin"].id)
    assert dry.errors == [] and not dry.stored
    assert counts(dry) == {
        "providers": (2, 1, 0),
        "visits": (2, 0, 0),
        "safeguardings": (4, 0, 0),
        "complaints": (2, 0, 0),
        "compliments": (1, 0, 0),
        "financial_checks": (1, 0, 0),
        "concerns": (1, 0, 0),
    }
    # Moorland: three safeguardings in 90 days and a visit with serious concerns.
    (move,) = dry.moves
    assert (move.provider, move.from_level, move.to_level) == (
        "Moorland Care",
        "routine",
        "enhanced",
    )
    assert move.reasons == [
        "Three or more safeguardings raised in the last 90 days.",
        "The latest visit or contract meeting found serious concerns.",
    ]
    assert await count(services, Provider) == 0
    assert await count(services, Event) == events_before

    real = await run(services, data, dry_run=False, user_id=world.users["admin"].id)
    assert real.errors == [] and real.stored
    assert counts(real) == counts(dry) and [m.provider for m in real.moves] == ["Moorland Care"]

    async with services.database.sessions() as session:
        providers = {p.name: p for p in (await session.execute(select(Provider))).scalars()}
        assert providers["Moorland Care"].monitoring_level == "enhanced"
        assert providers["Harbour Home Care Ltd"].contract_officer_id == world.users["officer"].id
        closed = (
            await session.execute(select(Safeguarding).where(Safeguarding.reference == "SG-1"))
        ).scalar_one()
        assert (closed.status, closed.outcome, closed.risk_outcome) == (
            "closed",
            "substantiated",
            "risk_reduced",
        )
        assert closed.closed_on == ago(services, 670)
        complaint = (
            await session.execute(select(Complaint).where(Complaint.subject == "Late calls"))
        ).scalar_one()
        assert (complaint.upheld, complaint.closed_on) == ("partly_upheld", ago(services, 280))
        concern = (await session.execute(select(Concern))).scalar_one()
        assert (concern.status, concern.outcome) == ("closed", "New manager in post")
        # Each historic event carries the day it happened, in the council's time zone.
        events = (await session.execute(select(Event).offset(events_before))).scalars().all()
        days = {
            (e.type, local_date(e.created_at, services.clock.zone))
            for e in events
            if e.type in ("safeguarding.raised", "safeguarding.closed", "visit.recorded")
        }
        assert ("safeguarding.raised", ago(services, 700)) in days
        assert ("safeguarding.closed", ago(services, 670)) in days
        assert ("visit.recorded", ago(services, 400)) in days
        assert all(e.actor.startswith("import:") for e in events if e.type != "import.completed")
        # No alert for the past (the safeguardings raised, the escalation): one summary,
        # to each manager.
        deliveries = (await session.execute(select(Delivery))).scalars().all()
        assert [(d.event_type, d.recipient) for d in deliveries] == [
            ("import.completed", manager.email)
        ]

    again = await run(services, data, dry_run=False, user_id=world.users["admin"].id)
    assert again.errors == [] and again.moves == []
    assert {name: c[0] for name, c in counts(again).items()} == dict.fromkeys(counts(dry), 0)
    assert counts(again)["safeguardings"] == (0, 4, 0)
    assert await count(services, Delivery) == 1
    assert await count(services, Visit) == 2


async def test_the_summary_email_names_the_moves_in_words(
    world: World, services: Services, tmp_path: Path
) -> None:
    data = messy_tracker(services, officer=world.users["officer"].email, bad=False)
    await run(services, data, dry_run=False, user_id=world.users["admin"].id)
    async with services.database.sessions() as session:
        event = (
            await session.execute(select(Event).where(Event.type == "import.completed"))
        ).scalar_one()
    message = services.renderer.render(
        "import.completed",
        {
            "event": {
                "id": event.id,
                "type": event.type,
                "data": event.data,
                "created_at": event.created_at,
            },
            "provider": None,
            "link": "https://carewatch.council.gov.uk/alerts",
            "base_url": "https://carewatch.council.gov.uk",
        },
    )
    assert message.subject == "[carewatch] The tracker was imported: 1 provider moved"
    assert "Moorland Care: from routine to enhanced monitoring" in message.text
    assert "Safeguardings: 4 added, 0 already held" in message.text
    assert "20 November 2026" in message.text
    assert "_" not in message.text.split("Open in carewatch")[0]
