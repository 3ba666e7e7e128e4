"""Identity-document validation (xueji.students.identity): vectors, error codes, properties."""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum.cn import ric

from xueji.core.errors import FieldError
from xueji.core.masking import mask_id_number
from xueji.students.identity import (
    ParsedIdentity,
    check_identity_matches,
    hkid_check_char,
    mod11_2_check_char,
    validate_identity,
)

TODAY = date(2026, 6, 1)

# Independent reference implementation (GB 11643 / ISO 7064 MOD 11-2), deliberately not shared with the code.
_W = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]


def ref_check(first17: str) -> str:
    return "10X98765432"[sum(int(d) * w for d, w in zip(first17, _W, strict=True)) % 11]


def make_id(first17: str) -> str:
    return first17 + ref_check(first17)


def wrong_check(first17: str) -> str:
    good = ref_check(first17)
    return first17 + ("1" if good != "1" else "2")


@contextmanager
def raises_code(code: str, field: str = "id_number") -> Iterator[pytest.ExceptionInfo[FieldError]]:
    """Expect a FieldError with exactly this code on exactly this field."""
    with pytest.raises(FieldError) as info:
        yield info
    assert (info.value.code, info.value.field) == (code, field)


# --- MOD 11-2 ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first17", "expected"),
    [
        ("11010519491231002", "X"),
        ("36042619910101007", "1"),
        ("44030819990110151", "2"),
        ("81000019940823002", "1"),
        ("83000019920130002", "2"),
    ],
)
def test_mod11_2_check_char_vectors(first17: str, expected: str) -> None:
    assert mod11_2_check_char(first17) == expected
    assert ref_check(first17) == expected


@pytest.mark.parametrize("bad", ["", "1101051949123100", "110105194912310021", "1101051949123100A"])
def test_mod11_2_check_char_rejects_bad_input(bad: str) -> None:
    with pytest.raises(ValueError):
        mod11_2_check_char(bad)


# --- type 1 居民身份证 --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "birth", "gender", "region"),
    [
        ("11010519491231002X", date(1949, 12, 31), "2", "110105"),
        ("360426199101010071", date(1991, 1, 1), "1", "360426"),
        ("440308199901101512", date(1999, 1, 10), "1", "440308"),
    ],
)
def test_resident_id_valid(number: str, birth: date, gender: str, region: str) -> None:
    parsed = validate_identity("1", number, today=TODAY)
    assert parsed == ParsedIdentity("1", number, birth, gender, region)


def test_resident_id_is_normalised() -> None:
    parsed = validate_identity("1", "  11010519491231002x ", today=TODAY)
    assert parsed.number == "11010519491231002X"
    # full-width digits and X (typed with a Chinese IME) are accepted too
    parsed = validate_identity("1", "１１０１０５１９４９１２３１００２Ｘ", today=TODAY)
    assert parsed.number == "11010519491231002X"


@pytest.mark.parametrize(
    "number",
    [
        "11010519491231002",  # 17 chars
        "11010519491231002XX",  # 19 chars
        "1101051949123100A2",  # letter inside
        "11010519491231002Y",  # bad check char
        "X1010519491231002X",
        "110105491231002",  # 15-digit legacy number
    ],
)
def test_resident_id_format(number: str) -> None:
    with raises_code("id_format"):
        validate_identity("1", number, today=TODAY)


@pytest.mark.parametrize(
    "number", ["110105194912310021", "360426199101010072", "440308199901101513", "11010519491231002" + "9"]
)
def test_resident_id_checksum(number: str) -> None:
    with raises_code("id_checksum"):
        validate_identity("1", number, today=TODAY)


@pytest.mark.parametrize(
    "first17",
    [
        "11010520150230001",  # Feb 30
        "11010520150229001",  # Feb 29 in a non-leap year
        "11010520151301001",  # month 13
        "11010520150100001",  # day 0
        "11010520260602001",  # tomorrow (TODAY = 2026-06-01)
        "11010530000101001",  # far future
        "11010518991231001",  # before 1900
    ],
)
def test_resident_id_birth_date(first17: str) -> None:
    with raises_code("id_birth_date"):
        validate_identity("1", make_id(first17), today=TODAY)


def test_resident_id_birth_date_today_and_leap_day_ok() -> None:
    assert validate_identity("1", make_id("11010520260601001"), today=TODAY).birth_date == TODAY
    assert validate_identity("1", make_id("11010520160229001"), today=TODAY).birth_date == date(2016, 2, 29)
    assert validate_identity("1", make_id("11010519000101001"), today=TODAY).birth_date == date(1900, 1, 1)


def test_resident_id_region_unknown_with_stub() -> None:
    known = {"110105", "110103", "360426", "440308"}.__contains__
    assert (
        validate_identity("1", "11010519491231002X", today=TODAY, known_region=known).region_code == "110105"
    )
    # an abolished (historical) code the regions module still knows: accepted
    assert validate_identity("1", make_id("11010320100101001"), today=TODAY, known_region=known)
    with raises_code("id_region_unknown"):
        validate_identity("1", make_id("11019920100101001"), today=TODAY, known_region=known)
    # without a known_region callable the address code itself is not looked up
    assert validate_identity("1", make_id("11019920100101001"), today=TODAY).region_code == "110199"


@pytest.mark.parametrize("prefix", ["000000", "710000", "700101", "160101"])
def test_resident_id_province_prefix_checked_structurally(prefix: str) -> None:
    with raises_code("id_region_unknown"):
        validate_identity("1", make_id(prefix + "20100101001"), today=TODAY)


@pytest.mark.parametrize(
    ("number", "hint"),
    [
        ("810000199408230021", "港澳台居民居住证"),
        ("830000199201300022", "港澳台居民居住证"),
        (make_id("82000020000101004"), "港澳台居民居住证"),
        (make_id("91184020100505123"), "境外永久居住证"),
    ],
)
def test_resident_id_type_mismatch_names_the_right_type(number: str, hint: str) -> None:
    with raises_code("id_type_mismatch") as info:
        validate_identity("1", number, today=TODAY)
    assert hint in info.value.message


# --- type H 港澳台居民居住证 --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "birth", "region"),
    [
        ("810000199408230021", date(1994, 8, 23), "810000"),
        ("830000199201300022", date(1992, 1, 30), "830000"),
        (make_id("82000020100101003"), date(2010, 1, 1), "820000"),
    ],
)
def test_residence_permit_valid(number: str, birth: date, region: str) -> None:
    parsed = validate_identity("H", number, today=TODAY)
    assert (parsed.doc_type, parsed.birth_date, parsed.region_code) == ("H", birth, region)
    assert parsed.gender == ("2" if int(number[16]) % 2 == 0 else "1")


def test_residence_permit_errors() -> None:
    with raises_code("id_type_mismatch") as info:
        validate_identity("H", "11010519491231002X", today=TODAY)
    assert "居民身份证" in info.value.message
    with raises_code("id_checksum"):
        validate_identity("H", "810000199408230022", today=TODAY)
    with raises_code("id_birth_date"):
        validate_identity("H", make_id("81000020150230002"), today=TODAY)
    with raises_code("id_format"):
        validate_identity("H", "81000019940823002", today=TODAY)


# --- type 9 境外永久居住证 ----------------------------------------------------------------------------------


def test_permanent_resident_2023_format_valid() -> None:
    number = make_id("9" + "11" + "840" + "20100505" + "123")
    parsed = validate_identity("9", number, today=TODAY)
    assert parsed == ParsedIdentity("9", number, date(2010, 5, 5), "1", "110000")
    female = make_id("931" + "392" + "20120229" + "004")
    assert validate_identity("9", female, today=TODAY).gender == "2"


def test_permanent_resident_2023_format_errors() -> None:
    with raises_code("id_checksum"):
        validate_identity("9", wrong_check("911840201005051" + "23"), today=TODAY)
    with raises_code("id_birth_date"):
        validate_identity("9", make_id("911840" + "20150230" + "123"), today=TODAY)
    with raises_code("id_region_unknown"):
        validate_identity("9", make_id("999840" + "20100505" + "123"), today=TODAY)
    with raises_code("id_format"):
        validate_identity("9", make_id("911000" + "20100505" + "123"), today=TODAY)  # nationality 000
    with raises_code("id_type_mismatch"):
        validate_identity("9", "11010519491231002X", today=TODAY)
    with raises_code("id_region_unknown"):
        validate_identity(
            "9", make_id("911840" + "20100505" + "123"), today=TODAY, known_region=lambda c: False
        )


@pytest.mark.parametrize(
    ("number", "birth"),
    [
        ("USA110010101011", date(2010, 10, 10)),
        ("CAN310005120339", date(2005, 12, 3)),
        ("GBR440085070112", date(1985, 7, 1)),  # 2085 is in the future → 1985
    ],
)
def test_permanent_resident_2017_format_valid(number: str, birth: date) -> None:
    parsed = validate_identity("9", number.lower(), today=TODAY)
    assert parsed == ParsedIdentity("9", number, birth, None, number[3:7] + "00")


@pytest.mark.parametrize(
    ("number", "code"),
    [
        ("US1100101010110", "id_format"),
        ("USA11001010101", "id_format"),
        ("USA110015023011", "id_birth_date"),  # Feb 30
        ("USA990010101011", "id_region_unknown"),
    ],
)
def test_permanent_resident_2017_format_errors(number: str, code: str) -> None:
    with raises_code(code):
        validate_identity("9", number, today=TODAY)


# --- types 6/7 香港/澳门身份证 -----------------------------------------------------------------------------


def ref_hkid(prefix: str, digits: str) -> str:
    vals = [36 if c == " " else (int(c) if c.isdigit() else ord(c) - 55) for c in prefix.rjust(2) + digits]
    r = (11 - sum(v * w for v, w in zip(vals, range(9, 1, -1), strict=True)) % 11) % 11
    return "A" if r == 10 else str(r)


@pytest.mark.parametrize(
    ("prefix", "digits", "check"),
    [("A", "123456", "3"), ("CA", "182361", "1"), ("K", "034178", "9"), ("G", "123456", "A")],
)
def test_hkid_check_char(prefix: str, digits: str, check: str) -> None:
    assert hkid_check_char(prefix, digits) == check
    assert ref_hkid(prefix, digits) == check


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("A123456(3)", "A123456(3)"),
        ("a1234563", "A123456(3)"),
        ("CA182361(1)", "CA182361(1)"),
        ("K034178（9）", "K034178(9)"),
    ],
)
def test_hong_kong_valid(raw: str, canonical: str) -> None:
    assert validate_identity("6", raw, today=TODAY) == ParsedIdentity("6", canonical, None, None, None)


@pytest.mark.parametrize(
    ("number", "code"),
    [
        ("K034178(2)", "id_checksum"),
        ("A123456(4)", "id_checksum"),
        ("A12345(3)", "id_format"),
        ("ABC123456(3)", "id_format"),
        ("1234567(8)", "id_format"),
        ("A123456(3", "id_format"),
        ("A1234563)", "id_format"),
    ],
)
def test_hong_kong_errors(number: str, code: str) -> None:
    with raises_code(code):
        validate_identity("6", number, today=TODAY)


def test_hkid_random_agreement() -> None:
    rng = random.Random(6)
    for _ in range(300):
        prefix = "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(rng.choice((1, 2))))
        digits = f"{rng.randrange(10**6):06d}"
        check = ref_hkid(prefix, digits)
        assert validate_identity("6", f"{prefix}{digits}({check})").number == f"{prefix}{digits}({check})"


@pytest.mark.parametrize(("raw", "canonical"), [("1234567(8)", "1234567(8)"), ("51234567", "5123456(7)")])
def test_macau_valid(raw: str, canonical: str) -> None:
    assert validate_identity("7", raw, today=TODAY).number == canonical


@pytest.mark.parametrize("number", ["123456(7)", "A123456(3)", "12345678(9)", "1234567(8"])
def test_macau_errors(number: str) -> None:
    with raises_code("id_format"):
        validate_identity("7", number, today=TODAY)


# --- types D, 8, A, Z -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("doc_type", "number", "ok"),
    [
        ("D", "H12345678", True),
        ("D", "m1234567801", True),
        ("D", "H1234567", False),
        ("D", "H123456789", False),
        ("D", "K12345678", False),
        ("8", "12345678", True),
        ("8", "1234567801", True),
        ("8", "123456789", False),
        ("8", "T1234567", False),
        ("A", "E12345678", True),
        ("A", "EA1234567", True),
        ("A", "X1234", True),
        ("A", "1234", False),
        ("A", "A" * 18, False),
        ("A", "E1234-678", False),
    ],
)
def test_permits_and_passports(doc_type: str, number: str, ok: bool) -> None:
    if ok:
        parsed = validate_identity(doc_type, number, today=TODAY)
        assert parsed == ParsedIdentity(doc_type, number.upper(), None, None, None)
    else:
        with raises_code("id_format"):
            validate_identity(doc_type, number, today=TODAY)


def test_type_z_without_number() -> None:
    assert validate_identity("Z", "", today=TODAY) == ParsedIdentity("Z", "", None, None, None)
    assert validate_identity("z", "   ", today=TODAY).number == ""


def test_type_z_with_number_refused() -> None:
    with raises_code("id_not_allowed_for_type"):
        validate_identity("Z", "11010519491231002X", today=TODAY)


@pytest.mark.parametrize("doc_type", ["1", "H", "9", "6", "7", "8", "D", "A"])
def test_number_required(doc_type: str) -> None:
    with raises_code("id_required"):
        validate_identity(doc_type, "  ", today=TODAY)


@pytest.mark.parametrize(
    ("doc_type", "code"), [("", "id_type_required"), ("2", "id_type_unknown"), ("B", "id_type_unknown")]
)
def test_document_type(doc_type: str, code: str) -> None:
    with raises_code(code, field="id_type"):
        validate_identity(doc_type, "11010519491231002X", today=TODAY)


def test_error_messages_name_the_field() -> None:
    with raises_code("id_checksum") as info:
        validate_identity("1", "110105194912310021", today=TODAY)
    assert "身份证件号" in info.value.message
    assert info.value.fields == {"id_number": info.value.message}


def test_default_today_rejects_future() -> None:
    future = date.today() + timedelta(days=400)
    with raises_code("id_birth_date"):
        validate_identity("1", make_id(f"110105{future:%Y%m%d}001"))


# --- record agreement -------------------------------------------------------------------------------------


def test_check_identity_matches() -> None:
    parsed = validate_identity("1", "11010519491231002X", today=TODAY)
    check_identity_matches(parsed, birth_date=date(1949, 12, 31), gender="2")
    with raises_code("id_birth_mismatch", field="birth_date"):
        check_identity_matches(parsed, birth_date=date(1949, 12, 30), gender="2")
    with raises_code("id_gender_mismatch", field="gender") as info:
        check_identity_matches(parsed, birth_date=date(1949, 12, 31), gender="1")
    assert "女" in info.value.message


def test_check_identity_matches_skips_what_is_not_encoded() -> None:
    passport = validate_identity("A", "E12345678", today=TODAY)
    check_identity_matches(passport, birth_date=date(2010, 1, 1), gender="1")
    old_pr = validate_identity("9", "USA110010101011", today=TODAY)
    check_identity_matches(old_pr, birth_date=date(2010, 10, 10), gender="2")  # no sex encoded
    with raises_code("id_birth_mismatch", field="birth_date"):
        check_identity_matches(old_pr, birth_date=date(2010, 10, 11), gender="2")


# --- masking ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        ("110105199001011234", "110***********1234"),
        ("11010519491231002X", "110***********002X"),
        ("E12345678", "E12**5678"),
        ("12345678", "123*5678"),
        ("1234567", "*******"),
        ("", ""),
    ],
)
def test_mask_id_number(number: str, masked: str) -> None:
    assert mask_id_number(number) == masked


# --- properties -------------------------------------------------------------------------------------------


@st.composite
def valid_prefixes(draw: st.DrawFn) -> str:
    region = draw(st.sampled_from(["110105", "360426", "440308", "650102", "530102", "210102"]))
    born = draw(st.dates(min_value=date(1900, 1, 1), max_value=TODAY))
    seq = draw(st.integers(min_value=0, max_value=999))
    return f"{region}{born:%Y%m%d}{seq:03d}"


@settings(max_examples=150, deadline=None)
@given(valid_prefixes())
def test_property_valid_and_single_substitution_fails(first17: str) -> None:
    number = first17 + mod11_2_check_char(first17)
    parsed = validate_identity("1", number, today=TODAY)
    assert parsed.number == number
    for i in range(18):
        alphabet = "0123456789X" if i == 17 else "0123456789"
        for c in alphabet:
            if c == number[i]:
                continue
            mutated = number[:i] + c + number[i + 1 :]
            with pytest.raises(FieldError):
                validate_identity("1", mutated, today=TODAY)


def test_cross_check_with_python_stdnum() -> None:
    rng = random.Random(11643)
    start, span = date(1985, 1, 1), (date(2020, 12, 31) - date(1985, 1, 1)).days
    for _ in range(400):
        born = start + timedelta(days=rng.randrange(span + 1))
        first17 = f"110105{born:%Y%m%d}{rng.randrange(1000):03d}"
        ours = mod11_2_check_char(first17)
        assert ours == ric.calc_check_digit(first17 + "?")  # stdnum expects the check position present
        number = first17 + ours
        assert ric.is_valid(number)
        parsed = validate_identity("1", number, today=TODAY)
        assert parsed.birth_date == born
        bad = wrong_check(first17)
        assert not ric.is_valid(bad)
        with raises_code("id_checksum"):
            validate_identity("1", bad, today=TODAY)
