"""Reads on the audit trail.

Two audiences (第23、24条; 三权分立, 等保 8.1.4.3): a student page shows that student's history to whoever may see
the student; the full log is for audit administrators only, within their own part of the tree. Audit admins
read audit records, never student records.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from xueji.accounts.enums import Role
from xueji.accounts.jurisdiction import _grants
from xueji.core.errors import NotFound

from .enums import EventType
from .models import AuditEvent

#: Read-only events (who looked at a record); a history can hide them to show the changes only.
VIEW_EVENTS = frozenset({EventType.STUDENT_VIEWED, EventType.STUDENT_REVEALED})


def history_for(
    *, viewer: Any, subject_type: str, subject_id: Any, include_views: bool = True
) -> QuerySet[AuditEvent]:
    """The audit events about one subject, newest first — only if the viewer may see the subject.

    ``subject_type`` "student" (``subject_id`` = person id) or "school" (org unit id). Anything else, or a
    subject outside the viewer's jurisdiction, raises :class:`NotFound`.
    """
    if subject_type == "student":
        from xueji.students.queries import student_get

        student_get(viewer=viewer, person_id=subject_id)
    elif subject_type == "school":
        from xueji.schools.queries import school_get

        school_get(viewer=viewer, school_id=subject_id)
    else:
        raise NotFound()
    qs = AuditEvent.objects.filter(subject_type=subject_type, subject_id=str(subject_id))
    if not include_views:
        qs = qs.exclude(event_type__in=[str(e) for e in VIEW_EVENTS])
    return qs.select_related("actor").order_by("-occurred_at", "-id")


def recent_for_actor(*, viewer: Any, limit: int = 10) -> QuerySet[AuditEvent]:
    """The viewer's own latest actions (their dashboard's "最近操作"), record views left out."""
    if not getattr(viewer, "is_authenticated", False):
        return AuditEvent.objects.none()
    return (
        AuditEvent.objects.filter(actor_id=viewer.pk)
        .exclude(event_type__in=[str(e) for e in VIEW_EVENTS])
        .order_by("-occurred_at", "-id")[:limit]
    )


@dataclass(frozen=True)
class AuditFilters:
    event_type: str = ""
    actor: str = ""  # username, exact
    date_from: date | None = None
    date_to: date | None = None
    subject: str = ""  # subject id, exact (a person uuid, an org id)


def is_audit_admin(viewer: Any) -> bool:
    return any(g.role == Role.AUDIT_ADMIN for g in _grants(viewer))


def _audit_scope_q(viewer: Any) -> Q:
    """An audit admin reads the events of their own subtree: events on its org units, events by users who hold
    grants in it, and (at province level) events carrying its province code. The ministry reads everything."""
    from xueji.accounts.models import RoleGrant
    from xueji.regions.enums import OrgLevel
    from xueji.regions.models import OrgUnit

    units = [g.org_unit for g in _grants(viewer) if g.role == Role.AUDIT_ADMIN]
    if any(u.level == OrgLevel.NATIONAL for u in units):
        return Q()
    q = Q(pk__in=[])
    for u in units:
        q |= Q(org_unit_id__in=OrgUnit.objects.filter(path__startswith=u.path).values("id"))
        q |= Q(actor_id__in=RoleGrant.objects.filter(org_unit__path__startswith=u.path).values("user_id"))
        if u.level == OrgLevel.PROVINCE:
            q |= Q(province_code=u.province_code)
    return q


def event_list(*, viewer: Any, filters: AuditFilters) -> QuerySet[AuditEvent]:
    """The audit log for an audit administrator (第23条 supervision). Anyone else: NotFound."""
    if not is_audit_admin(viewer):
        raise NotFound()
    qs = AuditEvent.objects.filter(_audit_scope_q(viewer))
    if filters.event_type:
        qs = qs.filter(event_type=filters.event_type)
    if filters.actor:
        qs = qs.filter(actor_username=filters.actor.strip())
    tz = timezone.get_current_timezone()
    if filters.date_from:
        qs = qs.filter(occurred_at__gte=datetime.combine(filters.date_from, time.min, tzinfo=tz))
    if filters.date_to:
        qs = qs.filter(occurred_at__lte=datetime.combine(filters.date_to, time.max, tzinfo=tz))
    if filters.subject:
        qs = qs.filter(subject_id=filters.subject.strip())
    return qs.order_by("-occurred_at", "-id")
