"""一人一籍 under real concurrency (PostgreSQL: parallel connections; SQLite serialises writers anyway)."""

from __future__ import annotations

import threading
from datetime import date

import pytest
from django.db import connection, connections

from tests.factories import core as f
from xueji.core.errors import ApplicationError
from xueji.students.models import Enrollment, IdentityKey, Person
from xueji.students.services import register_students
from xueji.students.validation import clean_registration

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL for parallel writers (run with DATABASE_URL=postgres://…)")


def test_parallel_registrations_of_one_identity_create_exactly_one_record():
    f.departments(("440000",))
    schools = [
        f.school("440105", "primary"),
        f.school("440106", "primary"),
        f.school("440111", "primary"),
        f.school("440112", "primary"),
    ]
    registrars = [f.registrar(s) for s in schools]
    number = f.resident_id(birth=date(2018, 6, 1), seq=321)
    regs = [
        clean_registration(
            f.person_data(id_number=number, birth_date=date(2018, 6, 1)),
            f.enrollment_data(),
            [f.guardian_data()],
            school_stages=s.stages,
            today=date(2026, 11, 27),
        )
        for s in schools
    ]
    barrier = threading.Barrier(len(schools))
    outcomes: list[str] = []

    def attempt(i: int) -> None:
        try:
            barrier.wait()
            register_students(actor=registrars[i], school=schools[i], registrations=[regs[i]])
            outcomes.append("ok")
        except ApplicationError as exc:
            outcomes.append(exc.code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(len(schools))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(outcomes).count("ok") == 1
    assert set(outcomes) - {"ok"} <= {"concurrent_registration", "student_already_enrolled"}
    assert Person.objects.count() == 1
    assert IdentityKey.objects.filter(key=IdentityKey.make_key("1", number)).count() == 1
    assert Enrollment.objects.filter(is_active=True).count() == 1
