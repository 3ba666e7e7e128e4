"""Reads on change requests: worklists with legal clocks, escalation of overdue steps, timelines.

第15条 gives each party 10 working days; a step near or past its deadline shows on the acting unit's list
(days left, overdue in red) and, once overdue, on the list of every level above it (the upper levels
supervise, 第5、26条).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db.models import F, Q, QuerySet
from django.utils import timezone

from xueji.accounts.enums import Role
from xueji.accounts.jurisdiction import data_grants, school_registrar_units, scope_paths, scope_q
from xueji.accounts.types import Actor
from xueji.core.errors import NotFound
from xueji.regions.enums import LEVEL_RANK, OrgLevel
from xueji.regions.models import OrgUnit
from xueji.schools.enums import SchoolState
from xueji.schools.models import School
from xueji.schools.queries import school_get
from xueji.students.models import Enrollment, Person
from xueji.students.queries import StudentFilters, enrollment_list
from xueji.students.search import identified_q
from xueji.workdays.services import official_calendar

from .enums import IN_SCHOOL
from .models import ApprovalStep, ChangeRequest, Notification
from .workflow import IN_FLIGHT_STATES, RequestState, StepMode, StepState


def changes_visible(viewer: Actor) -> QuerySet[ChangeRequest]:
    """Requests touching the viewer's subtree on either side (sending or receiving)."""
    paths = scope_paths(viewer)
    if not paths:
        return ChangeRequest.objects.none()
    q = Q()
    for p in paths:
        q |= Q(source_path__startswith=p) | Q(target_path__startswith=p)
    return ChangeRequest.objects.filter(q)


def change_get(*, viewer: Actor, request_id: Any) -> ChangeRequest:
    try:
        req = (
            changes_visible(viewer)
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


def days_left(step: ApprovalStep, today: date) -> int | None:
    """Working days left on the step's clock (negative: overdue by that many); ``None`` without a clock."""
    if step.due_on is None:
        return None
    cal = official_calendar()
    if step.due_on >= today:
        return cal.working_days_between(today, step.due_on)
    return -cal.working_days_between(step.due_on, today)


def acting_units(viewer: Actor) -> list[int]:
    return sorted({g.org_unit_id for g in data_grants(viewer)})


def worklist(*, viewer: Actor, today: date | None = None) -> list[WorkItem]:
    """Steps waiting for the viewer's units, soonest deadline first; then overdue steps of units below."""
    today = today or timezone.localdate()
    units = acting_units(viewer)
    if not units:
        return []
    base = ApprovalStep.objects.filter(
        state=StepState.PENDING, request__state=RequestState.PENDING
    ).select_related(
        "request",
        "request__person",
        "org_unit",
        "request__target_school",
        "request__initiator_org",
        "request__enrollment__school",  # the card shows what the approval changes
    )
    mine = list(base.filter(org_unit_id__in=units).order_by("due_on", "started_on"))
    below_q = Q()
    for g in data_grants(viewer):
        if g.org_unit.level != OrgLevel.SCHOOL:
            below_q |= Q(org_unit__path__startswith=g.org_unit.path)
    escalated: list[ApprovalStep] = []
    if below_q:
        escalated = list(
            base.filter(below_q, due_on__lt=today).exclude(org_unit_id__in=units).order_by("due_on")
        )
    items = [WorkItem(s, d := days_left(s, today), d is not None and d < 0, False) for s in mine]
    items += [WorkItem(s, days_left(s, today), True, True) for s in escalated]
    return items


def my_requests(*, viewer: Actor, open_only: bool = True) -> QuerySet[ChangeRequest]:
    """Requests the viewer's units started (to follow, resubmit or cancel — an approved one too until its
    start date)."""
    qs = ChangeRequest.objects.filter(initiator_org_id__in=acting_units(viewer)).select_related("person")
    if open_only:
        qs = qs.filter(state__in=list(IN_FLIGHT_STATES))
    return qs.order_by("-created_at")


@dataclass(frozen=True)
class ReturnedItem:
    """A request returned (退回) to a unit that started it: the step that returned it, with its comment."""

    request: ChangeRequest
    step: ApprovalStep


def returned_to(*, viewer: Actor, limit: int = 200) -> list[ReturnedItem]:
    """Requests the viewer's units started that were returned for more material, oldest return first: they
    are the initiator's work (resubmit or withdraw) and sit on its worklist."""
    units = acting_units(viewer)
    if not units:
        return []
    steps = (
        ApprovalStep.objects.filter(
            state=StepState.RETURNED,
            request__state=RequestState.RETURNED,
            request__initiator_org_id__in=units,
            request__current_position=F("position"),
        )
        .select_related(
            "request",
            "request__person",
            "request__target_school",
            "request__initiator_org",
            "request__enrollment__school",
            "org_unit",
        )
        .order_by("decided_at")[:limit]
    )
    return [ReturnedItem(s.request, s) for s in steps]


def timeline_requests(*, viewer: Actor, person_id: Any) -> QuerySet[ChangeRequest]:
    """The requests of a student the viewer may see, newest first, with their steps prefetched (slice it)."""
    return (
        changes_visible(viewer)
        .filter(person_id=person_id)
        .prefetch_related("steps", "steps__org_unit", "steps__decided_by")
        .order_by("-created_at", "-id")
    )


def timeline(*, viewer: Actor, person_id: Any) -> list[ChangeRequest]:
    """Every request of a student the viewer may see, newest first, with its steps prefetched."""
    return list(timeline_requests(viewer=viewer, person_id=person_id))


def notifications_for(*, viewer: Actor, unread_only: bool = True) -> QuerySet[Notification]:
    qs = Notification.objects.filter(org_unit_id__in=acting_units(viewer)).select_related("request")
    if unread_only:
        qs = qs.exclude(read_by=viewer)
    return qs.order_by("-created_at")


def notification_mark_read(*, viewer: Actor, notification_ids: list[int]) -> int:
    rows = list(notifications_for(viewer=viewer).filter(pk__in=notification_ids))
    for n in rows:
        n.read_by.add(viewer)
    return len(rows)


def transfer_lookup(*, student_number: str, name: str) -> Any:
    """For a receiving school (第15条): find the active record to transfer by 学籍号 (or identity number) AND
    name, nationally.

    Returns the enrollment or raises NotFound; both must match so that numbers cannot be probed for names.
    The caller reveals only the school's name before the request is made.
    """
    q = identified_q(student_number, name, "person__")
    enrollment = (
        Enrollment.objects.select_related("school", "school__org", "person").filter(q, is_active=True).first()
        if q is not None
        else None
    )
    if enrollment is None:
        raise NotFound("未找到学籍号（或身份证件号）与姓名均匹配的在读学生")
    return enrollment


# --- reads of the pages and the API (views and api.py build no queryset of their own) ---------------------


def change_reload(request_id: Any) -> ChangeRequest:
    """A request the caller has already been allowed to see, read again after a write."""
    return ChangeRequest.objects.select_related("person", "target_school", "initiator_org").get(pk=request_id)


def change_steps(req: ChangeRequest) -> list[ApprovalStep]:
    """The request's steps in order, with their units and deciders."""
    return list(
        ApprovalStep.objects.filter(request=req).select_related("org_unit", "decided_by").order_by("position")
    )


def step_at(req: ChangeRequest, position: int) -> ApprovalStep | None:
    return ApprovalStep.objects.filter(request=req, position=position).select_related("org_unit").first()


def is_notify_step(req: ChangeRequest, position: int) -> bool:
    return ApprovalStep.objects.filter(request=req, position=position, mode=StepMode.NOTIFY).exists()


def steps_total(request_id: Any) -> int:
    return ApprovalStep.objects.filter(request_id=request_id).count()


def change_attachments(req: ChangeRequest) -> list[Any]:
    return list(req.attachments.select_related("uploaded_by").order_by("uploaded_at", "id"))


def school_names(requests: list[ChangeRequest]) -> dict[Any, str]:
    """Enrollment id → school name for the requests' records, in one query."""
    ids = {r.enrollment_id for r in requests if r.enrollment_id}
    if not ids:
        return {}
    return dict(Enrollment.objects.filter(pk__in=ids).values_list("pk", "school__name"))


def person_names(person_ids: set[Any]) -> dict[Any, str]:
    if not person_ids:
        return {}
    return dict(Person.objects.filter(pk__in=person_ids).values_list("pk", "name"))


def change_list(
    *, viewer: Actor, kind: str = "", state: str = "", person_id: Any = None, initiated: bool = False
) -> QuerySet[ChangeRequest]:
    """The visible requests, filtered, newest first, with what a list row shows."""
    qs = changes_visible(viewer).select_related(
        "person", "enrollment__school", "target_school", "initiator_org"
    )
    if kind:
        qs = qs.filter(kind=kind)
    if state:
        qs = qs.filter(state=state)
    if person_id:
        qs = qs.filter(person_id=person_id)
    if initiated:
        qs = qs.filter(initiator_org_id__in=acting_units(viewer))
    return qs.prefetch_related("steps__org_unit").order_by("-created_at", "-id")


def my_open_requests(*, viewer: Actor, limit: int = 50) -> list[ChangeRequest]:
    return list(
        my_requests(viewer=viewer)
        .select_related("target_school", "initiator_org")
        .prefetch_related("steps__org_unit")[:limit]
    )


def open_request_of(viewer: Actor, person_id: Any) -> ChangeRequest | None:
    """The student's request in flight that the viewer may see, if any."""
    return (
        changes_visible(viewer)
        .filter(person_id=person_id, state__in=list(IN_FLIGHT_STATES))
        .order_by("created_at")
        .first()
    )


def persons_with_open_requests(viewer: Actor, person_ids: list[Any]) -> set[Any]:
    return set(
        changes_visible(viewer)
        .filter(person_id__in=person_ids, state__in=list(IN_FLIGHT_STATES))
        .values_list("person_id", flat=True)
    )


def unread_notification_ids(viewer: Actor) -> list[int]:
    return list(notifications_for(viewer=viewer).values_list("pk", flat=True))


def notifications_read(viewer: Actor, notifications: list[Notification]) -> set[int]:
    """Which of ``notifications`` the viewer has read."""
    if not notifications:
        return set()
    through = Notification.read_by.through
    return set(
        through.objects.filter(
            user_id=viewer.pk, notification_id__in=[n.pk for n in notifications]
        ).values_list("notification_id", flat=True)
    )


def student_in_scope(viewer: Actor, person_id: Any) -> bool:
    """Whether the viewer's jurisdiction holds a record of the person (active or not)."""
    return Enrollment.objects.filter(scope_q(viewer), person_id=person_id).exists()


def enrollment_in_scope(viewer: Actor, enrollment_id: Any) -> Enrollment:
    """A record in the viewer's jurisdiction, or NotFound."""
    enrollment = (
        Enrollment.objects.filter(scope_q(viewer), pk=enrollment_id)
        .select_related("school", "school__org")
        .first()
    )
    if enrollment is None:
        raise NotFound()
    return enrollment


def county_by_code(code: str) -> OrgUnit | None:
    """A county-level department by its 6-digit division code (缓学: the county of household registration)."""
    return OrgUnit.objects.filter(level=OrgLevel.COUNTY, code=code.strip()).first()


def org_unit_by_id(org_id: int) -> OrgUnit:
    org = OrgUnit.objects.filter(pk=org_id).first()
    if org is None:
        raise NotFound()
    return org


def school_named(*, school_id: Any = None, school_code: str = "") -> School | None:
    """Any school by id or 学校标识码 (public identifiers): the graduating school of a cohort, which the
    cohort services check against the admitting school's department (第14条) before anything is shown."""
    qs = School.objects.select_related("org", "supervising_dept")
    if school_id is not None:
        return qs.filter(pk=school_id).first()
    return qs.filter(school_code=school_code).first() if school_code else None


def graduating_students(*, viewer: Actor, school_id: Any, grade: int, limit: int = 2000) -> list[Enrollment]:
    """The attending pupils (在读/复学) of a school's grade, for a cohort graduation preview (第19条)."""
    students = enrollment_list(viewer=viewer, filters=StudentFilters(school_id=school_id, grade=grade))
    return list(students.filter(status__in=list(IN_SCHOOL))[:limit])


def notification_inbox(*, viewer: Actor, limit: int) -> tuple[list[Notification], int]:
    """The viewer's newest unread notices (at most ``limit``) and how many are unread."""
    unread = notifications_for(viewer=viewer)
    return list(unread[:limit]), unread.count()


# --- who may start what (the viewer's units) -----------------------------------------------------------


def registrar_schools(user: Actor) -> list[School]:
    """Active schools where the user is the filed school registrar (they receive transfers there)."""
    schools = []
    for unit in school_registrar_units(user):
        try:
            school = school_get(viewer=user, school_id=unit.pk)
        except NotFound:
            continue
        if school.state == SchoolState.ACTIVE:
            schools.append(school)
    return schools


def county_units(user: Actor) -> list[Any]:
    """County departments where the user acts (缓学 is decided by the county of household registration)."""
    return [
        g.org_unit
        for g in data_grants(user)
        if g.role in {Role.DEPT_REGISTRAR, Role.APPROVER} and g.org_unit.level == OrgLevel.COUNTY
    ]


def promotion_units(user: Actor) -> list[Any]:
    """Regions whose annual promotion the user may run: department registrar at county level or above."""
    out = []
    for g in data_grants(user):
        level = g.org_unit.level
        if (
            g.role == Role.DEPT_REGISTRAR
            and level != OrgLevel.SCHOOL
            and LEVEL_RANK[OrgLevel(level)] <= LEVEL_RANK[OrgLevel.COUNTY]
        ):
            out.append(g.org_unit)
    return out
