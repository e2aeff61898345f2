"""Reading the council's own spreadsheets (a CSV, or a sheet of a workbook) as a person
would: the heading row found by name below any title rows, headings in any case and
order with their common variants, blank rows and stray spaces ignored, dates typed day
first as in England, choices in any capitals. Shared by the tracker import
(app/imports) and the market's returns (app/market/imports.py)."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from itertools import chain, islice
from pathlib import Path
from typing import IO, Any

Cell = str | int | float | bool | date | datetime | None

MONTHS = {
    name: number
    for number in range(1, 13)
    for name in (
        date(2000, number, 1).strftime("%B").lower(),
        date(2000, number, 1).strftime("%b").lower(),
    )
}
MONTHS["sept"] = 9
_DAY_FIRST = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$")
_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_WORDS = re.compile(r"^(?:(\d{1,2})(?:st|nd|rd|th)?\s+)?([a-z]+)\.?,?\s+(\d{4})$")
_MONTH_ONLY = re.compile(r"^(?:(\d{4})-(\d{1,2})|(\d{1,2})[/.-](\d{4}))$")


def parse_day(text: str) -> date:
    """A date typed as 1/12/2026, 01-12-2026, 2026-12-01 or 1 Dec 2026 (day first)."""
    value = text.strip().lower()
    try:
        if found := _ISO.match(value):
            return date(int(found[1]), int(found[2]), int(found[3]))
        if found := _DAY_FIRST.match(value):
            return date(int(found[3]), int(found[2]), int(found[1]))
        if (found := _WORDS.match(value)) and found[1] and found[2] in MONTHS:
            return date(int(found[3]), MONTHS[found[2]], int(found[1]))
    except ValueError:
        pass
    raise ValueError(f"{text.strip()!r} is not a date (day first, e.g. 1/12/2026 or 1 Dec 2026)")


def parse_month(text: str) -> date:
    """A month typed as 2026-10, 10/2026, Oct 2026 or October 2026, or any day of it."""
    value = text.strip().lower()
    found = _MONTH_ONLY.match(value)
    if found:
        year, month = (found[1], found[2]) if found[1] else (found[4], found[3])
        if 1 <= int(month) <= 12:
            return date(int(year), int(month), 1)
    words = _WORDS.match(value)
    if words and not words[1] and words[2] in MONTHS:
        return date(int(words[3]), MONTHS[words[2]], 1)
    try:
        return parse_day(text).replace(day=1)
    except ValueError:
        raise ValueError(f"{text!r} is not a month (e.g. 2026-10 or October 2026)") from None


def cell_date(value: Cell) -> date:
    """A cell as a date: a real date cell, or its text read day first (ValueError)."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return parse_day(cell_text(value))


def key(text: str) -> str:
    """A heading or a choice as compared: lower case, runs of anything else one '_'
    ("Provider name " and "PROVIDER-NAME" are both provider_name)."""
    return re.sub(r"[^a-z0-9]+", "_", text.strip().lower()).strip("_")


def cell_text(value: Cell) -> str:
    """A cell as the text a person sees (a whole number without its '.0')."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime) and value.time() == datetime.min.time():
        return value.date().isoformat()
    return str(value).strip()


def is_blank(cells: Iterable[Cell]) -> bool:
    return all(cell_text(cell) == "" for cell in cells)


@dataclass
class Row:
    """A non-blank row: its number as the spreadsheet shows it, and its cells by field."""

    number: int
    cells: dict[str, Cell]

    def text(self, field: str) -> str:
        return cell_text(self.cells.get(field))


@dataclass
class Table:
    """A sheet's rows under its heading row. `headings` names each field's column as
    the file wrote it (for messages); `unread` lists the headings matching no field."""

    name: str
    heading_row: int
    headings: dict[str, str]
    unread: list[str]
    rows: list[Row]


# How far down a title, notes or a logo may push the heading row.
HEADING_SEARCH_ROWS = 20


def _heading_index(
    cells: Sequence[Cell], variants: Mapping[str, str]
) -> tuple[dict[str, int], dict[str, str], list[str]]:
    index: dict[str, int] = {}
    headings: dict[str, str] = {}
    unread: list[str] = []
    for position, cell in enumerate(cells):
        heading = cell_text(cell)
        field = variants.get(key(heading))
        if field is not None and field not in index:
            index[field] = position
            headings[field] = heading
        elif heading:
            unread.append(heading)
    return index, headings, unread


def find_table(
    name: str,
    rows: Iterable[Sequence[Cell]],
    columns: Mapping[str, Sequence[str]],
) -> Table | None:
    """The table in `rows`: its heading row is the one among the first
    HEADING_SEARCH_ROWS that names the most fields (a merged title row above it names
    none). `columns` maps each field to the heading keys it may go by. None when no row
    names a field."""
    variants = {variant: field for field, names in columns.items() for variant in names}
    stream = iter(rows)
    top = list(islice(stream, HEADING_SEARCH_ROWS))
    found = [(_heading_index(cells, variants), number) for number, cells in enumerate(top, 1)]
    ((index, headings, unread), heading_row) = max(
        found, key=lambda item: (len(item[0][0]), -item[1]), default=(({}, {}, []), 0)
    )
    if not index:
        return None
    table = Table(name, heading_row, headings, unread, [])
    for number, cells in enumerate(chain(top[heading_row:], stream), start=heading_row + 1):
        if is_blank(cells):
            continue
        values: dict[str, Cell] = {}
        for field, position in index.items():
            value = cells[position] if position < len(cells) else None
            values[field] = value.strip() if isinstance(value, str) else value
        table.rows.append(Row(number, values))
    return table


def csv_rows(source: Path | IO[bytes]) -> list[list[Cell]]:
    """A CSV file's rows (UTF-8, with or without its byte-order mark)."""
    raw = source.read_bytes() if isinstance(source, Path) else source.read()
    text = raw.decode("utf-8-sig")
    return [list(row) for row in csv.reader(io.StringIO(text, newline=""))]


def workbook_sheets(source: Path | IO[bytes]) -> dict[str, Iterator[tuple[Any, ...]]]:
    """A workbook's sheets by name, each an iterator of its rows' values, read with
    openpyxl's read-only mode (rows are streamed, not held). The dimensions a file
    claims are reset: some tools write them wrong, and rows would be lost."""
    from openpyxl import load_workbook

    book = load_workbook(source, read_only=True, data_only=True)
    sheets: dict[str, Iterator[tuple[Any, ...]]] = {}
    for sheet in book.worksheets:
        sheet.reset_dimensions()
        sheets[sheet.title] = sheet.iter_rows(values_only=True)
    return sheets
