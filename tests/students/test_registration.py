"""Registration rules: 第6、8、9、12、22条."""

from __future__ import annotations

from datetime import date

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from tests.factories import core as f
from xueji.audit.models import AuditEvent
from xueji.core.errors import ApplicationError, NotFound
from xueji.schools.models import School
from xueji.students.models import Enrollment, Guardian, IdentityKey, Person, ProblemRecord, StudentNumber
from xueji.students.numbers import validate_student_number
from xueji.students.services import RegistrationRejected, add_months, register_students
from xueji.students.validation import RegistrationInvalid, clean_registration

TODAY = date(2026, 11, 27)


def clean(school: School, guardians=None, enrollment=None, **person):
    return clean_registration(
        f.person_data(**person),
        enrollment or f.enrollment_data(),
        [f.guardian_data()] if guardians is None else guardians,
        school_stages=school.stages,
        today=TODAY,
    )


def no_id(school: School, **person):
    return clean(school, id_type="Z", id_number="", **person)


pytestmark = pytest.mark.django_db


def test_resident_id_gets_g_number_and_national_registry_rows(school_a, registrar_a):
    reg = clean(school_a)
    [out] = register_students(actor=registrar_a, school=school_a, registrations=[reg])
    assert out.student_number == "G" + reg.identity.number
    assert validate_student_number(out.student_number) == "G"
    assert (
        StudentNumber.objects.get(number=StudentNumber.key_for(out.student_number)).person_id == out.person_id
    )
    assert (
        IdentityKey.objects.get(key=IdentityKey.make_key("1", reg.identity.number)).person_id == out.person_id
    )
    enrollment = Enrollment.objects.get(pk=out.enrollment_id)
    assert (enrollment.status, enrollment.is_active, enrollment.grade, enrollment.stage) == (
        "01",
        True,
        1,
        "primary",
    )
    assert enrollment.scope_path == school_a.org.path
    assert Guardian.objects.filter(person_id=out.person_id, is_guardian=True).count() == 1


def test_student_without_resident_id_gets_valid_j_number_with_school_county_and_birth_date(
    school_a, registrar_a
):
    """第8条: J + school-area code + birth date + sequence + MOD 11-2 check."""
    regs = [
        no_id(school_a, name="甲", birth_date=date(2019, 5, 6)),
        clean(
            school_a,
            name="乙",
            id_type="A",
            id_number="E12345678",
            nationality="KOR",
            overseas_status="51",
            birth_date=date(2019, 5, 6),
        ),
    ]
    out = register_students(actor=registrar_a, school=school_a, registrations=regs)
    assert [o.student_number[:15] for o in out] == ["J44010520190506"] * 2
    assert [o.student_number[15:18] for o in out] == ["001", "002"]
    assert all(validate_student_number(o.student_number) == "J" for o in out)
    # A later registration continues the same sequence: numbers are never reused.
    [third] = register_students(
        actor=registrar_a,
        school=school_a,
        registrations=[no_id(school_a, name="丙", birth_date=date(2019, 5, 6))],
    )
    assert third.student_number[15:18] == "003"


def test_second_active_record_for_same_id_is_refused_naming_only_the_school(school_a, school_b, registrar_a):
    """第9条 不得重复建立学籍 / 第12条 一人一籍."""
    reg = clean(school_a)
    register_students(actor=registrar_a, school=school_a, registrations=[reg])
    registrar_b = f.registrar(school_b)
    again = clean(school_b, id_number=reg.identity.number, name="张小明")
    with pytest.raises(RegistrationRejected) as exc:
        register_students(actor=registrar_b, school=school_b, registrations=[again], disclose_holder=True)
    assert exc.value.code == "student_already_enrolled"
    assert "海珠区第一小学" in exc.value.message and "转学" in exc.value.message
    assert reg.identity.number not in exc.value.message
    assert Enrollment.objects.count() == 1 and Person.objects.count() == 1


def test_batch_is_all_or_nothing(school_a, registrar_a):
    first = clean(school_a)
    register_students(actor=registrar_a, school=school_a, registrations=[first])
    batch = [clean(school_a), clean(school_a, id_number=first.identity.number), clean(school_a)]
    persons, events = Person.objects.count(), AuditEvent.objects.count()
    with pytest.raises(RegistrationRejected) as exc:
        register_students(actor=registrar_a, school=school_a, registrations=batch)
    assert [(e.index, e.code) for e in exc.value.errors] == [(1, "student_already_enrolled")]
    assert Person.objects.count() == persons
    assert AuditEvent.objects.count() == events


def test_duplicate_inside_one_batch_is_refused(school_a, registrar_a):
    one = clean(school_a)
    two = clean(school_a, id_number=one.identity.number)
    with pytest.raises(RegistrationRejected) as exc:
        register_students(actor=registrar_a, school=school_a, registrations=[one, two])
    assert [(e.index, e.code) for e in exc.value.errors] == [(1, "duplicate_in_batch")]
    assert Person.objects.count() == 0


def test_former_student_keeps_lifelong_number(school_a, school_b, registrar_a):
    """第8条 一人一号，终身不变: re-registering the same person later reuses the number."""
    reg = clean(school_a)
    [out] = register_students(actor=registrar_a, school=school_a, registrations=[reg])
    Enrollment.objects.filter(pk=out.enrollment_id).update(is_active=False, status="07")
    [again] = register_students(
        actor=f.registrar(school_b),
        school=school_b,
        registrations=[clean(school_b, id_number=reg.identity.number)],
    )
    assert again.person_id == out.person_id
    assert again.student_number == out.student_number
    assert Person.objects.count() == 1 and Enrollment.objects.count() == 2


def test_no_id_student_matching_name_sex_birth_becomes_suspected_duplicate(school_a, registrar_a, school_b):
    """第9条: not created silently — a problem record for the county."""
    register_students(
        actor=registrar_a,
        school=school_a,
        registrations=[no_id(school_a, name="李华", birth_date=date(2019, 1, 2))],
    )
    [out] = register_students(
        actor=f.registrar(school_b),
        school=school_b,
        registrations=[no_id(school_b, name="李华", birth_date=date(2019, 1, 2))],
    )
    assert out.suspected_duplicate is True
    problem = ProblemRecord.objects.get()
    assert (problem.kind, problem.state, problem.person_id) == ("suspected_duplicate", "open", out.person_id)
    assert problem.other_person_id is not None
    assert problem.scope_path == school_b.org.path
    # A different birth date is not a suspect.
    [other] = register_students(
        actor=registrar_a,
        school=school_a,
        registrations=[no_id(school_a, name="李华", birth_date=date(2019, 1, 3))],
    )
    assert other.suspected_duplicate is False


def test_archive_due_two_months_after_registration(school_a, registrar_a):
    """第6条: 在 2 个月内建立学籍档案."""
    [out] = register_students(actor=registrar_a, school=school_a, registrations=[clean(school_a)])
    enrollment = Enrollment.objects.get(pk=out.enrollment_id)
    # The deadline counts from the local (Asia/Shanghai) registration date, not the UTC one.
    assert enrollment.archive_due == add_months(timezone.localdate(enrollment.registered_at), 2)
    assert add_months(date(2026, 12, 31), 2) == date(2027, 2, 28)


def test_one_audit_event_per_registered_student(school_a, registrar_a):
    out = register_students(
        actor=registrar_a, school=school_a, registrations=[clean(school_a), clean(school_a)]
    )
    events = AuditEvent.objects.filter(event_type="student.registered")
    assert sorted(e.subject_id for e in events) == sorted(str(o.person_id) for o in out)
    assert {e.actor_id for e in events} == {registrar_a.pk}


def test_registrar_without_filing_and_training_cannot_register(school_a):
    """第22条 先培训后上岗."""
    unfiled = f.registrar(school_a, filed=False)
    with pytest.raises(ApplicationError) as exc:
        register_students(actor=unfiled, school=school_a, registrations=[clean(school_a)])
    assert exc.value.code == "registrar_not_filed"


def test_registrar_of_another_school_gets_not_found(school_a, school_b):
    with pytest.raises(NotFound):
        register_students(actor=f.registrar(school_b), school=school_a, registrations=[clean(school_a)])


def test_closed_school_cannot_register(school_a, registrar_a):
    School.objects.filter(pk=school_a.pk).update(state="closed")
    school_a.refresh_from_db()
    with pytest.raises(ApplicationError) as exc:
        register_students(actor=registrar_a, school=school_a, registrations=[clean(school_a)])
    assert exc.value.code == "school_not_active"


def test_database_refuses_a_second_active_enrollment(school_a, registrar_a, school_b):
    """The invariant holds in the database too, not only in the service (一人一籍)."""
    [out] = register_students(actor=registrar_a, school=school_a, registrations=[clean(school_a)])
    first = Enrollment.objects.get(pk=out.enrollment_id)
    first.pk = None
    first.id = None
    first.school = school_b
    with pytest.raises(IntegrityError), transaction.atomic():
        Enrollment.objects.create(
            **{
                f.attname: getattr(first, f.attname)
                for f in Enrollment._meta.concrete_fields
                if f.attname != "id"
            }
        )


@pytest.mark.parametrize(
    ("overrides", "field", "fragment"),
    [
        ({"id_number": "440105201803140019"}, "id_number", "校验"),
        ({"birth_date": date(2018, 3, 15)}, "birth_date", "不一致"),
        ({"gender": "2"}, "gender", "不一致"),
        ({"ethnicity": "77"}, "ethnicity", "民族"),
        ({"birthplace_code": "999999"}, "birthplace_code", "出生地"),
        ({"phone": "12345"}, "phone", "联系电话"),
        ({"name": ""}, "name", "姓名为必填项"),
    ],
)
def test_field_errors_name_the_field_in_chinese(school_a, overrides, field, fragment):
    data = f.person_data()
    data.update({k: (v.isoformat() if isinstance(v, date) else v) for k, v in overrides.items()})
    with pytest.raises(RegistrationInvalid) as exc:
        clean_registration(
            data, f.enrollment_data(), [f.guardian_data()], school_stages=school_a.stages, today=TODAY
        )
    assert field in exc.value.fields
    assert fragment in exc.value.fields[field]


def test_guardian_is_required(school_a):
    with pytest.raises(RegistrationInvalid) as exc:
        clean(school_a, guardians=[])
    assert "guardians" in exc.value.fields
    with pytest.raises(RegistrationInvalid) as exc:
        clean(school_a, guardians=[f.guardian_data(is_guardian="否")])
    assert "监护人" in exc.value.fields["guardians"]


def test_grade_must_be_taught_by_school(school_a):
    with pytest.raises(RegistrationInvalid) as exc:
        clean(school_a, enrollment=f.enrollment_data(grade="10", entry_method="21"))
    assert "grade" in exc.value.fields


def test_inclusive_education_needs_disability_type(school_a):
    """第11条: 随班就读 students are classified by disability category."""
    with pytest.raises(RegistrationInvalid) as exc:
        clean(school_a, inclusive_education="1")
    assert "disability_type" in exc.value.fields
    assert clean(school_a, inclusive_education="1", disability_type="1").person["disability_type"] == "1"
