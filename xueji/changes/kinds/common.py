"""Helpers shared by kinds: writing the enrollment, moving a person between schools, term arithmetic."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django.utils import timezone

from xueji.accounts.types import Actor
from xueji.core.errors import FieldError
from xueji.core.ids import uuid7
from xueji.schools.models import School
from xueji.students.enums import StudentStatus, stage_for_grade
from xueji.students.models import ArchiveDocument, Enrollment, Guardian, IdentityKey, Person, StudentNumber
from xueji.students.services import enrollment_snapshot_take
from xueji.students.validation import parse_date


def fact_date(facts: dict[str, Any], key: str, label: str, *, required: bool = True) -> date | None:
    value = facts.get(key)
    if value in (None, ""):
        if required:
            raise FieldError(key, "required", f"{label}为必填项")
        return None
    return parse_date(value, key, label)


def term_of(day: date) -> int:
    """School term: 1 = autumn (Sept–Jan), 2 = spring (Feb–Aug)."""
    return 1 if day.month >= 9 or day.month == 1 else 2


def set_status(enrollment: Enrollment, status: str, *, active: bool | None = None) -> None:
    enrollment.status = status
    fields = ["status"]
    if active is not None:
        enrollment.is_active = active
        fields.append("is_active")
    enrollment.save(update_fields=fields)


def move_to_school(
    enrollment: Enrollment,
    target: School,
    *,
    grade: int,
    class_name: str,
    leaving_status: str,
    actor: Actor,
    now: datetime | None = None,
    stage: str | None = None,
) -> Enrollment:
    """籍随人走 (第12条): close the enrollment at the old school (kept as the sending school's read-only copy,
    its personal data frozen in an ``EnrollmentSnapshot``), open one at ``target`` with the same person and
    number; the archive (on the person) moves with them."""
    now = now or timezone.now()
    # The sending school's copy is frozen as it stands now (issue #6 §3.5, 第15条).
    enrollment_snapshot_take(actor=actor, enrollment=enrollment, now=now)
    set_status(enrollment, leaving_status, active=False)
    new = Enrollment.objects.create(
        id=uuid7(),
        person_id=enrollment.person_id,
        province_code=target.province_code,
        school=target,
        scope_path=target.org.path,
        stage=stage or stage_for_grade(grade).value,
        grade=grade,
        class_name=class_name,
        class_number="",
        aux_number=enrollment.aux_number,
        entry_ym=enrollment.entry_ym,
        entry_method=enrollment.entry_method,
        study_mode=enrollment.study_mode,
        student_source=enrollment.student_source,
        status=StudentStatus.ENROLLED,
        is_active=True,
        registered_at=now,
        registered_by=actor,
        archive_due=enrollment.archive_due,
        archive_completed_at=enrollment.archive_completed_at,
        promoted_year=enrollment.promoted_year,  # a transfer after the yearly run must not promote twice
    )
    if enrollment.province_code != target.province_code:
        _move_province(enrollment.person_id, target.province_code)
    return new


def _move_province(person_id: Any, province: str) -> None:
    """Cross-province moves re-home the person's rows (the partition key of every people table)."""
    Person.objects.filter(pk=person_id).update(province_code=province)
    for model in (Guardian, ArchiveDocument, IdentityKey, StudentNumber):
        model.objects.filter(person_id=person_id).update(province_code=province)
