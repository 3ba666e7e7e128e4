"""Roster export: masked identifiers, spreadsheet-safe text, constant-memory writer."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from openpyxl import load_workbook

from xueji.imports import export


def test_student_number_and_id_are_masked():
    assert (
        export.mask_student_number("G440105201803140017") == "G440105********0017"
    )  # the one masking rule (xueji/core/masking.py)
    assert export.mask_student_number("") == ""


def test_values_are_labelled_and_text_that_looks_like_a_formula_stays_text(tmp_path):
    when = datetime(2026, 9, 1, 1, 30, tzinfo=ZoneInfo("UTC"))
    row = (
        "G440105201803140017",
        "=cmd|' /C calc'!A0",
        "1",
        date(2018, 3, 14),
        "1",
        "440105201803140017",
        "01",
        1,
        "1班",
        "",
        "202609",
        "1",
        "01",
        when,
    )
    target = tmp_path / "r.xlsx"
    assert export.write_roster(target, [row]) == 1
    ws = load_workbook(target).active
    values = [c.value for c in ws[2]]
    assert values[:7] == [
        "G440105********0017",
        "=cmd|' /C calc'!A0",
        "男",
        datetime(2018, 3, 14),
        "居民身份证",
        "440***********0017",
        "汉族",
    ]
    assert ws["B2"].data_type == "s"  # a string, not a formula
    assert values[11:] == ["走读", "在读", datetime(2026, 9, 1, 9, 30)]
