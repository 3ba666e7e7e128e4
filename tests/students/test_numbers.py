"""学籍号 formatting and validation (xueji.students.numbers)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xueji.core.errors import FieldError
from xueji.students.numbers import (
    J_SEQUENCE_MAX,
    g_number,
    j_number,
    normalise_student_number,
    validate_student_number,
)

TODAY = date(2026, 6, 1)
_W = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]


def ref_check(first17: str) -> str:
    return "10X98765432"[sum(int(d) * w for d, w in zip(first17, _W, strict=True)) % 11]


@contextmanager
def raises_code(code: str, field: str = "student_number") -> Iterator[pytest.ExceptionInfo[FieldError]]:
    with pytest.raises(FieldError) as info:
        yield info
    assert (info.value.code, info.value.field) == (code, field)


# --- G ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "resident_id", ["11010519491231002X", "360426199101010071", "440308199901101512", "810000199408230021"]
)
def test_g_number(resident_id: str) -> None:
    assert g_number(resident_id) == "G" + resident_id
    assert validate_student_number("G" + resident_id, today=TODAY) == "G"


def test_g_number_normalises_and_validates() -> None:
    assert g_number(" 11010519491231002x ") == "G11010519491231002X"
    with raises_code("id_checksum", field="id_number"):
        g_number("110105194912310021")
    with raises_code("id_format", field="id_number"):
        g_number("G11010519491231002X")
    with raises_code("id_birth_date", field="id_number"):
        g_number("11010520150230" + "001" + ref_check("11010520150230001"))


@pytest.mark.parametrize(
    ("number", "code"),
    [
        ("G110105194912310021", "student_number_checksum"),
        ("G11010520150230001" + ref_check("11010520150230001"), "student_number_birth_date"),
        ("G11010530000101001" + ref_check("11010530000101001"), "student_number_birth_date"),
        ("G11010519491231002", "student_number_format"),
        ("G1101051949123100XX", "student_number_format"),
    ],
)
def test_g_invalid(number: str, code: str) -> None:
    with raises_code(code):
        validate_student_number(number, today=TODAY)


# --- J ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("region", "born", "seq", "expected"),
    [
        ("110105", date(2015, 3, 4), 7, "J110105201503040076"),
        ("110105", date(1949, 12, 31), 2, "J11010519491231002X"),
        ("360426", date(1991, 1, 1), 7, "J360426199101010071"),
        ("440308", date(2020, 2, 29), 999, "J44030820200229999" + ref_check("44030820200229999")),
    ],
)
def test_j_number(region: str, born: date, seq: int, expected: str) -> None:
    assert j_number(region, born, seq) == expected
    assert validate_student_number(expected, today=TODAY) == "J"


@pytest.mark.parametrize(
    ("region", "seq"),
    [("11010", 1), ("1101051", 1), ("11010a", 1), ("110105", 0), ("110105", 1000), ("110105", -1)],
)
def test_j_number_bad_arguments(region: str, seq: int) -> None:
    with pytest.raises(ValueError):
        j_number(region, date(2015, 3, 4), seq)


def test_j_sequence_max() -> None:
    assert J_SEQUENCE_MAX == 999
    assert j_number("110105", date(2015, 3, 4), J_SEQUENCE_MAX)[15:18] == "999"


@pytest.mark.parametrize(
    ("number", "code"),
    [
        ("J110105201503040077", "student_number_checksum"),
        ("J11010520150230001" + ref_check("11010520150230001"), "student_number_birth_date"),
        ("J11010520260602001" + ref_check("11010520260602001"), "student_number_birth_date"),
        ("J11010520150304007", "student_number_format"),
        ("J1101052015030400A6", "student_number_format"),
    ],
)
def test_j_invalid(number: str, code: str) -> None:
    with raises_code(code):
        validate_student_number(number, today=TODAY)


@settings(max_examples=200, deadline=None)
@given(
    st.from_regex(r"[1-6][0-9]{5}", fullmatch=True),
    st.dates(min_value=date(1900, 1, 1), max_value=TODAY),
    st.integers(min_value=1, max_value=J_SEQUENCE_MAX),
)
def test_property_j_round_trip(region: str, born: date, seq: int) -> None:
    number = j_number(region, born, seq)
    assert len(number) == 19
    assert number[18] == ref_check(number[1:18])
    assert validate_student_number(number, today=TODAY) == "J"


# --- L ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "number",
    [
        "L110105201503041234",
        # an L number whose last digit happens NOT to be a valid MOD 11-2 check must still be accepted
        "L11010520150304123" + ("0" if ref_check("11010520150304123") != "0" else "1"),
        "l440308201602290000",
    ],
)
def test_l_valid_without_check_digit(number: str) -> None:
    assert validate_student_number(number, today=TODAY) == "L"


@pytest.mark.parametrize(
    ("number", "code"),
    [
        ("L110105201502301234", "student_number_birth_date"),
        ("L110105203001011234", "student_number_birth_date"),
        ("L110105189912311234", "student_number_birth_date"),
        ("L11010520150304123X", "student_number_format"),
        ("L11010520150304123", "student_number_format"),
    ],
)
def test_l_invalid(number: str, code: str) -> None:
    with raises_code(code):
        validate_student_number(number, today=TODAY)


# --- general ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "code"), [("", "student_number_required"), ("   ", "student_number_required")]
)
def test_required(number: str, code: str) -> None:
    with raises_code(code):
        validate_student_number(number, today=TODAY)


@pytest.mark.parametrize("number", ["X110105201503041234", "11010519491231002X", "GG1010519491231002X", "G"])
def test_unknown_kind(number: str) -> None:
    with raises_code("student_number_format"):
        validate_student_number(number, today=TODAY)


def test_normalise_student_number() -> None:
    assert normalise_student_number(" g11010519491231002x ") == "G11010519491231002X"
    assert normalise_student_number(None) == ""
    assert validate_student_number(" g11010519491231002x ", today=TODAY) == "G"
