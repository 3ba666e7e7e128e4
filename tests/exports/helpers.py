"""Helpers of the export tests: approve and build, read the file, scan it, and an independent check that no
hidden aggregate cell can be recomputed from the shown ones (written apart from the product's code)."""

from __future__ import annotations

import html
import io
import re
import zipfile
from fractions import Fraction
from typing import Any

from openpyxl import load_workbook

from tests.exports.conftest import basis
from tests.factories.tasks import run_queued_tasks
from xueji.exports import services
from xueji.exports.models import ExportRequest

ID_RE = re.compile(r"(?<![0-9A-Za-z])(\d{17}[\dXx])(?![0-9A-Za-z])")
STUDENT_NUMBER_RE = re.compile(r"(?<![0-9A-Za-z])[GLJ]\d{17}[\dXx](?![0-9A-Za-z])")
PHONE_RE = re.compile(r"(?<![0-9A-Za-z])1[3-9]\d{9}(?![0-9A-Za-z])")
_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]


def valid_id(number: str) -> bool:
    """GB 11643 check digit (ISO 7064 MOD 11-2)."""
    total = sum(int(d) * w for d, w in zip(number[:17], _WEIGHTS, strict=True))
    return "10X98765432"[total % 11] == number[17].upper()


def request(actor: Any, unit: Any, **overrides: Any) -> ExportRequest:
    kwargs: dict[str, Any] = {"source": "roster", "unit_id": unit.pk, "fields": ["gender"], **basis()}
    kwargs.update(overrides)
    return services.export_request_create(actor=actor, **kwargs)


def approve_and_build(
    export: ExportRequest, approver: Any, **decision: Any
) -> tuple[ExportRequest, bytes | None]:
    """Approve, capture the pseudonym key (as the test's witness), run the queued build."""
    services.export_approve(actor=approver, export_id=export.pk, second_factor=True, **decision)
    key = ExportRequest.objects.get(pk=export.pk).pseudonym_key
    assert run_queued_tasks() == ["SUCCESSFUL"]
    export.refresh_from_db()
    return export, bytes(key) if key is not None else None


def download(export: ExportRequest) -> bytes:
    stream = services.export_download(actor=export.requested_by, export=export, second_factor=True)
    try:
        return stream.read()
    finally:
        stream.close()


def all_text(data: bytes) -> str:
    """Every XML part of the workbook as text (cells, shared strings, headers and footers, properties)."""
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return "\n".join(html.unescape(z.read(n).decode("utf-8", "replace")) for n in z.namelist())


def leaks(data: bytes, canaries: tuple[str, ...]) -> list[str]:
    text = all_text(data)
    found = [m for m in ID_RE.findall(text) if valid_id(m)]
    found += STUDENT_NUMBER_RE.findall(text)
    found += PHONE_RE.findall(text)
    found += [c for c in canaries if c in text]
    return found


def sheet_rows(data: bytes, index: int = 0) -> list[list[Any]]:
    wb = load_workbook(io.BytesIO(data), read_only=True)
    ws = wb.worksheets[index]
    return [list(r) for r in ws.iter_rows(values_only=True)]


def notes(data: bytes) -> dict[str, str]:
    wb = load_workbook(io.BytesIO(data))
    return {str(a): str(b) for a, b in wb["说明"].iter_rows(values_only=True)}


def determined(equations: list[tuple[list[str], str]], values: dict[str, int | None]) -> set[str]:
    """Hidden entries (value None) fixed by the equations (sum of members = total): Gauss–Jordan elimination of
    the system over the hidden entries; an entry is determined when it alone remains in a reduced row."""
    hidden = sorted(k for k, v in values.items() if v is None)
    col = {k: i for i, k in enumerate(hidden)}
    matrix: list[list[Fraction]] = []
    for members, total in equations:
        row = [Fraction(0)] * (len(hidden) + 1)
        const = Fraction(0)
        for m in members:
            if values[m] is None:
                row[col[m]] += 1
            else:
                const -= values[m]  # type: ignore[operator]
        if values[total] is None:
            row[col[total]] -= 1
        else:
            const += values[total]  # type: ignore[operator]
        row[-1] = const
        matrix.append(row)
    pivot_row = 0
    pivots: list[int] = []
    for c in range(len(hidden)):
        found = next((r for r in range(pivot_row, len(matrix)) if matrix[r][c] != 0), None)
        if found is None:
            continue
        matrix[pivot_row], matrix[found] = matrix[found], matrix[pivot_row]
        lead = matrix[pivot_row][c]
        matrix[pivot_row] = [x / lead for x in matrix[pivot_row]]
        for r in range(len(matrix)):
            if r != pivot_row and matrix[r][c] != 0:
                factor = matrix[r][c]
                matrix[r] = [a - factor * b for a, b in zip(matrix[r], matrix[pivot_row], strict=True)]
        pivots.append(c)
        pivot_row += 1
    out = set()
    for r, c in enumerate(pivots):
        if sum(1 for x in matrix[r][:-1] if x != 0) == 1:
            out.add(hidden[c])
    return out


def table_equations(rows: list[list[Any]], multi: bool) -> tuple[list[tuple[list[str], str]], dict[str, Any]]:
    """The additive equations of an exported counts table (header row, data rows, last row 合计), read from the
    file alone: with parts, column 1 is each row's total and columns 2… the parts."""
    body, total_row = rows[1:-1], rows[-1]
    values: dict[str, Any] = {}

    def val(v: Any) -> int | None:
        return None if isinstance(v, str) else int(v)

    equations: list[tuple[list[str], str]] = []
    if not multi:
        for i, r in enumerate(body):
            values[f"c{i}"] = val(r[1])
        values["t"] = val(total_row[1])
        equations.append(([f"c{i}" for i in range(len(body))], "t"))
        return equations, values
    n_parts = len(rows[0]) - 2
    for i, r in enumerate(body):
        values[f"r{i}"] = val(r[1])
        for j in range(n_parts):
            values[f"c{i}_{j}"] = val(r[2 + j])
        equations.append(([f"c{i}_{j}" for j in range(n_parts)], f"r{i}"))
    values["t"] = val(total_row[1])
    for j in range(n_parts):
        values[f"k{j}"] = val(total_row[2 + j])
        equations.append(([f"c{i}_{j}" for i in range(len(body))], f"k{j}"))
    equations.append(([f"r{i}" for i in range(len(body))], "t"))
    equations.append(([f"k{j}" for j in range(n_parts)], "t"))
    return equations, values
