"""The quarterly report as papers: its figures laid out as sections of tables (each table
also drawn as bars), then written as a PDF (WeasyPrint, from templates/reports) or as a
spreadsheet (openpyxl, one sheet per section)."""

from __future__ import annotations

import asyncio
import io
import logging
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from openpyxl import Workbook
from openpyxl.styles import Font

from app.clock import long_date, written_date, written_instant
from app.events import Actor, append_event
from app.reports.quarterly import (
    LEVELS,
    NO_RATING,
    RATED,
    RATINGS,
    Quarter,
    QuarterFigures,
    ReportServices,
    build_figures,
)

TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "templates" / "reports"
# WeasyPrint tells of each step of a layout at INFO: noise in the service's log.
logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)

RATING_WORDS = {
    "outstanding": "Outstanding",
    "good": "Good",
    "requires_improvement": "Requires improvement",
    "inadequate": "Inadequate",
    "not_rated": "Inspected but not rated",
    NO_RATING: "No rating yet",
}
LEVEL_WORDS = {"routine": "Routine", "enhanced": "Enhanced", "intensive": "Intensive"}
OUTCOME_WORDS = {
    "substantiated": "Substantiated",
    "partly_substantiated": "Partly substantiated",
    "not_substantiated": "Not substantiated",
    "inconclusive": "Inconclusive",
    "withdrawn": "Withdrawn",
    "none": "Closed without an outcome",
}
FINDING_WORDS = {
    "upheld": "Upheld",
    "partly_upheld": "Partly upheld",
    "not_upheld": "Not upheld",
    "none": "Closed without a finding",
}


@dataclass(frozen=True)
class Share:
    """A percentage (None: nothing to divide by), written "45%"."""

    percent: float | None

    def __str__(self) -> str:
        return "none" if self.percent is None else f"{self.percent:.0f}%"


def share(part: float, whole: float) -> Share:
    return Share(100 * part / whole if whole else None)


Cell = str | int | float | date | Share | None


@dataclass
class Table:
    caption: str
    headings: list[str]
    rows: list[list[Cell]]
    # Columns drawn as bars beside the figures (aria-hidden: the table says it all).
    chart_columns: list[int] = field(default_factory=list)
    empty: str = "None in this quarter."

    def bars(self, row: list[Cell]) -> list[tuple[str, float]]:
        """Each charted column's bar for a row: (its heading, its length 0–100)."""
        bars = []
        for column in self.chart_columns:
            value = row[column]
            if isinstance(value, Share):
                length = value.percent or 0.0
            else:
                cells = [r[column] for r in self.rows]
                top = max((float(c) for c in cells if isinstance(c, int | float)), default=0.0)
                length = 100 * float(value) / top if top and isinstance(value, int | float) else 0
            bars.append((self.headings[column], length))
        return bars


@dataclass
class Section:
    sheet: str  # the spreadsheet's tab (at most 31 characters)
    title: str
    covers: str
    tables: list[Table]
    source: str | None = None


@dataclass
class QuarterlyReport:
    title: str
    period: str
    made: str
    notes: list[str]
    sections: list[Section]


def _figure(value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.0f}"
    if isinstance(value, date):
        return long_date(value)
    return str(value)


def lay_out(figures: QuarterFigures, *, made_at: datetime, zone: tzinfo) -> QuarterlyReport:
    """The figures as the report's sections, in the words of a paper for members."""
    quarter = figures.quarter
    start_words = long_date(quarter.first_day)
    end_words = long_date(figures.as_of)
    period = f"{start_words} to {end_words}"
    region = figures.region
    areas = f"England and {region}" if figures.ratings_region is not None else "England"
    fetched = (
        f"The figures for {areas} come from CQC: the current rating of every home care "
        f"location it lists, fetched from CQC on "
        f"{written_date(figures.national_fetched_at, zone)}."
        if figures.national_fetched_at
        else "England's figures have not been fetched from CQC yet, so only ours are shown."
    )
    if figures.national_fetched_at and not region:
        fetched += " The council's region is not set (CAREWATCH_REGION), so it is not shown."
    return QuarterlyReport(
        title=f"Market quality report: {quarter.title}",
        period=period,
        made=written_instant(made_at, zone),
        notes=figures.notes,
        sections=[
            _ratings(figures, fetched, end_words),
            _old_ratings(figures),
            _levels(figures, start_words, end_words),
            _safeguardings(figures, period),
            _complaints(figures, period),
            _visits(figures, period),
            _plans(figures, period, end_words),
            _placements(figures, period, end_words),
        ],
    )


def _ratings(figures: QuarterFigures, fetched: str, end_words: str) -> Section:
    here = figures.ratings_here
    england = figures.ratings_england
    regional = figures.ratings_region
    region = figures.region or "the region"
    here_total = sum(here.values())
    headings = ["Rating", "Our providers", "Share here"]
    if england is not None:
        headings += ["Locations in England", "Share in England"]
    if regional is not None:
        headings += [f"Locations in {region}", f"Share in {region}"]
    rows: list[list[Cell]] = []
    for rating in (*RATINGS, NO_RATING):
        if rating == NO_RATING and not here.get(NO_RATING):
            continue
        row: list[Cell] = [RATING_WORDS[rating], here.get(rating, 0)]
        row.append(share(here.get(rating, 0), here_total))
        for counts in (england, regional):
            if counts is not None:
                row += [counts.get(rating, 0), share(counts.get(rating, 0), sum(counts.values()))]
        rows.append(row)
    chart = [i for i, heading in enumerate(headings) if heading.startswith("Share")]
    good: list[list[Cell]] = []
    for area, counts in (("Our providers", here), (region, regional), ("England", england)):
        if counts is None:
            continue
        rated = sum(counts.get(r, 0) for r in RATED)
        best = counts.get("good", 0) + counts.get("outstanding", 0)
        good.append([area, best, rated, Share(figures.share_good_or_outstanding(counts))])
    return Section(
        sheet="CQC ratings",
        title="CQC ratings: our providers beside England and the region",
        covers=(
            f"Each of our providers by the worst current overall CQC rating of its "
            f"contracted locations, on {end_words}. England's and the region's figures "
            "count CQC's home care locations, each by its own rating."
        ),
        source=fetched,
        tables=[
            Table("Providers by worst current CQC rating", headings, rows, chart),
            Table(
                "Share rated good or outstanding, of those with a published rating",
                ["Area", "Good or outstanding", "With a published rating", "Share"],
                good,
                [3],
            ),
        ],
    )


def _old_ratings(figures: QuarterFigures) -> Section:
    old = figures.old_ratings
    rows: list[list[Cell]] = [
        [RATING_WORDS[rating], old.get(rating, 0)] for rating in RATED if old.get(rating, 0)
    ]
    total = sum(old.values())
    if rows:
        rows.append(["All ratings", total])
    return Section(
        sheet="Ratings over two years old",
        title="Ratings more than two years old",
        covers=(
            f"Providers whose worst current CQC rating was published before "
            f"{long_date(figures.old_before)}: two years or more before "
            f"{long_date(figures.as_of)}. {total:,} in all."
        ),
        tables=[
            Table(
                "Providers with a rating more than two years old, by that rating",
                ["Rating", "Providers"],
                rows,
                [1],
                empty="No provider's rating is more than two years old.",
            )
        ],
    )


def _levels(figures: QuarterFigures, start_words: str, end_words: str) -> Section:
    rows: list[list[Cell]] = [
        [
            LEVEL_WORDS[level],
            figures.levels_start[level],
            figures.levels_end[level],
            _change(figures.levels_end[level] - figures.levels_start[level]),
        ]
        for level in LEVELS
    ]
    moves: list[list[Cell]] = [
        [LEVEL_WORDS.get(source, source), LEVEL_WORDS.get(target, target), count]
        for source, target, count in figures.movements
    ]
    reasons: list[list[Cell]] = [[reason, count] for reason, count in figures.escalation_reasons]
    step_downs: list[list[Cell]] = [
        [
            s["provider"],
            s["at"].date() if isinstance(s["at"], datetime) else s["at"],
            LEVEL_WORDS.get(s["from"], s["from"]),
            LEVEL_WORDS.get(s["to"], s["to"]),
            s["reason"],
        ]
        for s in figures.step_downs
    ]
    return Section(
        sheet="Monitoring levels",
        title="Monitoring levels and movements",
        covers=(
            f"Providers at each level of monitoring on {start_words} and on {end_words}, "
            "each move between levels in the quarter, what the rules found that escalated "
            "providers, and the reasons managers gave for stepping providers down."
        ),
        tables=[
            Table(
                "Providers by monitoring level",
                ["Level", f"On {start_words}", f"On {end_words}", "Change"],
                rows,
                [2],
            ),
            Table("Moves between levels", ["From", "To", "Moves"], moves, [2]),
            Table("Why providers were escalated", ["Reason", "Escalations"], reasons, [1]),
            Table(
                "Providers stepped down, with the manager's reason",
                ["Provider", "On", "From", "To", "Reason"],
                step_downs,
            ),
        ],
    )


def _change(difference: int) -> str:
    return f"+{difference:,}" if difference > 0 else f"{difference:,}" if difference else "none"


def _safeguardings(figures: QuarterFigures, period: str) -> Section:
    raised: list[list[Cell]] = [
        [category.replace("_", " ").capitalize(), count]
        for category, count in sorted(
            figures.safeguardings_by_category.items(), key=lambda item: (-item[1], item[0])
        )
    ]
    closed_total = sum(figures.safeguardings_closed.values())
    closed: list[list[Cell]] = [
        [OUTCOME_WORDS[outcome], count, share(count, closed_total)]
        for outcome in OUTCOME_WORDS
        if (count := figures.safeguardings_closed.get(outcome, 0))
    ]
    return Section(
        sheet="Safeguardings",
        title="Safeguardings raised and closed",
        covers=(
            f"Safeguarding concerns raised from {period} "
            f"({figures.safeguardings_raised:,}, of which "
            f"{figures.safeguardings_whole_service:,} about a whole service), and those "
            f"closed in the quarter ({closed_total:,}) by outcome. Records entered in error "
            "are not counted."
        ),
        tables=[
            Table("Safeguardings raised, by category", ["Category", "Raised"], raised, [1]),
            Table("Safeguardings closed, by outcome", ["Outcome", "Closed", "Share"], closed, [2]),
        ],
    )


def _complaints(figures: QuarterFigures, period: str) -> Section:
    closed = figures.complaints_closed
    total = sum(closed.values())
    upheld = closed.get("upheld", 0) + closed.get("partly_upheld", 0)
    rows: list[list[Cell]] = [
        [FINDING_WORDS[finding], count, share(count, total)]
        for finding in FINDING_WORDS
        if (count := closed.get(finding, 0))
    ]
    return Section(
        sheet="Complaints",
        title="Complaints upheld",
        covers=(
            f"Complaints received from {period} ({figures.complaints_received:,}), and the "
            f"findings of those closed in the quarter: {upheld:,} of {total:,} upheld or "
            f"partly upheld ({share(upheld, total)}). Records entered in error are not counted."
        ),
        tables=[Table("Complaints closed, by finding", ["Finding", "Closed", "Share"], rows, [2])],
    )


def _visits(figures: QuarterFigures, period: str) -> Section:
    cadence = figures.cadence_days
    rows: list[list[Cell]] = []
    for level in LEVELS:
        visit = figures.visits[level]
        due = round(visit.due)
        rows.append([LEVEL_WORDS[level], due, visit.done, share(visit.done, due)])
    due_total = sum(round(figures.visits[level].due) for level in LEVELS)
    done_total = sum(figures.visits[level].done for level in LEVELS)
    rows.append(["All levels", due_total, done_total, share(done_total, due_total)])
    return Section(
        sheet="Visits",
        title="Monitoring visits done against those due",
        covers=(
            f"Visits and contract meetings held from {period}, each counted at the level "
            "its provider was at on the day, against the visits due: the days providers "
            "spent at each level divided by its visit cadence (routine every "
            f"{cadence.get('routine', 0)} days, enhanced every {cadence.get('enhanced', 0)}, "
            f"intensive every {cadence.get('intensive', 0)}). Records entered in error are "
            "not counted."
        ),
        tables=[
            Table(
                "Visits due and done, by monitoring level",
                ["Level", "Due", "Done", "Done as a share of due"],
                rows,
                [3],
            )
        ],
    )


def _plans(figures: QuarterFigures, period: str, end_words: str) -> Section:
    plans = figures.plans
    rows: list[list[Cell]] = [
        ["Opened", plans["opened"]],
        ["Agreed", plans["agreed"]],
        ["Agreed after their agree-by date", plans["agreed_late"]],
        ["Completed or closed", plans["closed"]],
        [f"Not agreed and past their agree-by date on {end_words}", plans["not_agreed_past_due"]],
    ]
    return Section(
        sheet="Improvement plans",
        title="Service improvement plans",
        covers=(
            f"Improvement plans (opened with intensive monitoring) from {period}: opened, "
            "agreed (and of those, agreed late), completed or closed, and those still not "
            "agreed though their agree-by date had passed."
        ),
        tables=[Table("Improvement plans in the quarter", ["Plans", "Number"], rows, [1])],
    )


def _placements(figures: QuarterFigures, period: str, end_words: str) -> Section:
    placements = figures.placements
    rows: list[list[Cell]] = [
        ["Suspensions of new placements", placements["suspended"]],
        ["Suspensions lifted", placements["lifted"]],
        [f"Providers with placements suspended on {end_words}", placements["suspended_at_end"]],
    ]
    return Section(
        sheet="Placements suspended",
        title="Placements suspended",
        covers=(f"New placements suspended with providers, and suspensions lifted, from {period}."),
        tables=[Table("Suspensions of new placements", ["Placements", "Number"], rows, [1])],
    )


def _environment() -> Environment:
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["figure"] = _figure
    return environment


def to_html(report: QuarterlyReport) -> str:
    return _environment().get_template("quarterly.html").render(report=report)


def to_pdf(report: QuarterlyReport) -> bytes:
    """The report as an A4 PDF, tagged for screen readers (PDF/UA)."""
    from weasyprint import HTML  # imported when used: it loads Pango once, on demand

    pdf: Any = HTML(string=to_html(report), base_url=str(TEMPLATES_DIR)).write_pdf(
        pdf_variant="pdf/ua-1"
    )
    return bytes(pdf)


def _cell(value: Cell) -> Any:
    if isinstance(value, Share):
        return None if value.percent is None else value.percent / 100
    return value


def to_xlsx(report: QuarterlyReport) -> bytes:
    """One sheet about the report, then one sheet per section: its title, what it
    covers, where the national figures come from, and each table (real numbers, shares
    as percentages, dates as dates)."""
    workbook = Workbook()
    about = workbook.active
    assert about is not None
    about.title = "About"
    for line in (report.title, f"Covers {report.period}", f"Made on {report.made}", *report.notes):
        about.append([line])
    about["A1"].font = Font(bold=True, size=14)
    about.column_dimensions["A"].width = 90
    for section in report.sections:
        sheet = workbook.create_sheet(section.sheet[:31])
        sheet.append([section.title])
        sheet["A1"].font = Font(bold=True, size=14)
        sheet.append([section.covers])
        if section.source:
            sheet.append([section.source])
        for table in section.tables:
            sheet.append([])
            sheet.append([table.caption])
            sheet.cell(sheet.max_row, 1).font = Font(bold=True)
            sheet.append(table.headings)
            for cell in sheet[sheet.max_row]:
                cell.font = Font(bold=True)
            if not table.rows:
                sheet.append([table.empty])
            for row in table.rows:
                sheet.append([_cell(value) for value in row])
                for column, value in enumerate(row, start=1):
                    if isinstance(value, Share):
                        sheet.cell(sheet.max_row, column).number_format = "0%"
                    elif isinstance(value, date):
                        sheet.cell(sheet.max_row, column).number_format = "d mmmm yyyy"
        sheet.column_dimensions["A"].width = 60
        for letter in "BCDEFG":
            sheet.column_dimensions[letter].width = 22
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def file_name(code: str, extension: str) -> str:
    return f"market-quality-report-{code}.{extension}"


FORMATS = ("pdf", "xlsx")
MEDIA_TYPES = {
    "pdf": "application/pdf",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def write(report: QuarterlyReport, file_format: str) -> bytes:
    """The report as the bytes of a PDF or a spreadsheet (CPU work: callers on an event
    loop run it in a thread)."""
    if file_format == "pdf":
        return to_pdf(report)
    if file_format == "xlsx":
        return to_xlsx(report)
    raise ValueError(f"no report format {file_format!r}")


@dataclass(frozen=True)
class ReportFile:
    body: bytes
    media_type: str
    filename: str
    title: str
    period: str


async def quarterly_file(
    services: ReportServices, quarter: Quarter, file_format: str, *, actor: Actor
) -> ReportFile:
    """The one path of a quarterly report, for the page and the command line: the
    figures read, laid out, written (in a thread: WeasyPrint and openpyxl are CPU work)
    and the making of it put on the event log."""
    figures = await build_figures(services, quarter)
    now = services.clock.now()
    report = lay_out(figures, made_at=now, zone=services.zone)
    body = await asyncio.to_thread(write, report, file_format)
    async with services.database.transaction() as session:
        await append_event(
            session,
            type="report.downloaded",
            provider_id=None,
            actor=actor,
            at=now,
            data={"what": "quarterly", "quarter": quarter.code, "format": file_format},
        )
    return ReportFile(
        body,
        MEDIA_TYPES[file_format],
        file_name(quarter.code, file_format),
        report.title,
        report.period,
    )
