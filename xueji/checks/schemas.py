"""Schemas of the checks API (/api/v1/checks/): problem records, their history, the actions, the rules."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

from ninja import Field, Schema
from pydantic import BaseModel, ConfigDict

from xueji.core.pagination import MAX_PAGE
from xueji.students.schemas import MAX_PAGE_SIZE


class ErrorOut(Schema):
    code: str
    message: str
    fields: dict[str, str]


class ProblemQueueIn(Schema):
    kind: str = Field("", description="问题类型（原因代码）")
    owner: str = Field("", description="当前处理方：school / county / city / province")
    overdue: bool = False
    closed: bool = Field(False, description="已处理的记录")
    all: bool = Field(False, description="市级、省级：含未提交本级的记录（只读）")
    page: int = Field(1, ge=1, le=MAX_PAGE)
    page_size: int = Field(50, ge=1, le=MAX_PAGE_SIZE)


class CheckedProblemOut(Schema):
    id: UUID
    kind: str
    kind_label: str
    article: str
    state: str
    owner: str
    escalated: bool
    source: str
    person_id: UUID
    person_name: str
    other_person_id: UUID | None
    school_code: str
    school_name: str
    detail: str
    explanation: str
    due_on: date | None
    overdue: bool
    created_at: datetime
    resolved_at: datetime | None
    resolution_note: str


class CheckedProblemPageOut(Schema):
    items: list[CheckedProblemOut]
    count: int
    page: int
    page_size: int


class ProblemEventOut(Schema):
    action: str
    action_label: str
    actor: str
    at: datetime
    owner_after: str
    note: str


class CheckedProblemDetailOut(CheckedProblemOut):
    events: list[ProblemEventOut]
    actions: list[str]


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProblemNoteIn(_Closed):
    note: str = Field("", description="说明（必填，300 字以内）")


class ProblemResolveCheckIn(_Closed):
    outcome: str = Field(description="distinct（核实无误/不同学生）或 resolved（已处理）")
    note: str = Field("", description="处理意见")


class CheckRulesOut(Schema):
    province_code: str
    version: str
    rules: dict[str, dict[str, Any]]


class CheckRulesFileIn(_Closed):
    checks: dict[str, dict[str, Any]] = Field(
        description='各检查规则的设置，如 {"age_grade": {"margin_years": 1}}'
    )
    effective_from: date | None = None
    filed_on: date | None = None
    filing_reference: str = ""


class CheckRulesFiledOut(Schema):
    province_code: str
    version: int
    effective_from: date
    checks: dict[str, dict[str, Any]]
