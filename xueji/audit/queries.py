"""Reads on the audit trail.

Two audiences (第23、24条; 三权分立, 等保 8.1.4.3): a student page shows that student's history to whoever may see
the student; the full log is for audit administrators only, within their own part of the tree. Audit admins
read audit records, never student records.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from xueji.accounts.enums import Role
from xueji.accounts.jurisdiction import all_grants
from xueji.accounts.models import RoleGrant
from xueji.accounts.types import Actor
from xueji.core.errors import NotFound
from xueji.regions.enums import OrgLevel
from xueji.regions.models import OrgUnit

from .chain import export_checkpoints
from .enums import SUBJECT_TYPE_LABELS, EventType
from .models import AuditEvent
from .services import record

#: Read-only events (who looked at a record); a history can hide them to show the changes only.
VIEW_EVENTS = frozenset({EventType.STUDENT_VIEWED, EventType.STUDENT_REVEALED, EventType.DOCUMENT_PRINTED})


def events_about(*, subject_type: str, subject_id: Any, include_views: bool = True) -> QuerySet[AuditEvent]:
    """The audit events about one subject, newest first, UNSCOPED: the caller has already checked that the viewer
    may see the subject (a student's history: :func:`xueji.students.queries.student_history`, which is 404
    outside the viewer's jurisdiction). ``include_views=False`` leaves out who merely looked at the record."""
    qs = AuditEvent.objects.filter(subject_type=subject_type, subject_id=str(subject_id))
    if not include_views:
        qs = qs.exclude(event_type__in=[str(e) for e in VIEW_EVENTS])
    return qs.select_related("actor").order_by("-occurred_at", "-id")


#: Who may be named how: per subject type, a function (viewer, subject ids) → {subject id: label} that names
#: only the subjects the viewer may see. Apps above the audit register theirs in ``AppConfig.ready`` (the
#: students app names a student by masked name and masked 学籍号).
SubjectLabeller = Callable[[Actor, Iterable[str]], dict[str, str]]
_LABELLERS: dict[str, SubjectLabeller] = {}


def register_subject_labeller(subject_type: str, labeller: SubjectLabeller) -> None:
    """Name the subjects of ``subject_type`` on the audit pages (replaces by type: ``ready()`` may run twice)."""
    _LABELLERS[subject_type] = labeller


def with_subjects(viewer: Actor, events: Iterable[AuditEvent]) -> list[AuditEvent]:
    """The events with ``subject_type_label`` (学生, 学校 … — never the stored code) and ``subject_label`` set:
    what the viewer may know of the subject (a student: masked name and masked 学籍号, only if the viewer may
    see the student, 第24条), else "". One query per subject type on the page, not one per event."""
    rows = list(events)
    ids: dict[str, set[str]] = {}
    for ev in rows:
        if ev.subject_type in _LABELLERS and ev.subject_id:
            ids.setdefault(ev.subject_type, set()).add(ev.subject_id)
    labels = {
        (subject_type, subject_id): label
        for subject_type, wanted in ids.items()
        for subject_id, label in _LABELLERS[subject_type](viewer, sorted(wanted)).items()
    }
    for ev in rows:
        ev.subject_type_label = str(SUBJECT_TYPE_LABELS.get(ev.subject_type, "")) if ev.subject_type else ""
        ev.subject_label = labels.get((ev.subject_type, ev.subject_id), "")
    return rows


def recent_for_actor(*, viewer: Actor, limit: int = 10) -> QuerySet[AuditEvent]:
    """The viewer's own latest actions (their dashboard's "最近操作"), record views left out."""
    if not getattr(viewer, "is_authenticated", False):
        return AuditEvent.objects.none()
    return (
        AuditEvent.objects.filter(actor_id=viewer.pk)
        .exclude(event_type__in=[str(e) for e in VIEW_EVENTS])
        .select_related("actor")  # the rows show the actor's name: one join, not a query per event
        .order_by("-occurred_at", "-id")[:limit]
    )


@dataclass(frozen=True)
class AuditFilters:
    event_type: str = ""
    actor: str = ""  # username, exact
    date_from: date | None = None
    date_to: date | None = None
    subject: str = ""  # subject id, exact (a person uuid, an org id)
    subject_type: str = ""  # "student", "school", "user" …, exact
    org_id: int | None = None  # the event's org unit, exact


def audit_scope_q(viewer: Actor) -> Q:
    """The events an audit administrator may read — the one scope of the audit log, page and API alike
    (三权分立; 第23条 supervision; 等保 8.1.5.3).

    Only audit-admin grants at ACTIVE org units count. A grant at the ministry reads everything; one lower down
    reads the events at the org units of its subtree, the events of accounts holding a grant in it, and — at a
    province — the events tagged with its province code. A viewer with no audit-admin grant at an active unit
    (another role, or a unit since merged or closed) is outside every scope: :class:`NotFound` (404), as
    everywhere in the product.
    """
    units = [g.org_unit for g in all_grants(viewer) if g.role == Role.AUDIT_ADMIN and g.org_unit.is_active]
    if not units:
        raise NotFound()
    if any(u.level == OrgLevel.NATIONAL for u in units):
        return Q()
    q = Q(pk__in=[])
    for u in units:
        q |= Q(org_unit_id__in=OrgUnit.objects.filter(path__startswith=u.path).values("id"))
        q |= Q(actor_id__in=RoleGrant.objects.filter(org_unit__path__startswith=u.path).values("user_id"))
        if u.level == OrgLevel.PROVINCE:
            q |= Q(province_code=u.province_code)
    return q


def event_list(*, viewer: Actor, filters: AuditFilters) -> QuerySet[AuditEvent]:
    """The audit log of an audit administrator, newest first, within :func:`audit_scope_q` (else NotFound)."""
    qs = AuditEvent.objects.filter(audit_scope_q(viewer))
    if filters.event_type:
        qs = qs.filter(event_type=filters.event_type)
    if filters.actor:
        qs = qs.filter(actor_username=filters.actor.strip())
    if filters.subject_type:
        qs = qs.filter(subject_type=filters.subject_type)
    if filters.subject:
        qs = qs.filter(subject_id=filters.subject.strip())
    if filters.org_id is not None:
        qs = qs.filter(org_unit_id=filters.org_id)
    tz = timezone.get_current_timezone()
    if filters.date_from:
        qs = qs.filter(occurred_at__gte=datetime.combine(filters.date_from, time.min, tzinfo=tz))
    if filters.date_to:
        qs = qs.filter(occurred_at__lte=datetime.combine(filters.date_to, time.max, tzinfo=tz))
    return qs.order_by("-occurred_at", "-id")


def checkpoint_export(*, viewer: Actor, since_seq: int = 0) -> dict[str, Any]:
    """The signed checkpoints of the audit chain, for an audit administrator to keep outside the system
    (issue 11 §2; 三权分立, 等保 8.1.5.3): positions, head hashes, signatures and public keys — no personal data,
    so any audit administrator with an active grant may take them; anyone else: :class:`NotFound` (404).
    Side effect: an ``audit.checkpoints_exported`` event (who took which checkpoints)."""
    audit_scope_q(viewer)  # NotFound outside every audit-admin grant
    data = export_checkpoints(since_seq=since_seq)
    last = data["checkpoints"][-1]["seq"] if data["checkpoints"] else since_seq
    record(
        event_type=EventType.AUDIT_CHECKPOINTS_EXPORTED,
        actor=viewer,
        actor_role=Role.AUDIT_ADMIN,
        subject_type="audit_chain",
        subject_id=last,
        summary=f"导出审计链检查点 {len(data['checkpoints'])} 个",
        after={"since_seq": since_seq, "count": len(data["checkpoints"]), "last_seq": last},
    )
    return data
