"""The tracker import at scale: a workbook of providers and years of their records
(visits, safeguardings, complaints, compliments, financial checks, concerns), imported
into a fresh SQLite database through `app.imports` as `python -m app import` runs it,
then imported again (every row matched, nothing added).

`python -m bench.import_tracker` measures it alone (IMPORT_PROVIDERS, IMPORT_RECORDS,
defaults 1,000 and 50,000); `make bench` runs it too."""

from __future__ import annotations

import asyncio
import os
import random
import time
from datetime import UTC, date, datetime, timedelta
from io import BytesIO
from pathlib import Path

from openpyxl import Workbook

from app.auth.service import UserIn, create_user
from app.clock import FakeClock
from app.events import Actor
from app.imports.service import Importer, run_import
from app.market.schemas import LocalityIn
from app.market.service import create_locality
from app.migrations import upgrade_once
from app.records.service import WriteContext
from app.services import build_services
from bench.scenarios import bench_settings

ROOT = Path(__file__).resolve().parent.parent
LOCALITIES = ("North", "South", "East", "West", "Central")
OFFICER = "officer@council.gov.uk"
ROW = "tracker import, {providers:,} providers and {records:,} records (s)"
AGAIN = "tracker import again, every row matched (s)"


def tracker(providers: int, records: int, today: date, seed: int = 22) -> bytes:
    """A workbook as a council keeps one, its records spread over five years."""
    rng = random.Random(seed)
    book = Workbook(write_only=True)
    sheet = book.create_sheet("Providers")
    sheet.append(
        [
            "Provider name",
            "CQC provider ID",
            "CQC location IDs",
            "Contract officer",
            "Contract type",
            "Localities",
            "Weekly hours",
            "People supported",
        ]
    )
    names = [f"Provider {n:05d} Care Ltd" for n in range(providers)]
    for n, name in enumerate(names):
        sheet.append(
            [
                name,
                f"1-{100000 + n}",
                f"1-{500000 + 2 * n}, 1-{500001 + 2 * n}",
                OFFICER,
                rng.choice(["Spot", "Block", "Framework"]),
                rng.choice(LOCALITIES),
                rng.randint(50, 900),
                rng.randint(5, 90),
            ]
        )

    def day() -> date:
        return today - timedelta(days=rng.randint(1, 5 * 365))

    share = {
        "visits": 0.4,
        "safeguardings": 0.15,
        "complaints": 0.15,
        "compliments": 0.1,
        "financial": 0.1,
        "concerns": 0.1,
    }
    visits = book.create_sheet("Visits")
    visits.append(["Provider", "Date", "Kind", "Purpose", "Outcome", "Notes"])
    for n in range(int(records * share["visits"])):
        visits.append(
            [
                rng.choice(names),
                day(),
                rng.choice(["Face to face", "virtual", "Phone"]),
                f"Contract review {n}",
                rng.choice(["Good", "good", "Some concerns"]),
                "",
            ]
        )
    safeguardings = book.create_sheet("Safeguardings")
    safeguardings.append(
        ["Provider", "Raised", "Reference", "Category", "Outcome", "Risk outcome", "Closed"]
    )
    for n in range(int(records * share["safeguardings"])):
        raised = day()
        closed = raised + timedelta(days=30)
        done = closed < today and rng.random() < 0.8
        safeguardings.append(
            [
                rng.choice(names),
                raised.strftime("%d/%m/%Y"),
                f"SG-{n}",
                rng.choice(["Neglect", "physical", "Financial", "Organisational"]),
                rng.choice(["Not substantiated", "Inconclusive"]) if done else "",
                "Risk reduced" if done else "",
                closed if done else "",
            ]
        )
    complaints = book.create_sheet("Complaints")
    complaints.append(["Provider", "Received", "Subject", "Finding", "Closed"])
    for n in range(int(records * share["complaints"])):
        received = day()
        complaints.append(
            [
                rng.choice(names),
                received,
                f"Complaint {n}",
                "Not upheld",
                received + timedelta(days=1),
            ]
        )
    compliments = book.create_sheet("Compliments")
    compliments.append(["Provider", "Received", "Summary"])
    for n in range(int(records * share["compliments"])):
        compliments.append([rng.choice(names), day(), f"Thank you {n}"])
    finance = book.create_sheet("Financial checks")
    finance.append(["Provider", "Assessed", "Risk", "Credit check passed"])
    for _ in range(int(records * share["financial"])):
        finance.append([rng.choice(names), day(), rng.choice(["Green", "Amber"]), "Yes"])
    concerns = book.create_sheet("Concerns")
    concerns.append(["Provider", "Raised", "Description", "Outcome", "Resolved"])
    for n in range(records - int(records * 0.9)):
        raised = day()
        concerns.append(
            [
                rng.choice(names),
                raised,
                f"Concern {n}",
                "Resolved with provider",
                raised + timedelta(days=1),
            ]
        )
    out = BytesIO()
    book.save(out)
    return out.getvalue()


async def measure(providers: int, records: int) -> dict[str, str]:
    folder = ROOT / "var" / "bench"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "import.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    url = f"sqlite:///{path}"
    await upgrade_once(url)
    clock = FakeClock(datetime.now(UTC))
    services = build_services(bench_settings(url), clock=clock)
    try:
        ctx = WriteContext(actor=Actor.job("bench"), clock=clock, policy=services.policy)
        async with services.database.transaction() as session:
            for name in LOCALITIES:
                await create_locality(session, LocalityIn(name=name), ctx)
            await create_user(
                session,
                UserIn(email=OFFICER, name="Officer", role="officer", password="bench-password-1"),
                actor=ctx.actor,
                now=clock.now(),
            )
        data = tracker(providers, records, clock.today())
        file = folder / "tracker.xlsx"
        file.write_bytes(data)
        importer = Importer(user_id=None, clock=clock, policy=services.policy)
        figures: dict[str, str] = {}
        for label in (ROW.format(providers=providers, records=records), AGAIN):
            started = time.perf_counter()
            report = await run_import(services.database, file.name, file, importer, dry_run=False)
            seconds = time.perf_counter() - started
            assert not report.errors, report.errors[:5]
            print(f"   {label}: {seconds:.1f} s; " + "; ".join(report.lines()[:7]))
            figures[label] = f"{seconds:.1f}"
        return figures
    finally:
        await services.database.dispose()


if __name__ == "__main__":
    result = asyncio.run(
        measure(
            int(os.environ.get("IMPORT_PROVIDERS", "1000")),
            int(os.environ.get("IMPORT_RECORDS", "50000")),
        )
    )
    print(result)
