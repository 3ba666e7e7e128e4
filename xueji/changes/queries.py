"""Reads on change requests: worklists with legal clocks, escalation of overdue steps, timelines.

第15条 gives each party 10 working days; a step near or past its deadline shows on the acting unit's list
(days left, overdue in red) and, once overdue, on the list of every level above it (the upper levels
supervise, 第5、26条).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from xueji.accounts.jurisdiction import data_grants, scope_paths
from xueji.core.errors import NotFound
from xueji.workdays.services import official_calendar

from .models import ApprovalStep, ChangeRequest, Notification
from .workflow import RequestState, StepState


def requests_visible(viewer: Any) -> QuerySet[ChangeRequest]:
    """Requests touching the viewer's subtree on either side (sending or receiving)."""
    paths = scope_paths(viewer)
    if not paths:
        return ChangeRequest.objects.none()
    q = Q()
    for p in paths:
        q |= Q(source_path__startswith=p) | Q(target_path__startswith=p)
    return ChangeRequest.objects.filter(q)


def request_get(*, viewer: Any, request_id: Any) -> ChangeRequest:
    try:
        req = (
            requests_visible(viewer)
            .select_related("person", "target_school", "initiator_org")
            .filter(pk=request_id)
            .first()
        )
    except (ValueError, TypeError):
        req = None
    if req is None:
        raise NotFound()
    return req


@dataclass(frozen=True)
class WorkItem:
    step: ApprovalStep
    days_left: int | None  # working days left; negative = overdue by that many
    overdue: bool
    escalated: bool  # shown because a unit below the viewer is overdue


def _days_left(step: ApprovalStep, today: date) -> int | None:
    if step.due_on is None:
        return None
    cal = official_calendar()
    if step.due_on >= today:
        return cal.working_days_between(today, step.due_on)
    return -cal.working_days_between(step.due_on, today)


def acting_units(viewer: Any) -> list[int]:
    return sorted({g.org_unit_id for g in data_grants(viewer)})


def worklist(*, viewer: Any, today: date | None = None) -> list[WorkItem]:
    """Steps waiting for the viewer's units, soonest deadline first; then overdue steps of units below."""
    today = today or timezone.localdate()
    units = acting_units(viewer)
    if not units:
        return []
    base = ApprovalStep.objects.filter(
        state=StepState.PENDING, request__state=RequestState.PENDING
    ).select_related("request", "request__person", "org_unit", "request__target_school")
    mine = list(base.filter(org_unit_id__in=units).order_by("due_on", "started_on"))
    below_q = Q()
    for g in data_grants(viewer):
        if g.org_unit.level != "school":
            below_q |= Q(org_unit__path__startswith=g.org_unit.path)
    escalated: list[ApprovalStep] = []
    if below_q:
        escalated = list(
            base.filter(below_q, due_on__lt=today).exclude(org_unit_id__in=units).order_by("due_on")
        )
    items = [WorkItem(s, d := _days_left(s, today), d is not None and d < 0, False) for s in mine]
    items += [WorkItem(s, _days_left(s, today), True, True) for s in escalated]
    return items


def my_requests(*, viewer: Any, open_only: bool = True) -> QuerySet[ChangeRequest]:
    """Requests the viewer's units started (to follow, resubmit or cancel)."""
    qs = ChangeRequest.objects.filter(initiator_org_id__in=acting_units(viewer)).select_related("person")
    if open_only:
        qs = qs.filter(state__in=[RequestState.PENDING, RequestState.RETURNED])
    return qs.order_by("-created_at")


def timeline(*, viewer: Any, person_id: Any) -> list[ChangeRequest]:
    """Every request of a student the viewer may see, newest first, with its steps prefetched."""
    return list(
        requests_visible(viewer)
        .filter(person_id=person_id)
        .prefetch_related("steps", "steps__org_unit", "steps__decided_by")
        .order_by("-created_at")
    )


def notifications_for(*, viewer: Any, unread_only: bool = True) -> QuerySet[Notification]:
    qs = Notification.objects.filter(org_unit_id__in=acting_units(viewer)).select_related("request")
    if unread_only:
        qs = qs.exclude(read_by=viewer)
    return qs.order_by("-created_at")


def notification_mark_read(*, viewer: Any, notification_ids: list[int]) -> int:
    rows = list(notifications_for(viewer=viewer).filter(pk__in=notification_ids))
    for n in rows:
        n.read_by.add(viewer)
    return len(rows)


def transfer_lookup(*, student_number: str, name: str) -> Any:
    """For a receiving school (第15条): find the active record to transfer by 学籍号 AND name, nationally.

    Returns the enrollment or raises NotFound; both must match so that numbers cannot be probed for names.
    The caller reveals only the school's name before the request is made.
    """
    from xueji.students.identity import normalise_number
    from xueji.students.models import Enrollment

    enrollment = (
        Enrollment.objects.select_related("school", "school__org", "person")
        .filter(
            person__student_number=normalise_number(student_number), person__name=name.strip(), is_active=True
        )
        .first()
    )
    if enrollment is None:
        raise NotFound("未找到学籍号与姓名均匹配的在读学生")
    return enrollment
