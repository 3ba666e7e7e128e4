"""Roster export to .xlsx (第6条 registration in bulk; issue 8 item 9) and the list of students an import
created (issue 8 item 8).

Written with openpyxl's write-only mode, row by row from a server-side cursor: memory stays constant for any
region size. The file is a working spreadsheet: a bold header row that stays frozen, an autofilter over the
table, column widths that fit the content, coded values and grades as words (一年级, 初一（七年级） …).

Masking (第24条: exported data is 脱敏; security.md: a 学籍号 contains the ID number and is a direct
identifier): identity numbers are always masked; a 学籍号 is written in full only for a student of a school
whose registrar is exporting (issue 8 item 1: a school registrar sees its own students' 学籍号), masked for
everyone else. Text that a spreadsheet would execute (``=``, ``+``, ``-``, ``@`` at the start) is written as
plain text, never as a formula.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from xueji.core.fieldcrypto import decrypt_value
from xueji.core.masking import mask_id_number, mask_student_number
from xueji.core.spreadsheets import row_cells
from xueji.schools.grades import grade_label
from xueji.students import enums
from xueji.students.models import Person
from xueji.students.validation import choice_label

#: Excel's last row (1 048 576) minus the header: no roster may be longer than one sheet.
EXCEL_MAX_ROWS = 1_048_575


@dataclass(frozen=True)
class RosterColumn:
    """One column a roster may carry: the key the form posts, the header, the value path on ``Enrollment``,
    the column width in characters, whether it is ticked by default, and how the value is shown."""

    key: str
    header: str | Promise
    field: str
    width: int
    default: bool = False
    show: str = "text"  # text | student_number | id_number | grade | date | datetime | choice
    choices: Any = None


ROSTER_COLUMNS: tuple[RosterColumn, ...] = (
    RosterColumn("student_number", _("学籍号"), "person__student_number", 22, True, "student_number"),
    RosterColumn("name", _("姓名"), "person__name", 12, True),
    RosterColumn("gender", _("性别"), "person__gender", 6, True, "choice", enums.Gender),
    RosterColumn("birth_date", _("出生日期"), "person__birth_date", 12, True, "date"),
    RosterColumn("id_type", _("身份证件类型"), "person__id_type", 14, False, "choice", enums.IdDocumentType),
    RosterColumn("id_number", _("身份证件号（脱敏）"), "person__id_number", 22, False, "id_number"),
    RosterColumn("ethnicity", _("民族"), "person__ethnicity", 10, False, "choice", enums.Ethnicity),
    RosterColumn("school", _("学校"), "school__name", 28, True),
    RosterColumn("school_code", _("学校标识码"), "school__school_code", 13),
    RosterColumn("grade", _("年级"), "grade", 14, True, "grade"),
    RosterColumn("class_name", _("班级"), "class_name", 10, True),
    RosterColumn("class_number", _("班内学号"), "class_number", 10, True),
    RosterColumn("entry_ym", _("入学年月"), "entry_ym", 10),
    RosterColumn("study_mode", _("就读方式"), "study_mode", 10, False, "choice", enums.StudyMode),
    RosterColumn("status", _("学籍状态"), "status", 10, True, "choice", enums.StudentStatus),
    RosterColumn("registered_at", _("注册时间"), "registered_at", 18, False, "datetime"),
)
COLUMNS_BY_KEY = {c.key: c for c in ROSTER_COLUMNS}
DEFAULT_COLUMNS: tuple[str, ...] = tuple(c.key for c in ROSTER_COLUMNS if c.default)
#: What the list of students an import created shows (and its download): the batch is one school.
CREATED_COLUMNS: tuple[str, ...] = ("student_number", "name", "gender", "grade", "class_name", "status")


def roster_columns(keys: Iterable[str]) -> list[RosterColumn]:
    """The chosen columns in catalogue order (unknown keys are ignored; the form refuses them first)."""
    wanted = set(keys)
    return [c for c in ROSTER_COLUMNS if c.key in wanted]


def value_paths(columns: Sequence[RosterColumn]) -> list[str]:
    """The ``values_list`` paths for ``columns``, then ``school_id`` (which decides 学籍号 masking), then
    ``person_id`` (the associated data of the person's encrypted columns)."""
    return [c.field for c in columns] + ["school_id", "person_id"]


def _encrypted_person_field(column: RosterColumn) -> Any:
    """The Person field behind ``column`` if it is stored encrypted (issue 11 §3), else None."""
    if not column.field.startswith("person__"):
        return None
    field = Person._meta.get_field(column.field.removeprefix("person__"))
    return field if getattr(field, "encrypted", False) else None


def _local(value: datetime) -> datetime:
    return timezone.localtime(value).replace(tzinfo=None)


def cell_value(column: RosterColumn, value: Any, *, full_number: bool) -> Any:
    """One value as the roster shows it."""
    if value is None:
        return None
    show = column.show
    if show == "student_number":
        return value if full_number else mask_student_number(value)
    if show == "id_number":
        return mask_id_number(value) if value else ""
    if show == "grade":
        return grade_label(value)
    if show == "choice":
        return choice_label(column.choices, value)
    if show == "datetime" and isinstance(value, datetime):
        return _local(value)
    if show == "date" and isinstance(value, date):
        return value
    return value


def row_values(
    columns: Sequence[RosterColumn], row: Sequence[Any], full_number_schools: Collection[int]
) -> list[Any]:
    """A database row (``value_paths`` order) as the spreadsheet's cells."""
    full = row[-2] in full_number_schools
    person_id = row[-1]
    out = []
    for c, v in zip(columns, row, strict=False):
        encrypted = _encrypted_person_field(c)
        out.append(
            cell_value(c, decrypt_value(encrypted, person_id, v) if encrypted else v, full_number=full)
        )
    return out


def _column_letter(index: int) -> str:
    from openpyxl.utils import get_column_letter  # noqa: PLC0415 - openpyxl (~0.2 s) loaded only when a file is written

    return get_column_letter(index + 1)


def new_workbook() -> Any:
    """An empty write-only workbook (sheets are added by :func:`add_table`)."""
    from openpyxl import Workbook  # noqa: PLC0415 - openpyxl (~0.2 s) loaded only when a file is written

    return Workbook(write_only=True)


def add_table(
    wb: Any,
    *,
    title: str,
    headers: Sequence[str | Promise],
    widths: Sequence[int],
    rows: Iterable[Sequence[Any]],
    limit: int = EXCEL_MAX_ROWS,
    number_formats: dict[int, str] | None = None,
) -> int:
    """Add one sheet to the write-only workbook ``wb`` — frozen bold header, autofilter, column widths —
    streaming ``rows``; returns the number of data rows written (at most ``limit``)."""
    from openpyxl.cell import WriteOnlyCell  # noqa: PLC0415 - openpyxl loaded only when a file is written
    from openpyxl.styles import Font, PatternFill  # noqa: PLC0415 - openpyxl loaded only when a file is written

    ws = wb.create_sheet(title[:31])
    for index, width in enumerate(widths):
        ws.column_dimensions[_column_letter(index)].width = width
    ws.freeze_panes = "A2"  # sheet views precede the rows in the file: set before the first row
    bold = Font(bold=True)
    shade = PatternFill("solid", fgColor="FFF0F3F6")
    header: list[Any] = []
    for text in headers:
        cell = WriteOnlyCell(ws, value=str(text))
        cell.font = bold
        cell.fill = shade
        header.append(cell)
    ws.append(header)
    formats = number_formats or {}
    count = 0
    for values in rows:
        if count >= limit:
            break
        ws.append(row_cells(ws, values, formats))
        count += 1
    last = _column_letter(max(len(headers), 1) - 1)
    ws.auto_filter.ref = f"A1:{last}{count + 1}"
    return count


def write_table(target: Path, **table: Any) -> int:
    """A workbook of one :func:`add_table` sheet saved to ``target``; returns the number of data rows."""
    wb = new_workbook()
    count = add_table(wb, **table)
    wb.save(target)
    return count


def _formats(columns: Sequence[RosterColumn]) -> dict[int, str]:
    out: dict[int, str] = {}
    for index, column in enumerate(columns):
        if column.show == "date":
            out[index] = "yyyy-mm-dd"
        elif column.show == "datetime":
            out[index] = "yyyy-mm-dd hh:mm"
    return out


def write_roster(
    target: Path,
    rows: Iterable[Sequence[Any]],
    *,
    columns: Sequence[RosterColumn],
    full_number_schools: Collection[int] = frozenset(),
    title: str = "学生名册",
    limit: int = EXCEL_MAX_ROWS,
) -> int:
    """Write a roster workbook to ``target`` from rows in :func:`value_paths` order; returns the number of
    students written."""
    return write_table(
        Path(target),
        title=title,
        headers=[c.header for c in columns],
        widths=[c.width for c in columns],
        rows=(row_values(columns, row, full_number_schools) for row in rows),
        limit=limit,
        number_formats=_formats(columns),
    )
