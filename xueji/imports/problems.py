"""What a dry run found, in a form a registrar can work with (issue 8 item 8): the full problem list kept beside
the stored upload, a preview of the file's first rows, and the problems workbook.

- :class:`ProblemLog` — every problem of a dry run (the batch row keeps only the first
  :data:`~xueji.imports.services.MAX_STORED_ERRORS`), written as gzip'd JSON lines beside the stored upload.
  Like the upload and the validated rows (:mod:`xueji.imports.checked`) it may quote cell values, so it lives in
  the same private directory, is written 0600 and goes with the upload (deleted at commit, purged after the
  retention period). A trailer names the dry-run attempt: a log of an earlier attempt is never used.
- :func:`preview` — the first rows of the stored file as the importer read them, identity numbers and phone
  numbers masked (the page is also seen by department registrars), cells with a problem marked.
- :func:`write_problems_workbook` — sheet ``问题清单`` (行号, 列, 问题: one row per problem) and, for the school's
  own registrar, sheet ``原始数据（已标注）``: the uploaded sheet copied row by row (row numbers kept, so 第 N 行
  is row N) with every cell that has a problem filled red and carrying the problem as a comment. A file of more
  than :data:`COPY_ROWS` rows is not copied whole (a download must finish within a web request): the sheet
  ``有问题的行（已标注）`` then holds the header and the rows with problems, each after its row number. Streamed
  with openpyxl's write-only mode; at most :data:`MARK_LIMIT` problems are marked in the copy (memory stays
  bounded), every problem is listed on the first sheet.
"""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, TextIO

from django.utils.translation import gettext as _

from xueji.core.errors import ApplicationError
from xueji.core.masking import mask_id_number, mask_phone
from xueji.core.spreadsheets import FORMULA_START, safe_cell

from . import readers
from .export import EXCEL_MAX_ROWS, add_table, new_workbook
from .template import normalise_header

SUFFIX = ".problems.jsonl.gz"
PREVIEW_ROWS = 10
#: Problems marked in the annotated copy of the upload (the problem sheet lists every one). openpyxl keeps each
#: cell comment in memory until the file is saved (measured: 20 000 comments ≈ 370 MB, 5.5 s), so a web request
#: marks at most this many.
MARK_LIMIT = 5_000
#: Files up to this many data rows are copied whole; longer ones keep only the rows with problems.
COPY_ROWS = 20_000

#: Columns the preview shows when the file has them (the whole template has 40-odd columns).
PREVIEW_HEADERS = (
    "姓名",
    "性别",
    "出生日期",
    "身份证件类型",
    "身份证件号",
    "年级",
    "班级",
    "入学年月",
    "家庭成员1姓名",
    "家庭成员1联系电话",
)


def problems_path(stored: Path) -> Path:
    return stored.with_name(stored.name + SUFFIX)


class ProblemLog:
    """Appends a dry run's problems as it finds them; :meth:`finish` seals the log for ``attempt``."""

    def __init__(self, stored: Path) -> None:
        self.path = problems_path(stored)
        self.count = 0
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        self._raw = os.fdopen(fd, "wb")
        # Kept open on purpose (SIM115): the log stays open across the dry run; finish() or discard() closes it.
        self._out: TextIO | None = gzip.open(self._raw, "wt", encoding="utf-8", compresslevel=1)  # type: ignore[assignment]  # noqa: SIM115

    def add(self, row: int, column: str, code: str, message: str) -> None:
        if self._out is None:
            return
        self._out.write(json.dumps([row, column, code, message], ensure_ascii=False))
        self._out.write("\n")
        self.count += 1

    def _close(self) -> None:
        if self._out is not None:
            self._out.close()
            self._raw.close()
            self._out = None

    def finish(self, attempt: int) -> None:
        if self._out is not None:
            self._out.write(json.dumps({"end": self.count, "attempt": attempt}))
            self._out.write("\n")
        self._close()

    def discard(self) -> None:
        self._close()
        self.path.unlink(missing_ok=True)


def logged_problems(stored: Path, *, attempt: int) -> Iterator[dict[str, Any]] | None:
    """Every problem of the dry run ``attempt`` in the order found, or ``None`` when its log is missing,
    incomplete or of another attempt (callers then fall back to the problems stored on the batch)."""
    path = problems_path(stored)
    try:
        with gzip.open(path, "rt", encoding="utf-8") as f:
            last = ""
            for line in f:
                last = line
        trailer = json.loads(last) if last else None
    except (OSError, EOFError, ValueError):
        return None
    if not isinstance(trailer, dict) or trailer.get("attempt") != attempt:
        return None

    def items() -> Iterator[dict[str, Any]]:
        with gzip.open(path, "rt", encoding="utf-8") as f:
            for line in f:
                item = json.loads(line)
                if isinstance(item, dict):
                    return
                row, column, code, message = item
                yield {"row": row, "column": column, "code": code, "message": message}

    return items()


# ------------------------------------------------------------------------------------------ preview
@dataclass
class PreviewCell:
    label: str
    value: str
    problem: str = ""


@dataclass
class PreviewRow:
    number: int
    cells: list[PreviewCell]
    problems: int = 0


@dataclass
class Preview:
    headers: list[str]
    rows: list[PreviewRow] = field(default_factory=list)


def _shown(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return f"{value:%Y-%m-%d %H:%M}"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _masker(header: str) -> Callable[[str], str] | None:
    if header.endswith("身份证件号"):
        return mask_id_number
    if header.endswith("联系电话"):
        return mask_phone
    return None


def preview(stored: Path, problems: Iterable[dict[str, Any]], *, limit: int = PREVIEW_ROWS) -> Preview | None:
    """The first ``limit`` data rows of the stored upload in the preview's columns, or ``None`` when the file
    is gone or cannot be read as a table (a file-level problem: the problem list says why). ``problems`` are
    the batch's stored problems (``{row, column, message}``): the cells they name are marked."""
    if not stored.exists():
        return None
    try:
        sheet = readers.sniff(stored)
        head = readers.head_rows(sheet, limit + 1)
    except (ApplicationError, OSError):
        return None
    if not head:
        return None
    _, header = head[0]
    positions: list[tuple[int, str]] = []
    wanted = {normalise_header(h): h for h in PREVIEW_HEADERS}
    for index, raw in enumerate(header):
        label = wanted.get(normalise_header(raw))
        if label is not None:
            positions.append((index, label))
    positions.sort(key=lambda p: PREVIEW_HEADERS.index(p[1]))
    by_row: dict[int, dict[str, list[str]]] = {}
    rows_wanted = {number for number, _ in head[1:]}
    for item in problems:
        if item.get("row") in rows_wanted:
            by_row.setdefault(item["row"], {}).setdefault(item.get("column", ""), []).append(item["message"])
    out = Preview(headers=[label for _, label in positions])
    for number, values in head[1:]:
        found = by_row.get(number, {})
        cells = []
        for index, label in positions:
            text = _shown(values[index] if index < len(values) else None)
            mask = _masker(label)
            if mask is not None and text:
                text = mask(text)
            cells.append(PreviewCell(label, text, "；".join(found.get(label, []))))
        out.rows.append(PreviewRow(number, cells, sum(len(v) for v in found.values())))
    return out


# ------------------------------------------------------------------------------------------ workbook
def write_problems_workbook(
    target: Path,
    *,
    problems: Callable[[], Iterable[dict[str, Any]]],
    total: int,
    stored: Path | None,
    rows: int = 0,
) -> int:
    """Write the problems workbook (see the module docstring) to ``target``. ``problems`` opens the list anew
    for each pass; ``total`` is the exact count (a note row says when the list holds fewer); ``stored`` is the
    upload to copy (``None``: no copy — the viewer may not have it, or it was deleted) and ``rows`` its number
    of data rows. Returns the number of problems listed."""
    wb = new_workbook()
    listed = add_table(
        wb,
        title=_("问题清单"),
        headers=[_("行号"), _("列"), _("问题")],
        widths=[10, 24, 90],
        rows=_problem_rows(problems(), total=total),
    )
    if stored is not None and stored.exists():
        _add_marked_copy(wb, stored, problems(), whole=rows <= COPY_ROWS)
    wb.save(target)
    return listed


def _problem_rows(problems: Iterable[dict[str, Any]], *, total: int) -> Iterator[list[Any]]:
    whole = _("整个文件")
    listed = 0
    for item in problems:
        listed += 1
        yield [item["row"] or whole, item.get("column") or "—", item["message"]]
    if total > listed:
        yield ["", "", _("另有 %(n)d 个问题未列出：请先修改以上问题后重新上传校验。") % {"n": total - listed}]


def _marks(problems: Iterable[dict[str, Any]]) -> dict[int, dict[str, list[str]]]:
    marks: dict[int, dict[str, list[str]]] = {}
    kept = 0
    for item in problems:
        if not item["row"]:
            continue
        if kept >= MARK_LIMIT:
            break
        marks.setdefault(item["row"], {}).setdefault(item.get("column") or "", []).append(item["message"])
        kept += 1
    return marks


def _add_marked_copy(wb: Any, stored: Path, problems: Iterable[dict[str, Any]], *, whole: bool) -> None:
    """The uploaded sheet, each cell with a problem filled red with the problem as comment: ``whole`` — every
    row, row numbers kept; else the header and the rows with problems, each after its row number."""
    from openpyxl.cell import WriteOnlyCell  # noqa: PLC0415 - openpyxl loaded only when a file is written
    from openpyxl.comments import Comment  # noqa: PLC0415 - openpyxl loaded only when a file is written
    from openpyxl.styles import Font, PatternFill  # noqa: PLC0415 - openpyxl loaded only when a file is written

    marks = _marks(problems)
    red = PatternFill("solid", fgColor="FFFFC7CE")
    dark_red = Font(color="FF9C0006")
    bold = Font(bold=True)
    ws = wb.create_sheet((_("原始数据（已标注）") if whole else _("有问题的行（已标注）"))[:31])
    ws.freeze_panes = "A2"
    lead: list[Any] = []
    sheet = readers.sniff(stored)
    rows = readers.iter_rows(sheet)
    written = 0
    columns: dict[str, int] = {}
    try:
        for number, values in rows:
            if number > EXCEL_MAX_ROWS + 1:
                break
            while whole and written < number - 1:  # keep the file's row numbers: 第 N 行 is row N here too
                ws.append([])
                written += 1
            found = marks.get(number, {})
            if not columns:
                columns = {normalise_header(v): i for i, v in enumerate(values) if v not in (None, "")}
                if not whole:
                    lead = [_header_cell(ws, _("原行号"), bold)]
                ws.append([*lead, *(_header_cell(ws, v, bold) for v in values)])
                written += 1
                continue
            if not whole and not found:
                continue
            plain = [_cell_text(v) for v in values]
            bad: dict[int, list[str]] = {}
            for label, messages in found.items():
                index = columns.get(normalise_header(label))
                if index is not None:
                    bad.setdefault(index, []).extend(messages)
            if bad:
                plain += [None] * (max(bad) + 1 - len(plain))
            out: list[Any] = []
            for index, value in enumerate(plain):
                if index not in bad:
                    out.append(safe_cell(ws, value))
                    continue
                cell = WriteOnlyCell(ws, value=value)
                if isinstance(value, str) and value.startswith(FORMULA_START):
                    cell.data_type = "s"
                cell.fill = red
                cell.font = dark_red
                cell.comment = Comment("\n".join(bad[index]), "xueji")
                out.append(cell)
            ws.append(out if whole else [number, *out])
            written += 1
    finally:
        rows.close()


def _cell_text(value: Any) -> Any:
    """A value read from the upload, as it can be written back (an Excel error value as its text)."""
    if isinstance(value, readers.CellError):
        return str(value)
    return value


def _header_cell(ws: Any, value: Any, font: Any) -> Any:
    from openpyxl.cell import WriteOnlyCell  # noqa: PLC0415 - openpyxl loaded only when a file is written

    cell = WriteOnlyCell(ws, value=_cell_text(value))
    if isinstance(cell.value, str) and cell.value.startswith(FORMULA_START):
        cell.data_type = "s"
    cell.font = font
    return cell
