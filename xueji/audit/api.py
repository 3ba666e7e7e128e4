"""Audit API (/api/v1/audit/events): the audit trail, for the audit administrator only (三权分立, 等保 8.1.5.3;
第23、24条).

An audit administrator holding a grant at the ministry sees every event. One holding a grant lower down sees
the events at org units of that subtree, the events of accounts granted a role in it, and — at a province —
the events tagged with that province (:func:`xueji.audit.queries.audit_scope_q`, the one scope the audit log
page uses too). Another role gets 403 (the audit trail is never filtered down to "your own part" for business
roles or the other two admin roles); an audit administrator whose every grant lies at an inactive unit (merged,
closed) is outside every scope: 404, as everywhere in the product.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from xueji.accounts.auth import actor_of
from xueji.accounts.enums import Role
from xueji.accounts.jurisdiction import roles
from xueji.accounts.types import Actor
from xueji.core.errors import Forbidden
from xueji.core.pagination import MAX_PAGE
from xueji.core.ratelimit import ratelimit_hit

from .enums import EventType
from .models import AuditEvent
from .queries import AuditFilters, checkpoint_export, event_list

router = Router(tags=["审计"])

MAX_PAGE_SIZE = 200


class ErrorOut(Schema):
    """The one error shape of the API (same component as every other router's ``ErrorOut``)."""

    code: str
    message: str
    fields: dict[str, str]


class AuditEventFiltersIn(Schema):
    event_type: str = Field("", description="事件类型，如 student.viewed")
    actor: str = Field("", description="操作人用户名（精确）")
    subject_type: str = Field("", description="对象类型，如 student、school")
    subject_id: str = Field("", description="对象ID（精确）")
    org_id: int | None = Field(None, description="机构ID（精确）")
    since: date | None = Field(None, description="起始日期（含）")
    until: date | None = Field(None, description="截止日期（含）")
    page: int = Field(1, ge=1, le=MAX_PAGE)
    page_size: int = Field(50, ge=1, le=MAX_PAGE_SIZE)


class AuditEventOut(Schema):
    id: int
    occurred_at: datetime
    event_type: str
    event_label: str
    actor_username: str
    actor_role: str
    org_unit_id: int | None
    province_code: str
    subject_type: str
    subject_id: str
    summary: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    success: bool
    request_id: str
    ip: str | None


class AuditEventPageOut(Schema):
    items: list[AuditEventOut]
    count: int
    page: int
    page_size: int


def require_audit_admin(viewer: Actor) -> None:
    """The audit trail is the audit administrator's (三权分立): any other role → 403 without data."""
    if Role.AUDIT_ADMIN not in roles(viewer):
        raise Forbidden("not_audit_admin", "只有审计管理员可以查询审计记录（三权分立）")


def _label(event_type: str) -> str:
    try:
        return str(EventType(event_type).label)
    except ValueError:
        return event_type


def _events(viewer: Actor, f: AuditEventFiltersIn) -> QuerySet[AuditEvent]:
    require_audit_admin(viewer)
    filters = AuditFilters(
        event_type=f.event_type,
        actor=f.actor,
        date_from=f.since,
        date_to=f.until,
        subject=f.subject_id,
        subject_type=f.subject_type,
        org_id=f.org_id,
    )
    return event_list(viewer=viewer, filters=filters)


@router.get(
    "/events",
    response={
        200: AuditEventPageOut,
        401: ErrorOut,
        403: ErrorOut,
        404: ErrorOut,
        422: ErrorOut,
        429: ErrorOut,
    },
    summary="审计记录查询（审计管理员）",
)
def list_audit_events(request: HttpRequest, filters: Query[AuditEventFiltersIn]) -> Any:
    user = actor_of(request)
    ratelimit_hit(user, "list")  # issue #6 §3.10: 429 above the limit
    qs = _events(user, filters)
    start = (filters.page - 1) * filters.page_size
    items = [
        {
            "id": ev.pk,
            "occurred_at": ev.occurred_at,
            "event_type": ev.event_type,
            "event_label": _label(ev.event_type),
            "actor_username": ev.actor_username,
            "actor_role": ev.actor_role,
            "org_unit_id": ev.org_unit_id,
            "province_code": ev.province_code,
            "subject_type": ev.subject_type,
            "subject_id": ev.subject_id,
            "summary": ev.summary,
            "before": ev.before,
            "after": ev.after,
            "success": ev.success,
            "request_id": ev.request_id,
            "ip": ev.ip,
        }
        for ev in qs[start : start + filters.page_size]
    ]
    return {"items": items, "count": qs.count(), "page": filters.page, "page_size": filters.page_size}


class CheckpointSignatureOut(Schema):
    alg: str = Field(description="Ed25519 或 SM2")
    kid: str = Field(description="签名密钥标识：算法 + SM3(公钥) 前 16 字节")
    value: str = Field(description="签名（十六进制；SM2 为 DER 编码，摘要 SM3，签名者标识 1234567812345678）")
    digest: str | None = None
    signer_id: str | None = None


class CheckpointOut(Schema):
    seq: int = Field(description="链序号：此前共有多少个审计事件入链")
    head: str = Field(description="链头哈希 SM3（十六进制）")
    created_at: str
    statement: str = Field(description="被签名的声明（RFC 8785 规范化 JSON）")
    signatures: list[CheckpointSignatureOut]


class CheckpointKeyOut(Schema):
    kid: str
    alg: str
    public: str = Field(description="公钥（十六进制；Ed25519 32 字节，SM2 为 x‖y 64 字节）")


class CheckpointExportOut(Schema):
    type: str
    version: int
    chain: str
    keys: list[CheckpointKeyOut]
    checkpoints: list[CheckpointOut]


@router.get(
    "/checkpoints",
    response={200: CheckpointExportOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 429: ErrorOut},
    summary="导出审计链检查点（审计管理员）",
)
def export_audit_checkpoints(request: HttpRequest, since_seq: int = 0) -> Any:
    """The signed checkpoints of the tamper-evident audit chain (issue 11 §2), for the audit administrator to
    keep outside the system; ``since_seq`` returns only the newer ones."""
    user = actor_of(request)
    ratelimit_hit(user, "export")
    require_audit_admin(user)
    return checkpoint_export(viewer=user, since_seq=max(0, since_seq))
