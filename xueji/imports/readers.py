"""Streaming readers for import files (.csv and .xlsx): rows one at a time, never the whole file in memory.

The file type is decided by CONTENT, not by its name: a ZIP container holding ``xl/workbook.xml`` is .xlsx;
otherwise the bytes must decode as text (UTF-8 with or without BOM, UTF-16 with BOM, or GB18030 — what Excel
and WPS save as "CSV" on Chinese Windows). Everything else is refused with ``not_a_spreadsheet``.

Why not python-calamine for .xlsx: calamine (0.9) materialises the whole sheet as a Rust ``Range`` before the
first row comes out — for a 1 000 000-row national sheet that is several GB. The reader below decompresses
the sheet XML as a stream and pulls cells out with compiled regular expressions (the scanning happens in C),
keeping memory flat; the shared-string table, the only part of an .xlsx that must be random-accessed, is
spilled to a memory-mapped temporary file when it is large. See ``bench/bench_import.py`` for its speed.

Formulas are refused (a formula's cached value is whatever the last program to save the file computed);
:func:`prescan` finds the first one before anything else is read.

Hostile files are refused fast and in flat memory (issue #6 §3.7; security.md: availability). A 263 KB
upload holding a 256 MB sheet without row ends cost 38 s of CPU and 600 MB. Now, in order:

1. the ZIP central directory (:func:`check_zip`): at most :data:`MAX_ZIP_MEMBERS` parts, no part larger
   than ``IMPORT_MAX_UNCOMPRESSED_BYTES`` and, above :data:`RATIO_FLOOR`, no part compressed more than
   ``IMPORT_MAX_COMPRESSION_RATIO``:1 (real sheets compress 5–20:1; a deflate bomb ~1000:1);
2. the headers are not trusted alone: the streaming reader counts the bytes it really decompresses
   (zipfile also stops at the declared size and checks the CRC: a header that understates the size is
   a damaged file), and bounds the text between two row ends (``</row>``, ``</si>``, a CSV line) by
   ``IMPORT_MAX_ROW_BYTES``, so a row without end is refused after about a megabyte;
3. no XML part may declare a DTD (billion laughs, XXE): refused before anything is parsed.
"""

from __future__ import annotations

import codecs
import csv
import html
import mmap
import re
import tempfile
import zipfile
import zlib
from array import array
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import Any
from xml.etree import ElementTree as ET  # only small, size-checked package parts are parsed

from django.conf import settings

from xueji.core.errors import ApplicationError

READ_CHUNK = 1 << 20
SNIFF_BYTES = 1 << 16
# Shared-string tables bigger than this are spilled to a temporary file (8 bytes of RAM per string).
SPILL_STRINGS = 200_000
# Small package parts (workbook, relationships, styles) are parsed whole; refuse absurd ones.
MAX_PART_BYTES = 20 * 1024 * 1024
# An Excel workbook has a few dozen parts; thousands of members is a crafted archive.
MAX_ZIP_MEMBERS = 1000
# Parts smaller than this are not checked for their compression ratio (tiny XML compresses very well).
RATIO_FLOOR = 4 * 1024 * 1024
DEFAULT_MAX_UNCOMPRESSED_BYTES = 1024 * 1024 * 1024  # a 1 000 000-row sheet is ~0.5-1 GB of XML
DEFAULT_MAX_COMPRESSION_RATIO = 100
DEFAULT_MAX_ROW_BYTES = 1024 * 1024
_DTD_MARKERS = tuple(
    m.encode(e) for m in ("<!DOCTYPE", "<!ENTITY") for e in ("utf-8", "utf-16-le", "utf-16-be")
)
_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_BINARY_MAGICS = (
    b"\x89PNG",
    b"%PDF",
    b"\xff\xd8\xff",
    b"GIF8",
    b"BM",
    b"\x1f\x8b",
    b"Rar!",
    b"7z\xbc\xaf",
    b"\x7fELF",
    b"MZ",
)


class CellError:
    """An Excel error value (``#N/A``, ``#REF!`` …) in a cell: reported as a problem, never stored."""

    __slots__ = ("code",)

    def __init__(self, code: str) -> None:
        self.code = code

    def __str__(self) -> str:
        return self.code

    def __repr__(self) -> str:
        return f"CellError({self.code!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CellError) and other.code == self.code

    def __hash__(self) -> int:
        return hash(self.code)


def not_a_spreadsheet(detail: str = "") -> ApplicationError:
    message = "上传的文件不是可识别的电子表格，请上传 .xlsx 或 .csv 文件（可从“下载模板”获取）"
    return ApplicationError(
        "not_a_spreadsheet", message + (f"：{detail}" if detail else ""), {"file": message}
    )


def max_bytes() -> int:
    return int(settings.IMPORT_MAX_BYTES)


def max_uncompressed_bytes() -> int:
    """Decompressed size limit of any part of an .xlsx (a zip bomb is a small file that expands hugely)."""
    return int(getattr(settings, "IMPORT_MAX_UNCOMPRESSED_BYTES", DEFAULT_MAX_UNCOMPRESSED_BYTES))


def max_compression_ratio() -> float:
    return float(getattr(settings, "IMPORT_MAX_COMPRESSION_RATIO", DEFAULT_MAX_COMPRESSION_RATIO))


def max_row_bytes() -> int:
    """Longest text between two row ends (a sheet row, a shared string, a CSV line)."""
    return int(getattr(settings, "IMPORT_MAX_ROW_BYTES", DEFAULT_MAX_ROW_BYTES))


def _mb(size: float) -> str:
    return f"{size / 1048576:.0f}"


def row_too_large(row: int) -> ApplicationError:
    message = f"第 {row} 行超过 {_mb(max_row_bytes())} MB，文件可能已损坏或被篡改，已拒绝导入"
    return ApplicationError("row_too_large", message, {"file": f"第 {row} 行过大"})


def string_too_large() -> ApplicationError:
    message = f"文件中有超过 {_mb(max_row_bytes())} MB 的单元格文本，文件可能已损坏或被篡改，已拒绝导入"
    return ApplicationError("row_too_large", message, {"file": "单元格文本过大"})


def dtd_not_allowed() -> ApplicationError:
    return ApplicationError(
        "xml_dtd_not_allowed",
        "文件中含有 XML 实体声明（DOCTYPE），不是正常的 Excel 工作簿，已拒绝导入",
        {"file": "含有 XML 实体声明"},
    )


def check_zip(zf: zipfile.ZipFile) -> None:
    """Refuse an archive by its central directory before anything is decompressed: too many parts
    (``too_many_parts``), a part larger than the limit (``file_too_large``), a part compressed beyond
    the ratio limit (``suspicious_compression``)."""
    infos = zf.infolist()
    if len(infos) > MAX_ZIP_MEMBERS:
        raise ApplicationError(
            "too_many_parts",
            f"文件包含 {len(infos)} 个部件（上限 {MAX_ZIP_MEMBERS}），不是正常的 Excel 工作簿，已拒绝导入",
            {"file": "部件过多"},
        )
    limit, ratio = max_uncompressed_bytes(), max_compression_ratio()
    for info in infos:
        if info.file_size > limit:
            raise _too_large_uncompressed()
        actual = info.file_size / max(info.compress_size, 1)
        if info.file_size > RATIO_FLOOR and actual > ratio:
            raise ApplicationError(
                "suspicious_compression",
                f"文件解压后异常膨胀（压缩比 {actual:.0f}:1，上限 {ratio:.0f}:1），疑似压缩炸弹，已拒绝导入；"
                "请用 Excel 重新保存后上传",
                {"file": "文件解压后异常膨胀，疑似压缩炸弹"},
            )


def check_size(size: int) -> None:
    limit = max_bytes()
    if size > limit:
        raise ApplicationError(
            "file_too_large",
            f"文件过大（{size / 1048576:.1f} MB），单个导入文件不能超过 {limit / 1048576:.0f} MB，请拆分后分批导入",
            {"file": "文件过大"},
        )
    if size == 0:
        raise ApplicationError("empty_file", "上传的文件是空的", {"file": "文件为空"})


# --------------------------------------------------------------------------------------------- sniffing
@dataclass(frozen=True)
class SheetFile:
    """A recognised import file. ``kind`` is ``csv`` or ``xlsx``; ``encoding`` applies to CSV."""

    path: Path
    kind: str
    encoding: str = ""
    delimiter: str = ","

    @property
    def extension(self) -> str:
        return "." + self.kind


def sniff(path: Path) -> SheetFile:
    """Decide what ``path`` holds from its bytes. Raises ``file_too_large``, ``empty_file``,
    ``not_a_spreadsheet``."""
    path = Path(path)
    check_size(path.stat().st_size)
    with path.open("rb") as fh:
        head = fh.read(SNIFF_BYTES)
    if head.startswith(_ZIP_MAGIC):
        try:
            with zipfile.ZipFile(path) as zf:
                names = set(zf.namelist())
                check_zip(zf)
        except (zipfile.BadZipFile, OSError) as exc:
            raise not_a_spreadsheet("压缩包已损坏") from exc
        if "xl/workbook.xml" in names:
            return SheetFile(path, "xlsx")
        if "content.xml" in names:
            raise not_a_spreadsheet("这是 OpenDocument 表格，请另存为 .xlsx")
        raise not_a_spreadsheet("压缩包中没有 Excel 工作表")
    if head.startswith(_OLE_MAGIC):
        raise not_a_spreadsheet("这是旧版 .xls 或加密的 Excel 文件，请去除密码并另存为 .xlsx")
    if head.startswith(_BINARY_MAGICS):
        raise not_a_spreadsheet()
    encoding = _text_encoding(head)
    if encoding is None:
        raise not_a_spreadsheet("无法识别文件编码")
    first_line = head.decode(encoding, errors="ignore").splitlines()[0] if head.strip() else ""
    delimiter = "\t" if first_line.count("\t") > first_line.count(",") else ","
    return SheetFile(path, "csv", encoding, delimiter)


def _text_encoding(head: bytes) -> str | None:
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if b"\x00" in head:
        return None
    for encoding in ("utf-8", "gb18030"):
        decoder = codecs.getincrementaldecoder(encoding)()
        try:
            text = decoder.decode(head, final=False)
        except UnicodeDecodeError:
            continue
        # Text files have few control characters besides tab/newline.
        controls = sum(1 for ch in text[:4096] if ord(ch) < 32 and ch not in "\r\n\t")
        if controls == 0:
            return encoding
    return None


# --------------------------------------------------------------------------------------------- CSV
def iter_csv(sheet: SheetFile) -> Iterator[tuple[int, list[Any]]]:
    """``(row number, cells)``; row 1 is the header. Cell values are strings."""
    try:
        with sheet.path.open(encoding=sheet.encoding, newline="") as fh:
            lines = _bounded_lines(fh, max_row_bytes())
            yield from enumerate(csv.reader(lines, delimiter=sheet.delimiter), start=1)
    except UnicodeDecodeError as exc:
        raise ApplicationError(
            "bad_encoding",
            "文件中有无法识别的字符（编码混杂），请用 Excel 另存为 UTF-8 CSV 或 .xlsx 后重新上传",
        ) from exc
    except csv.Error as exc:
        raise ApplicationError("bad_csv", f"CSV 文件格式有误：{exc}") from exc


def _bounded_lines(fh: Any, limit: int) -> Iterator[str]:
    """The lines of a text file, refusing (``row_too_large``) one longer than ``limit`` characters before
    reading more of it: a 100 MB line without newline is refused after ``limit``."""
    number = 0
    while line := fh.readline(limit + 1):
        number += 1
        if len(line) > limit:
            raise row_too_large(number)
        yield line


def count_csv_rows(sheet: SheetFile) -> int:
    """Data rows (lines after the header, blank lines not counted) — a fast byte scan for progress bars."""
    lines = 0
    last = b"\n"
    with sheet.path.open("rb") as fh:
        while chunk := fh.read(READ_CHUNK):
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    if last not in (b"\n", b""):
        lines += 1
    return max(lines - 1, 0)


# --------------------------------------------------------------------------------------------- XLSX
_BUILTIN_DATE_FORMATS = frozenset(
    {
        14,
        15,
        16,
        17,
        18,
        19,
        20,
        21,
        22,
        27,
        28,
        29,
        30,
        31,
        32,
        33,
        34,
        35,
        36,
        45,
        46,
        47,
        50,
        51,
        52,
        53,
        54,
        55,
        56,
        57,
        58,
    }
)
_FORMAT_NOISE = re.compile(r'"[^"]*"|\[[^\]]*\]|\\.|_.|\*.')
_ESCAPED_CONTROL = re.compile(r"_x([0-9A-Fa-f]{4})_")


def _unescape(text: str) -> str:
    if "&" in text:
        text = html.unescape(text)
    if "_x" in text:
        text = _ESCAPED_CONTROL.sub(lambda m: chr(int(m.group(1), 16)), text)
    return text


def _read_part(zf: zipfile.ZipFile, name: str) -> bytes | None:
    try:
        info = zf.getinfo(name)
    except KeyError:
        return None
    if info.file_size > MAX_PART_BYTES:
        raise not_a_spreadsheet(f"{name} 过大")
    try:
        raw = zf.read(info)
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise not_a_spreadsheet("压缩包已损坏") from exc
    if any(marker in raw for marker in _DTD_MARKERS):
        raise dtd_not_allowed()
    return raw


def _is_date_format(code: str) -> bool:
    cleaned = _FORMAT_NOISE.sub("", code).lower()
    if cleaned in {"general", "@", ""}:
        return False
    return any(ch in cleaned for ch in "ymdhs")


@dataclass(frozen=True)
class _Workbook:
    sheet_part: str
    date_styles: frozenset[int]
    epoch: date


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _children(node: ET.Element, name: str) -> list[ET.Element]:
    return [n for n in node.iter() if _local(n.tag) == name]


def _workbook(zf: zipfile.ZipFile, preferred_sheet: str) -> _Workbook:
    """Locate the data sheet (the one named ``preferred_sheet``, else the first visible one), the date
    styles and the date epoch. Namespace-agnostic (transitional and strict OOXML, prefixed or not)."""
    try:
        wb = ET.fromstring(_read_part(zf, "xl/workbook.xml") or b"")  # noqa: S314 - size-checked, no DTDs
        rels_xml = _read_part(zf, "xl/_rels/workbook.xml.rels")
        rels = ET.fromstring(rels_xml) if rels_xml else None  # noqa: S314
    except ET.ParseError as exc:
        raise not_a_spreadsheet("工作簿结构已损坏") from exc
    sheets = _children(wb, "sheet")
    if not sheets or rels is None:
        raise not_a_spreadsheet("工作簿中没有工作表")
    chosen = next((s for s in sheets if s.get("name") == preferred_sheet), None)
    if chosen is None:
        chosen = next((s for s in sheets if s.get("state") not in {"hidden", "veryHidden"}), sheets[0])
    rid = next((v for k, v in chosen.attrib.items() if _local(k) == "id"), None)
    target = next((r.get("Target") for r in _children(rels, "Relationship") if r.get("Id") == rid), None)
    if not target:
        raise not_a_spreadsheet("找不到工作表数据")
    part = target.lstrip("/") if target.startswith("/") else str(PurePosixPath("xl") / target)
    pr = next(iter(_children(wb, "workbookPr")), None)
    date1904 = pr is not None and pr.get("date1904") in {"1", "true"}
    return _Workbook(part, _date_styles(zf), date(1904, 1, 1) if date1904 else date(1899, 12, 30))


def _date_styles(zf: zipfile.ZipFile) -> frozenset[int]:
    raw = _read_part(zf, "xl/styles.xml")
    if not raw:
        return frozenset()
    try:
        root = ET.fromstring(raw)  # noqa: S314
    except ET.ParseError:
        return frozenset()
    custom = {int(n.get("numFmtId", "0")): n.get("formatCode", "") for n in _children(root, "numFmt")}
    xfs = next(iter(_children(root, "cellXfs")), None)
    styles = set()
    for index, xf in enumerate([n for n in xfs if _local(n.tag) == "xf"] if xfs is not None else []):
        fmt = int(xf.get("numFmtId", "0"))
        if fmt in _BUILTIN_DATE_FORMATS or (fmt in custom and _is_date_format(custom[fmt])):
            styles.add(index)
    return frozenset(styles)


class _SharedStrings:
    """The shared-string table: a list when small, a memory-mapped spill file (offsets in RAM) when large."""

    _SI = re.compile(r"<(?:\w+:)?si>(.*?)</(?:\w+:)?si>|<(?:\w+:)?si/>", re.S)
    _T = re.compile(r"<(?:\w+:)?t(?:\s[^>]*)?>([^<]*)</(?:\w+:)?t>")
    _PHONETIC = re.compile(r"<(?:\w+:)?rPh\b.*?</(?:\w+:)?rPh>", re.S)

    def __init__(self, zf: zipfile.ZipFile, limit: int, stop_after: int | None = None) -> None:
        self.items: list[str] | None = []
        self._offsets = array("q", [0])
        self._spill: Any = None
        self._map: mmap.mmap | None = None
        name = "xl/sharedStrings.xml"
        if name not in zf.namelist():
            return
        if zf.getinfo(name).file_size > limit:
            raise _too_large_uncompressed()
        for text in _stream_matches(zf, name, self._SI, "</si>", string_too_large):
            self._add(text)
            if stop_after is not None and self.items is not None and len(self.items) >= stop_after:
                break
        if self._spill is not None:
            self._spill.flush()
            self._map = (
                mmap.mmap(self._spill.fileno(), 0, access=mmap.ACCESS_READ) if self._offsets[-1] else None
            )

    def _add(self, inner: str | None) -> None:
        if not inner:
            value = ""
        else:
            if "rPh" in inner:
                inner = self._PHONETIC.sub("", inner)
            value = _unescape("".join(self._T.findall(inner)))
        if self.items is not None:
            self.items.append(value)
            if len(self.items) > SPILL_STRINGS:
                self._start_spill()
            return
        data = value.encode()
        self._spill.write(data)
        self._offsets.append(self._offsets[-1] + len(data))

    def _start_spill(self) -> None:
        items, self.items = self.items or [], None
        self._spill = tempfile.TemporaryFile(prefix="xueji-sst-")  # noqa: SIM115 - closed in close()
        for value in items:
            data = value.encode()
            self._spill.write(data)
            self._offsets.append(self._offsets[-1] + len(data))

    def __getitem__(self, index: int) -> str:
        if self.items is not None:
            return self.items[index]
        start, end = self._offsets[index], self._offsets[index + 1]
        return self._map[start:end].decode() if self._map is not None and end > start else ""

    def close(self) -> None:
        if self._map is not None:
            self._map.close()
        if self._spill is not None:
            self._spill.close()


def _too_large_uncompressed() -> ApplicationError:
    message = f"文件解压后过大（超过 {_mb(max_uncompressed_bytes())} MB），请拆分后分批导入"
    return ApplicationError("file_too_large", message, {"file": "文件过大"})


def _open_member(zf: zipfile.ZipFile, name: str) -> Any:
    info = zf.getinfo(name)
    if info.file_size > max_uncompressed_bytes():
        raise _too_large_uncompressed()
    return zf.open(info)  # zipfile stops at the declared size and checks the CRC


def _stream_text(zf: zipfile.ZipFile, name: str) -> Iterator[str]:
    """The decompressed text of a part, chunk by chunk, counting the bytes really decompressed (the
    declared size is not trusted alone) and refusing a DTD in the prolog."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    limit = max_uncompressed_bytes()
    total = 0
    try:
        with _open_member(zf, name) as member:
            while chunk := member.read(READ_CHUNK):
                if total == 0 and any(marker in chunk for marker in _DTD_MARKERS):
                    raise dtd_not_allowed()
                total += len(chunk)
                if total > limit:
                    raise _too_large_uncompressed()
                yield decoder.decode(chunk)
            tail = decoder.decode(b"", final=True)
            if tail:
                yield tail
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise not_a_spreadsheet("压缩包已损坏") from exc
    except UnicodeDecodeError as exc:
        raise not_a_spreadsheet("工作表不是有效的 UTF-8 XML") from exc


def _stream_matches(
    zf: zipfile.ZipFile,
    name: str,
    pattern: re.Pattern[str],
    closer: str,
    too_large: Callable[[], ApplicationError],
) -> Iterator[str | None]:
    """Yield group 1 of each ``pattern`` match over a decompressed part, processing up to the last ``closer``.
    Text without a ``closer`` longer than the row limit raises ``too_large()``."""
    buffer = ""
    limit = max_row_bytes()
    for text in _stream_text(zf, name):
        buffer += text
        cut = _last_closer(buffer, closer)
        if cut < 0:
            if len(buffer) > limit:
                raise too_large()
            continue
        for match in pattern.finditer(buffer, 0, cut):
            yield match.group(1)
        buffer = buffer[cut:]
        if len(buffer) > limit:
            raise too_large()
    for match in pattern.finditer(buffer):
        yield match.group(1)


def _last_closer(buffer: str, closer: str) -> int:
    """Index just past the last ``closer`` (``</si>``) or its prefixed form (``</x:si>``); -1 if none."""
    tag = closer[2:-1]
    end = buffer.rfind(f"{tag}>")
    while end >= 0:
        start = buffer.rfind("</", 0, end)
        if start >= 0 and re.fullmatch(r"</(?:\w+:)?", buffer[start:end]):
            return end + len(tag) + 1
        end = buffer.rfind(f"{tag}>", 0, end)
    return -1


_LETTERS = {}
for _i in range(16384):
    _n, _s = _i + 1, ""
    while _n:
        _n, _r = divmod(_n - 1, 26)
        _s = chr(65 + _r) + _s
    if len(_s) <= 3:
        _LETTERS[_s] = _i
del _i, _n, _s, _r


class XlsxRows:
    """Iterate ``(row number, cells)`` over the data sheet of an .xlsx file in constant memory.

    Cell values: ``str`` (text), ``int``/``float`` (numbers), ``date`` (numbers in a date format, or ``d``
    cells), ``bool``, :class:`CellError`. Rows are as Excel numbers them (row 1 is the header).
    """

    def __init__(
        self, path: Path, preferred_sheet: str = "学生信息", strings_limit: int | None = None
    ) -> None:
        """``strings_limit`` loads only the first shared strings (enough for a header row: Excel numbers
        strings in order of first use, so the header's come first); a row needing more raises IndexError."""
        self.path = Path(path)
        self._strings_limit = strings_limit
        try:
            self._zf = zipfile.ZipFile(self.path)
        except (zipfile.BadZipFile, OSError) as exc:
            raise not_a_spreadsheet("压缩包已损坏") from exc
        try:
            check_zip(self._zf)
            self._wb = _workbook(self._zf, preferred_sheet)
            if self._wb.sheet_part not in self._zf.namelist():
                raise not_a_spreadsheet("找不到工作表数据")
            self._strings: _SharedStrings | None = None
        except Exception:
            self._zf.close()
            raise

    def close(self) -> None:
        if self._strings is not None:
            self._strings.close()
        self._zf.close()

    def __enter__(self) -> XlsxRows:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- prescan -------------------------------------------------------------------------------------
    def prescan(self) -> tuple[int, str | None]:
        """One streaming pass over the sheet XML: ``(data rows, first formula cell reference or None)``.

        Counts ``<row`` elements that contain at least one value (formatted empty rows are not rows)."""
        rows = 0
        prefix = None
        carry = ""
        limit = max_row_bytes()
        for text in _stream_text(self._zf, self._wb.sheet_part):
            buffer = carry + text
            if prefix is None:
                found = re.search(r"<(\w+:)?sheetData\b", buffer)
                if found is None:
                    carry = buffer[-200:]
                    continue
                prefix = found.group(1) or ""
            cut = buffer.rfind(f"</{prefix}row>")
            if cut < 0:
                carry = buffer
                if len(carry) > limit:
                    raise row_too_large(rows + 1)
                continue
            cut += len(prefix) + 6
            body, carry = buffer[:cut], buffer[cut:]
            if len(carry) > limit:
                raise row_too_large(rows + len(re.findall(rf"<{prefix}row\b(?:[^>]*[^/])?>", body)) + 1)
            formula = re.search(rf"<{prefix}f[\s>/]", body)
            if formula is not None:
                cell = body.rfind(f"<{prefix}c ", 0, formula.start())
                ref = (
                    re.match(r'[^>]*?\br="([A-Z]+\d+)"', body[cell + len(prefix) + 2 :])
                    if cell >= 0
                    else None
                )
                return rows, ref.group(1) if ref else "?"
            rows += len(re.findall(rf"<{prefix}row\b(?:[^>]*[^/])?>", body))
        return max(rows - 1, 0), None

    # -- rows ----------------------------------------------------------------------------------------
    def __iter__(self) -> Iterator[tuple[int, list[Any]]]:
        if self._strings is None:
            self._strings = _SharedStrings(self._zf, max_uncompressed_bytes(), self._strings_limit)
        strings = self._strings
        items = strings.items
        lookup = items.__getitem__ if items is not None else strings.__getitem__
        date_styles = self._wb.date_styles
        epoch = self._wb.epoch
        letters = _LETTERS
        prefix: str | None = None
        row_re = cell_re = None
        attr_cache: dict[str, tuple[int, str]] = {}
        next_row = 1
        buffer = ""
        closer = ""
        limit = max_row_bytes()
        for text in _stream_text(self._zf, self._wb.sheet_part):
            buffer += text
            if prefix is None:
                found = re.search(r"<(\w+:)?sheetData\b", buffer)
                if found is None:
                    buffer = buffer[-200:]
                    continue
                prefix = found.group(1) or ""
                p = re.escape(prefix)
                row_re = re.compile(rf"<{p}row\b([^>]*?)(?:/>|>(.*?)</{p}row>)", re.S)
                cell_re = re.compile(
                    rf'<{p}c(?:\s+r="([A-Z]{{1,3}})\d+")?((?:\s+[\w:]+="[^"]*")*)\s*'
                    rf"(?:/>|>(?:<{p}v>([^<]*)</{p}v>|<{p}is><{p}t>([^<]*)</{p}t></{p}is>|(.*?))</{p}c>)",
                    re.S,
                )
                closer = f"</{prefix}row>"
                buffer = buffer[found.start() :]
            cut = buffer.rfind(closer)
            if cut < 0:
                if len(buffer) > limit:
                    raise row_too_large(next_row)
                continue
            cut += len(closer)
            assert row_re is not None and cell_re is not None
            for attrs, body in row_re.findall(buffer, 0, cut):
                number = _row_number(attrs, next_row)
                next_row = number + 1
                if not body:
                    continue
                values: list[Any] = []
                position = 0
                for col, cell_attrs, v, simple, content in cell_re.findall(body):
                    rest = cell_attrs
                    if col:
                        index = letters.get(col, position)
                    elif 'r="' in cell_attrs:  # attributes in an unusual order
                        index = _column_from_attrs(cell_attrs, position)
                        rest = _ROW_REF.sub("", cell_attrs)
                    else:  # r is optional: cells follow one another
                        index = position
                    position = index + 1
                    if simple:  # <is><t>text</t></is>: inline string, the common case of generated files
                        value: Any = simple if "&" not in simple and "_x" not in simple else _unescape(simple)
                    elif v:
                        meta = attr_cache.get(rest)
                        if meta is None:
                            meta = attr_cache[rest] = _cell_meta(rest)
                        kind = meta[1]
                        if kind == "s":
                            value = lookup(int(v))
                        elif kind == "n":
                            value = _number(v, meta[0] in date_styles, epoch)
                        else:
                            value = _typed(kind, v)
                    elif content:
                        meta = attr_cache.get(rest)
                        if meta is None:
                            meta = attr_cache[rest] = _cell_meta(rest)
                        value = _complex_cell(meta, content, lookup, date_styles, epoch)
                        if value is None:
                            continue
                    else:
                        continue
                    if index >= len(values):
                        values.extend([None] * (index - len(values) + 1))
                    values[index] = value
                if values:
                    yield number, values
            buffer = buffer[cut:]
            if len(buffer) > limit:
                raise row_too_large(next_row)


_INLINE_T = re.compile(r"<(?:\w+:)?t(?:\s[^>]*)?>([^<]*)</(?:\w+:)?t>")
_V = re.compile(r"<(?:\w+:)?v>([^<]*)</(?:\w+:)?v>")
_ROW_R = re.compile(r'\br="(\d+)"')
_ATTR = re.compile(r'([\w:]+)="([^"]*)"')
_ROW_REF = re.compile(r'\s+r="[^"]*"')
_COL_REF = re.compile(r'\br="([A-Z]{1,3})\d+"')


def _column_from_attrs(rest: str, default: int) -> int:
    match = _COL_REF.search(rest)
    return _LETTERS.get(match.group(1), default) if match else default


def _typed(kind: str, raw: str) -> Any:
    if kind == "str":
        return _unescape(raw)
    if kind == "b":
        return raw == "1"
    if kind == "e":
        return CellError(raw)
    if kind == "d":
        return _iso_date(raw)
    return _unescape(raw)


def _complex_cell(
    meta: tuple[int, str], content: str, lookup: Any, date_styles: frozenset[int], epoch: date
) -> Any:
    """Cells the fast pattern did not take apart: rich inline text, ``<v>`` with attributes, ``<f>``."""
    style, kind = meta
    if kind == "inlineStr":
        return _unescape("".join(_INLINE_T.findall(content)))
    raw = _inner_v(content)
    if raw == "":
        return None
    if kind == "s":
        return lookup(int(raw))
    if kind == "n":
        return _number(raw, style in date_styles, epoch)
    return _typed(kind, raw)


def _inner_v(content: str) -> str:
    match = _V.search(content)
    return match.group(1) if match else ""


def _row_number(attrs: str, default: int) -> int:
    match = _ROW_R.search(attrs)
    return int(match.group(1)) if match else default


def _cell_meta(rest: str) -> tuple[int, str]:
    attrs = dict(_ATTR.findall(rest))
    return int(attrs.get("s", "0") or 0), attrs.get("t", "n") or "n"


def _number(raw: str, is_date: bool, epoch: date) -> Any:
    try:
        number = float(raw) if any(ch in raw for ch in ".eE") else int(raw)
    except ValueError:
        return raw
    if is_date:
        try:
            return epoch + timedelta(days=int(number))
        except (OverflowError, ValueError):
            return number
    if isinstance(number, float) and number.is_integer() and abs(number) < 1e15:
        return int(number)
    return number


def _iso_date(raw: str) -> Any:
    try:
        return datetime.fromisoformat(raw).date()
    except ValueError:
        return raw


# --------------------------------------------------------------------------------------------- public API
def iter_rows(sheet: SheetFile) -> Generator[tuple[int, list[Any]], None, None]:
    """``(row number, cells)`` for every non-empty row, header first, streaming."""
    if sheet.kind == "csv":
        yield from iter_csv(sheet)
        return
    with XlsxRows(sheet.path) as rows:
        yield from rows


HEADER_STRINGS = 2000


def read_header(sheet: SheetFile) -> tuple[int, list[Any]]:
    """The first non-empty row (the header). Raises ``empty_file`` for a file without rows.

    For .xlsx only the first :data:`HEADER_STRINGS` shared strings are loaded (a large Excel-saved file has
    millions); if the header needs a later one, the table is loaded in full."""
    if sheet.kind == "xlsx":
        try:
            with XlsxRows(sheet.path, strings_limit=HEADER_STRINGS) as head:
                return _first_row(iter(head))
        except IndexError:
            pass
    rows = iter_rows(sheet)
    try:
        return _first_row(rows)
    finally:
        rows.close()


def head_rows(sheet: SheetFile, count: int) -> list[tuple[int, list[Any]]]:
    """The header and the first data rows — ``count`` non-blank rows in all — for the dry run's preview
    (issue 8 item 8). Like :func:`read_header`, an .xlsx loads only the first shared strings when they do."""

    def take(rows: Iterator[tuple[int, list[Any]]]) -> list[tuple[int, list[Any]]]:
        out: list[tuple[int, list[Any]]] = []
        for number, values in rows:
            if any(v is not None and v != "" and (not isinstance(v, str) or v.strip()) for v in values):
                out.append((number, values))
                if len(out) >= count:
                    break
        return out

    if sheet.kind == "xlsx":
        try:
            with XlsxRows(sheet.path, strings_limit=HEADER_STRINGS) as head:
                return take(iter(head))
        except IndexError:
            pass
    rows = iter_rows(sheet)
    try:
        return take(rows)
    finally:
        rows.close()


def _first_row(rows: Iterator[tuple[int, list[Any]]]) -> tuple[int, list[Any]]:
    for number, values in rows:
        if any(v not in (None, "") for v in values):
            return number, values
    raise ApplicationError("empty_file", "文件中没有数据", {"file": "文件为空"})


def prescan(sheet: SheetFile) -> tuple[int, str | None]:
    """``(estimated data rows, first formula cell or None)`` in one streaming pass."""
    if sheet.kind == "csv":
        return count_csv_rows(sheet), None
    with XlsxRows(sheet.path) as rows:
        return rows.prescan()


__all__ = [
    "CellError",
    "SheetFile",
    "XlsxRows",
    "check_size",
    "head_rows",
    "iter_rows",
    "not_a_spreadsheet",
    "prescan",
    "read_header",
    "sniff",
]
