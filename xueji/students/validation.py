"""Turning raw input (form, API JSON, spreadsheet row) into a clean registration, or field errors in Chinese.

Pure functions: no database. The same code serves a single registration and a million-row import, so that a
rule holds identically everywhere. The set-based checks that need the database (duplicates, numbers) live in
:mod:`xueji.students.services`.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from django.db import models
from django.utils import translation

from xueji.core.errors import ApplicationError, FieldError
from xueji.regions import divisions

from . import enums
from .fields import DEFAULTS, ENROLLMENT_FIELDS, GUARDIAN_FIELDS, MAX_GUARDIANS, PERSON_FIELDS, FieldSpec
from .identity import ParsedIdentity, check_identity_matches, validate_identity

_PHONE = re.compile(r"^(1[3-9]\d{9}|0\d{2,3}-?\d{7,8}(-\d{1,6})?|\d{7,8})$")
_POSTAL = re.compile(r"^\d{6}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_TRUE = {"1", "是", "true", "y", "yes", "t"}
_FALSE = {"0", "否", "false", "n", "no", "f"}
OLDEST_AGE_YEARS = 30


@dataclass
class CleanRegistration:
    """A validated registration: person fields, enrollment fields, guardians and the parsed identity."""

    person: dict[str, Any]
    enrollment: dict[str, Any]
    guardians: list[dict[str, Any]]
    identity: ParsedIdentity
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def identity_key(self) -> str | None:
        if not self.identity.number:
            return None
        return f"{self.identity.doc_type}:{self.identity.number}"


class RegistrationInvalid(ApplicationError):
    def __init__(self, fields: Mapping[str, str]) -> None:
        first = next(iter(fields.values()), "")
        super().__init__(
            "registration_invalid", f"学籍信息有误：{first}" if first else "学籍信息有误", fields
        )


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # spreadsheets turn digit strings into numbers
    return str(value).strip()


@functools.cache
def _choice_index(choices: type[models.TextChoices]) -> tuple[frozenset[str], dict[str, str]]:
    """Code set and label→code map of a code table, built once (this is on the import hot path)."""
    # Files use the Chinese labels of the national template, whatever the request's language.
    with translation.override("zh-hans"):
        return frozenset(choices.values), {str(label): str(value) for value, label in choices.choices}


def _code(spec: FieldSpec, raw: str) -> str:
    """Accept the code ("1"), the label ("男") or the template's "code-label" form ("1-男")."""
    choices = spec.choices
    assert choices is not None
    values, by_label = _choice_index(choices)
    if raw in values:
        return raw
    head = re.split(r"[-\s:：]", raw, maxsplit=1)[0]
    if head in values and head != raw:
        return head
    upper = raw.upper()
    if upper in values:
        return upper
    if raw in by_label:
        return by_label[raw]
    raise FieldError(spec.key, "invalid_code", f"{spec.label}“{raw}”不是有效代码")


DATE_FORMATS = ("%Y-%m-%d", "%Y%m%d", "%Y/%m/%d", "%Y.%m.%d")
# The common spellings of DATE_FORMATS, read without strptime (≈10 % of an import's validation; issue 7).
_DATE = re.compile(r"(\d{4})([-/.])(\d{1,2})\2(\d{1,2})|(\d{4})(\d{2})(\d{2})")


def parse_date(value: Any, key: str, label: str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    raw = _text(value)
    m = _DATE.fullmatch(raw)
    if m is not None:
        y, mo, d = (m[1], m[3], m[4]) if m[1] else (m[5], m[6], m[7])
        try:
            return date(int(y), int(mo), int(d))
        except ValueError:
            pass  # 2018-02-30: strptime below refuses it too, with the same message
    for fmt in DATE_FORMATS:
        try:
            return datetime.strptime(raw, fmt).date()
        except ValueError:
            continue
    raise FieldError(key, "invalid_date", f"{label}“{raw}”不是有效日期（格式 YYYY-MM-DD）")


def _ym(value: Any, spec: FieldSpec) -> str:
    if isinstance(value, (date, datetime)):
        return f"{value.year:04d}{value.month:02d}"
    raw = _text(value).replace("-", "").replace("/", "").replace(".", "")
    if re.fullmatch(r"\d{6}", raw) and 1 <= int(raw[4:]) <= 12 and int(raw[:4]) >= 1990:
        return raw
    raise FieldError(spec.key, "invalid_ym", f"{spec.label}“{_text(value)}”无效（格式 YYYYMM）")


_CN_DIGITS = "一二三四五六七八九"
#: Grade names a registrar types or an old spreadsheet holds (issue 8 item 7): 一年级 … 九年级, 初一 … 初三,
#: 高一 … 高三, 七年级 = 初一; "3" and "3年级" too.
GRADE_WORDS: dict[str, int] = {
    **{f"{c}年级": i + 1 for i, c in enumerate(_CN_DIGITS)},
    **{f"初{c}": i + 7 for i, c in enumerate("一二三")},
    **{f"高{c}": i + 10 for i, c in enumerate("一二三")},
    **{f"{n}年级": n for n in range(1, 10)},
}


def grade_number(raw: str) -> int | None:
    """1–12 from a number or a grade name (spaces and full-width characters tolerated), else None."""
    text = unicodedata.normalize("NFKC", raw).replace(" ", "")
    if text.isdigit():
        number = int(text)
        return number if 1 <= number <= 12 else None
    return GRADE_WORDS.get(text)


def _bool(spec: FieldSpec, raw: str) -> bool:
    low = raw.lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise FieldError(spec.key, "invalid_bool", f"{spec.label}须填“是”或“否”")


#: Columns holding long digit strings that Excel turns into numbers (issue 8 item 7).
EXCEL_TEXT_KEYS = frozenset({"id_number", "phone"})
# What a number Excel displays or exports looks like: 4.40105E+17, 440105201803140032.0
_EXCEL_NUMBER = re.compile(r"\d+(\.\d+)?[eE]\+?\d+|\d+\.0+")
# Floats carry 15–16 significant digits: a longer number read from a numeric cell has lost its last digits.
_FLOAT_EXACT_BELOW = 10**15


def excel_number_problem(spec: FieldSpec, value: Any) -> FieldError | None:
    """A digit-string column that Excel stored or exported as a number: reported as the format problem it is,
    with how to fix it — not as a wrong check digit or phone number (issue 8 item 7). A numeric cell is fine
    when the number survived (an 11-digit phone); an 18-digit identity number never does."""
    if spec.key not in EXCEL_TEXT_KEYS:
        return None
    if isinstance(value, float) and (not value.is_integer() or abs(value) >= _FLOAT_EXACT_BELOW):
        shown = f"{value:.6G}"
    elif isinstance(value, str) and _EXCEL_NUMBER.fullmatch(value.strip()):
        shown = value.strip()
    else:
        return None
    return FieldError(
        spec.key,
        "excel_number",
        f"{spec.label}“{shown}”被 Excel 当成了数字（科学计数法或末尾“.0”），后几位可能已丢失：请先把该列设为“文本”格式，"
        "再重新输入完整号码（只改格式找不回丢失的数字）",
    )


def _convert(spec: FieldSpec, value: Any) -> Any:
    problem = excel_number_problem(spec, value)
    if problem is not None:
        raise problem
    if spec.kind == "date":
        return parse_date(value, spec.key, spec.label)
    if spec.kind == "ym":
        return _ym(value, spec)
    raw = _text(value)
    if len(raw) > spec.max_length:
        raise FieldError(spec.key, "too_long", f"{spec.label}不能超过 {spec.max_length} 个字符")
    if spec.kind == "code":
        return _code(spec, raw)
    if spec.kind == "bool":
        return _bool(spec, raw)
    if spec.kind == "region":
        if not (len(raw) == 6 and raw.isdigit() and divisions.is_known_address_code(raw)):
            raise FieldError(spec.key, "invalid_region", f"{spec.label}“{raw}”不是有效的6位行政区划代码")
        return raw
    if spec.kind == "grade":
        grade = grade_number(raw)
        if grade is None:
            raise FieldError(
                spec.key,
                "invalid_grade",
                f"{spec.label}“{raw}”无效：填 1–12 或年级名称（如 一年级、初一、高一）",
            )
        return grade
    if spec.kind == "phone":
        if not _PHONE.match(raw.replace(" ", "")):
            raise FieldError(
                spec.key, "invalid_phone", f"{spec.label}“{raw}”格式不正确（手机11位或带区号的固话）"
            )
        return raw.replace(" ", "")
    if spec.kind == "postal":
        if not _POSTAL.match(raw):
            raise FieldError(spec.key, "invalid_postal_code", f"{spec.label}须为6位数字")
        return raw
    if spec.key == "email" and raw and not _EMAIL.match(raw):
        raise FieldError(spec.key, "invalid_email", f"{spec.label}格式不正确")
    return raw


def _is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def clean_fields(
    specs: tuple[FieldSpec, ...], raw: Mapping[str, Any], errors: dict[str, str], prefix: str = ""
) -> dict[str, Any]:
    """Convert each field; collect one Chinese message per bad field (keyed ``prefix + key``)."""
    out: dict[str, Any] = {}
    for spec in specs:
        value = raw.get(spec.key)
        if _is_blank(value):
            if spec.required:
                errors[prefix + spec.key] = f"{spec.label}为必填项"
            elif spec.key in DEFAULTS:
                out[spec.key] = DEFAULTS[spec.key]
            else:
                out[spec.key] = "" if spec.kind not in {"date", "grade"} else None
            continue
        try:
            out[spec.key] = _convert(spec, value)
        except FieldError as exc:
            errors[prefix + spec.key] = exc.message
    return out


def clean_registration(
    raw_person: Mapping[str, Any],
    raw_enrollment: Mapping[str, Any],
    raw_guardians: Sequence[Mapping[str, Any]],
    *,
    school_stages: list[str],
    today: date,
    extra_validator: Callable[[Mapping[str, Any]], tuple[dict[str, Any], dict[str, str]]] | None = None,
    raw_extra: Mapping[str, Any] | None = None,
) -> CleanRegistration:
    """Validate one registration. Raises :class:`RegistrationInvalid` with every field error at once.

    Rules (《中小学生学籍管理办法》): 第6条 — registered from a valid identity document (type-specific checks,
    birth date and sex must agree with the number); 第9条 — no false information (real dates, known region
    codes, code-table values); 第10条 — HK/Macau/Taiwan and foreign students use their own documents;
    第11条 — 随班就读 needs a disability type; 第3条 — province non-basic fields validated by ``extra_validator``.
    """
    errors: dict[str, str] = {}
    person = clean_fields(PERSON_FIELDS, raw_person, errors)
    enrollment = clean_fields(ENROLLMENT_FIELDS, raw_enrollment, errors)
    guardians: list[dict[str, Any]] = []
    filled = [g for g in raw_guardians if any(not _is_blank(v) for v in g.values())]
    if len(filled) > MAX_GUARDIANS:
        errors["guardians"] = f"家庭成员最多填写 {MAX_GUARDIANS} 人"
    for index, raw_guardian in enumerate(filled[:MAX_GUARDIANS]):
        guardian = clean_fields(GUARDIAN_FIELDS, raw_guardian, errors, prefix=f"guardians.{index}.")
        guardians.append(guardian)
        bad_number = f"guardians.{index}.id_number" in errors  # e.g. an Excel number: that message stands
        if (guardian.get("id_type") or guardian.get("id_number")) and not bad_number:
            try:
                parsed = validate_identity(
                    guardian.get("id_type") or "",
                    guardian.get("id_number") or "",
                    today=today,
                    known_region=divisions.is_known_address_code,
                )
                guardian["id_number"] = parsed.number
            except FieldError as exc:
                errors[f"guardians.{index}.{exc.field}"] = f"家庭成员{index + 1}{exc.message}"
    if not filled:
        errors["guardians"] = "至少填写一名家庭成员（监护人）"
    elif not any(g.get("is_guardian") for g in guardians):
        errors.setdefault("guardians", "家庭成员中至少有一人是监护人")

    identity = ParsedIdentity("Z", "", None, None, None)
    if "id_type" in person and "id_type" not in errors and "id_number" not in errors:
        try:
            identity = validate_identity(
                person["id_type"],
                person.get("id_number", ""),
                today=today,
                known_region=divisions.is_known_address_code,
            )
            person["id_number"] = identity.number
            if "birth_date" in person and "gender" in person:
                check_identity_matches(identity, birth_date=person["birth_date"], gender=person["gender"])
        except FieldError as exc:
            errors[exc.field] = exc.message

    birth = person.get("birth_date")
    if birth is not None and "birth_date" not in errors:
        if birth > today:
            errors["birth_date"] = "出生日期不能晚于今天"
        elif today.year - birth.year > OLDEST_AGE_YEARS:
            errors["birth_date"] = f"出生日期早于 {OLDEST_AGE_YEARS} 年前，请核对"
    if person.get("id_type") == enums.IdDocumentType.RESIDENT_ID and person.get("nationality") not in (
        None,
        "CHN",
    ):
        errors.setdefault("nationality", "持居民身份证的学生国籍/地区应为中国（CHN）")
    if person.get("inclusive_education", "0") != "0" and person.get("disability_type", "0") == "0":
        errors.setdefault("disability_type", "随班就读学生须填写残疾类型（第十一条）")

    grade = enrollment.get("grade")
    if grade is not None:
        stage = enums.stage_for_grade(grade).value
        enrollment["stage"] = stage
        if stage not in school_stages:
            errors.setdefault("grade", f"本校不招收{enums.Stage(stage).label}学生（年级 {grade}）")
        method = enrollment.get("entry_method")
        if method and method not in {m.value for m in enums.entry_methods_for(stage)}:
            errors.setdefault("entry_method", f"入学方式与学段（{enums.Stage(stage).label}）不符")
    entry_ym = enrollment.get("entry_ym")
    if entry_ym and birth is not None and entry_ym <= f"{birth.year:04d}{birth.month:02d}":
        errors.setdefault("entry_ym", "入学年月不能早于出生日期")
    if entry_ym and entry_ym > f"{today.year + 1:04d}{today.month:02d}":
        errors.setdefault("entry_ym", "入学年月不能晚于一年以后")

    extra: dict[str, Any] = {}
    if extra_validator is not None:
        extra, extra_errors = extra_validator(raw_extra or {})
        errors.update({f"extra.{k}": v for k, v in extra_errors.items()})

    if errors:
        raise RegistrationInvalid(errors)
    return CleanRegistration(
        person=person, enrollment=enrollment, guardians=guardians, identity=identity, extra=extra
    )


def choice_label(choices: type[models.TextChoices], value: str) -> str:
    try:
        return str(choices(value).label)
    except ValueError:
        return value
