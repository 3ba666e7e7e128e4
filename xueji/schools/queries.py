"""Reads on schools, scoped to the viewer's subtrees (any role with a grant sees the schools under it)."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q, QuerySet

from xueji.accounts.jurisdiction import _grants
from xueji.core.errors import NotFound

from .models import School


def _subtree_q(viewer: Any) -> Q:
    paths = {g.org_unit.path for g in _grants(viewer)}
    if not paths:
        return Q(pk__in=[])
    q = Q()
    for p in paths:
        q |= Q(org__path__startswith=p)
    return q


def school_list(*, viewer: Any, q: str = "", school_type: str = "", state: str = "") -> QuerySet[School]:
    qs = School.objects.filter(_subtree_q(viewer)).select_related("org", "supervising_dept", "central_school")
    if q:
        qs = qs.filter(Q(name__contains=q) | Q(school_code__startswith=q))
    if school_type:
        qs = qs.filter(school_type=school_type)
    if state:
        qs = qs.filter(state=state)
    return qs.annotate(active_students=Count("enrollments", filter=Q(enrollments__is_active=True))).order_by(
        "county_code", "school_code"
    )


def school_get(*, viewer: Any, school_id: Any = None, school_code: str | None = None) -> School:
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
