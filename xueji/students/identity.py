"""Identity-document validation for student registration (pure Python: no models, no database).

《中小学生学籍管理办法》 第6条: a student's 学籍 is registered from a valid identity document;
第9条: the identity fields (身份证件类型/号, 出生日期, 性别) are key data that must agree with each
other; 第10条: students from Hong Kong, Macau, Taiwan and abroad register with their valid identity
documents.

Every failure raises :class:`xueji.core.errors.FieldError` on field ``id_number`` (or ``id_type``,
``birth_date``, ``gender``) with one of these stable codes:

==========================  ==========================================================================
``id_type_required``        no document type given
``id_type_unknown``         document type not in :class:`IdDocumentType`
``id_required``             number missing for a type that needs one
``id_format``               wrong length / characters / structure for the type
``id_checksum``             check character wrong (GB 11643 MOD 11-2, HKID)
``id_birth_date``           encoded birth date not a real date, in the future, or before 1900
``id_region_unknown``       encoded address/province code unknown
``id_region_abolished``     the address code was abolished before the encoded birth date (GB/T 2260 history)
``id_type_mismatch``        the number belongs to another document type (message names it)
``id_not_allowed_for_type`` a number was given for type Z (其他), which is registered without one
``id_birth_mismatch``       the number's birth date differs from the record's 出生日期 (field birth_date)
``id_gender_mismatch``      the number's sex differs from the record's 性别 (field gender)
==========================  ==========================================================================
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from xueji.core.errors import FieldError
from xueji.core.fieldcrypto import blind_index
from xueji.regions import divisions
from xueji.students.enums import Gender, IdDocumentType

__all__ = [
    "PROVINCE_CODES",
    "ParsedIdentity",
    "check_gb11643",
    "check_identity_matches",
    "hkid_check_char",
    "mod11_2_check_char",
    "normalise_number",
    "validate_identity",
]

KnownRegion = Callable[[str], bool]
#: ``(address code, birth date) -> last year of the code`` when it was abolished before that birth, else None.
RegionAbolished = Callable[[str, date], int | None]

MIN_BIRTH_DATE = date(1900, 1, 1)

#: GB 11643 / ISO 7064 MOD 11-2 weights for characters 1–17.
_MOD11_2_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_MOD11_2_CHARS = "10X98765432"

#: GB/T 2260 province-level codes of the mainland (first two digits of an address code).
PROVINCE_CODES = frozenset(
    {"11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37"}
    | {"41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65"}
)

#: Address codes of the 港澳台居民居住证 (2018): Hong Kong, Macau, Taiwan.
PERMIT_REGION_CODES = frozenset({"810000", "820000", "830000"})

_ID18 = re.compile(r"[0-9]{17}[0-9X]", re.ASCII)
_PR_OLD15 = re.compile(r"([A-Z]{3})([0-9]{4})([0-9]{6})([0-9])([0-9])", re.ASCII)
_HKID = re.compile(r"([A-Z]{1,2})([0-9]{6})(?:\(([0-9A])\)|([0-9A]))", re.ASCII)
_MACAU_ID = re.compile(r"([0-9]{7})(?:\(([0-9])\)|([0-9]))", re.ASCII)
_HM_PERMIT = re.compile(r"[HM]([0-9]{8}|[0-9]{10})", re.ASCII)
_TW_PERMIT = re.compile(r"[0-9]{8}([0-9]{2})?", re.ASCII)
_PASSPORT = re.compile(r"[A-Z0-9]{5,17}", re.ASCII)

_DOC_TYPES = frozenset(IdDocumentType.values)
_GENDER_NAME = {"1": "男", "2": "女"}


@dataclass(frozen=True)
class ParsedIdentity:
    """A validated identity document and what its number encodes."""

    doc_type: str  # IdDocumentType value
    number: str  # normalised (upper-case, stripped; '' for type Z)
    birth_date: date | None  # when the number encodes it
    gender: str | None  # "1"/"2" when the number encodes it
    region_code: str | None  # 6-digit address code when encoded


# ---------------------------------------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------------------------------------


def normalise_number(number: str | None) -> str:
    """Full-width → half-width (NFKC), strip surrounding whitespace, upper-case."""
    if not number:
        return ""
    return unicodedata.normalize("NFKC", number).strip().upper()


def mod11_2_check_char(first17: str) -> str:
    """The GB 11643 / ISO 7064 MOD 11-2 check character ('0'–'9' or 'X') for 17 ASCII digits."""
    if len(first17) != 17 or not first17.isascii() or not first17.isdigit():
        raise ValueError(f"expected 17 ASCII digits, got {first17!r}")
    total = sum(int(c) * w for c, w in zip(first17, _MOD11_2_WEIGHTS, strict=True))
    return _MOD11_2_CHARS[total % 11]


IDENTITY_KEY_PURPOSE = "students_identitykey.key"


def registry_key(doc_type: str, number: str) -> str:
    """The national identity registry's key of a document (第9条): the blind index (HMAC-SM3, issue 11 §3) of
    ``"<document type>:<NUMBER>"`` — the registry never holds a number in clear."""
    return blind_index(IDENTITY_KEY_PURPOSE, f"{doc_type}:{number.strip().upper()}")


def resident_id_fails(id_type: str, number: str, birth: Any, gender: str) -> bool:
    """第9、25条 problem-record rule ``id_invalid``: a resident identity card number (type 1) that is malformed,
    has a wrong check character, or disagrees with the stored birth date or sex (GB 11643). Stored as the
    non-secret flag ``Person.id_check_failed`` when the record is written, because the number itself is encrypted
    (issue 11 §3) and set-based checks cannot read it."""
    if id_type != "1":
        return False
    n = number or ""
    if not (len(n) == 18 and n[:17].isascii() and n[:17].isdigit() and n[17] in "0123456789X"):
        return True
    birth_text = birth.strftime("%Y%m%d") if hasattr(birth, "strftime") else str(birth or "").replace("-", "")
    return bool(
        mod11_2_check_char(n[:17]) != n[17]
        or n[6:14] != birth_text
        or ("1" if int(n[16]) % 2 == 1 else "2") != gender
    )


def hkid_check_char(prefix: str, digits: str) -> str:
    """The HKID check character: weights 9..2 over (space-padded) prefix + 6 digits, A=10..Z=35, space=36."""
    body = prefix.rjust(2) + digits
    if len(body) != 8:
        raise ValueError(f"expected 1–2 letters and 6 digits, got {prefix!r} {digits!r}")

    def value(c: str) -> int:
        if c == " ":
            return 36
        if c.isdigit():
            return int(c)
        return ord(c) - ord("A") + 10

    total = sum(value(c) * w for c, w in zip(body, range(9, 1, -1), strict=True))
    check = (11 - total % 11) % 11
    return "A" if check == 10 else str(check)


def _today(today: date | None) -> date:
    return today if today is not None else date.today()


def _birth_date(
    yyyymmdd: str, *, field: str, doc_label: str, today: date, code: str = "id_birth_date"
) -> date:
    """Parse an encoded YYYYMMDD birth date: a real calendar day, not in the future, not before 1900."""
    try:
        born = date(int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:8]))
    except ValueError:
        raise FieldError(field, code, f"{doc_label}中的出生日期 {yyyymmdd} 不是有效日期") from None
    if born > today:
        raise FieldError(field, code, f"{doc_label}中的出生日期 {yyyymmdd} 晚于今天")
    if born < MIN_BIRTH_DATE:
        raise FieldError(field, code, f"{doc_label}中的出生日期 {yyyymmdd} 早于1900年")
    return born


def _gender_from_parity(digit: str) -> str:
    return Gender.MALE.value if int(digit) % 2 == 1 else Gender.FEMALE.value


def check_gb11643(
    number: str,
    *,
    field: str = "id_number",
    label: str = "身份证件号",
    today: date | None = None,
    code_prefix: str = "id",
) -> tuple[date, str]:
    """Structure, birth date and MOD 11-2 check of an 18-character GB 11643 number (any address code).

    Returns ``(birth_date, gender)``. Shared by the document validators and the G 学籍号 check; the
    address code is NOT examined here. Error codes are ``{code_prefix}_format``, ``_birth_date``,
    ``_checksum`` on ``field``. 《中小学生学籍管理办法》 第6条.
    """
    if not _ID18.fullmatch(number):
        raise FieldError(
            field,
            f"{code_prefix}_format",
            f"{label}格式错误：应为18位，前17位为数字，末位为数字或X",
        )
    born = _birth_date(
        number[6:14], field=field, doc_label=label, today=_today(today), code=f"{code_prefix}_birth_date"
    )
    if mod11_2_check_char(number[:17]) != number[17]:
        if number.endswith("000"):
            # Excel keeps 15 significant digits: an 18-digit number once stored as a number ends in 000
            # (issue 8 item 7). Say so, with the fix, rather than only "wrong check digit".
            raise FieldError(
                field,
                f"{code_prefix}_checksum",
                f"{label}校验位错误，且末三位为 000：很可能被 Excel 当成数字后丢失了后几位。请把该列设为“文本”格式，"
                "再重新输入完整号码",
            )
        raise FieldError(field, f"{code_prefix}_checksum", f"{label}校验位错误，请核对号码")
    return born, _gender_from_parity(number[16])


# ---------------------------------------------------------------------------------------------------------
# Per-type rules
# ---------------------------------------------------------------------------------------------------------


def _validate_resident_id(
    number: str,
    *,
    today: date,
    known_region: KnownRegion | None,
    region_abolished: RegionAbolished | None = None,
) -> ParsedIdentity:
    """Type 1 居民身份证 (GB 11643-1999).

    《中小学生学籍管理办法》 第6条 (register from a valid identity document) and 第9条 (the number must agree
    with 出生日期/性别; 学校不得使用虚假信息). 18 characters, real birth date, MOD 11-2 check, known (incl.
    abolished) address code — but not one abolished before the birth date it encodes (issue 8 item 5): an
    address code is assigned at or after birth, never after the code was abolished (e.g. 110103 崇文区,
    merged into 东城区 in 2010, in the number of a child born in 2014).
    """
    if len(number) == 15 and number.isascii() and number.isdigit():
        raise FieldError(
            "id_number",
            "id_format",
            "身份证件号为15位旧号码，请填写现行18位居民身份证号码",
        )
    if _ID18.fullmatch(number):
        if number[:6] in PERMIT_REGION_CODES:
            raise FieldError(
                "id_number",
                "id_type_mismatch",
                "身份证件号以810000/820000/830000开头，是港澳台居民居住证号码，请将证件类型选为“港澳台居民居住证”",
            )
        if number[0] == "9":
            raise FieldError(
                "id_number",
                "id_type_mismatch",
                "身份证件号以9开头，是外国人永久居留身份证号码，请将证件类型选为“境外永久居住证”",
            )
    born, gender = check_gb11643(number, label="身份证件号", today=today)
    region = number[:6]
    if region[:2] not in PROVINCE_CODES or (known_region is not None and not known_region(region)):
        raise FieldError(
            "id_number",
            "id_region_unknown",
            f"身份证件号前6位地址码 {region} 不是有效的行政区划代码",
        )
    last_year = region_abolished(region, born) if region_abolished is not None else None
    if last_year is not None:
        raise FieldError(
            "id_number",
            "id_region_abolished",
            f"身份证件号前6位地址码 {region} 已于 {last_year} 年撤销，早于号码中的出生日期 {born:%Y-%m-%d}，"
            "不可能是有效的身份证号码：请对照户口簿核对号码（第九条）",
        )
    return ParsedIdentity(IdDocumentType.RESIDENT_ID.value, number, born, gender, region)


def _validate_residence_permit(number: str, *, today: date) -> ParsedIdentity:
    """Type H 港澳台居民居住证 (2018): GB 11643 structure with address code 810000/820000/830000.

    《中小学生学籍管理办法》 第6条 and 第10条 (Hong Kong, Macau and Taiwan students register with their valid
    identity documents); 第9条 for agreement with 出生日期/性别.
    """
    if _ID18.fullmatch(number) and number[:6] not in PERMIT_REGION_CODES:
        other = "境外永久居住证" if number[0] == "9" else "居民身份证"
        raise FieldError(
            "id_number",
            "id_type_mismatch",
            f"身份证件号不是港澳台居民居住证号码（应以810000、820000或830000开头），请将证件类型选为“{other}”",
        )
    born, gender = check_gb11643(number, label="身份证件号", today=today)
    return ParsedIdentity(
        IdDocumentType.HK_MACAU_TAIWAN_RESIDENCE_PERMIT.value, number, born, gender, number[:6]
    )


def _validate_permanent_resident(
    number: str, *, today: date, known_region: KnownRegion | None
) -> ParsedIdentity:
    """Type 9 境外永久居住证 (外国人永久居留身份证).

    《中小学生学籍管理办法》 第6条 and 第10条 (foreign students register with their valid identity documents);
    第9条 for agreement with 出生日期/性别.

    * 2023 format (issued from 2023-12-01), 18 characters: '9' + 2-digit province code of the issuing
      region + 3-digit ISO 3166-1 numeric nationality + YYYYMMDD + 3-digit sequence (17th odd = male) +
      MOD 11-2 check character.
    * 2017 format, 15 characters: 3-letter nationality + 4-digit region (province+city) + YYMMDD + 1 digit
      + check digit. Only the structure and the date are validated: the MRZ-style check digit is NOT
      verified (its algorithm is not published reliably). The century of YYMMDD is taken as 20YY unless that
      is in the future, then 19YY. No sex is encoded.
    """
    if len(number) == 18:
        if not _ID18.fullmatch(number) or number[0] != "9":
            if _ID18.fullmatch(number):
                other = "港澳台居民居住证" if number[:6] in PERMIT_REGION_CODES else "居民身份证"
                raise FieldError(
                    "id_number",
                    "id_type_mismatch",
                    f"身份证件号不是外国人永久居留身份证号码（新版号码以9开头），请将证件类型选为“{other}”",
                )
            raise FieldError(
                "id_number",
                "id_format",
                "身份证件号格式错误：新版永久居留身份证号码应为9开头的18位号码，末位为数字或X",
            )
        if number[3:6] == "000":
            raise FieldError("id_number", "id_format", "身份证件号第4–6位国籍代码无效")
        born, gender = check_gb11643(number, label="身份证件号", today=today)
        region = number[1:3] + "0000"
        if number[1:3] not in PROVINCE_CODES or (known_region is not None and not known_region(region)):
            raise FieldError(
                "id_number",
                "id_region_unknown",
                f"身份证件号第2–3位受理地区代码 {number[1:3]} 不是有效的省级行政区划代码",
            )
        return ParsedIdentity(IdDocumentType.FOREIGN_PERMANENT_RESIDENT.value, number, born, gender, region)

    match = _PR_OLD15.fullmatch(number)
    if match is None:
        raise FieldError(
            "id_number",
            "id_format",
            "身份证件号格式错误：永久居留身份证号码应为新版18位（9开头）或旧版15位（3位字母+12位数字）",
        )
    _nationality, region4, yymmdd, _digit, _check = match.groups()
    if region4[:2] not in PROVINCE_CODES:
        raise FieldError(
            "id_number",
            "id_region_unknown",
            f"身份证件号第4–5位受理地区代码 {region4[:2]} 不是有效的省级行政区划代码",
        )
    born = _birth_from_yymmdd(yymmdd, today=today)
    return ParsedIdentity(IdDocumentType.FOREIGN_PERMANENT_RESIDENT.value, number, born, None, region4 + "00")


def _birth_from_yymmdd(yymmdd: str, *, today: date) -> date:
    """YYMMDD → date: 20YY unless that is not a valid past date, then 19YY."""
    try:
        return _birth_date("20" + yymmdd, field="id_number", doc_label="身份证件号", today=today)
    except FieldError:
        return _birth_date("19" + yymmdd, field="id_number", doc_label="身份证件号", today=today)


def _validate_hong_kong(number: str) -> str:
    """Type 6 香港特区护照/身份证明: Hong Kong identity card number, e.g. ``A123456(3)``.

    《中小学生学籍管理办法》 第6条 and 第10条 (Hong Kong students register with their valid identity
    documents).
    The check character is verified (weights 9..2, A=10..Z=35, space=36 for a one-letter prefix).
    Returns the canonical form with the check character in parentheses.
    """
    match = _HKID.fullmatch(number)
    if match is None:
        raise FieldError(
            "id_number",
            "id_format",
            "身份证件号格式错误：香港身份证号码应为1–2个字母+6位数字+括号内校验码，如 A123456(3)；"
            "护照请选择证件类型“护照”",
        )
    prefix, digits, bracketed, bare = match.groups()
    check = bracketed or bare
    if hkid_check_char(prefix, digits) != check:
        raise FieldError("id_number", "id_checksum", "身份证件号（香港身份证）校验码错误，请核对号码")
    return f"{prefix}{digits}({check})"


def _validate_macau(number: str) -> str:
    """Type 7 澳门特区护照/身份证明: Macau identity card number, e.g. ``1234567(8)``.

    《中小学生学籍管理办法》 第6条 and 第10条 (Macau students register with their valid identity documents).
    Structure only: the Macau check-digit algorithm is not public. Returns the canonical form.
    """
    match = _MACAU_ID.fullmatch(number)
    if match is None:
        raise FieldError(
            "id_number",
            "id_format",
            "身份证件号格式错误：澳门身份证号码应为7位数字+括号内校验码，如 1234567(8)；"
            "护照请选择证件类型“护照”",
        )
    digits, bracketed, bare = match.groups()
    check = bracketed or bare
    return f"{digits}({check})"


def _validate_hk_macau_travel_permit(number: str) -> None:
    """Type D 港澳居民来往内地通行证: H/M + 8 digits (+ 2-digit issue count).

    《中小学生学籍管理办法》 第6条 and 第10条 (Hong Kong and Macau students register with valid documents).
    """
    if not _HM_PERMIT.fullmatch(number):
        raise FieldError(
            "id_number",
            "id_format",
            "身份证件号格式错误：港澳居民来往内地通行证号码应为H或M加8位数字（或10位数字）",
        )


def _validate_taiwan_permit(number: str) -> None:
    """Type 8 台湾居民来往大陆通行证: 8 digits (+ 2-digit issue count).

    《中小学生学籍管理办法》 第6条 and 第10条 (Taiwan students register with their valid identity documents).
    """
    if not _TW_PERMIT.fullmatch(number):
        raise FieldError(
            "id_number",
            "id_format",
            "身份证件号格式错误：台湾居民来往大陆通行证号码应为8位数字（或10位数字）",
        )


def _validate_passport(number: str) -> None:
    """Type A 护照: 5–17 letters/digits (no check; Chinese e-passports E+8 digits are accepted like others).

    《中小学生学籍管理办法》 第6条 and 第10条 (foreign students register with their valid identity documents).
    """
    if not _PASSPORT.fullmatch(number):
        raise FieldError(
            "id_number",
            "id_format",
            "身份证件号格式错误：护照号码应为5–17位字母或数字",
        )


# ---------------------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------------------


def validate_identity(
    doc_type: str,
    number: str,
    *,
    today: date | None = None,
    known_region: KnownRegion | None = None,
    region_abolished: RegionAbolished | None = divisions.abolished_before,
) -> ParsedIdentity:
    """Validate an identity document (type + number) and return what the number encodes.

    《中小学生学籍管理办法》 第6条 (学籍 is registered from a valid identity document) and 第10条
    (students from Hong Kong, Macau, Taiwan and abroad register with their valid identity documents).
    Type Z (其他) is registered WITHOUT a number (the school files a 就读证明 instead), so a number given
    for Z is refused.

    ``known_region(code) -> bool`` decides whether a 6-digit address code exists (historical codes
    included); ``None`` skips that check (the province prefix is still checked structurally).
    ``region_abolished(code, born)`` refuses a 居民身份证 whose address code was abolished before the birth
    date it encodes (default: the GB/T 2260 history in :func:`xueji.regions.divisions.abolished_before`;
    ``None`` skips it).
    ``today`` bounds the birth date (defaults to ``date.today()``; pass the local date in services).
    """
    doc_type = normalise_number(doc_type)
    if not doc_type:
        raise FieldError("id_type", "id_type_required", "请选择身份证件类型")
    if doc_type not in _DOC_TYPES:
        raise FieldError("id_type", "id_type_unknown", f"身份证件类型代码 {doc_type} 无效")
    today_ = _today(today)
    num = normalise_number(number)

    if doc_type == IdDocumentType.OTHER:
        if num:
            raise FieldError(
                "id_number",
                "id_not_allowed_for_type",
                "身份证件类型为“其他”时不填身份证件号，由学校留存经签字盖章的就读证明；有证件号请选择对应证件类型",
            )
        return ParsedIdentity(doc_type, "", None, None, None)

    if not num:
        raise FieldError("id_number", "id_required", "请填写身份证件号")

    if doc_type == IdDocumentType.RESIDENT_ID:
        return _validate_resident_id(
            num, today=today_, known_region=known_region, region_abolished=region_abolished
        )
    if doc_type == IdDocumentType.HK_MACAU_TAIWAN_RESIDENCE_PERMIT:
        return _validate_residence_permit(num, today=today_)
    if doc_type == IdDocumentType.FOREIGN_PERMANENT_RESIDENT:
        return _validate_permanent_resident(num, today=today_, known_region=known_region)
    if doc_type == IdDocumentType.HONG_KONG:
        num = _validate_hong_kong(num)
    elif doc_type == IdDocumentType.MACAU:
        num = _validate_macau(num)
    elif doc_type == IdDocumentType.HK_MACAU_TRAVEL_PERMIT:
        _validate_hk_macau_travel_permit(num)
    elif doc_type == IdDocumentType.TAIWAN_PERMIT:
        _validate_taiwan_permit(num)
    else:  # IdDocumentType.PASSPORT
        _validate_passport(num)
    return ParsedIdentity(doc_type, num, None, None, None)


def check_identity_matches(parsed: ParsedIdentity, *, birth_date: date, gender: str) -> None:
    """The birth date and sex encoded in the number must agree with the record's 出生日期 and 性别.

    《中小学生学籍管理办法》 第9条 (key identity data kept accurate and consistent) and 第6条. Raises
    ``FieldError("birth_date", "id_birth_mismatch", …)`` or ``FieldError("gender", "id_gender_mismatch", …)``;
    nothing is checked for what the number does not encode.
    """
    if parsed.birth_date is not None and parsed.birth_date != birth_date:
        raise FieldError(
            "birth_date",
            "id_birth_mismatch",
            f"出生日期 {birth_date:%Y-%m-%d} 与身份证件号中的出生日期 {parsed.birth_date:%Y-%m-%d} 不一致",
        )
    if parsed.gender is not None and parsed.gender != str(gender):
        expected = _GENDER_NAME.get(parsed.gender, parsed.gender)
        raise FieldError(
            "gender",
            "id_gender_mismatch",
            f"性别与身份证件号不一致：证件号对应性别为“{expected}”",
        )
