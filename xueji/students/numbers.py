"""全国学籍号 (national student number): formatting and validation (pure functions).

《中小学生学籍管理办法》 第8条: the 学籍号 is assigned by the system, one per person, and never changes.
19 characters = a type letter + 18 characters (domain.md §2):

* ``G`` + the student's 18-character 居民身份证号 (formal number, GB 11643 checked);
* ``J`` + 6-digit division code of the school's location + YYYYMMDD birth date + 3-digit sequence + MOD 11-2
  check character (formal number for students without a usable resident ID);
* ``L`` + 6-digit division code + YYYYMMDD + 4 random digits (temporary number; NO check character — it
  must not be checked with MOD 11-2, real L numbers would fail).

J sequence allocation (unique per region + birth date) is the DB service's job; this module only formats.

Error codes (field ``student_number``): ``student_number_required``, ``student_number_format``,
``student_number_birth_date``, ``student_number_checksum``.
"""

from __future__ import annotations

import re
from datetime import date

from xueji.core.errors import FieldError
from xueji.students.identity import check_gb11643, mod11_2_check_char, normalise_number

__all__ = [
    "J_SEQUENCE_MAX",
    "J_SEQUENCE_MIN",
    "g_number",
    "j_number",
    "normalise_student_number",
    "validate_student_number",
]

J_SEQUENCE_MIN = 1
J_SEQUENCE_MAX = 999

_FIELD = "student_number"
_J = re.compile(r"J[0-9]{17}[0-9X]", re.ASCII)
_L = re.compile(r"L[0-9]{18}", re.ASCII)
_G = re.compile(r"G[0-9]{17}[0-9X]", re.ASCII)
_REGION = re.compile(r"[0-9]{6}", re.ASCII)


def normalise_student_number(s: str | None) -> str:
    """Full-width → half-width, strip, upper-case (store this form)."""
    return normalise_number(s)


def g_number(resident_id: str, *, today: date | None = None) -> str:
    """The formal G number: "G" + the 18-character 居民身份证号 (validated: structure, date, MOD 11-2).

    Raises ``FieldError("id_number", "id_format" | "id_birth_date" | "id_checksum", …)`` for a bad ID.
    The address code is not checked here (validate the document with ``validate_identity`` first).
    """
    number = normalise_number(resident_id)
    check_gb11643(number, field="id_number", label="身份证件号", today=today)
    return "G" + number


def j_number(region_code: str, birth_date: date, sequence: int) -> str:
    """The formal J number: "J" + region + YYYYMMDD + 3-digit sequence + MOD 11-2 check character.

    ``region_code`` is the 6-digit division code of the school's location; ``sequence`` is
    ``J_SEQUENCE_MIN``..``J_SEQUENCE_MAX`` (allocated by the caller). Bad arguments are programming errors
    and raise ``ValueError``.
    """
    if not _REGION.fullmatch(region_code):
        raise ValueError(f"region_code must be 6 ASCII digits, got {region_code!r}")
    if not J_SEQUENCE_MIN <= sequence <= J_SEQUENCE_MAX:
        raise ValueError(f"sequence must be {J_SEQUENCE_MIN}..{J_SEQUENCE_MAX}, got {sequence!r}")
    if birth_date.year < 1000:
        raise ValueError(f"birth_date out of range: {birth_date!r}")
    first17 = f"{region_code}{birth_date:%Y%m%d}{sequence:03d}"
    return "J" + first17 + mod11_2_check_char(first17)


def _check_date(yyyymmdd: str, today: date) -> None:
    try:
        born = date(int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:8]))
    except ValueError:
        raise FieldError(
            _FIELD, "student_number_birth_date", f"学籍号中的出生日期 {yyyymmdd} 不是有效日期"
        ) from None
    if born > today or born.year < 1900:
        raise FieldError(_FIELD, "student_number_birth_date", f"学籍号中的出生日期 {yyyymmdd} 超出合理范围")


def validate_student_number(s: str, *, today: date | None = None) -> str:
    """Validate a 19-character 学籍号 and return its kind: 'G', 'J' or 'L'.

    《中小学生学籍管理办法》 第8条. G → the suffix is a valid GB 11643 number (structure, date, MOD 11-2; any
    address code, since a G number keeps the ID it was issued from); J → structure, real date, MOD 11-2;
    L → "L" + 6 digits + real date + 4 digits, deliberately without any check-digit test.
    """
    number = normalise_student_number(s)
    today_ = today if today is not None else date.today()
    if not number:
        raise FieldError(_FIELD, "student_number_required", "请填写学籍号")
    kind = number[0]
    if kind == "G" and _G.fullmatch(number):
        check_gb11643(
            number[1:], field=_FIELD, label="学籍号中的身份证号", today=today_, code_prefix="student_number"
        )
        return "G"
    if kind == "J" and _J.fullmatch(number):
        _check_date(number[7:15], today_)
        if mod11_2_check_char(number[1:18]) != number[18]:
            raise FieldError(_FIELD, "student_number_checksum", "学籍号校验位错误，请核对号码")
        return "J"
    if kind == "L" and _L.fullmatch(number):
        _check_date(number[7:15], today_)
        return "L"
    raise FieldError(
        _FIELD,
        "student_number_format",
        "学籍号格式错误：应为19位，首字母G、J或L，后接18位数字（G、J末位可为X）",
    )
