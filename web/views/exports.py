"""The spreadsheet answers the pages share: CSV (UTF-8 with a BOM, for Excel) and Excel workbooks.
Formula-like text is always written as text; money is a number cell shown as ``#,##0.00``."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from decimal import Decimal

from flask import Response

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def csv_cell(value):
    """A text cell that a spreadsheet would read as a formula is written as text (a leading ')."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    if isinstance(value, Decimal):
        return f"{value:.2f}"  # a plain number: no thousands separator, no unit
    return value


def csv_response(head: list[str], tables: list[list[list]], disposition: str) -> Response:
    """One CSV file: the header row, then the rows of each table in turn."""
    out = io.StringIO()
    out.write("\ufeff")  # a BOM so that Excel reads the Chinese as UTF-8
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(head)
    for rows in tables:
        writer.writerows([[csv_cell(v) for v in row] for row in rows])
    return Response(out.getvalue().encode("utf-8"), content_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": disposition})


@dataclass
class Sheet:
    """One worksheet: caption lines (the first a large bold title), the bold header row, the rows."""

    title: str
    head: list[str]
    rows: list[list]
    caption: tuple[list, ...] = ()
    money_columns: tuple[int, ...] | None = None  # the columns whose Decimals are money; None: every column
    widths: tuple[int, ...] | None = None  # the columns' widths; None: from the content
    freeze: bool = True  # keep the header row in view


def xlsx_response(sheets: list[Sheet], disposition: str) -> Response:
    """An Excel workbook, one worksheet per ``Sheet``."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    for index, sheet in enumerate(sheets):
        ws = wb.active if index == 0 else wb.create_sheet()
        ws.title = sheet.title
        for line in sheet.caption:
            _append(ws, line, sheet)
        if sheet.caption:
            ws["A1"].font = Font(bold=True, size=14)
        _append(ws, sheet.head, sheet)
        for cell in ws[ws.max_row]:
            cell.font = Font(bold=True)
        header_row = ws.max_row
        for row in sheet.rows:
            _append(ws, row, sheet)
        if sheet.widths is not None:
            for col, width in enumerate(sheet.widths, start=1):
                ws.column_dimensions[get_column_letter(col)].width = width
        else:
            for col, name in enumerate(sheet.head, start=1):
                width = max([len(str(name))] + [len(str(r[col - 1])) for r in sheet.rows[:200]]) * 2 + 2
                ws.column_dimensions[get_column_letter(col)].width = min(60, width)
        if sheet.freeze:
            ws.freeze_panes = f"A{header_row + 1}"
    buffer = io.BytesIO()
    wb.save(buffer)
    return Response(buffer.getvalue(), mimetype=XLSX_MIMETYPE, headers={"Content-Disposition": disposition})


def _append(ws, row: list, sheet: Sheet) -> None:
    ws.append(row)
    for index, cell in enumerate(ws[ws.max_row]):
        if isinstance(cell.value, str) and cell.value.startswith(FORMULA_START):
            cell.data_type = "s"  # text, never a formula (an objection may say =cmd|...)
        elif isinstance(cell.value, Decimal) and (sheet.money_columns is None or index in sheet.money_columns):
            cell.number_format = "#,##0.00"  # a number cell that sums, shown with two places
