"""Reads of the semester verification 学籍核查 (第25条), always within the viewer's jurisdiction (第5、23条).

A round is visible to a viewer whose region overlaps it: the departments above the opening unit do not see it,
those at or below it (and their schools) do. A school's return is read by the school's registrar and the
departments over the school; anything else — or a malformed id — is NotFound. Progress is one ``GROUP BY`` over
the round's returns under a unit, keyed by the child unit read off each return's org path, never a loop over
schools.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db.models import Case, Count, Exists, IntegerField, OuterRef, Q, QuerySet, Value, When
from django.db.models.functions import Coalesce

from xueji.accounts.enums import Role
from xueji.accounts.jurisdiction import data_grants, in_scope, scope_paths
from xueji.accounts.types import Actor
from xueji.checks.queries import unexplained_open_problems
from xueji.core.errors import NotFound
from xueji.dropouts.enums import COMPULSORY_STAGES
from xueji.dropouts.enums import State as CaseState
from xueji.dropouts.models import DropoutCase
from xueji.regions.enums import OrgLevel
from xueji.regions.models import OrgUnit
from xueji.regions.queries import child_id_on_path
from xueji.students.enums import StudentStatus
from xueji.students.models import Enrollment
from xueji.students.search import enrollment_q, parse_term

from .enums import FindingKind, ReturnState
from .models import Finding, SchoolReturn, VerificationRound
from .workflow import PENDING_SCHOOL

DEPT_ROLES = frozenset({Role.DEPT_REGISTRAR, Role.APPROVER})
OPENING_LEVELS = frozenset({OrgLevel.PROVINCE, OrgLevel.NATIONAL})


def _id(value: Any) -> int | None:
    text = str(value)
    return int(text) if text.isdigit() and len(text) < 19 else None


# ------------------------------------------------------------------------------------------------ who may act


def opening_units(viewer: Actor) -> list[OrgUnit]:
    """Units where the viewer may open a round: a province or the ministry where they hold a filed department
    role (第5条: 省级统筹; the ministry 宏观指导)."""
    units = {g.org_unit.pk: g.org_unit for g in data_grants(viewer) if g.role in DEPT_ROLES}
    return sorted((u for u in units.values() if u.level in OPENING_LEVELS), key=lambda u: u.path)


def can_close(viewer: Actor, rnd: VerificationRound) -> bool:
    """The opening unit's department users close its round."""
    return rnd.is_open and any(u.pk == rnd.org_unit_id for u in opening_units(viewer))


def reviewer_units(viewer: Actor) -> set[int]:
    """Departments whose schools' returns the viewer reviews (a filed department role held there, 第5条)."""
    return {
        g.org_unit_id
        for g in data_grants(viewer)
        if g.role in DEPT_ROLES and g.org_unit.level != OrgLevel.SCHOOL
    }


def can_review(viewer: Actor, ret: SchoolReturn) -> bool:
    return ret.reviewer_id in reviewer_units(viewer)


def school_units(viewer: Actor) -> set[int]:
    """Schools whose returns the viewer fills in: filed school-registrar grants (or of the central school of a
    teaching point, 第22条 — resolved by :func:`is_school_registrar`)."""
    return {g.org_unit_id for g in data_grants(viewer) if g.role == Role.SCHOOL_REGISTRAR}


def is_school_registrar(viewer: Actor, ret: SchoolReturn) -> bool:
    units = school_units(viewer)
    school = ret.school
    return school.org_id in units or bool(school.central_school_id and school.central_school_id in units)


def is_department_viewer(viewer: Actor) -> bool:
    return any(g.org_unit.level != OrgLevel.SCHOOL for g in data_grants(viewer))


# ---------------------------------------------------------------------------------------------------- rounds


def _ancestor_paths(path: str) -> list[str]:
    parts = [p for p in path.strip("/").split("/") if p]
    return ["/" + "/".join(parts[: i + 1]) + "/" for i in range(len(parts))]


def rounds_visible(viewer: Actor) -> QuerySet[VerificationRound]:
    """Rounds over the viewer's region: opened at or above one of their units (their schools take part) or
    below it (their region's provinces' rounds, for the ministry)."""
    paths = scope_paths(viewer)
    if not paths:
        return VerificationRound.objects.none()
    q = Q()
    for p in paths:
        q |= Q(scope_path__startswith=p) | Q(scope_path__in=_ancestor_paths(p))
    return VerificationRound.objects.filter(q).select_related("org_unit")


def round_get(*, viewer: Actor, round_id: Any) -> VerificationRound:
    pk = _id(round_id)
    rnd = rounds_visible(viewer).filter(pk=pk).first() if pk else None
    if rnd is None:
        raise NotFound()
    return rnd


# ---------------------------------------------------------------------------------------------------- returns


def return_get(*, viewer: Actor, rnd: VerificationRound, school_id: Any) -> SchoolReturn:
    """A school's return in ``rnd`` if the school lies in the viewer's jurisdiction; otherwise NotFound."""
    pk = _id(school_id)
    ret = (
        SchoolReturn.objects.select_related("round", "school", "school__org", "reviewer")
        .filter(round=rnd, school_id=pk)
        .first()
        if pk
        else None
    )
    if ret is None or not in_scope(viewer, ret.scope_path):
        raise NotFound()
    return ret


def my_returns(*, viewer: Actor) -> QuerySet[SchoolReturn]:
    """The returns of the schools where the viewer is the registrar — and of the teaching points whose central
    school that is (第22条: 教学点的学籍管理可由中心校承担) — newest round first."""
    units = school_units(viewer)
    return (
        SchoolReturn.objects.filter(Q(school_id__in=units) | Q(school__central_school_id__in=units))
        .select_related("round", "school")
        .order_by("-round__opened_on", "-round_id", "school__name")
    )


def my_returns_in(*, viewer: Actor, rnd: VerificationRound) -> list[SchoolReturn]:
    """The viewer's schools' returns in ``rnd`` (a school registrar's view of a round: their school and the
    teaching points it manages, 第22条); none → NotFound."""
    rets = list(my_returns(viewer=viewer).filter(round=rnd))
    if not rets:
        raise NotFound()
    return rets


def reviewed_rounds(*, viewer: Actor, rounds: list[VerificationRound]) -> set[int]:
    """Of ``rounds``, those holding returns the viewer's department reviews (one query)."""
    units = reviewer_units(viewer)
    if not units or not rounds:
        return set()
    return set(
        SchoolReturn.objects.filter(round__in=rounds, reviewer_id__in=units)
        .values_list("round_id", flat=True)
        .distinct()
    )


def returns_under(*, rnd: VerificationRound, unit: OrgUnit) -> QuerySet[SchoolReturn]:
    """The returns of the schools under ``unit`` (a county's list of schools in the progress page)."""
    return (
        SchoolReturn.objects.filter(round=rnd, scope_path__startswith=unit.path)
        .select_related("school", "round")
        .order_by("school__school_code")
    )


def review_waiting(*, viewer: Actor, rnd: VerificationRound) -> int:
    """Returns submitted and waiting for the viewer's department in ``rnd``."""
    return SchoolReturn.objects.filter(
        round=rnd, reviewer_id__in=reviewer_units(viewer), state=ReturnState.SUBMITTED
    ).count()


def unexplained_count(ret: SchoolReturn) -> int:
    """The school's open problem records without an explanation (they block submitting, 第25条)."""
    return unexplained_open_problems(ret.school).count()


def review_queue(*, viewer: Actor, rnd: VerificationRound, state: str = "") -> QuerySet[SchoolReturn]:
    """Returns the viewer's department reviews in ``rnd``: submitted ones first, then returned, draft, accepted."""
    qs = SchoolReturn.objects.filter(round=rnd, reviewer_id__in=reviewer_units(viewer)).select_related(
        "school", "round"
    )
    if state in ReturnState.values:
        qs = qs.filter(state=state)
    order = {ReturnState.SUBMITTED: 0, ReturnState.RETURNED: 1, ReturnState.DRAFT: 2, ReturnState.ACCEPTED: 3}
    rank = Case(*[When(state=s, then=Value(n)) for s, n in order.items()], output_field=IntegerField())
    return qs.annotate(rank=rank, n_findings=Coalesce(Count("findings"), 0)).order_by(
        "rank", "school__name", "school_id"
    )


def roster(
    *, ret: SchoolReturn, q: str = "", class_name: str = "", only_findings: bool = False
) -> QuerySet[Enrollment]:
    """The school's active enrollments (its 在籍 roster) in class order, narrowed by the search box (name, 学籍号,
    identity number — the indexed search of the student list) and a class. Paged by the caller."""
    qs = Enrollment.objects.filter(school_id=ret.school_id, is_active=True).select_related("person")
    term = parse_term(q)
    if term.kind:
        qs = qs.filter(enrollment_q(term, [ret.scope_path]))
    if class_name:
        qs = qs.filter(class_name=class_name.strip())
    if only_findings:
        qs = qs.filter(pk__in=Finding.objects.filter(school_return=ret).values("enrollment_id"))
    return qs.order_by("grade", "class_name", "person__name", "pk")


def findings_by_enrollment(ret: SchoolReturn, enrollment_ids: list[Any]) -> dict[Any, Finding]:
    """The return's findings of the given enrollments (one page of the roster), keyed by enrollment id."""
    return {
        fd.enrollment_id: fd
        for fd in Finding.objects.filter(school_return=ret, enrollment_id__in=enrollment_ids)
    }


def finding_get(*, ret: SchoolReturn, enrollment_id: Any) -> Finding | None:
    try:
        return Finding.objects.filter(school_return=ret, enrollment_id=enrollment_id).first()
    except (ValueError, TypeError, Exception):  # a malformed UUID
        return None


def roster_enrollment(*, ret: SchoolReturn, enrollment_id: Any) -> Enrollment:
    """A pupil on the school's active roster; anything else (another school, a former pupil, a bad id) is
    NotFound."""
    try:
        enrollment = (
            Enrollment.objects.select_related("person", "school")
            .filter(pk=enrollment_id, school_id=ret.school_id, is_active=True)
            .first()
        )
    except (ValueError, TypeError, Exception):  # ValidationError of a malformed UUID
        enrollment = None
    if enrollment is None:
        raise NotFound()
    return enrollment


def findings_of(ret: SchoolReturn) -> QuerySet[Finding]:
    return (
        Finding.objects.filter(school_return=ret)
        .select_related("enrollment", "enrollment__person")
        .order_by("kind", "enrollment__grade", "enrollment__class_name", "enrollment__person__name")
    )


def finding_counts(ret: SchoolReturn) -> dict[str, int]:
    """Findings of the return by kind, plus ``total``."""
    rows = Finding.objects.filter(school_return=ret).values("kind").annotate(n=Count("pk")).order_by()
    counts = dict.fromkeys(FindingKind.values, 0)
    for r in rows:
        counts[r["kind"]] = r["n"]
    counts["total"] = sum(counts[k] for k in FindingKind.values)
    return counts


def roster_count(ret: SchoolReturn) -> int:
    """在籍 pupils of the school now (active enrollments)."""
    return Enrollment.objects.filter(school_id=ret.school_id, is_active=True).count()


def _open_case(person_field: str) -> Exists:
    return Exists(DropoutCase.objects.filter(person_id=OuterRef(person_field), state=CaseState.OPEN))


def absent_to_report(ret: SchoolReturn) -> QuerySet[Finding]:
    """人籍分离 findings of the return whose pupil is in compulsory education, still active here, not on approved
    休学 and without an open dropout case: the school should report them to the 控辍保学台账 (第17条)."""
    return (
        _absent_q(Finding.objects.filter(school_return=ret))
        .filter(enrollment__school_id=ret.school_id)
        .select_related("enrollment", "enrollment__person")
    )


def _absent_q(qs: QuerySet[Finding]) -> QuerySet[Finding]:
    return (
        qs.filter(
            kind=FindingKind.ABSENT,
            enrollment__is_active=True,
            enrollment__stage__in=sorted(COMPULSORY_STAGES),
        )
        .exclude(enrollment__status=StudentStatus.SUSPENDED)
        .exclude(_open_case("enrollment__person_id"))
    )


# --------------------------------------------------------------------------------------- oversight metrics


def returns_overdue(prefix: str, today: date) -> QuerySet[SchoolReturn]:
    """第25条 (每学期核准), 第26条: schools under ``prefix`` whose return is past the round's deadline and neither
    submitted nor accepted (draft or returned) — in an open round and in a closed one alike: closing a round
    does not make a school that never verified its roster any less overdue. The org path of each record is
    ``scope_path`` (the school's path)."""
    return SchoolReturn.objects.filter(
        scope_path__startswith=prefix,
        round__deadline__lt=today,
        state__in=sorted(PENDING_SCHOOL),
    )


def absent_without_case(prefix: str) -> QuerySet[Finding]:
    """第17条, 第26条 四 (不及时报告义务教育阶段学生辍学情况): 人籍分离 findings under ``prefix`` of compulsory-
    education pupils whose enrollment is still active (not on approved 休学, 第16条) and who have no open dropout
    case. The org path of each record is ``scope_path`` (the reporting school's path)."""
    return _absent_q(Finding.objects.filter(scope_path__startswith=prefix))


# ---------------------------------------------------------------------------------------------------- progress


@dataclass(frozen=True)
class ProgressRow:
    unit_id: int
    name: str
    level: str
    total: int
    draft: int
    submitted: int
    returned: int
    accepted: int
    overdue: int

    @property
    def done_percent(self) -> int:
        return round(100 * self.accepted / self.total) if self.total else 0


@dataclass(frozen=True)
class Progress:
    unit: OrgUnit
    rows: list[ProgressRow]
    totals: ProgressRow
    # The unit's own return when the unit is a school (a central school above its teaching points, 第22条).
    own: ProgressRow | None = None


def progress_unit(*, viewer: Actor, rnd: VerificationRound, unit_id: Any = None) -> OrgUnit:
    """The unit whose progress the viewer asks for: by default the viewer's top unit inside the round (or the
    round's unit when the viewer is above it). Outside the viewer's jurisdiction or the round → NotFound."""
    if unit_id in (None, ""):
        paths = scope_paths(viewer)
        inside = [p for p in paths if p.startswith(rnd.scope_path)]
        path = (
            inside[0]
            if inside
            else (rnd.scope_path if any(rnd.scope_path.startswith(p) for p in paths) else None)
        )
        unit = OrgUnit.objects.filter(path=path).first() if path else None
    else:
        pk = _id(unit_id)
        unit = OrgUnit.objects.filter(pk=pk).first() if pk else None
    if (
        unit is None
        or not in_scope(viewer, unit.path)
        or not (unit.path.startswith(rnd.scope_path) or rnd.scope_path.startswith(unit.path))
    ):
        raise NotFound()
    return unit


def _counts(today: date, rnd: VerificationRound) -> dict[str, Any]:
    late = rnd.deadline < today
    return {
        "total": Count("pk"),
        "draft": Count("pk", filter=Q(state=ReturnState.DRAFT)),
        "submitted": Count("pk", filter=Q(state=ReturnState.SUBMITTED)),
        "returned": Count("pk", filter=Q(state=ReturnState.RETURNED)),
        "accepted": Count("pk", filter=Q(state=ReturnState.ACCEPTED)),
        "overdue": Count("pk", filter=Q(state__in=sorted(PENDING_SCHOOL)) if late else Q(pk__in=[])),
    }


def progress(*, rnd: VerificationRound, unit: OrgUnit, today: date) -> Progress:
    """Returns of ``rnd`` under ``unit`` counted per child unit (a county's children are its schools, a central
    school's its teaching points) and in total: two aggregate queries plus one for the children's names,
    whatever the number of schools. Overdue = the deadline has passed and the school has neither submitted nor
    been accepted (draft or returned).

    The child is read off each return's org path below ``unit.path``; the unit's own return (the unit is a
    school) has no child there, so it is left out of the grouping — PostgreSQL refuses the negative substring
    length it would give — counted in the totals and shown as ``own``."""
    base = SchoolReturn.objects.filter(round=rnd, scope_path__startswith=unit.path)
    counts = _counts(today, rnd)
    grouped = list(
        base.exclude(scope_path=unit.path)
        .annotate(child=child_id_on_path("scope_path", unit.path))
        .values("child")
        .annotate(**counts)
        .order_by()
    )
    ids = [int(g["child"]) for g in grouped if str(g["child"]).isdigit()]
    names = {u.pk: u for u in OrgUnit.objects.filter(pk__in=ids)}
    rows = []
    for g in grouped:
        child = names.get(int(g["child"])) if str(g["child"]).isdigit() else None
        if child is not None:
            rows.append(ProgressRow(child.pk, child.name, child.level, **{k: int(g[k]) for k in counts}))
    rows.sort(key=lambda r: (-r.overdue, names[r.unit_id].code))
    t = base.aggregate(**counts)
    totals = ProgressRow(unit.pk, unit.name, unit.level, **{k: int(t[k] or 0) for k in counts})
    own = None
    if unit.level == OrgLevel.SCHOOL:  # what the children do not hold is the school's own return
        left = {k: getattr(totals, k) - sum(getattr(r, k) for r in rows) for k in counts}
        own = ProgressRow(unit.pk, unit.name, unit.level, **left) if left["total"] else None
    return Progress(unit=unit, rows=rows, totals=totals, own=own)


def trail(*, viewer: Actor, unit: OrgUnit, rnd: VerificationRound) -> list[OrgUnit]:
    """The drill-down path to ``unit``: its ancestors inside the round that the viewer may read."""
    ids = [int(x) for x in unit.path.strip("/").split("/") if x]
    units = {u.pk: u for u in OrgUnit.objects.filter(pk__in=ids)}
    return [
        units[i]
        for i in ids
        if i in units
        and in_scope(viewer, units[i].path)
        and (units[i].path.startswith(rnd.scope_path) or rnd.scope_path.startswith(units[i].path))
    ]
