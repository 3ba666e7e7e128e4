"""Schemas of the dropout ledger API (第17条): one ``…In``/``…Out`` pair per operation; bodies refuse unknown
keys. Personal data in the outputs is what the ledger page shows to the same viewer (name, school, class)."""

from __future__ import annotations

import datetime as dt
from uuid import UUID

from ninja import Field, Schema
from pydantic import BaseModel, ConfigDict

from xueji.core.pagination import MAX_PAGE
from xueji.students.schemas import MAX_PAGE_SIZE, ErrorOut

from .services import LEAD_FROM_MAX, MAX_FOLLOW_UP_WORKING_DAYS

__all__ = ["ErrorOut"]


class _Closed(BaseModel):
    """Input bodies refuse unknown keys (mass assignment)."""

    model_config = ConfigDict(extra="forbid")


class CaseFiltersIn(Schema):
    state: str = Field("", description="状态：open 跟踪中、closed 已结案")
    overdue: bool = Field(False, description="只看跟踪逾期的案件")
    escalation: str = Field("", description="升级督办：any 已升级、county 县级、city 地市级、province 省级")
    page: int = Field(1, ge=1, le=MAX_PAGE)
    page_size: int = Field(50, ge=1, le=MAX_PAGE_SIZE)


class CaseOut(Schema):
    id: UUID
    person_id: UUID
    name: str
    school_id: int
    school_name: str
    class_name: str
    source: str
    source_label: str
    lead_from: str
    reason: str
    reason_label: str
    days_absent: int
    last_seen: dt.date | None
    opened_on: dt.date
    days_open: int
    state: str
    state_label: str
    next_follow_up: dt.date | None
    overdue: bool
    escalation: str
    escalation_label: str
    outcome: str
    outcome_label: str
    returned_class: str
    returned_on: dt.date | None
    closed_at: dt.datetime | None


class CasePageOut(Schema):
    items: list[CaseOut]
    count: int
    page: int
    page_size: int


class FollowUpOut(Schema):
    id: int
    date: dt.date
    kind: str
    kind_label: str
    people: str
    result: str
    next_date: dt.date | None


class EscalationOut(Schema):
    level: str
    level_label: str
    on: dt.date
    missed: dt.date
    working_days_overdue: int


class CaseDetailOut(CaseOut):
    outcome_note: str
    follow_ups: list[FollowUpOut]
    escalations: list[EscalationOut]
    can_handle: bool


class CaseOpenIn(_Closed):
    """A school's report (source ``school``) or a county's lead (``lead``) for a pupil the caller can see."""

    person_id: UUID
    source: str = Field(description="school 学校报告；lead 相关部门反馈线索")
    reason: str = Field(description="辍学原因代码")
    days_absent: int = Field(ge=0, le=366)
    last_seen: dt.date | None = None
    lead_from: str = Field("", max_length=LEAD_FROM_MAX, description="线索来源部门（lead 必填）")


class LeadIn(_Closed):
    """A lead from another department (第17条): the pupil named by 学籍号 or identity number AND name."""

    number: str = Field(max_length=40, description="学籍号或身份证件号")
    name: str = Field(max_length=50)
    lead_from: str = Field(max_length=LEAD_FROM_MAX, description="线索来源部门")
    reason: str
    days_absent: int = Field(ge=0, le=366)
    last_seen: dt.date | None = None


class FollowUpIn(_Closed):
    date: dt.date
    kind: str = Field(description="phone 电话联系监护人、visit 家访劝返、other 其他")
    people: str = Field(max_length=100)
    result: str = Field(max_length=500)
    next_in_working_days: int = Field(5, ge=1, le=MAX_FOLLOW_UP_WORKING_DAYS)


class CloseIn(_Closed):
    outcome: str = Field(description="returned、transferred、abroad、home_teaching、death、other")
    returned_class: str = Field("", max_length=30)
    returned_on: dt.date | None = None
    note: str = Field("", max_length=300)
