"""API schemas of the verification router (one ``…In``/``…Out`` per operation)."""

from __future__ import annotations

from datetime import date, datetime
from uuid import UUID

from ninja import Field, Schema


class ErrorOut(Schema):
    """The one error shape of the API (same component as every other router's ``ErrorOut``)."""

    code: str
    message: str
    fields: dict[str, str]


class RoundIn(Schema):
    unit: int = Field(..., ge=1, le=2**62, description="发起单位（省级或国家教育行政部门）ID")
    title: str = Field(..., max_length=100, description="核查名称")
    school_year: int = Field(..., ge=2000, le=2100, description="学年起始年份（2026 = 2026—2027学年）")
    semester: str = Field(..., description="学期：1 第一学期，2 第二学期")
    deadline: date = Field(..., description="截止日期（须晚于今天）")


class RoundOut(Schema):
    id: int
    unit_id: int
    unit_name: str
    title: str
    school_year: int
    semester: str
    opened_on: date
    deadline: date
    state: str


class ProgressRowOut(Schema):
    unit_id: int
    name: str
    level: str
    total: int
    draft: int
    submitted: int
    returned: int
    accepted: int
    overdue: int


class RoundProgressOut(Schema):
    round_id: int
    unit_id: int
    unit_name: str
    rows: list[ProgressRowOut]
    totals: ProgressRowOut


class FindingIn(Schema):
    enrollment_id: UUID
    kind: str = Field(..., description="absent 人籍分离，phantom 空挂学籍，correction 需更正")
    whereabouts: str = Field("", description="人籍分离时学生去向")
    correction_fields: list[str] = Field(default_factory=list, description="需更正的信息")
    detail: str = Field("", max_length=300, description="情况说明")


class FindingOut(Schema):
    enrollment_id: UUID
    kind: str
    whereabouts: str
    correction_fields: list[str]
    detail: str


class ReturnOut(Schema):
    round_id: int
    school_id: int
    school_name: str
    state: str
    roster_count: int | None
    submitted_at: datetime | None
    reviewed_at: datetime | None
    review_note: str
    findings: list[FindingOut]


class ReviewIn(Schema):
    decision: str = Field(..., description="accept 通过，return 退回")
    note: str = Field("", max_length=300, description="审核意见（退回时必填）")
