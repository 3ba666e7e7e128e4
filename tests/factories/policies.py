"""Factories for province field sets (第3条)."""

from __future__ import annotations

from datetime import date
from typing import Any

from tests.factories import core as f
from xueji.accounts.enums import Role
from xueji.policies.models import ExtraFieldSet
from xueji.policies.services import extra_fields_activate, extra_fields_define, extra_fields_file

FILED_ON = date(2026, 3, 1)


def guangdong_fields() -> list[dict[str, Any]]:
    """A realistic Guangdong set: one of each type."""
    return [
        {
            "key": "residence_permit_no",
            "label": "居住证号码",
            "type": "text",
            "required": False,
            "max_length": 30,
        },
        {
            "key": "bus_route",
            "label": "校车线路",
            "type": "choice",
            "required": True,
            "choices": [
                {"code": "01", "label": "一号线"},
                {"code": "02", "label": "二号线"},
                {"code": "00", "label": "不乘校车"},
            ],
        },
        {"key": "siblings", "label": "兄弟姐妹人数", "type": "integer", "min_value": 0, "max_value": 10},
        {"key": "commute_km", "label": "上学距离", "type": "decimal", "decimal_places": 1, "min_value": "0"},
        {"key": "points_admitted_on", "label": "积分入学日期", "type": "date"},
        {"key": "points_admission", "label": "是否积分入学", "type": "boolean"},
        {
            "key": "interests",
            "label": "兴趣特长类别",
            "type": "multi_choice",
            "choices": [
                {"code": "A", "label": "体育"},
                {"code": "B", "label": "艺术"},
                {"code": "C", "label": "科技"},
            ],
        },
    ]


def province_registrar(province_code: str = "440000", **kwargs: Any):
    """A filed, trained dept registrar at the province-level department."""
    return f.user(Role.DEPT_REGISTRAR, f.dept(province_code), **kwargs)


def field_set(
    province_code: str = "440000",
    *,
    actor: Any = None,
    fields: list[dict[str, Any]] | None = None,
    filed: bool = False,
    active: bool = False,
) -> ExtraFieldSet:
    """A version defined through the services (so it is valid and audited); ``active`` implies ``filed``."""
    actor = actor or province_registrar(province_code)
    fs = extra_fields_define(
        actor=actor, province_code=province_code, fields=guangdong_fields() if fields is None else fields
    )
    if filed or active:
        fs = extra_fields_file(
            actor=actor, field_set=fs, filed_on=FILED_ON, filing_reference=f"教基备〔2026〕{fs.version}号"
        )
    if active:
        fs = extra_fields_activate(actor=actor, field_set=fs)
    return fs
