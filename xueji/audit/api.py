"""Audit API (/api/v1/audit/events): the audit trail, for the audit administrator only (三权分立, 等保 8.1.5.3;
第23、24条).

An audit administrator holding a grant at the ministry sees every event. One holding a grant lower down sees
the events at org units of that subtree, the events of accounts granted a role in it, and — at a province —
the events tagged with that province. Everyone else gets 403 (the audit trail is never filtered down to "your
own part" for business roles or the other two admin roles).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django.db.models import Q, QuerySet
from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from xueji.accounts.enums import Role
from xueji.accounts.jurisdiction import _grants
from xueji.accounts.models import RoleGrant
from xueji.core.errors import Forbidden
from xueji.core.pagination import MAX_PAGE
from xueji.core.ratelimit import ratelimit_hit
from xueji.regions.enums import OrgLevel
from xueji.regions.models import OrgUnit

from .enums import EventType
from .models import AuditEvent

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


def audit_scope_q(viewer: Any) -> Q:
    """The events an audit administrator may read; 403 for anyone else."""
    units = [g.org_unit for g in _grants(viewer) if g.role == Role.AUDIT_ADMIN and g.org_unit.is_active]
    if not units:
        raise Forbidden("not_audit_admin", "只有审计管理员可以查询审计记录（三权分立）")
    if any(u.level == OrgLevel.NATIONAL for u in units):
        return Q()
    q = Q(pk__in=[])
    for u in units:
        q |= Q(org_unit_id__in=OrgUnit.objects.filter(path__startswith=u.path).values("id"))
        q |= Q(actor_id__in=RoleGrant.objects.filter(org_unit__path__startswith=u.path).values("user_id"))
        if u.level == OrgLevel.PROVINCE:
            q |= Q(province_code=u.province_code)
    return q


def _label(event_type: str) -> str:
    try:
        return str(EventType(event_type).label)
    except ValueError:
        return event_type


def _events(viewer: Any, f: AuditEventFiltersIn) -> QuerySet[AuditEvent]:
    qs = AuditEvent.objects.filter(audit_scope_q(viewer))
    if f.event_type:
        qs = qs.filter(event_type=f.event_type)
    if f.actor:
        qs = qs.filter(actor_username=f.actor)
    if f.subject_type:
        qs = qs.filter(subject_type=f.subject_type)
    if f.subject_id:
        qs = qs.filter(subject_id=f.subject_id)
    if f.org_id is not None:
        qs = qs.filter(org_unit_id=f.org_id)
    if f.since is not None:
        qs = qs.filter(occurred_at__date__gte=f.since)
    if f.until is not None:
        qs = qs.filter(occurred_at__date__lte=f.until)
    return qs.order_by("-occurred_at", "-id")


@router.get(
    "/events",
    response={200: AuditEventPageOut, 401: ErrorOut, 403: ErrorOut, 422: ErrorOut, 429: ErrorOut},
    summary="审计记录查询（审计管理员）",
)
def list_audit_events(request: HttpRequest, filters: Query[AuditEventFiltersIn]) -> Any:
    ratelimit_hit(request.auth, "list")  # type: ignore[attr-defined]  # issue #6 §3.10: 429 above the limit
    qs = _events(request.auth, filters)  # type: ignore[attr-defined]
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
