"""Student factories: registered students through the real service (so numbers, audit and archive dates are
exactly what production writes)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django.utils import timezone

from tests.factories import core as f
from xueji.schools.models import School
from xueji.students.models import Enrollment
from xueji.students.services import register_students
from xueji.students.validation import clean_registration


def registration(
    school: School,
    *,
    guardians: list[dict[str, Any]] | None = None,
    enrollment: dict[str, Any] | None = None,
    **person: Any,
) -> Any:
    return clean_registration(
        f.person_data(**person),
        f.enrollment_data(**(enrollment or {})),
        guardians if guardians is not None else [f.guardian_data()],
        school_stages=school.stages,
        today=timezone.localdate(),
    )


def student(school: School, actor: Any = None, *, now: Any = None, **person: Any) -> Enrollment:
    """Register one student at ``school`` and return their active enrollment (with person and school)."""
    reg = registration(school, **person)
    [out] = register_students(actor=actor, school=school, registrations=[reg], now=now)
    return Enrollment.objects.select_related("person", "school").get(pk=out.enrollment_id)


def student_without_id(school: School, actor: Any = None, **person: Any) -> Enrollment:
    """A student registered with document type Z (其他): no number, a J 学籍号 (第8条)."""
    return student(school, actor, id_type="Z", id_number="", **person)


def old_registration_time(days: int) -> Any:
    return timezone.now() - timedelta(days=days)


BIRTH = date(2018, 3, 14)


def registration_post(
    person: dict[str, Any] | None = None,
    enrollment: dict[str, Any] | None = None,
    guardians: list[dict[str, Any]] | None = None,
) -> dict[str, str]:
    """POST data for the registration form (field names = validation error keys)."""
    data: dict[str, str] = {}
    data.update({k: str(v) for k, v in (person if person is not None else f.person_data()).items()})
    data.update(
        {k: str(v) for k, v in (enrollment if enrollment is not None else f.enrollment_data()).items()}
    )
    for i, g in enumerate(guardians if guardians is not None else [f.guardian_data()]):
        data.update({f"guardians.{i}.{k}": str(v) for k, v in g.items()})
    return data
