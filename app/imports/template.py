"""The blank tracker: a workbook with a sheet per kind, each with the headings the
import reads, and a Notes sheet saying what each column holds and the other headings
it may go by (`make import-template`, and the download on the import page)."""

from __future__ import annotations

from io import BytesIO

from openpyxl import Workbook
from openpyxl.styles import Font

from app.imports.columns import KINDS
from app.imports.reading import NOTES_SHEET


def blank_workbook() -> bytes:
    book = Workbook()
    first = book.active
    if first is not None:
        book.remove(first)
    bold = Font(bold=True)
    for kind in KINDS:
        sheet = book.create_sheet(kind.sheet)
        sheet.append([column.heading for column in kind.columns])
        for cell in sheet[1]:
            cell.font = bold
        for index, column in enumerate(kind.columns):
            letter = sheet.cell(row=1, column=index + 1).column_letter
            sheet.column_dimensions[letter].width = max(14, len(column.heading) + 4)
        sheet.freeze_panes = "A2"
    notes = book.create_sheet(NOTES_SHEET)
    notes.append(["Sheet", "Column", "Required", "What it holds", "Also read under"])
    for cell in notes[1]:
        cell.font = bold
    notes.append(
        [
            "(every sheet)",
            "",
            "",
            "Headings in any case and order, below any title rows; dates as real dates or "
            "typed day first (1/12/2026, 01-12-2026, 2026-12-01, 1 Dec 2026); choices in "
            "any capitals. Records name their provider by name or CQC provider ID. A row "
            "carewatch already holds is matched, not added again.",
            "",
        ]
    )
    for kind in KINDS:
        for column in kind.columns:
            notes.append(
                [
                    kind.sheet,
                    column.heading,
                    "yes" if column.required else "",
                    column.note,
                    ", ".join(column.variants),
                ]
            )
    for letter, width in zip("ABCDE", (18, 26, 10, 80, 50), strict=True):
        notes.column_dimensions[letter].width = width
    out = BytesIO()
    book.save(out)
    return out.getvalue()
