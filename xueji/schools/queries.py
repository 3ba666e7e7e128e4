"""Reads on schools, scoped to the viewer's subtrees (any role with a grant sees the schools under it)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import Count, Q, QuerySet

from xueji.accounts.jurisdiction import all_grants, scope_q
from xueji.accounts.types import Actor
from xueji.core.errors import NotFound

from .models import School


def _subtree_q(viewer: Actor) -> Q:
    paths = {g.org_unit.path for g in all_grants(viewer)}
    if not paths:
        return Q(pk__in=[])
    q = Q()
    for p in paths:
        q |= Q(org__path__startswith=p)
    return q


def school_list(*, viewer: Actor, q: str = "", school_type: str = "", state: str = "") -> QuerySet[School]:
    qs = School.objects.filter(_subtree_q(viewer)).select_related("org", "supervising_dept", "central_school")
    if q:
        qs = qs.filter(Q(name__contains=q) | Q(school_code__startswith=q))
    if school_type:
        qs = qs.filter(school_type=school_type)
    if state:
        qs = qs.filter(state=state)
    # No aggregate here: a picker or a page takes a few rows of a region that may hold thousands of schools
    # and millions of enrollments; counts are added for the rows shown (:func:`with_active_counts`).
    return qs.order_by("county_code", "school_code")


def with_active_counts(schools: Iterable[School]) -> list[School]:
    """Set ``active_students`` on each of ``schools`` — the rows of one page — with one grouped query over
    the enrollment index (school, is_active, …): the cost follows the page, not the region (issue 7)."""
    rows = list(schools)
    if rows:
        counts = dict(
            School.objects.filter(pk__in=[s.pk for s in rows])
            .annotate(n=Count("enrollments", filter=Q(enrollments__is_active=True)))
            .values_list("pk", "n")
        )
        for school in rows:
            school.active_students = counts.get(school.pk, 0)
    return rows


def school_get(*, viewer: Actor, school_id: Any = None, school_code: str | None = None) -> School:
    qs = School.objects.filter(_subtree_q(viewer)).select_related("org", "supervising_dept", "central_school")
    if school_code is not None:
        school = qs.filter(school_code=school_code).first()
    elif str(school_id).isdigit():
        school = qs.filter(pk=school_id).first()
    else:
        school = None
    if school is None:
        raise NotFound()
    return school


def class_counts(*, viewer: Actor, school: School) -> list[tuple[int, str, int]]:
    """(grade, class, active students) of ``school``, sorted — counting only the enrollments the viewer may see
    (the student-data scope of :func:`xueji.accounts.jurisdiction.scope_q`: filed registrars and departments;
    the admin roles count nothing, 三权分立)."""
    rows = (
        school.enrollments.filter(is_active=True)
        .filter(scope_q(viewer, "scope_path"))
        .values_list("grade", "class_name")
        .annotate(n=Count("pk"))
        .order_by("grade", "class_name")
    )
    return [(int(grade), str(class_name), int(n)) for grade, class_name, n in rows]
