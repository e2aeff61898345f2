"""The quarterly market quality report against a small market whose every figure is
known: ratings here beside England's and the region's, old ratings, levels at the
quarter's start and end with the moves, safeguardings, complaints, visits, plans and
placements; records entered in error are not counted. Then the PDF's text, the
spreadsheet's sheets, the command line and the managers' page."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import openpyxl
import pypdf
import pytest
from sqlalchemy import select, update

from app.__main__ import main
from app.clock import FakeClock
from app.config import Settings
from app.models import CqcBenchmark, Event, Location, Provider
from app.reports import papers, quarterly
from app.services import Services
from tests.conftest import World
from tests.web.conftest import SignIn

Q4 = quarterly.Quarter(2026, 4)
NATIONAL = {
    "national": {"outstanding": 10, "good": 80, "requires_improvement": 8, "inadequate": 2},
    "regions": {"South West": {"good": 9, "inadequate": 1}},
}


async def _market(world: World, services: Services, clock: FakeClock) -> dict[str, int]:
    """Three providers contracted since September; the clock is at 20 November 2026."""
    ids = {
        name: (await world.provider(name=name))["id"]
        for name in ("Alpha Care", "Beta Care", "Gamma Care")
    }
    september = datetime(2026, 9, 1, tzinfo=UTC)
    async with services.database.transaction() as session:
        await session.execute(update(Provider).values(created_at=september))
        for provider, cqc_id, rating, rated_on in (
            ("Alpha Care", "1-100", "good", date(2023, 1, 10)),  # more than two years old
            ("Beta Care", "1-200", "inadequate", date(2026, 6, 1)),
        ):
            session.add(
                Location(
                    provider_id=ids[provider],
                    cqc_location_id=cqc_id,
                    overall_rating=rating,
                    overall_rated_on=rated_on,
                    created_at=september,
                )
            )
        session.add(
            CqcBenchmark(
                status="complete",
                started_at=clock.now(),
                finished_at=datetime(2026, 11, 18, 9, tzinfo=UTC),
                distribution=NATIONAL,
            )
        )
    alpha, beta, gamma = ids["Alpha Care"], ids["Beta Care"], ids["Gamma Care"]

    async def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = await world.post(path, body)
        assert response.status_code in (200, 201), response.text
        return dict(response.json())

    neglect = await post(
        f"/providers/{alpha}/safeguardings",
        {"raised_on": "2026-10-05", "category": "neglect", "reference": "SG-1"},
    )
    await post(
        f"/providers/{alpha}/safeguardings",
        {"raised_on": "2026-11-02", "category": "physical", "reference": "SG-2"},
    )
    mistaken = await post(  # on Gamma, so that no one has three (a cluster escalates)
        f"/providers/{gamma}/safeguardings",
        {"raised_on": "2026-10-10", "category": "neglect", "reference": "SG-3"},
    )
    await post(f"/safeguardings/{mistaken['id']}/entered-in-error", {"reason": "Wrong provider"})
    closed = await world.patch(
        f"/safeguardings/{neglect['id']}",
        {
            "status": "closed",
            "outcome": "substantiated",
            "risk_outcome": "risk_reduced",
            "closed_on": "2026-11-15",
        },
    )
    assert closed.status_code == 200, closed.text
    for received, finding, closed_on in (
        ("2026-10-20", "upheld", "2026-11-01"),
        ("2026-11-05", "not_upheld", "2026-11-10"),
        ("2026-08-01", "partly_upheld", "2026-09-01"),  # the quarter before: not counted
    ):
        complaint = await post(
            f"/providers/{gamma}/complaints", {"received_on": received, "subject": "Late calls"}
        )
        answer = await world.patch(
            f"/complaints/{complaint['id']}",
            {"status": "closed", "upheld": finding, "closed_on": closed_on},
        )
        assert answer.status_code == 200, answer.text
    for provider, visited in ((alpha, "2026-10-15"), (gamma, "2026-11-03"), (gamma, "2026-11-04")):
        visit = await post(
            f"/providers/{provider}/visits",
            {"visited_on": visited, "kind": "virtual", "purpose": "Review", "outcome": "good"},
        )
    await post(f"/visits/{visit['id']}/entered-in-error", {"reason": "Logged twice"})
    # A whole-service concern: Beta goes to intensive monitoring, with a plan to agree.
    await post(
        f"/providers/{beta}/concerns",
        {"raised_on": "2026-11-19", "description": "Staffing collapse", "whole_service": True},
    )
    clock.advance(timedelta(days=46))  # 5 January 2027: the quarter is over
    return ids


def _report_services(services: Services, region: str | None = "South West") -> Any:
    return quarterly.ReportServices(
        services.database, services.clock, services.policy, ZoneInfo("Europe/London"), region
    )


async def test_the_quarters_figures_are_those_of_the_market(
    world: World, services: Services, clock: FakeClock
) -> None:
    await _market(world, services, clock)
    figures = await quarterly.build_figures(_report_services(services), Q4)
    assert figures.as_of == date(2026, 12, 31)
    here = figures.ratings_here
    assert (here["good"], here["inadequate"], here["outstanding"], here["none"]) == (1, 1, 0, 1)
    assert figures.ratings_england == NATIONAL["national"]
    assert figures.ratings_region == {"good": 9, "inadequate": 1}
    assert figures.share_good_or_outstanding(here) == 50.0
    assert figures.share_good_or_outstanding(figures.ratings_england) == 90.0
    assert figures.old_ratings == {"good": 1} and figures.old_before == date(2024, 12, 31)
    assert figures.levels_start == {"routine": 3, "enhanced": 0, "intensive": 0}
    assert figures.levels_end == {"routine": 2, "enhanced": 0, "intensive": 1}
    assert figures.movements == [("routine", "intensive", 1)]
    # One escalation, for two reasons: Beta's inadequate rating and the concern.
    reasons = dict(figures.escalation_reasons)
    assert sorted(reasons.values()) == [1, 1]
    assert any("whole service" in r for r in reasons) and any("Inadequate" in r for r in reasons)
    assert figures.safeguardings_raised == 2  # the one entered in error is not counted
    assert figures.safeguardings_by_category == {"neglect": 1, "physical": 1}
    assert figures.safeguardings_closed == {"substantiated": 1}
    assert figures.complaints_received == 2
    assert figures.complaints_closed == {"upheld": 1, "not_upheld": 1}
    assert sum(v.done for v in figures.visits.values()) == 2  # one of three in error
    assert figures.visits["intensive"].done == 0
    # Beta spent 20 Nov to 31 Dec at intensive (42 days of 7-day cadence: 6 visits due).
    assert round(figures.visits["intensive"].due) == 6
    assert figures.plans["opened"] == 1 and figures.plans["agreed"] == 0
    # Agree-by 4 December passed by the quarter's end, unagreed.
    assert figures.plans["not_agreed_past_due"] == 1


async def test_the_quarter_before_holds_none_of_it(
    world: World, services: Services, clock: FakeClock
) -> None:
    await _market(world, services, clock)
    figures = await quarterly.build_figures(_report_services(services), Q4.previous())
    assert figures.safeguardings_raised == 0 and figures.complaints_received == 1
    assert figures.complaints_closed == {"partly_upheld": 1}
    assert figures.levels_end == {"routine": 3, "enhanced": 0, "intensive": 0}
    assert figures.movements == []


def _pdf_text(body: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(body))
    return "\n".join(page.extract_text() for page in reader.pages)


async def test_the_pdf_reads_as_the_paper_for_members(
    world: World, services: Services, clock: FakeClock
) -> None:
    await _market(world, services, clock)
    file = await papers.quarterly_file(
        _report_services(services), Q4, "pdf", actor=quarterly_actor()
    )
    text = " ".join(_pdf_text(file.body).split())
    assert "Market quality report: October to December 2026" in text
    assert "Covers 1 October 2026 to 31 December 2026." in text
    assert "fetched from CQC on 18 November 2026" in text
    assert "England and South West" in text
    assert "Our providers 1 2 50%" in text  # good or outstanding: 1 of 2 rated
    assert "England 90 100 90%" in text
    assert "Substantiated 1 100%" in text
    assert "Not agreed and past their agree-by date on 31 December 2026 1" in text
    assert "2026-" not in text  # dates in words only
    async with services.database.sessions() as session:
        logged = (
            await session.execute(select(Event.data).where(Event.type == "report.downloaded"))
        ).scalar_one()
    assert logged == {"what": "quarterly", "quarter": "2026Q4", "format": "pdf"}


def quarterly_actor() -> Any:
    from app.events import Actor

    return Actor.job("tests")


async def test_the_spreadsheet_has_a_sheet_per_section(
    world: World, services: Services, clock: FakeClock
) -> None:
    await _market(world, services, clock)
    file = await papers.quarterly_file(
        _report_services(services, region=None), Q4, "xlsx", actor=quarterly_actor()
    )
    workbook = openpyxl.load_workbook(io.BytesIO(file.body))
    assert workbook.sheetnames == [
        "About",
        "CQC ratings",
        "Ratings over two years old",
        "Monitoring levels",
        "Safeguardings",
        "Complaints",
        "Visits",
        "Improvement plans",
        "Placements suspended",
    ]
    rows = [list(r) for r in workbook["Complaints"].iter_rows(values_only=True)]
    assert ["Finding", "Closed", "Share"] in rows
    assert ["Upheld", 1, 0.5] in rows and ["Not upheld", 1, 0.5] in rows
    ratings = [list(r) for r in workbook["CQC ratings"].iter_rows(values_only=True)]
    headings = next(r for r in ratings if r[0] == "Rating")
    assert not any("South West" in str(h) for h in headings)  # no region set: no column


def test_a_quarter_is_read_or_refused_in_words() -> None:
    assert quarterly.Quarter.parse(" 2026q3 ") == quarterly.Quarter(2026, 3)
    assert quarterly.Quarter(2026, 3).first_day == date(2026, 7, 1)
    assert quarterly.Quarter(2026, 4).last_day == date(2026, 12, 31)
    with pytest.raises(quarterly.QuarterError, match="like 2026Q3"):
        quarterly.Quarter.parse("2026Q5")


async def test_the_command_line_writes_both_formats(
    world: World,
    services: Services,
    clock: FakeClock,
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    await world.provider(name="Alpha Care")
    monkeypatch.setenv("CAREWATCH_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("CAREWATCH_ALERTS_DIR", str(settings.alerts_dir))
    monkeypatch.setenv("CAREWATCH_REGION", "south west")
    import asyncio

    for name in ("report.pdf", "report.xlsx"):
        out = tmp_path / name
        code = await asyncio.to_thread(
            main, ["report", "quarterly", "--quarter", "2026Q3", "--out", str(out)]
        )
        assert code == 0, capsys.readouterr().err
        assert out.stat().st_size > 1000
    assert "Covers 1 July 2026 to 30 September 2026" in " ".join(
        _pdf_text((tmp_path / "report.pdf").read_bytes()).split()
    )
    assert openpyxl.load_workbook(tmp_path / "report.xlsx").sheetnames[0] == "About"
    code = await asyncio.to_thread(
        main, ["report", "quarterly", "--quarter", "2026Q3", "--out", str(tmp_path / "r.doc")]
    )
    assert code == 2 and ".pdf or .xlsx" in capsys.readouterr().err


async def test_only_managers_and_admins_have_the_reports_page(
    world: World, signed_in: SignIn, services: Services, clock: FakeClock
) -> None:
    await _market(world, services, clock)
    for role in ("officer", "safeguarding", "viewer"):
        client = await signed_in(role)
        assert (await client.get("/reports")).status_code == 403
        refused = await client.get("/reports/quarterly", params={"quarter": "2026Q4"})
        assert refused.status_code == 403
    manager = await signed_in("manager")
    page = await manager.get("/reports")
    assert page.status_code == 200
    assert '<option value="2026Q4" selected>October to December 2026</option>' in page.text
    pdf = await manager.get("/reports/quarterly", params={"quarter": "2026Q4", "format": "pdf"})
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert "market-quality-report-2026Q4.pdf" in pdf.headers["content-disposition"]
    assert "Complaints upheld" in _pdf_text(pdf.content)
    admin = await signed_in("admin")
    xlsx = await admin.get("/reports/quarterly", params={"quarter": "2026Q4", "format": "xlsx"})
    assert xlsx.status_code == 200
    assert "Visits" in openpyxl.load_workbook(io.BytesIO(xlsx.content)).sheetnames
    bad = await manager.get("/reports/quarterly", params={"quarter": "2026Q9", "format": "pdf"})
    assert bad.status_code == 400
    assert "There is a problem" in bad.text and "Choose a quarter from the list" in bad.text
