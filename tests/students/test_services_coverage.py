"""Registration service paths the scenario tests do not reach: J numbers of one region and birth date running
out (第8条), a registration that loses a race at the database, the archive digest and the idempotent
snapshot of a record that leaves its school. Each asserts the exact outcome."""

from __future__ import annotations

import hashlib
from datetime import date

import pytest
from django.db import IntegrityError
from django.utils import timezone

from tests.factories import core as f
from xueji.core.errors import ApplicationError, Conflict
from xueji.students import services
from xueji.students.models import Enrollment, EnrollmentSnapshot, JSequence, Person
from xueji.students.numbers import J_SEQUENCE_MAX
from xueji.students.validation import clean_registration

pytestmark = pytest.mark.django_db
BIRTH = date(2019, 5, 6)


def _clean(school, **person):  # type: ignore[no-untyped-def]
    return clean_registration(
        f.person_data(**person),
        f.enrollment_data(),
        [f.guardian_data()],
        school_stages=school.stages,
        today=timezone.localdate(),
    )


def test_j_numbers_of_a_region_and_birth_date_run_out(school_a, registrar_a):  # type: ignore[no-untyped-def]
    prefix = f"{school_a.county_code}{BIRTH:%Y%m%d}"
    JSequence.objects.create(prefix=prefix, last=J_SEQUENCE_MAX)
    reg = _clean(school_a, name="无证", id_type="Z", id_number="", birth_date=BIRTH)

    with pytest.raises(ApplicationError) as exc:
        services.register_students(actor=registrar_a, school=school_a, registrations=[reg])

    assert exc.value.code == "j_sequence_exhausted"
    assert JSequence.objects.get(prefix=prefix).last == J_SEQUENCE_MAX
    assert not Person.objects.exists()


def test_a_registration_that_loses_the_race_writes_nothing(school_a, registrar_a, monkeypatch):  # type: ignore[no-untyped-def]
    def lose(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise IntegrityError("duplicate key value violates unique constraint")

    monkeypatch.setattr(services, "_register", lose)

    with pytest.raises(Conflict) as exc:
        services.register_students(actor=registrar_a, school=school_a, registrations=[_clean(school_a)])

    assert exc.value.code == "concurrent_registration"
    assert not Person.objects.exists()


def test_file_digest_is_sha256():  # type: ignore[no-untyped-def]
    assert services.file_sha256(b"%PDF-1.4") == hashlib.sha256(b"%PDF-1.4").hexdigest()


def test_snapshot_is_taken_once(school_a, registrar_a):  # type: ignore[no-untyped-def]
    [done] = services.register_students(actor=registrar_a, school=school_a, registrations=[_clean(school_a)])
    enrollment = Enrollment.objects.get(pk=done.enrollment_id)
    services.enrollment_snapshot_take(actor=registrar_a, enrollment=enrollment)
    first = EnrollmentSnapshot.objects.get(enrollment=enrollment)
    Person.objects.filter(pk=enrollment.person_id).update(name="改名后")

    services.enrollment_snapshot_take(actor=registrar_a, enrollment=enrollment)

    snapshot = EnrollmentSnapshot.objects.get(enrollment=enrollment)
    assert snapshot.pk == first.pk
    assert snapshot.person["name"] == first.person["name"] != "改名后"
