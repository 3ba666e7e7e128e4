"""学校(机构)标识码 (domain.md §5.5): 2-digit school type + 2-digit province + 6-digit sequence, no check digit."""

from __future__ import annotations

import re

from xueji.core.errors import FieldError

from .enums import CODE_TYPE_PREFIXES

PROVINCE_PREFIXES = frozenset(
    [
        "11",
        "12",
        "13",
        "14",
        "15",
        "21",
        "22",
        "23",
        "31",
        "32",
        "33",
        "34",
        "35",
        "36",
        "37",
        "41",
        "42",
        "43",
        "44",
        "45",
        "46",
        "50",
        "51",
        "52",
        "53",
        "54",
        "61",
        "62",
        "63",
        "64",
        "65",
        "71",
        "81",
        "82",
    ]
)


def validate_school_code(code: str, *, school_type: str, province_code: str | None) -> str:
    """Validate the 10-digit code against the school's type and province (第2、5条 school registry)."""
    code = (code or "").strip()
    if not re.fullmatch(r"\d{10}", code):
        raise FieldError("school_code", "school_code_format", "学校标识码须为10位数字")
    allowed = CODE_TYPE_PREFIXES.get(school_type, frozenset())
    if code[:2] not in allowed:
        raise FieldError(
            "school_code",
            "school_code_type",
            f"学校标识码前两位 {code[:2]} 与办学类型不符（应为 {'/'.join(sorted(allowed))}）",
        )
    if code[2:4] not in PROVINCE_PREFIXES:
        raise FieldError(
            "school_code", "school_code_province", f"学校标识码第3–4位 {code[2:4]} 不是有效的省份代码"
        )
    if province_code and code[2:4] != province_code[:2]:
        raise FieldError(
            "school_code",
            "school_code_province",
            f"学校标识码第3–4位 {code[2:4]} 与学校所在省份 {province_code[:2]} 不符",
        )
    return code
