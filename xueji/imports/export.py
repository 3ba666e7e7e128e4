"""Roster export to .xlsx (第6条 registration in bulk: the school's list of active students).

Written with openpyxl's write-only mode, row by row from a server-side cursor: memory stays constant for any
school size. Identity numbers and 学籍号 are masked (security.md: a 学籍号 contains the ID number and is a direct
identifier; exported data is 脱敏, 第24条). Text that a spreadsheet would execute (``=``, ``+``, ``-``, ``@``
at the start) is written as plain text, never as a formula.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from django.utils import timezone

from xueji.core.masking import mask_id_number, mask_student_number
from xueji.students import enums
from xueji.students.validation import choice_label

HEADERS = (
    "学籍号",
    "姓名",
    "性别",
    "出生日期",
    "身份证件类型",
    "身份证件号",
    "民族",
    "年级",
    "班级",
    "班内学号",
    "入学年月",
    "就读方式",
    "学籍状态",
    "注册时间",
)
_FORMULA_START = ("=", "+", "-", "@")


def roster_values(row: tuple[Any, ...]) -> list[Any]:
    (
        number,
        name,
        gender,
        birth,
        id_type,
        id_number,
        ethnicity,
        grade,
        class_name,
        class_number,
        entry_ym,
        study_mode,
        status,
        registered_at,
    ) = row
    return [
        mask_student_number(number),
        name,
        choice_label(enums.Gender, gender),
        birth,
        choice_label(enums.IdDocumentType, id_type),
        mask_id_number(id_number) if id_number else "",
        choice_label(enums.Ethnicity, ethnicity),
        grade,
        class_name,
        class_number,
        entry_ym,
        choice_label(enums.StudyMode, study_mode),
        choice_label(enums.StudentStatus, status),
        timezone.localtime(registered_at).replace(tzinfo=None) if registered_at else None,
    ]


def write_roster(target: Path, rows: Iterable[tuple[Any, ...]], *, title: str = "学生名册") -> int:
    """Write the roster workbook to ``target``; returns the number of students written."""
    from openpyxl import Workbook  # noqa: PLC0415 - openpyxl (~0.2 s) loaded only when a roster is written
    from openpyxl.cell import WriteOnlyCell  # noqa: PLC0415 - openpyxl loaded only when a roster is written
    from openpyxl.styles import Font  # noqa: PLC0415 - openpyxl loaded only when a roster is written

    wb = Workbook(write_only=True)
    ws = wb.create_sheet(title[:31])
    bold = Font(bold=True)
    header = []
    for text in HEADERS:
        cell = WriteOnlyCell(ws, value=text)
        cell.font = bold
        header.append(cell)
    ws.append(header)
    count = 0
    for row in rows:
        values = roster_values(row)
        out: list[Any] = []
        for value in values:
            if isinstance(value, str) and value.startswith(_FORMULA_START):
                cell = WriteOnlyCell(ws, value=value)
                cell.data_type = "s"  # never a formula
                out.append(cell)
            else:
                out.append(value)
        ws.append(out)
        count += 1
    wb.save(target)
    return count
