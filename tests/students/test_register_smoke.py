from datetime import date

import pytest

from tests.factories import core as f
from xueji.students.models import Enrollment, Person
from xueji.students.services import register_students
from xueji.students.validation import clean_registration


def _clean(school, **person):
    return clean_registration(
        f.person_data(**person),
        f.enrollment_data(),
        [f.guardian_data()],
        school_stages=school.stages,
        today=date(2026, 11, 27),
    )


@pytest.mark.django_db
def test_register_assigns_g_number(school_a, registrar_a):
    reg = _clean(school_a)
    [out] = register_students(actor=registrar_a, school=school_a, registrations=[reg])
    assert out.student_number == "G" + reg.identity.number
    assert Person.objects.get().student_number == out.student_number
    assert Enrollment.objects.get().is_active is True
