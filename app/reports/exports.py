"""The dashboard's provider table taken away: every provider its filters select, as CSV
or as a spreadsheet, with the columns the reader's role may see, and the audit of each
export (an event, and an access row for every safeguarding whose details it carries)."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from typing import Any, Literal, Protocol

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.audit import AccessContext, access_rows
from app.auth.permissions import Permission
from app.auth.service import Principal
from app.clock import Clock, long_date, written_instant
from app.db import Database
from app.events import append_event
from app.models import Safeguarding, SafeguardingAudit
from app.records import dashboard
from app.sql import OPEN_SAFEGUARDING

ExportFormat = Literal["csv", "xlsx"]
MEDIA_TYPES: dict[str, str] = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
TILE_WORDS = {
    "visits_overdue": "with a visit overdue",
    "actions_overdue": "with improvement actions overdue",
    "safeguardings_open": "with open safeguardings",
}
SORT_WORDS = {
    "name": "provider",
    "officer": "officer",
    "localities": "localities",
    "level": "monitoring level",
    "suspended": "placements suspended",
    "rating": "worst CQC rating",
    "rated_on": "date of the worst CQC rating",
    "safeguardings_open": "open safeguardings",
    "safeguardings_recent": "safeguardings raised in the last 90 days",
    "complaints_upheld": "complaints upheld in the last 90 days",
    "compliments": "compliments in the last 90 days",
    "financial_risk": "financial risk",
    "next_review_on": "next financial review",
    "last_visit_on": "last visit",
    "next_visit_due_on": "next visit due",
}

Cell = str | int | float | date | None


@dataclass
class ProviderExport:
    """The table as it leaves: headings, rows of plain values, and what it covers."""

    headings: list[str]
    rows: list[list[Cell]]
    covers: list[str]  # what was chosen, in words ("Locality: North")
    made_at: datetime
    safeguarding_ids: dict[int, list[int]] = field(default_factory=dict)  # by provider


def words(value: Any) -> str:
    """An enumeration value as words: requires_improvement → Requires improvement."""
    if value is None:
        return ""
    text = str(getattr(value, "value", value)).replace("_", " ")
    return text[:1].upper() + text[1:]


def _yes_no(value: bool | None) -> str:
    return "Yes" if value else "No"


async def provider_export(
    session: AsyncSession,
    *,
    today: date,
    now: datetime,
    filters: dashboard.TableFilters,
    principal: Principal,
) -> ProviderExport:
    """Every provider the filters select, in the table's order. Safeguarding columns only
    for a role that may read safeguarding details: a file leaves carewatch's access
    controls, so a viewer's export carries no safeguarding figures at all."""
    rows = await dashboard.every_provider_row(session, today, filters)
    detail = principal.can(Permission.read_safeguarding_detail)
    references: dict[int, list[tuple[int, str]]] = {}
    if detail:
        references = await _open_references(session, [int(row["id"]) for row in rows])
    headings = [
        "Provider",
        "CQC provider ID",
        "Contract type",
        "Officer",
        "Localities",
        "Monitoring level",
        "Placements suspended",
        "Worst CQC rating",
        "Rated on",
    ]
    if detail:
        headings += [
            "Open safeguardings",
            "Safeguardings raised, last 90 days",
            "Open safeguarding references",
        ]
    headings += [
        "Complaints upheld, last 90 days",
        "Compliments, last 90 days",
        "Financial risk",
        "Next financial review",
        "Last visit",
        "Next visit due",
        "Visit overdue",
        "Contracted hours a week",
        "People supported",
    ]
    table: list[list[Cell]] = []
    for row in rows:
        cells: list[Cell] = [
            row["name"],
            row["cqc_provider_id"] or "",
            words(row["contract_type"]),
            row["officer_name"] or "",
            ", ".join(row["localities"]),
            words(row["monitoring_level"]),
            _yes_no(row["placements_suspended"]),
            words(row["worst_rating"]) or "No rating",
            row["rated_on"],
        ]
        if detail:
            cells += [
                int(row["safeguardings_open"] or 0),
                int(row["safeguardings_recent"] or 0),
                ", ".join(reference for _id, reference in references.get(int(row["id"]), [])),
            ]
        cells += [
            int(row["complaints_upheld"] or 0),
            int(row["compliments"] or 0),
            words(row["financial_risk"]) or "Not assessed",
            row["next_review_on"],
            row["last_visit_on"],
            row["next_visit_due_on"],
            _yes_no(row["visit_overdue"]),
            float(row["weekly_hours"] or 0),
            row["people_supported"],
        ]
        table.append(cells)
    return ProviderExport(
        headings=headings,
        rows=table,
        covers=await _covers(session, filters),
        made_at=now,
        safeguarding_ids={
            provider_id: [sid for sid, _ref in found] for provider_id, found in references.items()
        },
    )


async def _open_references(
    session: AsyncSession, provider_ids: list[int]
) -> dict[int, list[tuple[int, str]]]:
    """The open safeguardings' references of these providers (none entered in error)."""
    found: dict[int, list[tuple[int, str]]] = {}
    for start in range(0, len(provider_ids), dashboard.EXPORT_BATCH):
        batch = provider_ids[start : start + dashboard.EXPORT_BATCH]
        for safeguarding_id, provider_id, reference in await session.execute(
            select(Safeguarding.id, Safeguarding.provider_id, Safeguarding.reference)
            .where(
                Safeguarding.provider_id.in_(batch),
                OPEN_SAFEGUARDING,
            )
            .order_by(Safeguarding.provider_id, Safeguarding.raised_on, Safeguarding.id)
        ):
            found.setdefault(int(provider_id), []).append((int(safeguarding_id), str(reference)))
    return found


async def _covers(session: AsyncSession, filters: dashboard.TableFilters) -> list[str]:
    """The filters and order chosen, in words, for the spreadsheet's notes."""
    covers = []
    if filters.officer_id is not None:
        names = await dashboard.user_names(session, {filters.officer_id})
        covers.append(f"Officer: {names.get(filters.officer_id, 'no such officer')}")
    if filters.locality:
        covers.append(f"Locality: {filters.locality}")
    if filters.level:
        covers.append(f"Monitoring level: {words(filters.level)}")
    if filters.rating:
        covers.append(f"Worst CQC rating: {words(filters.rating)}")
    if filters.tile:
        covers.append(f"Only providers {TILE_WORDS[filters.tile]}")
    if not covers:
        covers.append("Every provider")
    order = "descending" if filters.descending else "ascending"
    covers.append(f"Sorted by {SORT_WORDS.get(filters.sort, 'provider')}, {order}")
    return covers


def _text(value: Cell) -> str | int | float:
    if value is None:
        return ""
    if isinstance(value, date):
        return long_date(value)
    return value


def to_csv(export: ProviderExport) -> bytes:
    """UTF-8 with a byte-order mark, so that Excel opens names with accents correctly."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(export.headings)
    writer.writerows([_text(cell) for cell in row] for row in export.rows)
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


DATE_FORMAT = "d mmmm yyyy"  # 1 December 2026, as a real date cell


def to_xlsx(export: ProviderExport, zone: tzinfo) -> bytes:
    """One sheet of providers (real date and number cells, headings frozen, a filter on
    each column) and a sheet saying what the list covers and when it was made."""
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "Providers"
    sheet.append(export.headings)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in export.rows:
        sheet.append(row)
    for column, heading in enumerate(export.headings, start=1):
        letter = get_column_letter(column)
        widest = max([len(heading)] + [len(str(_text(r[column - 1]))) for r in export.rows[:200]])
        sheet.column_dimensions[letter].width = min(max(widest + 2, 10), 60)
        for (cell,) in sheet.iter_rows(min_row=2, min_col=column, max_col=column):
            if isinstance(cell.value, date):
                cell.number_format = DATE_FORMAT
    sheet.freeze_panes = "B2"
    sheet.auto_filter.ref = sheet.dimensions
    about = workbook.create_sheet("About this list")
    about.append(["Providers, from carewatch's dashboard"])
    about["A1"].font = Font(bold=True, size=14)
    about.append([f"Made on {written_instant(export.made_at, zone)}"])
    about.append([f"{len(export.rows)} providers"])
    for line in export.covers:
        # A filter typed with control characters (a crafted URL) is shown without them:
        # a worksheet cannot hold them.
        about.append([ILLEGAL_CHARACTERS_RE.sub("", line)])
    about.column_dimensions["A"].width = 80
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def filename(extension: str, today: date) -> str:
    return f"providers-{today.isoformat()}.{extension}"


async def record_export(
    session: AsyncSession,
    *,
    principal: Principal,
    access: AccessContext,
    at: datetime,
    what: str,
    export_format: str,
    rows: int,
    covers: Sequence[str],
    safeguarding_ids: dict[int, list[int]] | None = None,
) -> None:
    """The audit of one export, in the caller's transaction, before the file is sent:
    an event on the log (who, what, which filters, how many rows), and an access row for
    each safeguarding whose details the file carries (in one bulk INSERT)."""
    await append_event(
        session,
        type="export.downloaded" if what == "providers" else "report.downloaded",
        provider_id=None,
        actor=principal.actor,
        at=at,
        data={
            "what": what,
            "format": export_format,
            "rows": rows,
            "covers": list(covers),
            "safeguardings": sum(len(ids) for ids in (safeguarding_ids or {}).values()),
        },
    )
    audit = [
        row
        for provider_id, ids in (safeguarding_ids or {}).items()
        for row in access_rows(
            principal=principal,
            action="export",
            provider_id=provider_id,
            safeguarding_ids=ids,
            access=access,
            at=at,
        )
    ]
    if audit:
        await session.execute(insert(SafeguardingAudit), audit)


class ExportServices(Protocol):
    """What an export needs of the application's services (app.services.Services, which
    sits above reports and so is not imported here)."""

    database: Database
    clock: Clock


@dataclass(frozen=True)
class ExportFile:
    body: bytes
    media_type: str
    filename: str


async def providers_file(
    services: ExportServices,
    *,
    principal: Principal,
    params: Mapping[str, str],
    access: AccessContext,
    file_format: ExportFormat,
    zone: tzinfo,
    own_first: bool = True,
) -> ExportFile:
    """The one path of a provider-list download, for the pages and the API alike: the
    dashboard's filters read from the same query parameters, every row read, the file
    built, and the export audited before it is handed back to be sent. With
    `own_first`, an officer who names no officer gets their own providers, as on the
    dashboard page."""
    own = principal.user
    filters = dashboard.read_table_filters(
        params, own_officer_id=own.id if own_first and own.role == "officer" else None
    )
    today = services.clock.today()
    now = services.clock.now()
    async with services.database.sessions() as session:
        export = await provider_export(
            session, today=today, now=now, filters=filters, principal=principal
        )
    if file_format == "csv":
        body = to_csv(export)
    else:  # openpyxl is CPU work: off the event loop, so other requests keep moving
        body = await asyncio.to_thread(to_xlsx, export, zone)
    async with services.database.transaction() as session:
        await record_export(
            session,
            principal=principal,
            access=access,
            at=now,
            what="providers",
            export_format=file_format,
            rows=len(export.rows),
            covers=export.covers,
            safeguarding_ids=export.safeguarding_ids,
        )
    return ExportFile(body, MEDIA_TYPES[file_format], filename(file_format, today))


def attachment_headers(file: ExportFile) -> dict[str, str]:
    """A download, never cached by a browser or a proxy (it may carry safeguarding
    references)."""
    return {
        "Content-Disposition": f'attachment; filename="{file.filename}"',
        "Cache-Control": "no-store",
    }
