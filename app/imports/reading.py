"""Reading a tracker file (a workbook, or a CSV of one kind) into its sheets' rows, and
each row's cells into the values its columns hold, naming every problem by sheet, row,
column and what is wrong ("Safeguardings row 14, Raised: '31/02/2025' is not a
date")."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import IO, Any

from app.imports.columns import (
    KINDS,
    PROVIDERS,
    SYNONYMS,
    Column,
    Kind,
    Value,
    choice_words,
    kind_for,
)
from app.sheets import Row, Table, cell_date, cell_text, csv_rows, find_table, key, workbook_sheets

# The one sheet a tracker may hold that is not read: the template's own notes.
NOTES_SHEET = "Notes"
_LIST_SEPARATORS = re.compile(r"[,;\n]+")
_YES = {"yes", "y", "true", "1", "x"}
_NO = {"no", "n", "false", "0"}


class TrackerUnreadable(Exception):
    """The file is not a workbook or a CSV file carewatch can read."""


@dataclass
class Sheet:
    """One kind's rows, under the name the file gave the sheet (messages use it)."""

    kind: Kind
    label: str
    table: Table


@dataclass
class Tracker:
    sheets: list[Sheet] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def sheet(self, kind: Kind) -> Sheet | None:
        return next((s for s in self.sheets if s.kind is kind), None)


def read_tracker(filename: str, source: Path | IO[bytes], kind: str | None = None) -> Tracker:
    """The file's sheets of each kind. A workbook's sheets are told apart by their names
    ("Safeguardings", "Safeguarding concerns", ...); a CSV file's kind is `kind`, or its
    file name (visits.csv)."""
    tracker = Tracker()
    suffix = Path(filename).suffix.lower()
    if suffix == ".csv":
        chosen = kind_for(kind or Path(filename).stem)
        if chosen is None:
            names = ", ".join(k.name for k in KINDS)
            tracker.errors.append(
                f"{filename}: cannot tell which records it holds; name the file after "
                f"them (e.g. visits.csv) or give the kind ({names})"
            )
            return tracker
        try:
            lines = csv_rows(source)
        except UnicodeDecodeError:
            raise TrackerUnreadable(f"{filename} is not a UTF-8 CSV file") from None
        _add_sheet(tracker, chosen, chosen.sheet, lines)
        return tracker
    if suffix not in (".xlsx", ".xlsm"):
        raise TrackerUnreadable(f"{filename}: choose an .xlsx workbook or a .csv file")
    try:
        sheets = workbook_sheets(source)
    except Exception as error:  # openpyxl raises many kinds for a file that is not a workbook
        raise TrackerUnreadable(f"{filename} could not be read as a workbook: {error}") from None
    for label, rows in sheets.items():
        found = kind_for(label)
        if found is None:
            if key(label) != key(NOTES_SHEET):
                tracker.notes.append(f"Sheet '{label}' was not read: its name is not a kind")
            continue
        if tracker.sheet(found) is not None:
            tracker.errors.append(f"{label}: a second sheet of {found.sheet.lower()}")
            continue
        _add_sheet(tracker, found, label, rows)
    if not tracker.sheets and not tracker.errors:
        wanted = ", ".join(k.sheet for k in KINDS)
        tracker.errors.append(f"{filename}: no sheet named for a kind of record ({wanted})")
    return tracker


def _add_sheet(tracker: Tracker, kind: Kind, label: str, rows: Any) -> None:
    table = find_table(label, rows, kind.lookup())
    if table is None:
        tracker.errors.append(
            f"{label}: no row of headings found (the template's are "
            + ", ".join(c.heading for c in kind.columns)
            + ")"
        )
        return
    missing = [
        f"{label}: no {column.heading} column"
        for column in kind.columns
        if column.required and column.field not in table.headings
    ]
    if kind is not PROVIDERS and not {"provider", "cqc_provider_id"} & set(table.headings):
        missing.append(f"{label}: no Provider column (or CQC provider ID)")
    if table.unread:
        tracker.notes.append(f"{label}: columns not read: " + ", ".join(table.unread))
    tracker.errors += missing
    if not missing:  # else every row would repeat the sheet's error
        tracker.sheets.append(Sheet(kind, label, table))


class Cells:
    """One row's cells as its columns' values; each bad cell adds an error naming it."""

    def __init__(self, sheet: Sheet, row: Row, errors: list[str]) -> None:
        self.sheet = sheet
        self.row = row
        self.errors = errors
        self.bad = False

    def where(self, field: str) -> str:
        heading = self.sheet.table.headings.get(field) or self.sheet.kind.column(field).heading
        return f"{self.sheet.label} row {self.row.number}, {heading}"

    def problem(self, field: str, problem: str) -> None:
        self.errors.append(f"{self.where(field)}: {problem}")
        self.bad = True

    def value(self, field: str) -> Any:
        """The cell's value as its column holds it; None when empty (or bad)."""
        column = self.sheet.kind.column(field)
        raw = self.row.cells.get(field)
        text = cell_text(raw)
        if text == "":
            if column.required:
                self.problem(field, "is empty")
            return None
        try:
            return _read(column, raw, text)
        except ValueError as error:
            self.problem(field, str(error))
            return None

    def values(self) -> dict[str, Any]:
        """Every column's value, the empty ones left out."""
        read = {c.field: self.value(c.field) for c in self.sheet.kind.columns}
        return {name: value for name, value in read.items() if value is not None}


def _read(column: Column, raw: Any, text: str) -> Any:
    if column.value == Value.date:
        return cell_date(raw)
    if column.value in (Value.number, Value.whole_number):
        number = raw if isinstance(raw, int | float) and not isinstance(raw, bool) else None
        try:
            number = float(text.replace(",", "")) if number is None else float(number)
        except ValueError:
            raise ValueError(f"{text!r} is not a number") from None
        if column.value == Value.whole_number:
            if not number.is_integer():
                raise ValueError(f"{text!r} is not a whole number")
            return int(number)
        return number
    if column.value == Value.flag:
        word = key(text)
        if word in _YES:
            return True
        if word in _NO:
            return False
        raise ValueError(f"{text!r} is not Yes or No")
    if column.value == Value.choice:
        assert column.choices is not None
        return read_choice(column.choices, text)
    if column.value == Value.email:
        if "@" not in text or " " in text:
            raise ValueError(f"{text!r} is not an email address")
        return text.lower()
    if column.value == Value.list:
        return [item.strip() for item in _LIST_SEPARATORS.split(text) if item.strip()]
    return text


def read_choice(choices: type[StrEnum], text: str) -> str:
    """A choice written in any capitals, with spaces or hyphens, or a common synonym."""
    word = key(text)
    values = {member.value for member in choices}
    if word in values:
        return word
    synonym = SYNONYMS.get(choices, {}).get(word)
    if synonym is not None:
        return synonym
    raise ValueError(f"{text!r} is not one of {choice_words(choices)}")
