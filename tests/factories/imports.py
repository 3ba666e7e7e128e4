"""Factories for import tests: rows keyed by column header, CSV/XLSX writers, a hand-rolled SpreadsheetML
writer (shared strings, date styles, formulas — what Excel itself saves, unlike openpyxl's inline strings)."""

from __future__ import annotations

import csv
import io
import itertools
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from tests.factories import core as f
from xueji.imports.readers import CellError
from xueji.imports.template import COLUMNS

HEADERS: list[str] = [c.header for c in COLUMNS]
_seq = itertools.count(1)


def student_row(**overrides: Any) -> dict[str, Any]:
    """One valid row (headers → values) for a primary-school pupil with one guardian."""
    birth = overrides.pop("birth", date(2018, 3, 14))
    gender = overrides.pop("gender", "1")
    n = next(_seq)
    row = {
        "姓名": f"学生{f.han_digits(n)}",
        "性别": gender,
        "出生日期": birth.isoformat(),
        "出生地": "440105",
        "籍贯": "广东广州",
        "民族": "01-汉族",
        "国籍/地区": "CHN",
        "身份证件类型": "1-居民身份证",
        "身份证件号": f.resident_id(birth=birth, gender=gender, seq=(n * 2) % 998 + 1),
        "港澳台侨外": "00-否",
        "健康状况": "10",
        "户口所在地": "440105",
        "户口性质": "非农业户口",
        "现住址": "广州市海珠区新港中路1号",
        "通信地址": "广州市海珠区新港中路1号",
        "家庭地址": "广州市海珠区新港中路1号",
        "联系电话": "13800138000",
        "邮政编码": "510220",
        "是否独生子女": "是",
        "是否受过学前教育": "是",
        "是否留守儿童": "0-非留守儿童",
        "是否进城务工人员随迁子女": "否",
        "是否孤儿": "否",
        "是否烈士或优抚子女": "否",
        "是否需要申请资助": "否",
        "是否享受一补": "否",
        "年级": "1",
        "班级": "1班",
        "入学年月": "202609",
        "入学方式": "11-就近入学",
        "就读方式": "1-走读",
        "家庭成员1姓名": "张大明",
        "家庭成员1关系": "1-父亲",
        "家庭成员1是否监护人": "是",
        "家庭成员1现住址": "广州市海珠区新港中路1号",
        "家庭成员1联系电话": "13900139000",
    }
    row.update(overrides)
    return row


def unique_birth(i: int) -> date:
    """Distinct birth dates so generated resident IDs never collide."""
    return date(2016, 1, 1) + timedelta(days=i % 900)


def students(n: int, **overrides: Any) -> list[dict[str, Any]]:
    return [student_row(birth=unique_birth(i), **overrides) for i in range(n)]


def write_csv(
    path: Path,
    rows: Iterable[Mapping[str, Any]],
    headers: Sequence[str] | None = None,
    encoding: str = "utf-8-sig",
) -> Path:
    headers = list(headers or HEADERS)
    with Path(path).open("w", newline="", encoding=encoding) as fh:
        writer = csv.writer(fh)
        writer.writerow(headers)
        for row in rows:
            writer.writerow(["" if row.get(h) is None else row.get(h) for h in headers])
    return Path(path)


def write_xlsx(path: Path, rows: Iterable[Mapping[str, Any]], headers: Sequence[str] | None = None) -> Path:
    """An .xlsx written by openpyxl (inline strings)."""
    from openpyxl import Workbook

    headers = list(headers or HEADERS)
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("学生信息")
    ws.append(headers)
    for row in rows:
        ws.append([row.get(h) if row.get(h) != "" else None for h in headers])
    wb.save(path)
    return Path(path)


def _col(i: int) -> str:
    s = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        s = chr(65 + r) + s
    return s


def excel_like_xlsx(
    path: Path, table: Sequence[Sequence[Any]], *, formula_at: tuple[int, int] | None = None, prefix: str = ""
) -> Path:
    """An .xlsx the way Excel saves it: shared strings, dates as serial numbers with a date style (style 1),
    optional formula in cell (row, col) (0-based), optional namespace prefix on every element (``x:``)."""
    strings: dict[str, int] = {}
    p = prefix
    out = io.StringIO()
    out.write(
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<{p}worksheet '
        f'xmlns{":" + p[:-1] if p else ""}="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        f'<{p}dimension ref="A1"/><{p}sheetData>'
    )
    for r, row in enumerate(table):
        out.write(f'<{p}row r="{r + 1}">')
        for c, value in enumerate(row):
            ref = f"{_col(c)}{r + 1}"
            if formula_at == (r, c):
                out.write(f'<{p}c r="{ref}"><{p}f>1+1</{p}f><{p}v>2</{p}v></{p}c>')
            elif value is None or value == "":
                continue
            elif isinstance(value, CellError):
                out.write(f'<{p}c r="{ref}" t="e"><{p}v>{escape(str(value))}</{p}v></{p}c>')
            elif isinstance(value, bool):
                out.write(f'<{p}c r="{ref}" t="b"><{p}v>{int(value)}</{p}v></{p}c>')
            elif isinstance(value, date):
                serial = (value - date(1899, 12, 30)).days
                out.write(f'<{p}c r="{ref}" s="1"><{p}v>{serial}</{p}v></{p}c>')
            elif isinstance(value, (int, float)):
                out.write(f'<{p}c r="{ref}"><{p}v>{value}</{p}v></{p}c>')
            else:
                idx = strings.setdefault(str(value), len(strings))
                out.write(f'<{p}c r="{ref}" t="s"><{p}v>{idx}</{p}v></{p}c>')
        out.write(f"</{p}row>")
    out.write(f"</{p}sheetData></{p}worksheet>")
    sst = "".join(f'<si><t xml:space="preserve">{escape(s)}</t></si>' for s in strings)
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/'
            'package/2006/content-types"><Default Extension="xml" ContentType="application/xml"/></Types>',
        )
        zf.writestr(
            "_rels/.rels",
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
            'relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/'
            '2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        )
        zf.writestr(
            "xl/workbook.xml",
            f'<workbook xmlns="{main}" xmlns:r="{rel}"><sheets>'
            '<sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>',
        )
        zf.writestr(
            "xl/_rels/workbook.xml.rels",
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/'
            '2006/relationships"><Relationship Id="rId1" Type="worksheet" Target="worksheets/sheet1.xml"/>'
            "</Relationships>",
        )
        zf.writestr(
            "xl/styles.xml",
            f'<styleSheet xmlns="{main}"><numFmts count="1"><numFmt numFmtId="164" '
            'formatCode="yyyy/m/d;@"/></numFmts><cellXfs count="2"><xf numFmtId="0"/><xf numFmtId="164"/>'
            "</cellXfs></styleSheet>",
        )
        zf.writestr(
            "xl/sharedStrings.xml",
            f'<sst xmlns="{main}" count="{len(strings)}" uniqueCount="{len(strings)}">{sst}</sst>',
        )
        zf.writestr("xl/worksheets/sheet1.xml", out.getvalue())
    return Path(path)


def table_from_rows(
    rows: Iterable[Mapping[str, Any]], headers: Sequence[str] | None = None
) -> list[list[Any]]:
    headers = list(headers or HEADERS)
    return [headers, *([row.get(h) for h in headers] for row in rows)]
