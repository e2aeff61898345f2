"""Importing the council's tracker: match each row to what carewatch holds, store the
new ones through the write path with their own dates, then run the rules once per
provider and tell the managers, once, where the import left the providers.

One file is one transaction. A dry run does the real work and rolls it back, so its
report (counts, every error, the providers the rules would move) cannot disagree with
the real run's; a real run with any error is rolled back too and stores nothing.
Records already held (by a stable key of their fields) are matched and left as they
are, so importing the same file twice adds nothing the second time. The events of the
history are dated when it happened and sent to nobody (app/events.py, Actor.importer);
only the summary, `import.completed`, is routed (to the managers)."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import IO, Any

from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel

from app.clock import Clock
from app.db import Database
from app.errors import DomainError
from app.events import Actor, append_event
from app.imports.columns import (
    COMPLAINTS,
    COMPLIMENTS,
    CONCERNS,
    FINANCIAL_CHECKS,
    PROVIDERS,
    SAFEGUARDINGS,
    VISITS,
    Kind,
)
from app.imports.reading import Cells, Sheet, Tracker, read_tracker
from app.models import (
    Complaint,
    Compliment,
    Concern,
    FinancialAssurance,
    Locality,
    Location,
    Provider,
    Safeguarding,
    User,
    Visit,
)
from app.models.base import CaseStatus, SafeguardingStatus
from app.monitoring.escalation import apply_rules
from app.monitoring.policy import MonitoringPolicy
from app.records import schemas
from app.records import service as records
from app.records.service import CONTRACT_OFFICER_ROLES, WriteContext, trigger_of
from app.sheets import key

# A schema's or a service's field, as the tracker's column that holds it.
_COLUMN_OF = {"contract_officer_id": "contract_officer", "officer_id": "officer"}
_CELL_PROBLEMS = {
    "missing": "is empty",
    "string_too_long": "is too long",
    "string_too_short": "is empty",
}
CHUNK = 500  # ids per IN list


@dataclass
class KindCount:
    """One kind's rows: new, matching a record carewatch holds, in error."""

    label: str
    new: int = 0
    matched: int = 0
    errors: int = 0


@dataclass
class Move:
    """A provider the rules moved when the import ended, and why."""

    provider_id: int
    provider: str
    from_level: str
    to_level: str
    reasons: list[str]
    placements_suspended: bool


@dataclass
class ImportReport:
    file: str
    dry_run: bool
    counts: dict[str, KindCount] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    moves: list[Move] = field(default_factory=list)
    stored: bool = False

    @property
    def added(self) -> int:
        return sum(count.new for count in self.counts.values())

    def lines(self) -> list[str]:
        """The report as the command line prints it."""
        out = [
            f"{c.label}: {c.new} new, {c.matched} already held, {c.errors} in error"
            for c in self.counts.values()
        ]
        out += self.notes
        out += [
            f"{m.provider}: {m.from_level} to {m.to_level} monitoring"
            + (", new placements suspended" if m.placements_suspended else "")
            + f" ({'; '.join(m.reasons)})"
            for m in self.moves
        ]
        out += self.errors
        if self.errors:
            out.append(f"{len(self.errors)} error(s): nothing stored")
        elif self.dry_run:
            out.append("dry run: nothing stored")
        else:
            out.append(f"stored {self.added} new record(s)")
        return out


@dataclass(frozen=True)
class Written:
    """What one row of a records sheet writes: its new record, and its closing when the
    tracker holds it closed."""

    new: records.Batched
    close: records.Batched | None = None


# A records sheet's row, checked, as what it writes (None when the row has errors).
Build = Callable[[Cells, int, dict[str, Any]], Written | None]


@dataclass(frozen=True)
class Importer:
    """Who imports (a user, or None from the command line) with the service's clock
    and monitoring policy."""

    user_id: int | None
    clock: Clock
    policy: MonitoringPolicy


async def run_import(
    database: Database,
    filename: str,
    source: Path | IO[bytes],
    importer: Importer,
    *,
    dry_run: bool,
    kind: str | None = None,
) -> ImportReport:
    """Read, match and store one tracker file in one transaction, committed only when
    it has no error and this is not a dry run. TrackerUnreadable when the file is not a
    workbook or CSV."""
    tracker = read_tracker(filename, source, kind)
    report = ImportReport(Path(filename).name, dry_run)
    report.errors += tracker.errors
    report.notes += tracker.notes
    for sheet in tracker.sheets:
        report.counts[sheet.kind.name] = KindCount(sheet.label)
    async with database.writer_sessions() as session:
        try:
            await _Run(session, tracker, report, importer).run()
            if report.errors or dry_run:
                await session.rollback()
            else:
                await session.commit()
                report.stored = True
        except BaseException:
            await session.rollback()
            raise
    return report


def _fold(text: str) -> str:
    return " ".join(text.split()).casefold()


class _Run:
    """One import's work inside its transaction."""

    def __init__(
        self, session: AsyncSession, tracker: Tracker, report: ImportReport, importer: Importer
    ) -> None:
        self.session = session
        self.tracker = tracker
        self.report = report
        self.clock = importer.clock
        self.ctx = WriteContext(
            actor=Actor.importer(importer.user_id),
            clock=importer.clock,
            policy=importer.policy,
            rules_deferred=True,
        )
        self.summary_actor = (
            Actor.user(importer.user_id) if importer.user_id else Actor.job("import")
        )
        self.by_cqc: dict[str, int] = {}
        self.by_name: dict[str, list[int]] = {}
        self.names: dict[int, str] = {}
        self.officer_of: dict[int, int | None] = {}
        self.refused: set[str] = set()  # providers whose own row had errors
        self.touched: set[int] = set()
        self.users: dict[str, User] = {}

    async def run(self) -> None:
        await self._load_providers()
        providers = self.tracker.sheet(PROVIDERS)
        if providers is not None:
            await self._providers(providers)
        for kind, write in (
            (VISITS, self._visit),
            (SAFEGUARDINGS, self._safeguarding),
            (COMPLAINTS, self._complaint),
            (COMPLIMENTS, self._compliment),
            (FINANCIAL_CHECKS, self._financial_check),
            (CONCERNS, self._concern),
        ):
            sheet = self.tracker.sheet(kind)
            if sheet is not None:
                await self._records(sheet, write)
        await self._rules_and_summary()

    # Who and what carewatch already holds ----------------------------------------------

    async def _load_providers(self) -> None:
        rows = await self.session.execute(
            select(
                Provider.id, Provider.name, Provider.cqc_provider_id, Provider.contract_officer_id
            )
        )
        for provider_id, name, cqc, officer_id in rows:
            self._know(provider_id, name, cqc, officer_id)

    def _know(self, provider_id: int, name: str, cqc: str | None, officer_id: int | None) -> None:
        self.names[provider_id] = name
        self.officer_of[provider_id] = officer_id
        self.by_name.setdefault(_fold(name), []).append(provider_id)
        if cqc:
            self.by_cqc[cqc.lower()] = provider_id

    async def _users(self) -> dict[str, User]:
        users = (await self.session.execute(select(User).where(User.active.is_(True)))).scalars()
        return {user.email.lower(): user for user in users}

    # Providers ------------------------------------------------------------------------

    async def _providers(self, sheet: Sheet) -> None:
        count = self.report.counts[sheet.kind.name]
        users = await self._users()
        localities = {
            _fold(name): name
            for name in (await self.session.execute(select(Locality.name))).scalars()
        }
        contracted = {
            cqc.lower()
            for cqc in (await self.session.execute(select(Location.cqc_location_id))).scalars()
        }
        first_row: dict[str, tuple[int, dict[str, Any]]] = {}
        new: list[tuple[Cells, str, str, records.NewProvider]] = []
        for row in sheet.table.rows:
            errors: list[str] = []
            cells = Cells(sheet, row, errors)
            values = cells.values()
            name = values.get("name", "")
            cqc = values.get("cqc_provider_id", "")
            repeats = [first_row[ref] for ref in (_fold(name), cqc.lower()) if ref in first_row]
            if repeats and not cells.bad and all(seen == values for _, seen in repeats):
                # The same row again, cell for cell: read once, as a person would.
                self.report.notes.append(
                    f"{sheet.label} row {row.number} repeats row {repeats[0][0]}: read once"
                )
                count.matched += 1
                continue
            for label, ref in (("name", _fold(name)), ("cqc_provider_id", cqc.lower())):
                if ref and ref in first_row:
                    cells.problem(
                        label,
                        f"{row.text(label)!r} is listed twice, with other details "
                        f"(first on row {first_row[ref][0]})",
                    )
                elif ref and not cells.bad:
                    first_row[ref] = (row.number, values)
            existing = self.by_cqc.get(cqc.lower()) if cqc else None
            if existing is None and not cqc:
                found = self.by_name.get(_fold(name), [])
                existing = found[0] if len(found) == 1 else None
            if existing is not None and not cells.bad:
                count.matched += 1
                self._alias(existing, name, cqc)
                continue
            officer_id = self._officer(cells, users, values.get("contract_officer"))
            chosen = []
            for locality in values.get("localities", []):
                if _fold(locality) in localities:
                    chosen.append(localities[_fold(locality)])
                else:
                    cells.problem(
                        "localities", f"{locality!r} is not on the council's list of localities"
                    )
            locations = values.get("cqc_location_ids", [])
            for location in locations:
                if location.lower() in contracted:
                    cells.problem(
                        "cqc_location_ids", f"CQC location {location} is already contracted"
                    )
                contracted.add(location.lower())
            fields: dict[str, Any] = {
                name: values[name]
                for name in (
                    "name",
                    "contract_type",
                    "partner_role",
                    "weekly_hours",
                    "people_supported",
                )
                if name in values
            }
            if cqc:
                fields["cqc_provider_id"] = cqc
            data = self._validate(
                cells,
                schemas.ProviderIn,
                {**fields, "localities": chosen, "contract_officer_id": officer_id},
            )
            location_inputs = [
                self._validate(
                    cells, schemas.LocationIn, {"cqc_location_id": location}, "cqc_location_ids"
                )
                for location in locations
            ]
            if cells.bad or data is None:
                self._refuse(count, errors, name, cqc)
                continue
            new.append((cells, name, cqc, records.NewProvider(data, _present(location_inputs))))
        answers = await records.create_providers(self.session, [n for *_, n in new], self.ctx)
        for (cells, name, cqc, _), answer in zip(new, answers, strict=True):
            if isinstance(answer, DomainError):
                self._service_problem(cells, answer)
                self._refuse(count, cells.errors, name, cqc)
                continue
            assert answer.id is not None
            count.new += 1
            self.touched.add(answer.id)
            self._know(answer.id, answer.name, answer.cqc_provider_id, answer.contract_officer_id)

    def _alias(self, provider_id: int, name: str, cqc: str) -> None:
        """A row that matched a provider: its name and CQC id now find that provider."""
        if name and provider_id not in self.by_name.get(_fold(name), []):
            self.by_name.setdefault(_fold(name), []).append(provider_id)
        if cqc:
            self.by_cqc.setdefault(cqc.lower(), provider_id)

    def _refuse(self, count: Any, errors: list[str], name: str, cqc: str) -> None:
        count.errors += 1
        self.report.errors += errors
        self.refused.update(ref for ref in (_fold(name), cqc.lower()) if ref)

    def _officer(self, cells: Cells, users: dict[str, User], email: str | None) -> int | None:
        if email is None:
            return None
        user = users.get(email)
        if user is None or user.role not in CONTRACT_OFFICER_ROLES:
            cells.problem(
                "contract_officer", f"no active officer or manager has the email {email!r}"
            )
            return None
        return user.id

    # Records ---------------------------------------------------------------------------

    def _provider_of(self, cells: Cells) -> int | None:
        """The row's provider, by CQC provider id or by exact name."""
        cqc = cells.row.text("cqc_provider_id")
        name = cells.row.text("provider")
        if cqc:
            if cqc.lower() in self.by_cqc:
                return self.by_cqc[cqc.lower()]
            field_, ref, shown = "cqc_provider_id", cqc.lower(), cqc
        elif name:
            found = self.by_name.get(_fold(name), [])
            if len(found) == 1:
                return found[0]
            if len(found) > 1:
                cells.problem(
                    "provider", f"{name!r} names more than one provider: give its CQC provider ID"
                )
                return None
            field_, ref, shown = "provider", _fold(name), name
        else:
            cells.problem("provider", "is empty")
            return None
        if ref in self.refused:
            cells.problem(
                field_, f"{shown!r} is not imported: its row on the providers sheet has errors"
            )
        else:
            cells.problem(
                field_, f"{shown!r} is not a provider on the providers sheet or in carewatch"
            )
        return None

    async def _records(self, sheet: Sheet, build: Build) -> None:
        """Check each row, then store the sheet's new records in one batch of the write
        path (records.write_many), and the closing of those that closed in a second."""
        count = self.report.counts[sheet.kind.name]
        model = _MODELS[sheet.kind.name]
        held = await _held_keys(self.session, sheet.kind, model, set(self.names))
        if sheet.kind is VISITS:
            self.users = await self._users()
        rows: list[tuple[Cells, Written]] = []
        for row in sheet.table.rows:
            cells = Cells(sheet, row, [])
            provider_id = self._provider_of(cells)
            values = cells.values()
            if cells.bad or provider_id is None:
                count.errors += 1
                self.report.errors += cells.errors
                continue
            record_key = (provider_id, *_KEYS[sheet.kind.name](values))
            if record_key in held:
                count.matched += 1
                continue
            written = build(cells, provider_id, values)
            if written is None or cells.bad:
                count.errors += 1
                self.report.errors += cells.errors
                continue
            held.add(record_key)
            rows.append((cells, written))
        answers = await records.write_many(self.session, [w.new for _, w in rows], self.ctx)
        closes: list[tuple[Cells, records.Batched]] = []
        for (cells, written), answer in zip(rows, answers, strict=True):
            if isinstance(answer, DomainError):
                self._service_problem(cells, answer)
            elif written.close is not None:
                closes.append((cells, replace(written.close, record_id=answer)))
        closed = await records.write_many(self.session, [close for _, close in closes], self.ctx)
        for (cells, _), answer in zip(closes, closed, strict=True):
            if isinstance(answer, DomainError):
                self._service_problem(cells, answer)
        for cells, written in rows:
            if cells.bad:
                count.errors += 1
                self.report.errors += cells.errors
            else:
                count.new += 1
                self.touched.add(written.new.provider_id)

    def _on(self, day: date) -> datetime:
        """The instant a record of `day` is dated: noon that day in the council's time
        zone, so that it is that day on every page."""
        return datetime.combine(day, time(12), tzinfo=self.clock.zone).astimezone(UTC)

    def _visit(self, cells: Cells, provider_id: int, values: dict[str, Any]) -> Written | None:
        officer_id = self.officer_of.get(provider_id)
        if "officer" in values:
            user = self.users.get(values["officer"])
            if user is None:
                cells.problem("officer", f"no active user has the email {values['officer']!r}")
                return None
            officer_id = user.id
        data: schemas.VisitIn | None = self._validate(
            cells,
            schemas.VisitIn,
            {
                **_pick(
                    values, "visited_on", "kind", "purpose", "outcome", "notes", "follow_up_actions"
                ),
                "officer_id": officer_id,
            },
        )
        if data is None:
            return None
        return Written(records.Batched(provider_id, data, self._on(data.visited_on)))

    def _safeguarding(
        self, cells: Cells, provider_id: int, values: dict[str, Any]
    ) -> Written | None:
        status = values.get("status") or _inferred_status(values)
        closing = status == SafeguardingStatus.closed
        if closing and "closed_on" not in values:
            cells.problem("closed_on", "is empty: give the day it closed")
        if status == SafeguardingStatus.enquiry and "enquiry_started_on" not in values:
            cells.problem("enquiry_started_on", "is empty: give the day the enquiry began")
        if not closing:
            for name, what in (
                ("outcome", "an outcome"),
                ("risk_outcome", "a risk outcome"),
                ("closed_on", "a closing date"),
            ):
                if name in values:
                    cells.problem(name, f"only a closed safeguarding has {what}")
        start = "enquiry" if "enquiry_started_on" in values else "open"
        data: schemas.SafeguardingIn | None = self._validate(
            cells,
            schemas.SafeguardingIn,
            {
                **_pick(
                    values,
                    "raised_on",
                    "category",
                    "reference",
                    "summary",
                    "whole_service",
                    "enquiry_started_on",
                ),
                "status": start if closing else status,
            },
        )
        closed: schemas.SafeguardingUpdate | None = (
            self._validate(
                cells,
                schemas.SafeguardingUpdate,
                {"status": "closed", **_pick(values, "outcome", "risk_outcome", "closed_on")},
            )
            if closing
            else None
        )
        if data is None or cells.bad:
            return None
        return self._recorded_then_closed(provider_id, data, data.raised_on, closed)

    def _recorded_then_closed(
        self,
        provider_id: int,
        data: schemas.Input,
        day: date,
        closed: schemas.SafeguardingUpdate | schemas.ConcernUpdate | None,
    ) -> Written:
        """A safeguarding or concern the tracker holds as closed: recorded on its day,
        then closed on the day it closed, as an officer would have done."""
        close = None
        if closed is not None and closed.closed_on is not None:
            close = records.Batched(provider_id, closed, self._on(closed.closed_on))
        return Written(records.Batched(provider_id, data, self._on(day)), close)

    def _complaint(self, cells: Cells, provider_id: int, values: dict[str, Any]) -> Written | None:
        status = values.get("status") or ("closed" if "closed_on" in values else "open")
        if status == CaseStatus.closed and "closed_on" not in values:
            cells.problem("closed_on", "is empty: give the day it closed")
        data: schemas.ComplaintIn | None = self._validate(
            cells,
            schemas.ComplaintIn,
            {**_pick(values, "received_on", "subject", "upheld", "closed_on"), "status": status},
        )
        if data is None or cells.bad:
            return None
        return Written(records.Batched(provider_id, data, self._on(data.received_on)))

    def _compliment(self, cells: Cells, provider_id: int, values: dict[str, Any]) -> Written | None:
        data: schemas.ComplimentIn | None = self._validate(
            cells, schemas.ComplimentIn, _pick(values, "received_on", "summary")
        )
        if data is None:
            return None
        return Written(records.Batched(provider_id, data, self._on(data.received_on)))

    def _financial_check(
        self, cells: Cells, provider_id: int, values: dict[str, Any]
    ) -> Written | None:
        data: schemas.FinancialAssuranceIn | None = self._validate(
            cells, schemas.FinancialAssuranceIn, values_without_provider(values)
        )
        if data is None:
            return None
        return Written(records.Batched(provider_id, data, self._on(data.assessed_on)))

    def _concern(self, cells: Cells, provider_id: int, values: dict[str, Any]) -> Written | None:
        status = values.get("status") or (
            "closed" if "closed_on" in values or "outcome" in values else "open"
        )
        closing = status == CaseStatus.closed
        if closing and "closed_on" not in values:
            cells.problem("closed_on", "is empty: give the day it was resolved")
        if closing and "outcome" not in values:
            cells.problem("outcome", "is empty: say how it was resolved")
        if not closing and "closed_on" in values:
            cells.problem("closed_on", "only a resolved concern has a date resolved")
        data: schemas.ConcernIn | None = self._validate(
            cells,
            schemas.ConcernIn,
            _pick(values, "raised_on", "description", "raised_by", "whole_service"),
        )
        resolved: schemas.ConcernUpdate | None = (
            self._validate(
                cells,
                schemas.ConcernUpdate,
                {"status": "closed", **_pick(values, "outcome", "closed_on")},
            )
            if closing
            else None
        )
        if data is None or cells.bad:
            return None
        return self._recorded_then_closed(provider_id, data, data.raised_on, resolved)

    # Validation messages --------------------------------------------------------------

    def _column(self, cells: Cells, name: str) -> str | None:
        """The column a schema's or service's field stands for, on this sheet."""
        column = _COLUMN_OF.get(name, name)
        kind_fields = {c.field for c in cells.sheet.kind.columns}
        return column if column in kind_fields else None

    def _validate(
        self, cells: Cells, schema: type[BaseModel], data: dict[str, Any], column: str | None = None
    ) -> Any:
        try:
            return schema.model_validate(data)
        except ValidationError as error:
            for problem in error.errors():
                name = str(problem["loc"][0]) if problem["loc"] else ""
                message = _CELL_PROBLEMS.get(
                    problem["type"], problem["msg"].removeprefix("Value error, ")
                )
                if problem["type"] == "string_pattern_mismatch" and name.startswith("cqc_"):
                    message = (
                        f"{problem['input']!r} is not a CQC ID (1- and digits, e.g. 1-101234567)"
                    )
                target = column or self._column(cells, name)
                if target is None:
                    cells.errors.append(f"{cells.sheet.label} row {cells.row.number}: {message}")
                    cells.bad = True
                else:
                    cells.problem(target, message)
            return None

    def _service_problem(self, cells: Cells, error: DomainError) -> None:
        column = self._column(cells, error.field.split(".")[0])
        if column is None:
            cells.errors.append(f"{cells.sheet.label} row {cells.row.number}: {error.problem}")
            cells.bad = True
        else:
            cells.problem(column, error.problem)

    # The standing the import leaves ----------------------------------------------------

    async def _rules_and_summary(self) -> None:
        """The rules, once per provider the import touched, judged today; then one
        summary for the managers (none when the import added nothing and moved no one)."""
        if not self.touched:
            return
        escalations = await apply_rules(
            self.session,
            policy=self.ctx.policy,
            actor=self.ctx.actor,
            now=self.clock.now(),
            today=self.clock.today(),
            provider_ids=sorted(self.touched),
            trigger=trigger_of("import.completed", {}),
        )
        for provider_id, escalation in sorted(escalations.items()):
            if escalation.summary() is None:
                continue
            self.report.moves.append(
                Move(
                    provider_id,
                    self.names.get(provider_id, f"provider {provider_id}"),
                    escalation.from_level.value,
                    escalation.to_level.value,
                    [reason["description"] for reason in escalation.reasons],
                    escalation.placements_suspended,
                )
            )
        await append_event(
            self.session,
            type="import.completed",
            provider_id=None,
            actor=self.summary_actor,
            at=self.clock.now(),
            data={
                "file": self.report.file,
                "kinds": [
                    {"kind": name, "label": c.label, "new": c.new, "matched": c.matched}
                    for name, c in self.report.counts.items()
                ],
                "moved": [
                    {
                        "provider_id": m.provider_id,
                        "provider": m.provider,
                        "from": m.from_level,
                        "to": m.to_level,
                        "reasons": m.reasons,
                        "placements_suspended": m.placements_suspended,
                    }
                    for m in self.report.moves
                ],
            },
        )


def _present(items: list[Any]) -> list[Any]:
    return [item for item in items if item is not None]


def _pick(values: dict[str, Any], *names: str) -> dict[str, Any]:
    return {name: values[name] for name in names if name in values}


def values_without_provider(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if k not in ("provider", "cqc_provider_id")}


def _inferred_status(values: dict[str, Any]) -> str:
    """A safeguarding's status from the dates given, when the tracker has no status."""
    if "closed_on" in values or "outcome" in values:
        return SafeguardingStatus.closed
    return SafeguardingStatus.enquiry if "enquiry_started_on" in values else SafeguardingStatus.open


# Each kind's table, and the stable key that recognises a record already held: the
# fields that say what it was, not those that change as it goes on (status, outcome).
_MODELS: dict[str, type[SQLModel]] = {
    VISITS.name: Visit,
    SAFEGUARDINGS.name: Safeguarding,
    COMPLAINTS.name: Complaint,
    COMPLIMENTS.name: Compliment,
    FINANCIAL_CHECKS.name: FinancialAssurance,
    CONCERNS.name: Concern,
}
_KEY_FIELDS: dict[str, tuple[str, ...]] = {
    VISITS.name: ("visited_on", "kind", "purpose"),
    SAFEGUARDINGS.name: ("reference", "raised_on"),
    COMPLAINTS.name: ("received_on", "subject"),
    COMPLIMENTS.name: ("received_on", "summary"),
    FINANCIAL_CHECKS.name: ("assessed_on",),
    CONCERNS.name: ("raised_on", "description"),
}


def _key_part(value: Any) -> Hashable:
    part: Hashable = key(value) if isinstance(value, str) else value
    return part


def _key_of(fields: tuple[str, ...]) -> Callable[[dict[str, Any]], tuple[Hashable, ...]]:
    def make(values: dict[str, Any]) -> tuple[Hashable, ...]:
        return tuple(_key_part(values.get(name)) for name in fields)

    return make


_KEYS = {name: _key_of(fields) for name, fields in _KEY_FIELDS.items()}


async def _held_keys(
    session: AsyncSession, kind: Kind, model: type[SQLModel], provider_ids: Iterable[int]
) -> set[tuple[Hashable, ...]]:
    """The keys of the records of `kind` carewatch holds for these providers (those
    marked entered in error aside: importing one again records it again)."""
    fields = _KEY_FIELDS[kind.name]
    table: Any = model
    columns = [table.provider_id, *(getattr(table, name) for name in fields)]
    ordered = sorted(provider_ids)
    held: set[tuple[Hashable, ...]] = set()
    for start in range(0, len(ordered), CHUNK):
        rows = await session.execute(
            select(*columns).where(
                table.provider_id.in_(ordered[start : start + CHUNK]),
                table.entered_in_error_at.is_(None),
            )
        )
        held.update((row[0], *(_key_part(value) for value in row[1:])) for row in rows)
    return held
