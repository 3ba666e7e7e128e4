"""Statistics API (/api/v1/statistics/): the same figures as the statistics page (第5、23条).

A unit outside the caller's student-data jurisdiction is 404, like every other read.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from xueji.accounts.auth import actor_of

from .queries import breakdown, flow_period, flows, snapshot_date, stat_unit

router = Router(tags=["统计"])


class ErrorOut(Schema):
    """The one error shape of the API (same component as every other router's ``ErrorOut``)."""

    code: str
    message: str
    fields: dict[str, str]


Dimension = Literal[
    "region",
    "grade",
    "class",
    "gender",
    "ethnicity",
    "status",
    "stage",
    "household_type",
    "migrant_child",
    "left_behind",
    "disabled",
]


class CountsIn(Schema):
    unit: int | None = Field(None, ge=1, le=2**62, description="机构 ID（缺省为调用者管辖范围的最上级）")
    by: Dimension = Field(
        "region",
        description=(
            "统计维度：region 下级单位、grade 年级、class 班级（须为学校并指定 grade）、gender 性别、"
            "ethnicity 民族、status 学籍状态、stage 学段、household_type 户口性质、"
            "migrant_child 进城务工人员随迁子女（1 是 0 否）、left_behind 留守儿童、disabled 残疾（1 是 0 否）"
        ),
    )
    grade: int | None = Field(None, ge=1, le=12, description="只统计此年级（1–12）")
    split: Literal["gender"] | None = Field(None, description="每行再按性别分列（堆叠柱状图）")
    as_of: date | None = Field(
        None,
        description=(
            "统计日期 YYYY-MM-DD（缺省为最新快照）；该日没有快照时取该日及之前最近的一次，"
            "之前没有任何快照返回 404；响应的 as_of 为实际采用的快照日期"
        ),
    )


class CountRow(Schema):
    key: str
    label: str
    count: int
    unit_id: int | None = None
    parts: dict[str, int] = Field(default_factory=dict, description="按 split 分列的人数（键为代码）")


class CountsOut(Schema):
    unit_id: int
    unit_name: str
    by: str
    grade: int | None
    split: str | None
    as_of: date | None = Field(description="实际采用的快照日期（尚无快照时为 null）")
    total: int
    rows: list[CountRow]


@router.get("/counts", response={200: CountsOut, 404: ErrorOut})
def counts(request: HttpRequest, query: Query[CountsIn]) -> CountsOut:
    """在籍学生人数按一个维度分组（与统计页面数字一致），可指定统计日期 as_of；超出管辖范围的机构返回 404。"""
    unit = stat_unit(viewer=actor_of(request), unit_id=query.unit)
    as_of = snapshot_date(query.as_of)
    table = breakdown(unit=unit, by=query.by, grade=query.grade, split=query.split, as_of=as_of)
    return CountsOut(
        unit_id=unit.pk,
        unit_name=unit.name,
        by=table.by,
        grade=table.grade,
        split=table.split,
        as_of=table.as_of,
        total=table.total,
        rows=[
            CountRow(key=r.key, label=r.label, count=r.count, unit_id=r.unit_id, parts=r.parts)
            for r in table.rows
        ],
    )


class FlowsIn(Schema):
    unit: int | None = Field(None, ge=1, le=2**62, description="机构 ID（缺省为调用者管辖范围的最上级）")
    start: str | None = Field(
        None, alias="from", max_length=7, description="起始月份 YYYY-MM（缺省为 11 个月前）"
    )
    end: str | None = Field(None, alias="to", max_length=7, description="结束月份 YYYY-MM（缺省为本月）")


class FlowKindOut(Schema):
    key: str
    label: str
    total: int


class FlowMonth(Schema):
    month: str = Field(description="YYYY-MM")
    counts: dict[str, int] = Field(description="各类别人数（键为 kinds 的 key）")


class FlowsOut(Schema):
    unit_id: int
    unit_name: str
    start: str = Field(alias="from")
    end: str = Field(alias="to")
    kinds: list[FlowKindOut]
    months: list[FlowMonth]


@router.get("/flows", response={200: FlowsOut, 404: ErrorOut}, by_alias=True)
def flow_counts(request: HttpRequest, query: Query[FlowsIn]) -> dict[str, Any]:
    """按月统计学籍变动（转入含境外返回、转出含出境就读、休学、复学、退学、辍学立案、死亡注销、毕业含特殊教育评估
    毕业、结业、肄业），与统计页面数字一致；
    超出管辖范围的机构返回 404。"""
    unit = stat_unit(viewer=actor_of(request), unit_id=query.unit)
    start, end = flow_period(query.start, query.end)
    table = flows(unit=unit, start=start, end=end)
    return {  # keyed by the output's aliases ("from", "to"), which the response schema validates
        "unit_id": unit.pk,
        "unit_name": unit.name,
        "from": f"{table.start:%Y-%m}",
        "to": f"{table.end:%Y-%m}",
        "kinds": [{"key": p.key, "label": p.label, "total": n} for p, n in table.part_totals],
        "months": [{"month": r.key, "counts": r.parts} for r in table.rows],
    }
