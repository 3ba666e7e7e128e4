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
from django.utils.translation import gettext as _

from xueji.core.errors import ApplicationError, FieldError
from xueji.core.masking import mask_id_number, mask_phone
from xueji.policies.rules import GRADE_AGE, GradeAgeRules
from xueji.regions import divisions
from xueji.schools.grades import grade_label

from . import enums
from .fields import DEFAULTS, ENROLLMENT_FIELDS, GUARDIAN_FIELDS, MAX_GUARDIANS, PERSON_FIELDS, FieldSpec
from .identity import ParsedIdentity, check_identity_matches, registry_key, validate_identity

_PHONE = re.compile(r"^(1[3-9]\d{9}|0\d{2,3}-?\d{7,8}(-\d{1,6})?|\d{7,8})$")
_POSTAL = re.compile(r"^\d{6}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_TRUE = {"1", "是", "true", "y", "yes", "t"}
_FALSE = {"0", "否", "false", "n", "no", "f"}
OLDEST_AGE_YEARS = 30
#: Where a cleaned registration keeps the soft rules its registrar confirmed (see CleanRegistration).
CONFIRMATIONS = "confirmations"
#: The confirmation inputs of the age-for-grade rule (issue 8 item 4): the form's checkbox and reason, the API's
#: top-level ``age_confirmed`` / ``age_confirm_reason``, the import's reason column.
AGE_CONFIRMED = "age_confirmed"
AGE_CONFIRM_REASON = "age_confirm_reason"
REASON_MIN, REASON_MAX = 2, 200


@dataclass
class CleanRegistration:
    """A validated registration: person fields, enrollment fields, guardians and the parsed identity."""

    person: dict[str, Any]
    enrollment: dict[str, Any]
    guardians: list[dict[str, Any]]
    identity: ParsedIdentity
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def confirmations(self) -> dict[str, dict[str, str]]:
        """Soft rules the registrar confirmed for this student: ``{rule: {"reason", "detail", "version"}}``.

        Kept in ``enrollment`` (under :data:`CONFIRMATIONS`) so that a checked import row carries them to
        the commit like every other cleaned value; ``register_students`` stores them."""
        return dict(self.enrollment.get(CONFIRMATIONS) or {})

    @functools.cached_property
    def identity_key(self) -> str | None:  # a keyed hash (HMAC-SM3): computed once per registration
        if not self.identity.number:
            return None
        return registry_key(self.identity.doc_type, self.identity.number)


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
_LONG_DIGITS = re.compile(r"\d{7,}")


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
    # The message reaches the county as well as the school (an import's problem list): the digits stay masked.
    shown = _LONG_DIGITS.sub(lambda m: mask_id_number(m.group(0)), shown)
    return FieldError(
        spec.key,
        "excel_number",
        f"{spec.label}“{shown}”被 Excel 当成了数字（科学计数法或末尾“.0”），后几位可能已丢失：请先把该列设为“文本”格式，"
        "再重新输入完整号码（只改格式找不回丢失的数字）",
    )


# ------------------------------------------------------------------------------------------------------ names
#: Fields holding a person's name (student and family member ``name``, the student's ``former_name``).
NAME_KEYS = frozenset({"name", "former_name"})
#: Documents of foreigners, with which a name in Latin letters may be registered (第10条: foreign students
#: register with their own valid documents; domain.md §1.1: otherwise the name registered with 公安户籍).
FOREIGN_DOCUMENT_TYPES = frozenset(
    {enums.IdDocumentType.PASSPORT.value, enums.IdDocumentType.FOREIGN_PERMANENT_RESIDENT.value}
)
MIDDLE_DOT = "\u00b7"  # · the 间隔号 of minority and transliterated names (GB/T 15834)
#: What people type for the 间隔号: bullet, hyphenation point, katakana and half-width middle dots, operators.
_DOT_VARIANTS = str.maketrans(
    dict.fromkeys("\u2022\u2027\u30fb\uff65\u2219\u22c5\u0387\u2e31\u16eb", MIDDLE_DOT)
)
#: CJK unified ideographs (URO, Extensions A–I) and compatibility ideographs, by block: Extensions B–I lie
#: beyond the Basic Multilingual Plane, and a newer block than this Python's Unicode data (H, I) still counts.
_HAN_BLOCKS = (
    (0x3400, 0x4DBF),  # Extension A
    (0x4E00, 0x9FFF),  # URO
    (0xF900, 0xFAFF),  # compatibility ideographs
    (0x20000, 0x2A6DF),  # Extension B
    (0x2A700, 0x2B73F),  # C
    (0x2B740, 0x2B81F),  # D
    (0x2B820, 0x2CEAF),  # E
    (0x2CEB0, 0x2EBEF),  # F
    (0x2EBF0, 0x2EE5F),  # I
    (0x2F800, 0x2FA1F),  # compatibility supplement
    (0x30000, 0x3134F),  # G
    (0x31350, 0x323AF),  # H
)
_IDEOGRAPHIC_ZERO = "\u3007"  # 〇, a Han character (used in names), though Unicode files it as a number
_LATIN_PUNCTUATION = frozenset(" -'.")
_APOSTROPHES = str.maketrans(dict.fromkeys("\u2019\u02bc\uff07", "'"))


def _is_han(char: str) -> bool:
    cp = ord(char)
    return char == _IDEOGRAPHIC_ZERO or any(lo <= cp <= hi for lo, hi in _HAN_BLOCKS)


def _is_latin_letter(char: str) -> bool:
    return unicodedata.category(char).startswith("L") and "LATIN" in unicodedata.name(char, "")


def _is_emoji(char: str) -> bool:
    cp = ord(char)
    return (
        0x1F000 <= cp <= 0x1FAFF
        or 0x2600 <= cp <= 0x27BF
        or cp in {0xFE0F, 0x20E3}
        or unicodedata.category(char) in {"So", "Sk"}
    )


def _shown(char: str) -> str:
    return f"U+{ord(char):04X}"


def _name_char_error(char: str, previous: str, key: str, label: str) -> FieldError | None:
    """The error for one character of a name, or None when it may stand in a name."""
    if _is_han(char) or _is_latin_letter(char) or char == MIDDLE_DOT or char in _LATIN_PUNCTUATION:
        return None
    category = unicodedata.category(char)
    if 0xE0100 <= ord(char) <= 0xE01EF and _is_han(previous):
        return None  # an ideographic variation selector after a Han character (rare-character glyph variants)
    if category == "Mn" and _is_latin_letter(previous):
        return None  # a combining accent after a Latin letter (José typed as e + ◌́)
    if category == "Co":
        return FieldError(
            key,
            "name_private_use",
            _(
                "%(label)s含有私用区字符（%(code)s），其他系统无法正确显示：生僻字请用国家标准编码输入"
                "（如扩展B–G区汉字，可用输入法的生僻字功能）"
            )
            % {"label": label, "code": _shown(char)},
        )
    if category in {"Cc", "Cf", "Cs", "Zl", "Zp"} or (category == "Cn" and not _is_han(char)):
        return FieldError(
            key,
            "name_control",
            _("%(label)s含有不可见的控制字符（%(code)s），请删除后重新输入")
            % {"label": label, "code": _shown(char)},
        )
    if category.startswith("N"):
        return FieldError(
            key, "name_digit", _("%(label)s不能含有数字（“%(char)s”）") % {"label": label, "char": char}
        )
    if _is_emoji(char):
        return FieldError(
            key,
            "name_emoji",
            _("%(label)s不能含有表情或图形符号（“%(char)s”）") % {"label": label, "char": char},
        )
    if category.startswith(("P", "S", "Z")):
        return FieldError(
            key, "name_markup", _("%(label)s不能含有符号“%(char)s”") % {"label": label, "char": char}
        )
    return FieldError(
        key,
        "name_script",
        _("%(label)s含有“%(char)s”：姓名须为汉字（少数民族姓名可用间隔号“·”），外籍学生可用拉丁字母")
        % {"label": label, "char": char},
    )


def clean_name(raw: str, *, key: str = "name", label: str = "姓名") -> str:
    """A person's name as registered, or a :class:`FieldError` on ``key`` naming the problem (issue 8 item 3).

    第9条 (学校不得使用虚假信息) and 第6条 (registered from the identity document): a name is either Chinese —
    Han characters of any block, rare characters of Extensions B–G included, compound surnames (欧阳, 司马) —
    with the 间隔号 ``·`` between the parts of a minority or transliterated name (阿卜杜拉·买买提; •, ‧ and ・
    typed for it are stored as ``·``), or Latin letters with spaces, hyphens, apostrophes and full stops. Digits,
    markup characters (``<``, ``&`` …), emoji, control and invisible characters, private-use code points and
    other scripts are refused, as is a mix of Han and Latin. Whether a Latin name is allowed depends on the
    identity document: see :func:`clean_fields`.
    """
    text = raw.translate(_DOT_VARIANTS).translate(_APOSTROPHES).replace("\u3000", " ").strip()
    previous = ""
    for char in text:
        problem = _name_char_error(char, previous, key, label)
        if problem is not None:
            raise problem
        previous = char
    han = any(_is_han(c) for c in text)
    latin = any(_is_latin_letter(c) for c in text)
    if han and latin:
        raise FieldError(key, "name_mixed", _("%(label)s不能同时含有汉字和拉丁字母") % {"label": label})
    if han:
        if " " in text:
            raise FieldError(key, "name_space", _("中文%(label)s中不能有空格") % {"label": label})
        stray = next((c for c in text if c in _LATIN_PUNCTUATION), None)
        if stray is not None:
            raise FieldError(
                key, "name_markup", _("%(label)s不能含有符号“%(char)s”") % {"label": label, "char": stray}
            )
        if text[0] == MIDDLE_DOT or text[-1] == MIDDLE_DOT or MIDDLE_DOT * 2 in text:
            raise FieldError(
                key,
                "name_dot",
                _("%(label)s中的间隔号“·”只能用在两个字之间，且不能连用") % {"label": label},
            )
        return text
    if not latin:
        raise FieldError(key, "name_format", _("%(label)s须含有汉字或字母") % {"label": label})
    if MIDDLE_DOT in text or not _is_latin_letter(text[0]):
        raise FieldError(
            key,
            "name_format",
            _("拉丁字母%(label)s须以字母开头，只能含字母、空格、连字符（-）、撇号（'）和点（.）")
            % {"label": label},
        )
    return unicodedata.normalize("NFC", " ".join(text.split()))


def is_latin_name(value: Any) -> bool:
    """True for a (cleaned) name written in Latin letters."""
    return isinstance(value, str) and any(_is_latin_letter(c) for c in value)


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
                spec.key,
                "invalid_phone",
                # Masked: the message may be read beyond the school (an import's problem list).
                f"{spec.label}“{_LONG_DIGITS.sub(lambda m: mask_phone(m.group(0)), raw)}”格式不正确（手机11位或带区号的固话）",
            )
        return raw.replace(" ", "")
    if spec.kind == "postal":
        if not _POSTAL.match(raw):
            raise FieldError(spec.key, "invalid_postal_code", f"{spec.label}须为6位数字")
        return raw
    if spec.key == "email" and raw and not _EMAIL.match(raw):
        raise FieldError(spec.key, "invalid_email", f"{spec.label}格式不正确")
    if spec.key in NAME_KEYS:
        return clean_name(raw, key=spec.key, label=spec.label)
    return raw


def _is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def clean_fields(
    specs: tuple[FieldSpec, ...],
    raw: Mapping[str, Any],
    errors: dict[str, str],
    prefix: str = "",
    *,
    latin_names: bool | None = None,
) -> dict[str, Any]:
    """Convert each field; collect one Chinese message per bad field (keyed ``prefix + key``).

    Names in Latin letters (issue 8 item 3; 第10条) are accepted only with a foreign identity document
    (:data:`FOREIGN_DOCUMENT_TYPES`): the ``id_type`` among these fields decides, unless ``latin_names`` says
    so for the caller (``True``: a foreign student's family member without a document type of their own).
    Without either, a Latin name is refused — what cannot be checked is not let through.
    """
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
    if not latin_names and out.get("id_type") not in FOREIGN_DOCUMENT_TYPES:
        for spec in specs:
            if spec.key in NAME_KEYS and is_latin_name(out.get(spec.key)):
                errors.setdefault(
                    prefix + spec.key,
                    _(
                        "%(label)s“%(value)s”为拉丁字母：只有持护照或外国人永久居留身份证的外籍人员可登记外文姓名，"
                        "其他人请填写与户籍登记一致的中文姓名"
                    )
                    % {"label": spec.label, "value": out[spec.key]},
                )
    return out


def check_guardian_identity(
    guardian: dict[str, Any], errors: dict[str, str], *, today: date, prefix: str = "", n: int | None = None
) -> None:
    """A family member's identity document, when given, is checked like the student's (第6条) and its number
    normalised in place; an error goes to ``errors`` under ``prefix + field``. Registration, the record's
    family edits and the import all use this."""
    bad_number = f"{prefix}id_number" in errors  # e.g. an Excel number: that message stands
    if not (guardian.get("id_type") or guardian.get("id_number")) or bad_number:
        return
    try:
        parsed = validate_identity(
            guardian.get("id_type") or "",
            guardian.get("id_number") or "",
            today=today,
            known_region=divisions.is_known_address_code,
        )
        guardian["id_number"] = parsed.number
    except FieldError as exc:
        errors[f"{prefix}{exc.field}"] = f"家庭成员{n if n is not None else ''}{exc.message}"


def clean_registration(
    raw_person: Mapping[str, Any],
    raw_enrollment: Mapping[str, Any],
    raw_guardians: Sequence[Mapping[str, Any]],
    *,
    school_stages: list[str],
    today: date,
    extra_validator: Callable[[Mapping[str, Any]], tuple[dict[str, Any], dict[str, str]]] | None = None,
    raw_extra: Mapping[str, Any] | None = None,
    grade_age: GradeAgeRules | None = None,
) -> CleanRegistration:
    """Validate one registration. Raises :class:`RegistrationInvalid` with every field error at once.

    Rules (《中小学生学籍管理办法》): 第6条 — registered from a valid identity document (type-specific checks,
    birth date and sex must agree with the number); 第9条 — no false information (real dates, known region
    codes, code-table values); 第10条 — HK/Macau/Taiwan and foreign students use their own documents;
    第11条 — 随班就读 needs a disability type; 第3条 — province non-basic fields validated by ``extra_validator``;
    issue 8 item 3 — names (:func:`clean_name`; Latin letters only with a foreign document); issue 8 item 5 —
    no 居民身份证 whose address code was abolished before the birth date (:mod:`xueji.students.identity`);
    issue 8 item 4 (第9条, 第11条) — the age must fit the grade by ``grade_age``, the province's rule in force
    (:func:`xueji.policies.queries.grade_age_rules_for`; the national defaults when ``None``): see
    :func:`check_grade_age`.
    """
    errors: dict[str, str] = {}
    person = clean_fields(PERSON_FIELDS, raw_person, errors)
    foreign_student = person.get("id_type") in FOREIGN_DOCUMENT_TYPES
    enrollment = clean_fields(ENROLLMENT_FIELDS, raw_enrollment, errors)
    guardians: list[dict[str, Any]] = []
    filled = [g for g in raw_guardians if any(not _is_blank(v) for v in g.values())]
    if len(filled) > MAX_GUARDIANS:
        errors["guardians"] = f"家庭成员最多填写 {MAX_GUARDIANS} 人"
    for index, raw_guardian in enumerate(filled[:MAX_GUARDIANS]):
        guardian = clean_fields(
            GUARDIAN_FIELDS,
            raw_guardian,
            errors,
            prefix=f"guardians.{index}.",
            latin_names=foreign_student or None,
        )
        guardians.append(guardian)
        check_guardian_identity(guardian, errors, today=today, prefix=f"guardians.{index}.", n=index + 1)
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

    if birth is not None and grade is not None and "birth_date" not in errors and "grade" not in errors:
        confirmed = check_grade_age(
            grade_age or GradeAgeRules.from_rules(None),
            birth=birth,
            grade=grade,
            entry_ym=entry_ym if "entry_ym" not in errors else None,
            today=today,
            raw=raw_enrollment,
            errors=errors,
        )
        if confirmed is not None:
            enrollment[CONFIRMATIONS] = {GRADE_AGE: confirmed}

    extra: dict[str, Any] = {}
    if extra_validator is not None:
        extra, extra_errors = extra_validator(raw_extra or {})
        errors.update({f"extra.{k}": v for k, v in extra_errors.items()})

    if errors:
        raise RegistrationInvalid(errors)
    return CleanRegistration(
        person=person, enrollment=enrollment, guardians=guardians, identity=identity, extra=extra
    )


def check_grade_age(
    rules: GradeAgeRules,
    *,
    birth: date,
    grade: int,
    entry_ym: str | None,
    today: date,
    raw: Mapping[str, Any],
    errors: dict[str, str],
) -> dict[str, str] | None:
    """Age-for-grade plausibility (issue 8 item 4): 第11条 (school entry at six, seven where conditions lack)
    and 第9条 (学校不得使用虚假信息). The pupil's age on the counting day of the registration's school year is
    compared with the grade's bands of the province rule (``grade_age``, policy data, never code):

    * outside the ``allowed`` band → refused on ``grade`` (a child of 14 months in 一年级: the birth date or the
      grade is wrong);
    * outside ``normal`` but inside ``allowed`` → refused on ``age_confirmed`` unless the registrar confirms that
      the age is right, with a reason (2–200 characters) — the form's checkbox, the API's
      ``age_confirmed: true`` with ``age_confirm_reason``, or the import's 年龄核实原因 column (a reason there
      is the confirmation: a file has no checkbox).

    Returns the confirmation to keep (``{"reason", "detail", "version"}``) when one was needed and given, else
    None. A confirmation sent when none is needed is ignored.
    """
    stage = enums.stage_for_grade(grade).value
    verdict = rules.judge(stage=stage, grade=grade, birth=birth, day=rules.counting_day(today, entry_ym))
    if verdict.outcome == "ok":
        return None
    facts = {
        "day": f"{verdict.day:%Y-%m-%d}",
        "age": verdict.age_text(),
        "grade": grade_label(grade),
        "normal": f"{verdict.normal[0]}–{verdict.normal[1]}",
        "allowed": f"{verdict.allowed[0]}–{verdict.allowed[1]}",
    }
    if verdict.outcome == "refuse":
        errors["grade"] = (
            _(
                "年级与出生日期明显不符：该生在 %(day)s 为 %(age)s，%(grade)s学生应为 %(allowed)s 周岁"
                "（正常为 %(normal)s 周岁；第十一条）。请核对出生日期和年级"
            )
            % facts
        )
        return None
    reason = " ".join(_text(raw.get(AGE_CONFIRM_REASON)).split())
    flag = raw.get(AGE_CONFIRMED, None)
    # The form and the API send the flag; an import row has only the reason column, which is the confirmation.
    confirmed = (
        (flag is True or _text(flag).lower() in _TRUE | {"on"}) if AGE_CONFIRMED in raw else bool(reason)
    )
    if not confirmed:
        errors[AGE_CONFIRMED] = (
            _(
                "年龄与年级不符：该生在 %(day)s 为 %(age)s，%(grade)s的正常年龄为 %(normal)s 周岁。请核对出生日期"
                "和年级；如确属实（如缓学、留级、跳级、插班），请确认并填写原因"
            )
            % facts
        )
        return None
    if (
        len(reason) < REASON_MIN
        or len(reason) > REASON_MAX
        or any(unicodedata.category(c) in {"Cc", "Cf", "Co"} for c in reason)
    ):
        errors[AGE_CONFIRM_REASON] = _("请填写年龄与年级不符的原因（%(min)s–%(max)s 字）") % {
            "min": REASON_MIN,
            "max": REASON_MAX,
        }
        return None
    detail = _("%(day)s 时 %(age)s，%(grade)s正常为 %(normal)s 周岁") % facts
    return {"reason": reason, "detail": detail, "version": rules.version}


def choice_label(choices: type[models.TextChoices], value: str) -> str:
    try:
        return str(choices(value).label)
    except ValueError:
        return value
