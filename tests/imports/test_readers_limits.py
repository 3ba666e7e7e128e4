"""Hostile import files are refused fast, in flat memory, with a clear Chinese error (issue #6 §3.7).

The attack files are built here, streaming, so the tests stay cheap: the 256 MB sheet is written through
``zipfile`` one megabyte at a time and the upload itself is ~263 KB, exactly the file the probe used.
Each test measures the reader alone: wall time under 5 s (the issue's bound; the refusal takes well under
a second) and the peak of Python allocations under 32 MB (the attack used 600 MB).
"""

from __future__ import annotations

import struct
import time
import tracemalloc
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.factories import imports as fi
from xueji.core.errors import ApplicationError
from xueji.imports import readers

SHEET = "xl/worksheets/sheet1.xml"
MB = 1 << 20
TIME_LIMIT = 5.0
MEMORY_LIMIT = 32 * MB
SHEET_HEAD = (
    b'<?xml version="1.0" encoding="UTF-8"?><worksheet '
    b'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
)
BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(
        b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
        for i in range(1, 10)
    )
    + b"]>"
)
EXTERNAL_ENTITY = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'


def refusal(read: Callable[[], Any]) -> tuple[ApplicationError, float, int]:
    """Run ``read``, expecting an ApplicationError: ``(error, seconds, peak bytes allocated)``."""
    tracemalloc.start()
    started = time.monotonic()
    try:
        with pytest.raises(ApplicationError) as exc:
            read()
        elapsed = time.monotonic() - started
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return exc.value, elapsed, peak


def read_everything(path: Path) -> None:
    sheet = readers.sniff(path)
    readers.read_header(sheet)
    readers.prescan(sheet)
    for _ in readers.iter_rows(sheet):
        pass


def rebuild(tmp_path: Path, name: str, replace: dict[str, Callable[[Any], None] | bytes]) -> Path:
    """A copy of a small valid workbook with some parts replaced: bytes, or a writer fed a binary stream."""
    source = fi.excel_like_xlsx(tmp_path / "valid.xlsx", [["姓名", "性别"], ["张三", "男"]])
    target = tmp_path / name
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            content = replace.get(info.filename)
            if content is None:
                dst.writestr(info, src.read(info))
            elif isinstance(content, bytes):
                dst.writestr(info.filename, content)
            else:
                with dst.open(info.filename, "w", force_zip64=True) as stream:
                    content(stream)
    return target


def row_without_end(megabytes: int) -> Callable[[Any], None]:
    def write(stream: Any) -> None:
        stream.write(SHEET_HEAD + b'<row r="1"><c r="A1" t="inlineStr"><is><t>')
        block = b"A" * MB
        for _ in range(megabytes):
            stream.write(block)

    return write


def test_the_263_kb_sheet_of_256_mb_without_row_ends_is_refused_fast(tmp_path):
    path = rebuild(tmp_path, "bomb.xlsx", {SHEET: row_without_end(256)})
    assert path.stat().st_size < 300_000
    with zipfile.ZipFile(path) as zf:
        assert zf.getinfo(SHEET).file_size > 256 * MB

    error, elapsed, peak = refusal(lambda: read_everything(path))

    assert error.code == "suspicious_compression"
    assert "压缩比" in error.message
    assert error.fields == {"file": "文件解压后异常膨胀，疑似压缩炸弹"}
    assert elapsed < TIME_LIMIT
    assert peak < MEMORY_LIMIT


def test_a_row_without_end_is_refused_while_streaming_when_the_zip_checks_pass(tmp_path, settings):
    """Do not trust the ZIP headers alone: the streaming reader bounds each row by itself."""
    settings.IMPORT_MAX_COMPRESSION_RATIO = 10_000
    settings.IMPORT_MAX_UNCOMPRESSED_BYTES = 1024 * MB
    path = rebuild(tmp_path, "long-row.xlsx", {SHEET: row_without_end(64)})

    for read in (
        lambda: readers.read_header(readers.sniff(path)),
        lambda: readers.prescan(readers.sniff(path)),
        lambda: list(readers.iter_rows(readers.sniff(path))),
    ):
        error, elapsed, peak = refusal(read)

        assert error.code == "row_too_large"
        assert error.message == "第 1 行超过 1 MB，文件可能已损坏或被篡改，已拒绝导入"
        assert elapsed < TIME_LIMIT
        assert peak < MEMORY_LIMIT


def test_a_huge_shared_string_is_refused_while_streaming(tmp_path, settings):
    settings.IMPORT_MAX_COMPRESSION_RATIO = 10_000

    def strings(stream: Any) -> None:
        stream.write(b'<?xml version="1.0"?><sst xmlns="x"><si><t>')
        for _ in range(16):
            stream.write(b"B" * MB)

    path = rebuild(tmp_path, "strings.xlsx", {"xl/sharedStrings.xml": strings})

    error, elapsed, peak = refusal(lambda: list(readers.iter_rows(readers.sniff(path))))

    assert error.code == "row_too_large"
    assert elapsed < TIME_LIMIT
    assert peak < MEMORY_LIMIT


def _declare_size(path: Path, member: str, size: int) -> None:
    """Rewrite the central-directory record of ``member`` so that it declares ``size`` uncompressed bytes."""
    data = bytearray(path.read_bytes())
    position = data.find(b"PK\x01\x02")
    while position >= 0:
        name_length = struct.unpack_from("<H", data, position + 28)[0]
        name = bytes(data[position + 46 : position + 46 + name_length]).decode()
        if name == member:
            struct.pack_into("<I", data, position + 24, size)
            path.write_bytes(bytes(data))
            return
        position = data.find(b"PK\x01\x02", position + 4)
    raise AssertionError(member)


def test_zip_headers_that_understate_the_size_are_refused(tmp_path):
    path = tmp_path / "liar.xlsx"
    source = fi.excel_like_xlsx(tmp_path / "valid.xlsx", [["姓名"], ["张三"]])
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            if info.filename == SHEET:
                dst.writestr(info.filename, SHEET_HEAD + b'<row r="1"><c><v>1</v></c>' * 200_000)
            else:
                dst.writestr(info, src.read(info))
    _declare_size(path, SHEET, 50_000)

    error, elapsed, _ = refusal(lambda: read_everything(path))

    assert error.code == "not_a_spreadsheet"
    assert error.message.endswith("：压缩包已损坏")
    assert elapsed < TIME_LIMIT


def test_a_sheet_larger_than_the_uncompressed_limit_is_refused_at_once(tmp_path, settings):
    settings.IMPORT_MAX_UNCOMPRESSED_BYTES = 8 * MB
    settings.IMPORT_MAX_COMPRESSION_RATIO = 10_000
    path = rebuild(tmp_path, "big.xlsx", {SHEET: row_without_end(16)})

    error, elapsed, _ = refusal(lambda: readers.sniff(path))

    assert error.code == "file_too_large"
    assert error.message == "文件解压后过大（超过 8 MB），请拆分后分批导入"
    assert elapsed < TIME_LIMIT


def test_a_zip_with_thousands_of_members_is_refused(tmp_path):
    path = rebuild(tmp_path, "many.xlsx", {})
    with zipfile.ZipFile(path, "a") as zf:
        for index in range(1100):
            zf.writestr(f"xl/media/image{index}.png", b"")

    error, _, _ = refusal(lambda: readers.sniff(path))

    assert error.code == "too_many_parts"
    assert error.message == "文件包含 1107 个部件（上限 1000），不是正常的 Excel 工作簿，已拒绝导入"


@pytest.mark.parametrize(
    ("part", "prolog"), [("xl/workbook.xml", BILLION_LAUGHS), ("xl/workbook.xml", EXTERNAL_ENTITY)]
)
def test_entity_declarations_are_refused_before_parsing(tmp_path, part, prolog):
    """Billion laughs and XXE: no part of an .xlsx needs a DTD; none is parsed."""
    source = fi.excel_like_xlsx(tmp_path / "valid.xlsx", [["姓名"], ["张三"]])
    with zipfile.ZipFile(source) as zf:
        body = zf.read(part).split(b"?>", 1)[-1].replace(b'name="', b'name="&lol9;&xxe;', 1)
    path = rebuild(tmp_path, "entities.xlsx", {part: prolog + body})

    error, elapsed, peak = refusal(lambda: read_everything(path))

    assert error.code == "xml_dtd_not_allowed"
    assert error.message == "文件中含有 XML 实体声明（DOCTYPE），不是正常的 Excel 工作簿，已拒绝导入"
    assert elapsed < TIME_LIMIT
    assert peak < MEMORY_LIMIT


def test_entity_declarations_in_the_sheet_are_refused(tmp_path):
    path = rebuild(
        tmp_path, "sheet-entities.xlsx", {SHEET: BILLION_LAUGHS + SHEET_HEAD[SHEET_HEAD.index(b"?>") + 2 :]}
    )

    error, _, _ = refusal(lambda: list(readers.iter_rows(readers.sniff(path))))

    assert error.code == "xml_dtd_not_allowed"


def test_a_csv_line_of_100_mb_without_newline_is_refused_fast(tmp_path):
    path = tmp_path / "line.csv"
    with path.open("wb") as fh:
        fh.write("姓名,性别\n张三,".encode())
        block = b"a" * MB
        for _ in range(100):
            fh.write(block)

    error, elapsed, peak = refusal(lambda: list(readers.iter_rows(readers.sniff(path))))

    assert error.code == "row_too_large"
    assert error.message == "第 2 行超过 1 MB，文件可能已损坏或被篡改，已拒绝导入"
    assert elapsed < TIME_LIMIT
    assert peak < MEMORY_LIMIT


def test_ordinary_files_still_read_after_the_limits(tmp_path):
    table = [["姓名", "性别"], *([f"学生{i}", "男"] for i in range(3000))]
    xlsx = fi.excel_like_xlsx(tmp_path / "ok.xlsx", table)
    csv_path = tmp_path / "ok.csv"
    csv_path.write_text("\n".join(",".join(row) for row in table) + "\n", encoding="utf-8")

    for path in (xlsx, csv_path):
        rows = list(readers.iter_rows(readers.sniff(path)))
        assert len(rows) == 3001
        assert rows[-1] == (3001, ["学生2999", "男"])
