"""Schemas of the export API (第24条). Class names start with ``Export`` (unique across apps); bodies refuse
unknown keys (mass assignment: state, approver and signature fields cannot be set)."""

from __future__ import annotations

import datetime as dt
from typing import Any
from uuid import UUID

from ninja import Field, Schema
from pydantic import ConfigDict

from xueji.core.pagination import MAX_PAGE
from xueji.students.schemas import MAX_PAGE_SIZE, ErrorOut

__all__ = ["ErrorOut"]


class ExportRequestIn(Schema):
    model_config = ConfigDict(extra="forbid")

    source: str = Field(..., description="roster 学生名册、statistics 学籍统计表、flows 学籍变动统计")
    unit_id: int = Field(..., ge=1, le=2**31 - 1, description="范围（机构或学校的 id），须在管辖范围内")
    fields: list[str] = Field(..., max_length=40, description="导出字段（来源的可导出字段之一）")
    filters: dict[str, Any] = Field(
        default_factory=dict, description="school、grade、class_name、from、to、as_of（统计日期 YYYY-MM-DD）"
    )
    purpose: str = Field(..., max_length=300)
    recipient: str = Field(..., max_length=120)
    legal_basis: str = Field(..., max_length=200)
    authority: str = Field(..., max_length=120)
    authority_level: str = Field(..., description="law、county、city、province、national")
    document_number: str = Field(..., max_length=60)
    period_start: dt.date
    period_end: dt.date
    identified: bool = Field(
        False,
        description=(
            "roster：申请可识别个人的数据；statistics、flows：申请与统计页面完全一致的精确数字（不做小单元格抑制、"
            "不按整年扩展）。均须审批人明确批准"
        ),
    )
    generalise_school: bool = False
    submit: bool = True


class ExportDecisionIn(Schema):
    model_config = ConfigDict(extra="forbid")

    note: str = Field("", max_length=300)
    identified: bool = Field(
        False,
        description=(
            "批准导出可识别个人的数据（统计表、学籍变动：与统计页面一致的精确数字）"
            "（仅当申请如此要求；默认否，须审批人明确选择）"
        ),
    )


class ExportListIn(Schema):
    page: int = Field(1, ge=1, le=MAX_PAGE)
    page_size: int = Field(50, ge=1, le=MAX_PAGE_SIZE)


class ExportRequestOut(Schema):
    id: UUID
    source: str
    state: str
    state_label: str
    unit_id: int
    unit_name: str
    fields: list[str]
    filters: dict[str, Any]
    purpose: str
    recipient: str
    legal_basis: str
    authority: str
    authority_level: str
    document_number: str
    period_start: dt.date
    period_end: dt.date
    identified: bool
    approved_identified: bool
    requested_by: str
    approver: str
    decided_at: dt.datetime | None
    decision_note: str
    row_count: int
    suppressed: int
    built_at: dt.datetime | None
    expires_at: dt.datetime | None
    download_count: int
    signature_kids: dict[str, str]
    message: str


class ExportPageOut(Schema):
    count: int
    page: int
    page_size: int
    results: list[ExportRequestOut]


class ExportSignatureOut(Schema):
    id: UUID
    valid: bool
    record: dict[str, Any] | None
    signature_ed25519: str
    signature_sm2: str
    signature_kids: dict[str, str]
