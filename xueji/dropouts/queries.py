"""Reading the dropout ledger (第17条) within the viewer's jurisdiction: school registrars see their school's
cases, department users their region (``scope_path`` as for students); anything else is NotFound."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django.db.models import Case, CharField, Count, F, Min, OuterRef, Q, QuerySet, Subquery, When
from django.db.models.functions import Coalesce, TruncMonth

from xueji.accounts.enums import Role
from xueji.accounts.jurisdiction import data_grants, in_scope, scope_paths, scope_q
from xueji.accounts.types import Actor
from xueji.core.errors import FieldError, NotFound
from xueji.regions.enums import OrgLevel
from xueji.regions.models import OrgUnit
from xueji.regions.queries import child_id_on_path
from xueji.students.models import Enrollment
from xueji.students.search import identified_q

from .enums import Escalation, Outcome, State
from .models import CaseEscalation, DropoutCase, FollowUp

#: The ledger's filter value for every escalated open case (county or city).
ANY_ESCALATION = "any"
#: How many months the ledger's table of returns to school goes back (the current month included).
RETURN_MONTHS = 12


def overdue_q(today: date) -> Q:
    """Open cases whose next follow-up date has passed (第17条: the ledger is tracked dynamically)."""
    return Q(state=State.OPEN, next_follow_up__lt=today)


def current_path() -> Case:
    """SQL: the region an open case belongs to now — its pupil's active enrollment's (after a transfer, promotion
    or merger, before anyone writes the case), or where it was opened when the pupil has none left; a closed case
    stays where it was closed (the school that closed it keeps it in its ledger)."""
    active = Enrollment.objects.filter(person_id=OuterRef("person_id"), is_active=True).values("scope_path")[
        :1
    ]
    return Case(
        When(state=State.OPEN, then=Coalesce(Subquery(active), F("scope_path"))),
        default=F("scope_path"),
        output_field=CharField(),
    )


def _in_unit(unit: OrgUnit) -> Q:
    """Cases of :func:`cases_visible` in ``unit``'s subtree (by the annotated :func:`current_path`)."""
    return Q(current_path__startswith=unit.path)


def cases_visible(viewer: Actor) -> QuerySet[DropoutCase]:
    """Cases follow the pupil (第17条: the case is the pupil's, wherever they are enrolled now): an open case is
    scoped by the region of the pupil's active enrollment — after a transfer or a merger the new school and county
    see the case and the former ones no longer do — or, when the pupil has none left, by where the case was
    opened; a closed case by where it was closed (:func:`current_path`)."""
    return DropoutCase.objects.annotate(current_path=current_path()).filter(scope_q(viewer, "current_path"))


def case_list(
    *,
    viewer: Actor,
    state: str = "",
    overdue: bool = False,
    escalation: str = "",
    today: date,
    unit: OrgUnit | None = None,
) -> QuerySet[DropoutCase]:
    """The viewer's cases, filtered; ``unit`` (from :func:`ledger_unit`): only the cases in its subtree."""
    qs = cases_visible(viewer).select_related("person", "school", "enrollment")
    if unit is not None:
        qs = qs.filter(_in_unit(unit))
    if state in State.values:
        qs = qs.filter(state=state)
    if overdue:
        qs = qs.filter(overdue_q(today))
    if escalation == ANY_ESCALATION:
        qs = qs.filter(state=State.OPEN).exclude(escalation=Escalation.NONE)
    elif escalation in Escalation.values and escalation != Escalation.NONE:
        qs = qs.filter(state=State.OPEN, escalation=escalation)
    return qs.order_by("-state", "next_follow_up", "-opened_on", "-id")  # open ("open" > "closed") first


def case_get(*, viewer: Actor, case_id: Any) -> DropoutCase:
    """The case if it lies in the viewer's jurisdiction; otherwise (or a malformed id) NotFound."""
    try:
        case = (
            cases_visible(viewer).select_related("person", "school", "enrollment").filter(pk=case_id).first()
        )
    except (ValueError, TypeError):
        case = None
    if case is None:
        raise NotFound()
    return case


def case_follow_ups(case: DropoutCase) -> QuerySet[FollowUp]:
    return case.follow_ups.select_related("recorded_by").order_by("-date", "-id")


def case_escalations(case: DropoutCase) -> QuerySet[CaseEscalation]:
    """The case's escalation history, newest first."""
    return case.escalations.order_by("-on", "-id")


def enters_leads(user: Actor) -> bool:
    """Leads from other departments are entered by a filed department (county or above) registrar (第17条)."""
    return any(
        g.role == Role.DEPT_REGISTRAR and g.org_unit.level != OrgLevel.SCHOOL for g in data_grants(user)
    )


def lead_pupil(*, viewer: Actor, number: str, name: str) -> Enrollment:
    """The active pupil a lead names, by 学籍号 or identity number AND name (both must match, like the transfer
    look-up, 第15条), within the viewer's region only. Not found — whether the pupil does not exist, the name
    does not match or the pupil is enrolled outside the region: the same message, so a lead cannot be used to
    find out who is enrolled elsewhere. A number that is neither kind of number names the field."""
    q = identified_q(number, name, "person__")
    if q is None:
        if not (name or "").strip():
            raise FieldError("name", "required", "请填写学生姓名")
        raise FieldError("number", "invalid_number", "请填写有效的学籍号或身份证件号")
    enrollment = (
        Enrollment.objects.filter(scope_q(viewer, "scope_path"))
        .filter(q, is_active=True)
        .select_related("person", "school", "school__org")
        .first()
    )
    if enrollment is None:
        raise NotFound("未找到学籍号（或身份证件号）与姓名均匹配的在读学生")
    return enrollment


@dataclass(frozen=True)
class LedgerCounts:
    open: int
    overdue: int
    returned_this_month: int
    escalated: int = 0


def ledger_counts(*, viewer: Actor, today: date, unit: OrgUnit | None = None) -> LedgerCounts:
    """The ledger's headline numbers over the viewer's cases (in ``unit``'s subtree when given): open cases,
    overdue follow-ups, and pupils returned to school (劝返复学) this calendar month."""
    qs = cases_visible(viewer)
    if unit is not None:
        qs = qs.filter(_in_unit(unit))
    return LedgerCounts(
        open=qs.filter(state=State.OPEN).count(),
        overdue=qs.filter(overdue_q(today)).count(),
        escalated=qs.filter(state=State.OPEN).exclude(escalation=Escalation.NONE).count(),
        returned_this_month=qs.filter(
            state=State.CLOSED,
            outcome=Outcome.RETURNED,
            returned_on__year=today.year,
            returned_on__month=today.month,
        ).count(),
    )


def _covering(user: Actor, path: str, roles: set[str]) -> list[Any]:
    return [g for g in data_grants(user) if g.role in roles and path.startswith(g.org_unit.path)]


def handles_school(user: Actor, case_school: Any) -> bool:
    """A filed registrar of the pupil's school (or of its central school, 第22条)."""
    units = {g.org_unit_id for g in data_grants(user) if g.role == Role.SCHOOL_REGISTRAR}
    return case_school.org_id in units or bool(
        case_school.central_school_id and case_school.central_school_id in units
    )


def is_dept_registrar_over(user: Actor, path: str) -> bool:
    """A filed department (county or above) registrar whose region holds ``path`` (第5、17条)."""
    return any(g.org_unit.level != OrgLevel.SCHOOL for g in _covering(user, path, {Role.DEPT_REGISTRAR}))


def can_approve_other(user: Actor, path: str) -> bool:
    """County-level (or higher) approval for closing a case as "other" (第17条: the county is responsible)."""
    return any(
        g.org_unit.level != OrgLevel.SCHOOL
        for g in _covering(user, path, {Role.DEPT_REGISTRAR, Role.APPROVER})
    )


def can_handle(user: Actor, case: DropoutCase) -> bool:
    """Who records follow-ups and closes a case: the school's registrar or the region's department registrar."""
    school, path = case.school, case.scope_path
    if case.state == State.OPEN:  # an open case follows the pupil to the school now responsible
        current = (
            Enrollment.objects.filter(person_id=case.person_id, is_active=True)
            .select_related("school", "school__org")
            .first()
        )
        if current is not None:
            school, path = current.school, current.scope_path
    return handles_school(user, school) or is_dept_registrar_over(user, path)


def ledger_by_school(*, viewer: Actor, today: date) -> list[dict[str, Any]]:
    """The ledger per school (第17条: the county follows every school's cases): open cases, overdue follow-ups and
    returns this month, one plain GROUP BY over the viewer's cases; schools with none of these are left out."""
    returned = Q(
        state=State.CLOSED,
        outcome=Outcome.RETURNED,
        returned_on__year=today.year,
        returned_on__month=today.month,
    )
    rows = (
        cases_visible(viewer)
        .values("school_id", "school__name")
        .annotate(
            open=Count("pk", filter=Q(state=State.OPEN)),
            overdue=Count("pk", filter=overdue_q(today)),
            escalated=Count("pk", filter=Q(state=State.OPEN) & ~Q(escalation=Escalation.NONE)),
            returned=Count("pk", filter=returned),
        )
        .filter(Q(open__gt=0) | Q(returned__gt=0))
        .order_by("-overdue", "-open", "school__name")
    )
    return list(rows)


def month_starts(today: date, months: int = RETURN_MONTHS) -> list[date]:
    """The first days of the last ``months`` calendar months, newest (this month) first."""
    starts = [today.replace(day=1)]
    for _i in range(months - 1):
        prev = starts[-1] - timedelta(days=1)
        starts.append(prev.replace(day=1))
    return starts


def returns_by_month(
    *, viewer: Actor, today: date, months: int = RETURN_MONTHS, unit: OrgUnit | None = None
) -> list[tuple[date, int]]:
    """Pupils returned to school (劝返复学) per calendar month of their return, the last ``months`` months
    (newest first, months without a return included): the monthly report's figure (第17条)."""
    starts = month_starts(today, months)
    qs = cases_visible(viewer)
    if unit is not None:
        qs = qs.filter(_in_unit(unit))
    grouped = (
        qs.filter(
            state=State.CLOSED, outcome=Outcome.RETURNED, returned_on__gte=starts[-1], returned_on__lte=today
        )
        .annotate(month=TruncMonth("returned_on"))
        .values("month")
        .annotate(n=Count("pk"))
        .order_by()
    )
    per_month = {_as_date(g["month"]): int(g["n"]) for g in grouped}
    return [(start, per_month.get(start, 0)) for start in starts]


def _as_date(value: Any) -> date:
    return value.date() if hasattr(value, "date") and callable(value.date) else value


def ledger_unit(*, viewer: Actor, org_id: Any = None) -> OrgUnit | None:
    """The unit whose ledger is shown: ``org_id`` when it lies in the viewer's jurisdiction (anything else, or a
    malformed id: NotFound — 第23条), else the viewer's own top unit; None for a viewer without student data."""
    if org_id in (None, ""):
        paths = scope_paths(viewer)
        return OrgUnit.objects.filter(path=paths[0]).first() if paths else None
    unit = OrgUnit.objects.filter(pk=org_id).first() if str(org_id).isdigit() else None
    if unit is None or not in_scope(viewer, unit.path):
        raise NotFound()
    return unit


def ledger_parent(*, viewer: Actor, unit: OrgUnit) -> OrgUnit | None:
    """The unit one level up when the viewer may see it (the roll-up's way back up)."""
    parent = OrgUnit.objects.filter(pk=unit.parent_id).first() if unit.parent_id else None
    return parent if parent is not None and in_scope(viewer, parent.path) else None


@dataclass(frozen=True)
class UnitLedger:
    """One child unit's ledger (第17条): open cases, the days the oldest of them has been open, overdue
    follow-ups, escalated cases, and returns to school per month (``returned[i]`` for ``months[i]``)."""

    unit: OrgUnit
    open: int
    overdue: int
    escalated: int
    oldest_days: int
    returned: tuple[int, ...]

    @property
    def returned_total(self) -> int:
        return sum(self.returned)


def ledger_by_unit(
    *, viewer: Actor, unit: OrgUnit, today: date, months: int = RETURN_MONTHS
) -> list[UnitLedger]:
    """The ledger rolled up per child unit of ``unit`` (第5条 分级负责, 第17条: the county follows its schools,
    the city its counties, the province its cities) — every child listed, most overdue first. A case is counted
    where its pupil is enrolled now (:func:`current_path`: not ``case.school``, which a transfer or merger
    leaves behind until someone writes the case); closed cases where they were closed. Two plain ``GROUP BY``
    (counts, returns per month) whatever the number of children."""
    starts = month_starts(today, months)
    qs = (
        cases_visible(viewer)
        .filter(_in_unit(unit))
        .exclude(Q(current_path=unit.path))
        .annotate(child=child_id_on_path("current_path", unit.path))
    )
    counts = {
        str(g["child"]): g
        for g in qs.values("child")
        .annotate(
            open=Count("pk", filter=Q(state=State.OPEN)),
            overdue=Count("pk", filter=overdue_q(today)),
            escalated=Count("pk", filter=Q(state=State.OPEN) & ~Q(escalation=Escalation.NONE)),
            oldest=Min("opened_on", filter=Q(state=State.OPEN)),
        )
        .order_by()
    }
    returned: dict[tuple[str, date], int] = {}
    for g in (
        qs.filter(
            state=State.CLOSED, outcome=Outcome.RETURNED, returned_on__gte=starts[-1], returned_on__lte=today
        )
        .annotate(month=TruncMonth("returned_on"))
        .values("child", "month")
        .annotate(n=Count("pk"))
        .order_by()
    ):
        returned[(str(g["child"]), _as_date(g["month"]))] = int(g["n"])
    rows = []
    for child in OrgUnit.objects.filter(parent=unit).order_by("level", "code"):
        g = counts.get(str(child.pk), {})
        oldest = g.get("oldest")
        rows.append(
            UnitLedger(
                unit=child,
                open=int(g.get("open", 0)),
                overdue=int(g.get("overdue", 0)),
                escalated=int(g.get("escalated", 0)),
                oldest_days=(today - _as_date(oldest)).days if oldest else 0,
                returned=tuple(returned.get((str(child.pk), m), 0) for m in starts),
            )
        )
    rows.sort(key=lambda r: (-r.overdue, -r.open, -r.returned_total))
    return rows
