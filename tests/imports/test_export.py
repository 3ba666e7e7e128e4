"""Roster workbook (issue 8 item 9): chosen columns, masked identifiers, grades as words, spreadsheet-safe text,
frozen header, autofilter, column widths."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from openpyxl import load_workbook

from xueji.imports import export

ROW = (
    "G440105201803140017",
    "=cmd|' /C calc'!A0",
    "1",
    date(2018, 3, 14),
    "1",
    "440105201803140017",
    "01",
    "海珠区第一小学",
    "2144000001",
    7,
    "1班",
    "3",
    "202609",
    "1",
    "01",
    datetime(2026, 9, 1, 1, 30, tzinfo=ZoneInfo("UTC")),
    4401,  # school_id
    None,  # person_id (the associated data of encrypted values; these are plaintext already)
)
ALL = export.roster_columns(c.key for c in export.ROSTER_COLUMNS)


def _write(tmp_path, columns=ALL, full=frozenset(), rows=(ROW,)):
    target = tmp_path / "r.xlsx"
    count = export.write_roster(target, list(rows), columns=columns, full_number_schools=full)
    return count, load_workbook(target).active


def test_values_are_labelled_masked_and_grades_are_words(tmp_path):
    count, ws = _write(tmp_path)
    assert count == 1
    assert [c.value for c in ws[1]] == [str(c.header) for c in ALL]
    values = [c.value for c in ws[2]]
    assert values == [
        "G440105********0017",  # the one masking rule (xueji/core/masking.py)
        "=cmd|' /C calc'!A0",
        "男",
        datetime(2018, 3, 14),
        "居民身份证",
        "440***********0017",
        "汉族",
        "海珠区第一小学",
        "2144000001",
        "初一（七年级）",
        "1班",
        "3",
        "202609",
        "走读",
        "在读",
        datetime(2026, 9, 1, 9, 30),
    ]
    assert ws["B2"].data_type == "s"  # a string, never a formula


def test_a_school_registrar_sees_the_full_number_of_their_own_school_only(tmp_path):
    columns = export.roster_columns(["student_number", "name"])
    other = ("G440105201803140025", "李四", 9999, None)
    _, ws = _write(tmp_path, columns, full=frozenset({4401}), rows=[(ROW[0], ROW[1], 4401, None), other])
    assert [ws["A2"].value, ws["A3"].value] == ["G440105201803140017", "G440105********0025"]


def test_the_sheet_is_a_working_table_frozen_header_autofilter_widths(tmp_path):
    columns = export.roster_columns(["name", "grade", "school", "student_number"])
    count, ws = _write(tmp_path, columns, rows=[(ROW[0], ROW[1], ROW[7], ROW[9], 4401, None)] * 3)
    assert count == 3
    assert [c.value for c in ws[1]] == [
        "学籍号",
        "姓名",
        "学校",
        "年级",
    ]  # catalogue order, whatever was asked
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref == "A1:D4"
    assert [ws.column_dimensions[x].width for x in "ABCD"] == [22, 12, 28, 14]
    assert all(c.font.bold for c in ws[1])


def test_an_empty_roster_still_has_its_header_and_filter(tmp_path):
    count, ws = _write(tmp_path, export.roster_columns(["name"]), rows=[])
    assert count == 0
    assert [c.value for c in ws[1]] == ["姓名"] and ws.auto_filter.ref == "A1:A1"


def test_the_writer_stops_at_its_limit(tmp_path):
    target = tmp_path / "r.xlsx"
    columns = export.roster_columns(["name"])
    rows = ((f"学生{i}", 1) for i in range(10))
    assert export.write_roster(target, rows, columns=columns, limit=4) == 4
    assert load_workbook(target).active.max_row == 5


def test_default_and_created_columns_are_known_columns():
    assert set(export.DEFAULT_COLUMNS) <= set(export.COLUMNS_BY_KEY)
    assert set(export.CREATED_COLUMNS) <= set(export.COLUMNS_BY_KEY)
    assert "id_number" not in export.DEFAULT_COLUMNS  # identity numbers only when asked for (and then masked)
