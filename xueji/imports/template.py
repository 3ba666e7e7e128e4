"""The import file's columns and the downloadable .xlsx template (第6条: registration in bulk).

One column per field of the national basic-information set (:mod:`xueji.students.fields`): the person and
enrollment fields under their own labels, then two family-member blocks whose headers are the guardian labels
prefixed ``家庭成员1`` / ``家庭成员2``. The header text of every column is exactly the field label, so matching
an uploaded file needs no fuzzy logic: headers are compared after removing spaces and folding full-width
characters to half-width (NFKC); column order is free.

The template carries a hidden sheet ``代码表`` with every code table as ``code-label`` values, referenced by
the drop-down list validations of the coded columns, and a ``填写说明`` sheet explaining each column.
"""

from __future__ import annotations

import io
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from xueji.core.errors import ApplicationError
from xueji.students.fields import ENROLLMENT_FIELDS, GUARDIAN_FIELDS, MAX_GUARDIANS, PERSON_FIELDS, FieldSpec
from xueji.students.validation import AGE_CONFIRM_REASON, REASON_MAX

GUARDIAN_PREFIX = "家庭成员"
DATA_SHEET = "学生信息"
CODES_SHEET = "代码表"
GUIDE_SHEET = "填写说明"
TEMPLATE_FILE_NAME = "学籍批量导入模板.xlsx"
# Rows of the data sheet that carry the drop-down validations (Excel's own limit is 1 048 576).
VALIDATION_ROWS = 1_048_576


@dataclass(frozen=True)
class Column:
    """One column of the import file: ``target`` is ``person``, ``enrollment`` or ``guardian``."""

    header: str
    target: str
    spec: FieldSpec
    guardian: int = 0  # 0-based family-member block for target == "guardian"

    @property
    def required(self) -> bool:
        """Must the column be present in the file? Person and enrollment required fields, and the required
        fields of the first family-member block (第6条: students and their guardians come in one import)."""
        if self.target == "guardian":
            return self.guardian == 0 and self.spec.required
        return self.spec.required


#: Issue 8 item 4: the import's way to confirm an age outside the normal band for the grade (a file has no
#: checkbox): a reason here IS the confirmation (:func:`xueji.students.validation.check_grade_age`). Optional.
AGE_REASON_COLUMN = Column(
    "年龄核实原因",
    "enrollment",
    FieldSpec(
        AGE_CONFIRM_REASON,
        "年龄核实原因",
        "text",
        max_length=REASON_MAX,
        help="仅当学生年龄超出本省规则对该年级的正常范围时填写（如缓学、留级、跳级、插班）；填写即确认年龄与年级属实",
    ),
)


def _columns() -> tuple[Column, ...]:
    cols = [Column(s.label, "person", s) for s in PERSON_FIELDS]
    cols += [Column(s.label, "enrollment", s) for s in ENROLLMENT_FIELDS]
    cols.append(AGE_REASON_COLUMN)
    for block in range(MAX_GUARDIANS):
        cols += [
            Column(f"{GUARDIAN_PREFIX}{block + 1}{s.label}", "guardian", s, block) for s in GUARDIAN_FIELDS
        ]
    return tuple(cols)


COLUMNS: tuple[Column, ...] = _columns()
_SPACES = re.compile(r"[\s\u3000]+")


def normalise_header(text: object) -> str:
    """Header text as compared: NFKC (full-width → half-width), no whitespace, no ★/* required marks."""
    if text is None:
        return ""
    value = unicodedata.normalize("NFKC", str(text))
    return _SPACES.sub("", value).strip("★*")


_BY_HEADER: dict[str, Column] = {normalise_header(c.header): c for c in COLUMNS}


@dataclass(frozen=True)
class HeaderMap:
    """Where each known column sits in the file: ``(file column index, Column)`` in file order."""

    columns: tuple[tuple[int, Column], ...]
    width: int

    def label_at(self, index: int) -> str:
        for i, col in self.columns:
            if i == index:
                return col.header
        return ""


def match_headers(headers: Sequence[object]) -> HeaderMap:
    """Match a file's header row to :data:`COLUMNS`.

    Raises ``wrong_columns`` naming every unknown, duplicated or missing required column (file-level: nothing
    is read further). Blank header cells are ignored (spreadsheets often carry empty formatted columns).
    """
    found: list[tuple[int, Column]] = []
    seen: dict[str, int] = {}
    unknown: list[str] = []
    duplicated: list[str] = []
    for index, raw in enumerate(headers):
        key = normalise_header(raw)
        if not key:
            continue
        col = _BY_HEADER.get(key)
        if col is None:
            unknown.append(str(raw).strip())
            continue
        if key in seen:
            duplicated.append(col.header)
            continue
        seen[key] = index
        found.append((index, col))
    missing = [c.header for c in COLUMNS if c.required and normalise_header(c.header) not in seen]
    if unknown or duplicated or missing:
        parts = []
        if missing:
            parts.append("缺少必需的列：" + "、".join(missing))
        if unknown:
            parts.append("无法识别的列：" + "、".join(unknown[:30]) + ("等" if len(unknown) > 30 else ""))
        if duplicated:
            parts.append("重复的列：" + "、".join(duplicated))
        fields = {}
        if missing:
            fields["missing"] = "、".join(missing)
        if unknown:
            fields["unknown"] = "、".join(unknown)
        if duplicated:
            fields["duplicated"] = "、".join(duplicated)
        raise ApplicationError(
            "wrong_columns",
            "文件的列与导入模板不符。" + "；".join(parts) + "。请下载最新模板并保持表头不变。",
            fields,
        )
    width = max(i for i, _ in found) + 1
    return HeaderMap(tuple(found), width)


def code_values(spec: FieldSpec) -> list[str]:
    """The drop-down values of a coded column: ``code-label`` (the importer accepts code, label or both)."""
    assert spec.choices is not None
    return [f"{value}-{label}" for value, label in spec.choices.choices]


def _column_letter(index: int) -> str:
    from openpyxl.utils import get_column_letter  # noqa: PLC0415 - openpyxl (~0.2 s) loaded only when a template is built

    return get_column_letter(index + 1)


def _describe(col: Column) -> str:
    spec = col.spec
    kind = {
        "text": f"文本，最多 {spec.max_length} 字",
        "date": "日期，格式 YYYY-MM-DD（如 2018-03-14）",
        "ym": "年月，格式 YYYYMM（如 202609）",
        "code": "从下拉列表选择（也可填代码或名称）",
        "bool": "填“是”或“否”",
        "region": "6位行政区划代码（如 440105）",
        "grade": "1–12，或年级名称（一年级、初一、高一 …）",
        "phone": "手机号11位或带区号的固定电话",
        "postal": "6位数字",
    }[spec.kind]
    return "；".join(p for p in (kind, spec.help) if p)


def build_template() -> bytes:
    """The import template as .xlsx bytes (small: no personal data, built in memory on each download)."""
    from openpyxl import Workbook  # noqa: PLC0415 - openpyxl (~0.2 s) loaded only when a template is built
    from openpyxl.comments import Comment  # noqa: PLC0415 - openpyxl loaded only when a template is built
    from openpyxl.styles import Alignment, Font, PatternFill  # noqa: PLC0415 - openpyxl loaded only when a template is built
    from openpyxl.worksheet.datavalidation import DataValidation  # noqa: PLC0415 - openpyxl loaded only when a template is built

    wb = Workbook()
    ws = wb.active
    ws.title = DATA_SHEET
    codes = wb.create_sheet(CODES_SHEET)
    guide = wb.create_sheet(GUIDE_SHEET)

    required_font = Font(bold=True, color="FFC00000")
    optional_font = Font(bold=True, color="FF1F2937")
    guardian_fill = PatternFill("solid", fgColor="FFEFF4FB")

    # 代码表: one column per code table (shared by every column using it).
    table_ranges: dict[str, str] = {}
    for col in COLUMNS:
        spec = col.spec
        if spec.kind != "code" or spec.choices is None:
            continue
        name = spec.choices.__name__
        if name in table_ranges:
            continue
        index = len(table_ranges)
        letter = _column_letter(index)
        values = code_values(spec)
        codes.cell(row=1, column=index + 1, value=spec.label)
        for row, value in enumerate(values, start=2):
            codes.cell(row=row, column=index + 1, value=value)
        table_ranges[name] = f"'{CODES_SHEET}'!${letter}$2:${letter}${len(values) + 1}"
    codes.sheet_state = "hidden"

    bool_validation = DataValidation(type="list", formula1='"是,否"', allow_blank=True)
    bool_validation.error = "请选择“是”或“否”"
    bool_validation.errorTitle = "输入有误"
    ws.add_data_validation(bool_validation)
    validations: dict[str, DataValidation] = {}
    for index, col in enumerate(COLUMNS):
        letter = _column_letter(index)
        cell = ws.cell(row=1, column=index + 1, value=col.header)
        cell.font = required_font if col.required else optional_font
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        if col.target == "guardian":
            cell.fill = guardian_fill
        note = ("★ 必填。" if col.required else "选填。") + _describe(col)
        cell.comment = Comment(note, "xueji")
        ws.column_dimensions[letter].width = max(10, min(30, len(col.header) * 2 + 4))
        # Text format everywhere: an 18-digit ID number typed into a General cell loses its last digits.
        ws.column_dimensions[letter].number_format = "@"
        sqref = f"{letter}2:{letter}{VALIDATION_ROWS}"
        spec = col.spec
        if spec.kind == "code" and spec.choices is not None:
            name = spec.choices.__name__
            dv = validations.get(name)
            if dv is None:
                dv = DataValidation(type="list", formula1=table_ranges[name], allow_blank=True)
                dv.error = f"请从下拉列表中选择{spec.label}"
                dv.errorTitle = "输入有误"
                dv.showErrorMessage = False  # code or label typed by hand is accepted by the importer
                validations[name] = dv
                ws.add_data_validation(dv)
            dv.add(sqref)
        elif spec.kind == "bool":
            bool_validation.add(sqref)
    ws.freeze_panes = "A2"
    ws.row_dimensions[1].height = 32

    guide.append(["列名", "是否必填", "填写要求"])
    for cell in guide[1]:
        cell.font = Font(bold=True)
    guide.append(
        [
            "说明",
            "",
            "每行一名学生及其家庭成员（最多两人，至少一名监护人）。第一行表头不要修改；"
            "列的顺序可以调整，选填列可以删除。红色表头为必填列。身份证件号请按文本填写。"
            "同一文件不会被重复导入；任一行有误时整个文件都不会导入。",
        ]
    )
    for col in COLUMNS:
        guide.append([col.header, "必填" if col.required else "选填", _describe(col)])
    guide.column_dimensions["A"].width = 24
    guide.column_dimensions["B"].width = 10
    guide.column_dimensions["C"].width = 80

    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


__all__ = [
    "COLUMNS",
    "TEMPLATE_FILE_NAME",
    "Column",
    "HeaderMap",
    "build_template",
    "code_values",
    "match_headers",
    "normalise_header",
]
