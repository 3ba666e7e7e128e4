"""Reads of the problem-record checks (第9、25条): the worklists of the school, the county and — for escalated
records — the city and province, always inside the viewer's jurisdiction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db.models import QuerySet

from xueji.accounts.enums import Role
from xueji.accounts.jurisdiction import data_grants, scope_q
from xueji.accounts.types import Actor
from xueji.regions.enums import LEVEL_RANK, OrgLevel
from xueji.schools.models import School
from xueji.students.models import ProblemRecord
from xueji.students.queries import problem_get, problems_open

Owner = ProblemRecord.Owner
DEPARTMENT_ROLES = frozenset({Role.DEPT_REGISTRAR, Role.APPROVER})


def unexplained_open_problems(school: School) -> QuerySet[ProblemRecord]:
    """The school's open problem records that the school must act on (``owner`` = school) and that carry no
    explanation: while any exists the school cannot submit a verification round (第25条). A record the school
    corrected and handed to the county (or that a department holds) is no longer the school's to explain; one
    the county returned or reopened has lost its explanation (:func:`xueji.students.records.problem_act`)."""
    return ProblemRecord.objects.filter(
        scope_path=school.org.path, state=ProblemRecord.State.OPEN, owner=Owner.SCHOOL, explanation=""
    )


def viewer_level(viewer: Actor) -> str | None:
    """The level whose queue the viewer works: ``school`` for a school registrar only, else the highest
    department level among its department grants (county, city, province, national); None without data."""
    grants = data_grants(viewer)
    departments = [g.org_unit.level for g in grants if g.role in DEPARTMENT_ROLES]
    if departments:
        return min(departments, key=lambda lvl: LEVEL_RANK[OrgLevel(lvl)])
    if any(g.role == Role.SCHOOL_REGISTRAR for g in grants):
        return OrgLevel.SCHOOL
    return None


@dataclass(frozen=True)
class QueueFilters:
    kind: str = ""
    owner: str = ""
    overdue: bool = False
    closed: bool = False  # closed records (to read them, or reopen) instead of open ones
    everything: bool = False  # a city or province also sees what is not escalated (read)


def problem_queue(*, viewer: Actor, filters: QueueFilters, today: date) -> QuerySet[ProblemRecord]:
    """第9、25条: the viewer's worklist. A school sees its own records; a county every record of its schools;
    a city or province the records escalated to it (``everything``: all in its jurisdiction, to read).
    Overdue first (the deadline passed), then by deadline and age. Empty outside any jurisdiction."""
    level = viewer_level(viewer)
    if level is None:
        return ProblemRecord.objects.none()
    if filters.closed:
        qs = (
            ProblemRecord.objects.filter(scope_q(viewer, "scope_path"))
            .exclude(state=ProblemRecord.State.OPEN)
            .select_related("person", "other_person", "school")
        )
    else:
        qs = problems_open(viewer=viewer)
    if level in {OrgLevel.CITY, OrgLevel.PROVINCE, OrgLevel.NATIONAL} and not filters.everything:
        qs = qs.filter(owner__in=[Owner.CITY, Owner.PROVINCE])
    if filters.kind:
        qs = qs.filter(kind=filters.kind)
    if filters.owner:
        qs = qs.filter(owner=filters.owner)
    if filters.overdue:
        qs = qs.filter(state=ProblemRecord.State.OPEN, due_on__lt=today)
    if filters.closed:
        return qs.order_by("-resolved_at", "-created_at")
    return qs.order_by("due_on", "created_at")


def queue_counts(*, viewer: Actor, today: date) -> dict[str, int]:
    """Open, overdue and escalated records of the viewer's queue (the page's summary)."""
    qs = problem_queue(viewer=viewer, filters=QueueFilters(), today=today)
    return {
        "open": qs.count(),
        "overdue": qs.filter(due_on__lt=today).count(),
        "escalated": qs.filter(owner__in=[Owner.CITY, Owner.PROVINCE]).count(),
        "unexplained": qs.filter(explanation="").count(),
    }


def queue_problem(*, viewer: Actor, problem_id: Any) -> ProblemRecord:
    """One record in the viewer's jurisdiction (NotFound otherwise)."""
    return problem_get(viewer=viewer, problem_id=problem_id)
