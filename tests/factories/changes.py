from __future__ import annotations

from datetime import date

from tests.factories import core as f
from xueji.accounts.enums import Role
from xueji.students.models import Enrollment
from xueji.students.services import register_students
from xueji.students.validation import clean_registration
from xueji.workdays.services import calendar_load_package


def enrolled(school, *, grade: int = 3, registrar=None, **person) -> Enrollment:
    stage_entry = {"primary": "11", "junior": "11", "senior": "21"}
    from xueji.students.enums import stage_for_grade

    stage = stage_for_grade(grade).value
    reg = clean_registration(
        f.person_data(**person),
        f.enrollment_data(grade=str(grade), entry_method=stage_entry[stage]),
        [f.guardian_data()],
        school_stages=school.stages,
        today=date(2026, 11, 27),
    )
    [out] = register_students(actor=None, school=school, registrations=[reg])
    return Enrollment.objects.select_related("school", "school__org").get(pk=out.enrollment_id)


def dept_registrar(code: str):
    return f.user(Role.DEPT_REGISTRAR, f.dept(code))


def calendar():
    calendar_load_package(actor=None)
