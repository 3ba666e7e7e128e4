"""Streaming readers: file type by content, encodings, Excel-saved workbooks, formulas, limits."""

from __future__ import annotations

import codecs
import zipfile
from datetime import date

import pytest

from tests.factories import imports as fi
from xueji.core.errors import ApplicationError
from xueji.imports import readers


def rows_of(path):
    return list(readers.iter_rows(readers.sniff(path)))


@pytest.mark.parametrize(
    ("encoding", "prefix", "expected"),
    [
        ("utf-8", b"", "utf-8"),
        ("utf-8-sig", codecs.BOM_UTF8, "utf-8-sig"),
        ("gb18030", b"", "gb18030"),
        ("utf-16", codecs.BOM_UTF16_LE, "utf-16"),
    ],
)
def test_csv_encodings_are_detected_from_the_bytes(tmp_path, encoding, prefix, expected):
    path = tmp_path / "students.txt"  # the name does not matter
    path.write_bytes("姓名,性别\n张三,男\n".encode(encoding))
    assert path.read_bytes().startswith(prefix)
    sheet = readers.sniff(path)
    assert (sheet.kind, sheet.encoding) == ("csv", expected)
    assert rows_of(path) == [(1, ["姓名", "性别"]), (2, ["张三", "男"])]


def test_tab_separated_text_is_read(tmp_path):
    path = tmp_path / "unicode.txt"
    path.write_bytes(codecs.BOM_UTF16_LE + "姓名\t性别\r\n张三\t男\r\n".encode("utf-16-le"))
    assert rows_of(path) == [(1, ["姓名", "性别"]), (2, ["张三", "男"])]


def test_xlsx_is_recognised_whatever_its_name(tmp_path):
    path = fi.write_xlsx(tmp_path / "data.csv", [{"姓名": "张三"}], headers=["姓名", "性别"])
    assert readers.sniff(path).kind == "xlsx"
    assert rows_of(path) == [(1, ["姓名", "性别"]), (2, ["张三"])]


def test_excel_saved_workbook_shared_strings_dates_numbers_booleans(tmp_path):
    table = [
        ["姓名", "出生日期", "年级", "是否", "空"],
        ["A&B <张>", date(2018, 3, 14), 3, True, None],
        [None, None, 2.5, False, None],
    ]
    path = fi.excel_like_xlsx(tmp_path / "excel.xlsx", table)
    assert rows_of(path) == [
        (1, ["姓名", "出生日期", "年级", "是否", "空"]),
        (2, ["A&B <张>", date(2018, 3, 14), 3, True]),
        (3, [None, None, 2.5, False]),
    ]


def test_error_values_are_marked(tmp_path):
    path = fi.excel_like_xlsx(tmp_path / "err.xlsx", [["姓名", "民族"], ["张三", readers.CellError("#N/A")]])
    assert rows_of(path) == [(1, ["姓名", "民族"]), (2, ["张三", readers.CellError("#N/A")])]


def test_cells_without_references_or_with_attributes_in_another_order(tmp_path):
    sheet = (
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
        '<row><c t="inlineStr"><is><t>姓名</t></is></c><c t="inlineStr"><is><t>性别</t></is></c></row>'
        '<row r="3"><c t="inlineStr" r="B3"><is><t>男</t></is></c><c s="0" t="str" r="D3"><v>x&amp;y</v></c></row>'
        "</sheetData></worksheet>"
    )
    path = fi.excel_like_xlsx(tmp_path / "odd.xlsx", [["x"]])
    with zipfile.ZipFile(path, "a") as zf:
        zf.writestr("xl/worksheets/sheet2.xml", sheet)
    replaced = tmp_path / "odd2.xlsx"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(replaced, "w") as dst:
        for info in src.infolist():
            if info.filename == "xl/worksheets/sheet1.xml":
                continue
            data = src.read(info)
            dst.writestr(
                "xl/worksheets/sheet1.xml" if info.filename.endswith("sheet2.xml") else info.filename, data
            )
    assert rows_of(replaced) == [(1, ["姓名", "性别"]), (3, [None, "男", None, "x&y"])]


def test_namespace_prefixed_workbook_is_read(tmp_path):
    path = fi.excel_like_xlsx(tmp_path / "sdk.xlsx", [["姓名"], ["张三"]], prefix="x:")
    assert rows_of(path) == [(1, ["姓名"]), (2, ["张三"])]


def test_large_shared_string_table_spills_to_disk_with_the_same_values(tmp_path, monkeypatch):
    table = [["姓名", "编号"], *([f"学生{i}", f"N{i:05d}"] for i in range(300))]
    path = fi.excel_like_xlsx(tmp_path / "many.xlsx", table)
    in_memory = rows_of(path)
    monkeypatch.setattr(readers, "SPILL_STRINGS", 50)
    assert rows_of(path) == in_memory
    assert in_memory[-1] == (301, ["学生299", "N00299"])


def test_prescan_counts_rows_and_finds_the_first_formula(tmp_path):
    table = [["a", "b"], ["1", "2"], ["3", "4"]]
    assert readers.prescan(readers.sniff(fi.excel_like_xlsx(tmp_path / "ok.xlsx", table))) == (2, None)
    with_formula = fi.excel_like_xlsx(tmp_path / "f.xlsx", table, formula_at=(2, 1))
    assert readers.prescan(readers.sniff(with_formula)) == (0, "B3")


def test_csv_row_count_for_progress(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text("h\n1\n2\n3", encoding="utf-8")
    assert readers.prescan(readers.sniff(path)) == (3, None)


@pytest.mark.parametrize(
    "content",
    [b"\x89PNG\r\n\x1a\n\x00\x00", b"%PDF-1.7\n", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1\x00", bytes(range(256))],
    ids=["png", "pdf", "xls", "binary"],
)
def test_non_spreadsheets_are_refused(tmp_path, content):
    path = tmp_path / "x.xlsx"
    path.write_bytes(content)
    with pytest.raises(ApplicationError) as exc:
        readers.sniff(path)
    assert exc.value.code == "not_a_spreadsheet"


def test_corrupt_zip_is_refused(tmp_path):
    path = tmp_path / "broken.xlsx"
    path.write_bytes(b"PK\x03\x04" + b"garbage" * 10)
    with pytest.raises(ApplicationError) as exc:
        readers.sniff(path)
    assert exc.value.code == "not_a_spreadsheet"


def test_zip_bomb_sheet_is_refused_before_decompression(tmp_path, settings):
    settings.IMPORT_MAX_UNCOMPRESSED_BYTES = 10_000
    table = [["姓名"], *([f"学生{i}"] for i in range(2000))]
    path = fi.excel_like_xlsx(tmp_path / "bomb.xlsx", table)
    with zipfile.ZipFile(path) as zf:
        assert zf.getinfo("xl/worksheets/sheet1.xml").file_size > 10_000
    with pytest.raises(ApplicationError) as exc:
        rows_of(path)
    assert exc.value.code == "file_too_large"


def test_size_limit(tmp_path, settings):
    settings.IMPORT_MAX_BYTES = 10
    path = tmp_path / "a.csv"
    path.write_text("姓名,性别,出生日期\n", encoding="utf-8")
    with pytest.raises(ApplicationError) as exc:
        readers.sniff(path)
    assert exc.value.code == "file_too_large"


def test_mixed_encoding_in_the_middle_of_a_csv_is_a_clear_error(tmp_path):
    path = tmp_path / "mixed.csv"
    path.write_bytes("姓名\n张三\n".encode() + b"x" * 70_000 + b"\n" + "李四\n".encode("gb18030"))
    sheet = readers.sniff(path)
    assert sheet.encoding == "utf-8"
    with pytest.raises(ApplicationError) as exc:
        list(readers.iter_rows(sheet))
    assert exc.value.code == "bad_encoding"


def test_header_is_read_without_loading_every_shared_string(tmp_path, monkeypatch):
    table = [["姓名", "编号"], *([f"学生{i}", f"N{i:05d}"] for i in range(300))]
    path = fi.excel_like_xlsx(tmp_path / "many.xlsx", table)
    monkeypatch.setattr(readers, "HEADER_STRINGS", 2)
    assert readers.read_header(readers.sniff(path)) == (1, ["姓名", "编号"])
    monkeypatch.setattr(readers, "HEADER_STRINGS", 1)  # the header needs string 1: loaded in full instead
    assert readers.read_header(readers.sniff(path)) == (1, ["姓名", "编号"])
