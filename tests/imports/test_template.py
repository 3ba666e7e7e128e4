"""The downloadable import template (第6条): the national columns, required marks, drop-downs of the code tables."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook

from xueji.core.errors import ApplicationError
from xueji.imports import template
from xueji.students import enums
from xueji.students.fields import ENROLLMENT_FIELDS, GUARDIAN_FIELDS, PERSON_FIELDS


@pytest.fixture(scope="module")
def workbook():
    return load_workbook(io.BytesIO(template.build_template()))


def test_template_has_one_column_per_field_and_two_guardian_blocks(workbook):
    ws = workbook["学生信息"]
    headers = [c.value for c in ws[1]]
    expected = [s.label for s in PERSON_FIELDS] + [s.label for s in ENROLLMENT_FIELDS] + ["年龄核实原因"]
    expected += [f"家庭成员{n}{s.label}" for n in (1, 2) for s in GUARDIAN_FIELDS]
    assert headers == expected
    assert len(headers) == 35 + 8 + 1 + 24
    assert workbook.sheetnames == ["学生信息", "代码表", "填写说明"]
    assert workbook["代码表"].sheet_state == "hidden"


def test_required_columns_are_red_with_a_star_comment_and_optional_ones_are_not(workbook):
    ws = workbook["学生信息"]
    by_header = {c.value: c for c in ws[1]}
    assert by_header["姓名"].font.color.rgb == "FFC00000"
    assert by_header["姓名"].comment.text.startswith("★ 必填")
    assert by_header["家庭成员1姓名"].comment.text.startswith("★ 必填")
    assert by_header["曾用名"].font.color.rgb != "FFC00000"
    assert by_header["曾用名"].comment.text.startswith("选填")
    assert by_header["家庭成员2姓名"].comment.text.startswith("选填")


def test_code_columns_have_drop_downs_of_code_label_values(workbook):
    ws = workbook["学生信息"]
    codes = workbook["代码表"]
    headers = [c.value for c in ws[1]]
    letter = {h: ws.cell(row=1, column=i + 1).column_letter for i, h in enumerate(headers)}
    lists = {}
    for dv in ws.data_validations.dataValidation:
        for cell_range in str(dv.sqref).split():
            lists[cell_range.split(":")[0].rstrip("0123456789")] = dv.formula1
    # 民族 (person and both guardian blocks) → the 民族 column of 代码表 with all 58 codes as "code-label".
    ref = lists[letter["民族"]]
    assert lists[letter["家庭成员1民族"]] == lists[letter["家庭成员2民族"]] == ref
    sheet, cells = ref.split("!")
    assert sheet == "'代码表'"
    col = cells.split(":")[0].strip("$").rstrip("0123456789").strip("$")
    values = [c.value for c in codes[col][1:] if c.value is not None]
    assert values == [f"{v}-{label}" for v, label in enums.Ethnicity.choices]
    assert values[0] == "01-汉族"
    assert lists[letter["是否独生子女"]] == '"是,否"'
    coded = [c for c in template.COLUMNS if c.spec.kind == "code"]
    assert all(letter[c.header] in lists for c in coded)
    assert letter["姓名"] not in lists


def test_guide_sheet_explains_every_column(workbook):
    guide = workbook["填写说明"]
    rows = list(guide.iter_rows(min_row=3, values_only=True))
    assert [r[0] for r in rows] == [c.header for c in template.COLUMNS]
    assert {r[0]: r[1] for r in rows}["姓名"] == "必填"
    assert "YYYY-MM-DD" in {r[0]: r[2] for r in rows}["出生日期"]


def test_headers_match_in_any_order_with_full_width_and_spaces():
    headers = [c.header for c in template.COLUMNS][::-1]
    headers[headers.index("国籍/地区")] = "国籍／地区"
    headers[headers.index("姓名")] = " 姓 名 ★"
    mapped = template.match_headers([*headers, None, ""])
    assert len(mapped.columns) == len(template.COLUMNS)
    assert mapped.label_at(headers.index("国籍／地区")) == "国籍/地区"


def test_only_required_columns_are_needed():
    required = [c.header for c in template.COLUMNS if c.required]
    assert "家庭成员2姓名" not in required and "曾用名" not in required
    assert len(template.match_headers(required).columns) == len(required)


def test_unknown_duplicated_and_missing_columns_are_one_file_error():
    headers = [c.header for c in template.COLUMNS if c.header != "性别"] + ["备注", "姓名"]
    with pytest.raises(ApplicationError) as exc:
        template.match_headers(headers)
    assert exc.value.code == "wrong_columns"
    assert exc.value.fields == {"missing": "性别", "unknown": "备注", "duplicated": "姓名"}
    assert "缺少必需的列：性别" in exc.value.message
