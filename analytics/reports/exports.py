"""Every report as CSV (UTF-8 with BOM, so Excel opens Chinese correctly) or .xlsx (a sheet per table)."""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from django.http import HttpResponse
from django.utils import timezone
from openpyxl import Workbook

from analytics.reports.view_model import Report, Table

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORMATS = {"csv", "xlsx"}


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return float(value)
    return value


def _csv_cell(value: Any) -> str:
    text = "" if value is None else str(value)
    # Neutralise spreadsheet formulas (CSV injection) in names coming from users.
    if text and text[0] in "=+-@" and not re.fullmatch(r"-?\d+(\.\d+)?", text):
        text = "'" + text
    return text


def _filename(report: Report, ext: str) -> str:
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    return f"{report.title}-{stamp}.{ext}"


def _attachment(response: HttpResponse, name: str) -> HttpResponse:
    ascii_name = re.sub(r"[^A-Za-z0-9._-]", "_", name)
    response["Content-Disposition"] = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"
    return response


def to_csv(report: Report, filters: list[tuple[str, str]]) -> HttpResponse:
    buf = io.StringIO()
    buf.write("\ufeff")
    writer = csv.writer(buf)
    writer.writerow([report.title])
    for label, value in filters:
        writer.writerow([label, value])
    for table in report.tables:
        writer.writerow([])
        writer.writerow([table.title])
        writer.writerow([c.label for c in table.columns])
        for row in table.rows:
            writer.writerow([_csv_cell(v) for v in row])
    response = HttpResponse(buf.getvalue(), content_type="text/csv; charset=utf-8")
    return _attachment(response, _filename(report, "csv"))


def _sheet_title(table: Table, used: set[str]) -> str:
    title = re.sub(r"[\[\]\*\?/\\:]", "", table.title)[:28] or table.key
    base, n = title, 2
    while title in used:
        title = f"{base[:26]}{n}"
        n += 1
    used.add(title)
    return title


def to_xlsx(report: Report, filters: list[tuple[str, str]]) -> HttpResponse:
    wb = Workbook()
    info = wb.active
    info.title = "说明"
    info.append([report.title])
    for label, value in filters:
        info.append([label, value])
    for note in report.notes:
        info.append([note])
    used = {"说明"}
    for table in report.tables:
        ws = wb.create_sheet(_sheet_title(table, used))
        ws.append([c.label for c in table.columns])
        for row in table.rows:
            ws.append([_cell(v) for v in row])
        for idx, col in enumerate(table.columns, start=1):
            if col.kind == "money":
                for (cell,) in ws.iter_rows(min_row=2, min_col=idx, max_col=idx):
                    cell.number_format = '"¥"#,##0.00'
            ws.column_dimensions[ws.cell(row=1, column=idx).column_letter].width = max(10, len(col.label) * 2 + 2)
    out = io.BytesIO()
    wb.save(out)
    response = HttpResponse(out.getvalue(), content_type=XLSX_TYPE)
    return _attachment(response, _filename(report, "xlsx"))
