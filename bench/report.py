"""The quarterly report at national scale: the figures of the current quarter (every
one a grouped query), then the PDF and the spreadsheet, timed apart. `make bench` runs it
on each engine after the catch-up sweep (bench/run.py); alone, `python -m bench.report`
builds its own SQLite dataset (BENCH_PROVIDERS, BENCH_RECORDS: defaults 15,000 and
300,000)."""

from __future__ import annotations

import asyncio
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from app.clock import FakeClock
from app.db import Database
from app.events import Actor
from app.jobs.tasks import evaluate_time_rules
from app.migrations import upgrade_once
from app.reports import papers, quarterly
from app.services import Services, build_services
from bench import scenarios
from bench.generate import generate

ROOT = Path(__file__).resolve().parent.parent


async def time_report(services: Services) -> dict[str, str]:
    """Seconds for the figures alone, and for each whole file (figures included)."""
    zone = ZoneInfo(services.settings.timezone)
    report_services = quarterly.ReportServices(
        services.database, services.clock, services.policy, zone, "South West"
    )
    quarter = quarterly.Quarter.containing(services.clock.today())
    started = time.perf_counter()
    await quarterly.build_figures(report_services, quarter)
    figures_s = time.perf_counter() - started
    timings = {}
    for file_format in papers.FORMATS:
        started = time.perf_counter()
        await papers.quarterly_file(report_services, quarter, file_format, actor=Actor.job("bench"))
        timings[file_format] = time.perf_counter() - started
    return {
        "quarterly report: figures (s)": f"{figures_s:.1f}",
        "quarterly report: whole PDF (s)": f"{timings['pdf']:.1f}",
        "quarterly report: whole spreadsheet (s)": f"{timings['xlsx']:.1f}",
    }


async def main() -> None:
    providers = int(os.environ.get("BENCH_PROVIDERS", "15000"))
    records = int(os.environ.get("BENCH_RECORDS", "300000"))
    folder = ROOT / "var" / "bench"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "report.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    url = f"sqlite:///{path}"
    await upgrade_once(url)
    database = Database.from_url(url)
    started = time.perf_counter()
    await generate(database, providers=providers, records=records, today=datetime.now(UTC).date())
    await database.dispose()
    print(
        f"generated {providers:,} providers, {records:,} records in "
        f"{time.perf_counter() - started:.0f} s"
    )
    services = build_services(scenarios.bench_settings(url), clock=FakeClock(datetime.now(UTC)))
    try:
        started = time.perf_counter()
        await evaluate_time_rules(services)  # episodes and escalations, as a live market has
        print(f"catch-up sweep in {time.perf_counter() - started:.0f} s")
        for row, figure in (await time_report(services)).items():
            print(f"{row}: {figure}")
    finally:
        await services.close()


if __name__ == "__main__":
    asyncio.run(main())
