"""Reads of the problem-record checks (第9、25条)."""

from __future__ import annotations

from django.db.models import QuerySet

from xueji.schools.models import School
from xueji.students.models import ProblemRecord


def unexplained_open_problems(school: School) -> QuerySet[ProblemRecord]:
    """The school's open problem records that carry no explanation: while any exists the school cannot submit a
    verification round (第25条)."""
    return ProblemRecord.objects.filter(
        scope_path=school.org.path, state=ProblemRecord.State.OPEN, explanation=""
    )
