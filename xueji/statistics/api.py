"""Statistics API (/api/v1/statistics/): the same figures as the statistics page (第5、23条).

A unit outside the caller's student-data jurisdiction is 404, like every other read.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from xueji.accounts.auth import actor_of

from .queries import breakdown, stat_unit

router = Router(tags=["统计"])


class ErrorOut(Schema):
    """The one error shape of the API (same component as every other router's ``ErrorOut``)."""

    code: str
    message: str
    fields: dict[str, str]


class CountsIn(Schema):
    unit: int | None = Field(None, ge=1, le=2**62, description="机构 ID（缺省为调用者管辖范围的最上级）")
    by: Literal["region", "grade", "gender", "status", "stage"] = Field(
        "region",
        description="统计维度：region 下级单位、grade 年级、gender 性别、status 学籍状态、stage 学段",
    )


class CountRow(Schema):
    key: str
    label: str
    count: int
    unit_id: int | None = None


class CountsOut(Schema):
    unit_id: int
    unit_name: str
    by: str
    as_of: date | None
    total: int
    rows: list[CountRow]


@router.get("/counts", response={200: CountsOut, 404: ErrorOut})
def counts(request: HttpRequest, query: Query[CountsIn]) -> CountsOut:
    """在籍学生人数按一个维度分组（与统计页面数字一致）；超出管辖范围的机构返回 404。"""
    unit = stat_unit(viewer=actor_of(request), unit_id=query.unit)
    table = breakdown(unit=unit, by=query.by)
    return CountsOut(
        unit_id=unit.pk,
        unit_name=unit.name,
        by=table.by,
        as_of=table.as_of,
        total=table.total,
        rows=[CountRow(key=r.key, label=r.label, count=r.count, unit_id=r.unit_id) for r in table.rows],
    )
