"""Reads on students, always scoped to the viewer's jurisdiction (第5、23条; architecture.md convention 3)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from xueji.accounts.jurisdiction import scope_q
from xueji.core.errors import NotFound

from .identity import mask_id_number, normalise_number
from .models import Enrollment, ProblemRecord


@dataclass(frozen=True)
class StudentFilters:
    q: str = ""  # name, 学籍号, or an identity number (exact)
    school_id: int | None = None
    grade: int | None = None
    class_name: str = ""
    status: str = ""
    include_inactive: bool = False


def enrollments_visible(viewer: Any) -> QuerySet[Enrollment]:
    """Every enrollment (current and former) in the viewer's subtree. Former students stay findable by the
    levels that held them (domain.md §9 lesson 9)."""
    return Enrollment.objects.filter(scope_q(viewer, "scope_path"))


def student_list(*, viewer: Any, filters: StudentFilters) -> QuerySet[Enrollment]:
    qs = enrollments_visible(viewer).select_related("person", "school")
    if not filters.include_inactive:
        qs = qs.filter(is_active=True)
    term = filters.q.strip()
    if term:
        number = normalise_number(term)
        if len(number) == 19 and number[0] in "GJL":
            qs = qs.filter(person__student_number=number)
        elif len(number) >= 8 and any(c.isdigit() for c in number):
            # An exact identity number (never a prefix search: that would enumerate IDs).
            qs = qs.filter(person__id_number=number)
        else:
            qs = qs.filter(Q(person__name__startswith=term) | Q(person__name_pinyin__istartswith=term))
    if filters.school_id:
        qs = qs.filter(school_id=filters.school_id)
    if filters.grade:
        qs = qs.filter(grade=filters.grade)
    if filters.class_name:
        qs = qs.filter(class_name=filters.class_name)
    if filters.status:
        qs = qs.filter(status=filters.status)
    return qs.order_by("school_id", "grade", "class_name", "person__name")


def student_get(*, viewer: Any, person_id: Any) -> Enrollment:
    """The viewer's enrollment of a person: the active one if visible, else the latest visible former one.
    Outside the viewer's jurisdiction → NotFound."""
    try:
        qs = (
            enrollments_visible(viewer)
            .select_related("person", "school", "school__org")
            .filter(person_id=person_id)
        )
        enrollment = qs.order_by("-is_active", "-registered_at").first()
    except (ValueError, TypeError):  # malformed UUID
        enrollment = None
    if enrollment is None:
        raise NotFound()
    return enrollment


def archives_due(*, viewer: Any, within_days: int = 14, today: date | None = None) -> QuerySet[Enrollment]:
    """第6条: archives not completed, due within ``within_days`` or overdue."""
    today = today or timezone.localdate()
    horizon = date.fromordinal(today.toordinal() + within_days)
    return (
        enrollments_visible(viewer)
        .filter(is_active=True, archive_completed_at__isnull=True, archive_due__lte=horizon)
        .select_related("person", "school")
        .order_by("archive_due")
    )


def problems_open(*, viewer: Any) -> QuerySet[ProblemRecord]:
    return (
        ProblemRecord.objects.filter(scope_q(viewer, "scope_path"), state=ProblemRecord.State.OPEN)
        .select_related("person", "other_person")
        .order_by("created_at")
    )


def problem_get(*, viewer: Any, problem_id: Any) -> ProblemRecord:
    try:
        problem = ProblemRecord.objects.filter(scope_q(viewer, "scope_path"), pk=problem_id).first()
    except (ValueError, TypeError):
        problem = None
    if problem is None:
        raise NotFound()
    return problem


def masked(value: str) -> str:
    return mask_id_number(value) if value else ""


def mask_phone(phone: str) -> str:
    if len(phone) >= 7:
        return phone[:3] + "****" + phone[-4:]
    return "****" if phone else ""
