"""CSV imports of the market's returns: call-monitoring KPIs (CM2000-style columns),
providers' capacity returns and localities' waiting lists. Every row goes through the
market's write path; a file with any error stores nothing and every error is named by
row, column and problem.

Headings, cells and dates (day first, as in England) are read as the tracker import
reads them (app/sheets.py)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import DomainError
from app.inputs import FORM
from app.market import schemas
from app.market import service as market
from app.market.kpis import KpiThresholds
from app.models import Locality, Provider
from app.records.service import WriteContext
from app.sheets import csv_rows, find_table, key, parse_day, parse_month

# The columns each import reads: field -> the headings (normalised) a file may use.
PROVIDER_COLUMNS = {
    "provider_id": ("provider_id", "carewatch_id"),
    "cqc_provider_id": ("cqc_provider_id", "cqc_id"),
    "provider": ("provider", "provider_name", "branch", "branch_name", "supplier"),
}
KPI_COLUMNS = {
    "month": ("month", "period", "month_starting"),
    "visits_planned": ("visits_planned", "planned_visits", "planned", "scheduled_visits"),
    "visits_missed": ("visits_missed", "missed_visits", "missed"),
    "visits_late": ("visits_late", "late_visits", "late"),
    "time_critical_visits": ("time_critical_visits", "time_critical_planned", "time_critical"),
    "time_critical_on_time": ("time_critical_on_time", "time_critical_visits_on_time"),
    "calls_logged_in_home": (
        "calls_logged_in_home",
        "calls_logged_in_the_home",
        "calls_logged",
        "logged_in_home",
        "visits_logged_in_home",
        "ecm_compliant_visits",
    ),
}
CAPACITY_COLUMNS = {
    "period_start": ("period_start", "week_starting", "from", "start"),
    "period_end": ("period_end", "week_ending", "to", "end"),
    "hours_commissioned": ("hours_commissioned", "commissioned_hours"),
    "hours_delivered": ("hours_delivered", "delivered_hours"),
    "people_supported": ("people_supported", "people", "service_users"),
    "packages_accepted": ("packages_accepted", "accepted"),
    "packages_declined": ("packages_declined", "declined"),
    "packages_handed_back": ("packages_handed_back", "handed_back", "handbacks"),
    "hours_handed_back": ("hours_handed_back", "handed_back_hours"),
    "staff_vacancies": ("staff_vacancies", "vacancies"),
}
WAITING_COLUMNS = {
    "locality": ("locality", "locality_name", "district", "area"),
    "counted_on": ("counted_on", "date", "as_at", "as_of"),
    "people_waiting": ("people_waiting", "people_awaiting_a_package", "waiting", "awaiting"),
    "hours_waiting": ("hours_waiting", "hours_awaited", "hours"),
}
DATE_FIELDS = {"period_start", "period_end", "counted_on"}
# Pydantic's words for a cell, in a person's (the rest are already plain).
CELL_PROBLEMS = {
    "missing": "is empty",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_parsing": "must be a number",
}


@dataclass
class ImportReport:
    """What an import did: rows stored, or every error, and the escalations it caused."""

    kind: str
    rows: int = 0
    stored: int = 0
    errors: list[str] = field(default_factory=list)
    escalations: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        if self.errors:
            return [
                *self.errors,
                f"{self.kind}: {len(self.errors)} error(s) in {self.rows} row(s); nothing stored",
            ]
        return [*self.escalations, f"{self.kind}: {self.stored} of {self.rows} row(s) stored"]


@dataclass
class _Row:
    number: int
    values: dict[str, str]


def _read(path: Path, columns: dict[str, tuple[str, ...]], report: ImportReport) -> list[_Row]:
    """The file's non-blank rows, keyed by field (headings matched in any case and order)."""
    cells = csv_rows(path)
    if not cells:
        report.errors.append(f"{path.name}: the file is empty")
        return []
    table = find_table(path.name, cells, columns)
    if table is None:
        report.errors.append(f"{path.name}: no heading row naming its columns")
        return []
    rows = [
        _Row(row.number, {name: row.text(name) for name in table.headings}) for row in table.rows
    ]
    report.rows = len(rows)
    return rows


def _missing(rows: list[_Row], required: Iterable[str], path: Path, report: ImportReport) -> bool:
    if not rows:
        return False
    absent = [name for name in required if name not in rows[0].values]
    for name in absent:
        report.errors.append(f"{path.name}: no column for {name}")
    return bool(absent)


def _input(row: _Row, fields: Iterable[str], schema: type[BaseModel], report: ImportReport) -> Any:
    """The row as the service's input, or None after naming each bad cell."""
    data: dict[str, Any] = {}
    bad = False
    for name in fields:
        text = row.values.get(name, "")
        if text == "":
            continue  # left out: the schema says whether it may be
        if name in DATE_FIELDS or name == "month":
            try:
                data[name] = parse_month(text) if name == "month" else parse_day(text)
            except ValueError as error:
                report.errors.append(f"row {row.number}, {name}: {error}")
                bad = True
            continue
        data[name] = text.replace(",", "")
    if bad:
        return None
    try:
        return schema.model_validate(data, context=FORM)
    except ValidationError as error:
        for problem in error.errors():
            column = ".".join(str(part) for part in problem["loc"]) or "(row)"
            message = problem["msg"].removeprefix("Value error, ")
            message = CELL_PROBLEMS.get(problem["type"], message)
            report.errors.append(f"row {row.number}, {column}: {message}")
        return None


async def _providers(session: AsyncSession) -> Callable[[_Row, ImportReport], int | None]:
    """A lookup of the row's provider: by carewatch id, CQC provider id or exact name."""
    by_id: dict[int, int] = {}
    by_cqc: dict[str, int] = {}
    by_name: dict[str, list[int]] = {}
    for provider_id, name, cqc in await session.execute(
        select(Provider.id, Provider.name, Provider.cqc_provider_id)
    ):
        by_id[provider_id] = provider_id
        if cqc:
            by_cqc[cqc.lower()] = provider_id
        by_name.setdefault(name.strip().lower(), []).append(provider_id)

    def find(row: _Row, report: ImportReport) -> int | None:
        if text := row.values.get("provider_id", ""):
            if text.isdigit() and int(text) in by_id:
                return int(text)
            report.errors.append(f"row {row.number}, provider_id: no provider with id {text!r}")
            return None
        if text := row.values.get("cqc_provider_id", ""):
            if text.lower() in by_cqc:
                return by_cqc[text.lower()]
            report.errors.append(f"row {row.number}, cqc_provider_id: no provider {text!r}")
            return None
        text = row.values.get("provider", "")
        if not text:
            report.errors.append(f"row {row.number}, provider: is empty")
            return None
        found = by_name.get(text.lower(), [])
        if len(found) == 1:
            return found[0]
        problem = "names more than one provider" if found else "is not a provider's name"
        report.errors.append(f"row {row.number}, provider: {text!r} {problem}")
        return None

    return find


async def _store(
    row: _Row,
    report: ImportReport,
    write: Awaitable[Any],
) -> None:
    """One row through the write path; its refusal is the row's error. The services
    check before they add anything, so a refused row leaves nothing behind."""
    try:
        result = await write
    except DomainError as error:
        report.errors.append(f"row {row.number}, {error.field}: {error.problem}")
        return
    report.stored += 1
    escalation = getattr(result, "escalation", None)
    if escalation is not None and escalation.summary() is not None:
        reasons = "; ".join(
            f"{reason['description']} ({reason['detail']})" for reason in escalation.reasons
        )
        report.escalations.append(
            f"row {row.number}: provider #{escalation.provider_id} "
            f"{escalation.from_level} -> {escalation.to_level}: {reasons}"
        )


def _has_provider_column(rows: list[_Row], path: Path, report: ImportReport) -> bool:
    if rows and not any(name in rows[0].values for name in PROVIDER_COLUMNS):
        report.errors.append(
            f"{path.name}: no column naming the provider (provider or provider_id)"
        )
        return False
    return True


async def import_kpis(
    session: AsyncSession, path: Path, ctx: WriteContext, thresholds: KpiThresholds
) -> ImportReport:
    """Each row one provider's figures for a month. The caller commits only a report
    without errors."""
    report = ImportReport("call-monitoring figures")
    rows = _read(path, {**PROVIDER_COLUMNS, **KPI_COLUMNS}, report)
    required = ("month", "visits_planned", "visits_missed", "visits_late", "calls_logged_in_home")
    if _missing(rows, required, path, report) or not _has_provider_column(rows, path, report):
        return report
    find = await _providers(session)
    for row in rows:
        provider_id = find(row, report)
        data = _input(row, KPI_COLUMNS, schemas.KpiIn, report)
        if provider_id is None or data is None:
            continue
        await _store(
            row,
            report,
            market.record_kpis(session, provider_id, data, ctx, thresholds),
        )
    return report


async def import_capacity(session: AsyncSession, path: Path, ctx: WriteContext) -> ImportReport:
    """Providers' capacity returns (a provider column) or localities' waiting lists (a
    locality column). The caller commits only a report without errors."""
    first = next(iter(csv_rows(path)), [])
    headings = {key(str(cell)) for cell in first}
    if headings & set(WAITING_COLUMNS["locality"]) and not headings & {
        variant for variants in PROVIDER_COLUMNS.values() for variant in variants
    }:
        return await _import_waiting(session, path, ctx)
    report = ImportReport("capacity returns")
    rows = _read(path, {**PROVIDER_COLUMNS, **CAPACITY_COLUMNS}, report)
    required = ("period_start", "period_end", "hours_commissioned", "hours_delivered")
    if _missing(rows, (*required, "people_supported"), path, report):
        return report
    if not _has_provider_column(rows, path, report):
        return report
    find = await _providers(session)
    for row in rows:
        provider_id = find(row, report)
        data = _input(row, CAPACITY_COLUMNS, schemas.CapacityIn, report)
        if provider_id is None or data is None:
            continue
        await _store(row, report, market.record_capacity(session, provider_id, data, ctx))
    return report


async def _import_waiting(session: AsyncSession, path: Path, ctx: WriteContext) -> ImportReport:
    report = ImportReport("waiting lists")
    rows = _read(path, WAITING_COLUMNS, report)
    if _missing(rows, WAITING_COLUMNS, path, report):
        return report
    localities = {
        name.lower(): locality_id
        for locality_id, name in await session.execute(select(Locality.id, Locality.name))
    }
    for row in rows:
        locality_id = localities.get(row.values["locality"].lower())
        if locality_id is None:
            report.errors.append(
                f"row {row.number}, locality: {row.values['locality']!r} is not on the list"
            )
        fields = ("counted_on", "people_waiting", "hours_waiting")
        data = _input(row, fields, schemas.WaitingIn, report)
        if locality_id is None or data is None:
            continue
        await _store(row, report, market.record_waiting(session, locality_id, data, ctx))
    return report


async def run_import(
    database: Any,
    kind: str,
    path: Path,
    ctx: WriteContext,
    thresholds: KpiThresholds,
    *,
    dry_run: bool = False,
) -> ImportReport:
    """Import a file of `kind` ("kpis" or "capacity") in one transaction, committed only
    when every row was stored and this is not a dry run."""
    async with database.writer_sessions() as session:
        try:
            if kind == "kpis":
                report = await import_kpis(session, path, ctx, thresholds)
            else:
                report = await import_capacity(session, path, ctx)
            if report.errors or dry_run:
                await session.rollback()
            else:
                await session.commit()
        except BaseException:
            await session.rollback()
            raise
    return report
