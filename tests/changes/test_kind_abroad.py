"""出境就读 / 境外返回 (第20条) end to end."""

from datetime import date

import pytest

from tests.factories import changes as c
from tests.factories import core as f
from xueji.audit.models import AuditEvent
from xueji.changes.kinds.abroad import overseas_periods
from xueji.changes.models import ApprovalStep
from xueji.changes.services import change_decide, change_submit
from xueji.core.errors import ApplicationError, FieldError, NotFound
from xueji.students.models import Enrollment, Person

pytestmark = pytest.mark.django_db
DAY = date(2026, 9, 24)
BACK = date(2028, 9, 1)


@pytest.fixture
def env(tree):
    c.calendar()
    primary = f.school("440105", "primary", name="海珠一小")
    receiving = f.school("440106", "nine_year", name="天河实验学校")
    return {
        "primary": primary,
        "receiving": receiving,
        "reg_p": f.registrar(primary),
        "reg_r": f.registrar(receiving),
        "haizhu": c.dept_registrar("440105"),
        "tianhe": c.dept_registrar("440106"),
    }


def _abroad(env, e, **kw):
    facts = {
        "destination": "USA",
        "document_type": "A",
        "document_number": "E12345678",
        "departure_date": "2026-09-21",
    }
    facts.update(kw)
    return change_submit(actor=env["reg_p"], kind="abroad", enrollment=e, facts=facts, today=DAY)


def _gone(env, **kw):
    e = c.enrolled(env["primary"], grade=4)
    change_decide(actor=env["haizhu"], request=_abroad(env, e, **kw), action="approve", today=DAY)
    e.refresh_from_db()
    return e


def _return(env, person, today=BACK, **kw):
    facts = {
        "student_number": person.student_number,
        "name": person.name,
        "abroad_to": "2028-07-15",
        "study_record": "美国某小学 2026–2028 成绩单",
        "grade": 6,
        "class_name": "6(2)班",
    }
    facts.update(kw)
    return change_submit(
        actor=env["reg_r"],
        kind="return_from_abroad",
        target_school=env["receiving"],
        facts=facts,
        today=today,
    )


def test_abroad_is_handled_at_the_school_and_the_archive_goes_to_the_department(env):
    e = c.enrolled(env["primary"], grade=4)
    req = _abroad(env, e)
    assert [(s.party, s.state) for s in ApprovalStep.objects.filter(request=req)] == [
        ("school", "approved"),
        ("school_dept", "pending"),
    ]
    assert req.facts["document_number_masked"] == "E12**5678"
    assert "E12345678" not in str(req.facts)
    change_decide(actor=env["haizhu"], request=req, action="approve", today=DAY)
    e.refresh_from_db()
    assert (e.status, e.is_active, e.school_id) == ("99", False, env["primary"].pk)
    applied = AuditEvent.objects.get(event_type="change.applied")
    assert applied.after == {
        "status": "99",
        "is_active": False,
        "destination": "USA",
        "departure_date": "2026-09-21",
        "archive_custodian_id": env["primary"].supervising_dept_id,
    }


def test_state_sponsored_study_is_status_13(env):
    assert _gone(env, public_funded="是").status == "13"


def test_a_suspended_student_may_go_abroad(env):
    e = c.enrolled(env["primary"], grade=4)
    s = change_submit(
        actor=env["reg_p"],
        kind="suspension",
        enrollment=e,
        facts={
            "start_date": "2026-09-24",
            "end_date": "2027-07-01",
            "reason": "abroad",
            "applicant_name": "张大明",
        },
        today=DAY,
    )
    change_decide(actor=env["haizhu"], request=s, action="approve", today=DAY)
    assert _abroad(env, e).state == "pending"


@pytest.mark.parametrize(
    ("facts", "field", "code"),
    [
        ({"destination": ""}, "destination", "required"),
        ({"destination": "CHN"}, "destination", "invalid_code"),
        ({"destination": "XXX"}, "destination", "invalid_code"),
        ({"document_number": ""}, "document_number", "required"),
        ({"document_number": "AB1"}, "document_number", "id_format"),
        ({"document_type": "1"}, "document_type", "invalid_code"),
        (
            {"document_type": "hk_macau_permit", "document_number": "C12345678"},
            "document_type",
            "document_destination_mismatch",
        ),
        ({"departure_date": ""}, "departure_date", "required"),
    ],
)
def test_abroad_needs_valid_documents(env, facts, field, code):
    """第20条: 凭有效证件办理."""
    e = c.enrolled(env["primary"], grade=4)
    with pytest.raises(FieldError) as exc:
        _abroad(env, e, **facts)
    assert (exc.value.field, exc.value.code) == (field, code)


def test_travel_permit_to_hong_kong(env):
    e = _gone(env, destination="HKG", document_type="hk_macau_permit", document_number="C12345678")
    assert (e.status, e.is_active) == ("99", False)


def test_return_joins_the_matching_grade_keeps_the_number_and_marks_the_overseas_period(env):
    e = _gone(env)
    person = Person.objects.get(pk=e.person_id)
    req = _return(env, person)
    assert [(s.party, s.state) for s in ApprovalStep.objects.filter(request=req)] == [
        ("target_school", "approved"),
        ("target_dept", "pending"),
    ]
    assert (str(req.person_id), req.facts["overseas_study"]) == (
        str(person.pk),
        {"from": "2026-09-21", "to": "2028-07-15", "destination": "USA"},
    )
    change_decide(actor=env["tianhe"], request=req, action="approve", today=BACK)
    new = Enrollment.objects.get(person_id=person.pk, is_active=True)
    assert (new.school_id, new.grade, new.class_name, new.status, new.stage) == (
        env["receiving"].pk,
        6,
        "6(2)班",
        "01",
        "primary",
    )
    assert Person.objects.get(pk=person.pk).student_number == person.student_number
    applied = AuditEvent.objects.filter(event_type="change.applied").order_by("occurred_at").last()
    assert applied.after["overseas_study"] == {"from": "2026-09-21", "to": "2028-07-15", "destination": "USA"}
    assert applied.before["previous_enrollment_id"] == str(e.pk)
    assert [(p["from"], p["to"], p["destination"]) for p in overseas_periods(person_id=person.pk)] == [
        ("2026-09-21", "2028-07-15", "USA")
    ]


def test_overseas_period_is_open_while_the_student_is_away(env):
    e = _gone(env)
    assert [(p["from"], p["to"]) for p in overseas_periods(person_id=e.person_id)] == [("2026-09-21", None)]


def test_return_into_a_junior_grade_fixes_the_entry_method(env):
    e = _gone(env)
    req = _return(env, Person.objects.get(pk=e.person_id), grade=7, class_name="初一(1)班")
    change_decide(actor=env["tianhe"], request=req, action="approve", today=BACK)
    new = Enrollment.objects.get(person_id=e.person_id, is_active=True)
    assert (new.stage, new.grade, new.entry_method) == ("junior", 7, "11")


def test_return_needs_number_and_name(env):
    e = _gone(env)
    person = Person.objects.get(pk=e.person_id)
    with pytest.raises(NotFound):
        _return(env, person, name="别人")


def test_return_of_a_student_still_enrolled_is_refused(env):
    e = c.enrolled(env["primary"], grade=4)
    with pytest.raises(ApplicationError) as exc:
        _return(env, Person.objects.get(pk=e.person_id))
    assert exc.value.code == "student_already_enrolled"


@pytest.mark.parametrize(
    ("facts", "field", "code"),
    [
        ({"abroad_to": "2026-09-01"}, "abroad_to", "end_before_start"),
        ({"abroad_to": "2028-09-02"}, "abroad_to", "in_future"),
        ({"study_record": ""}, "study_record", "required"),
        ({"grade": 10}, "grade", "stage_not_taught"),
        ({"grade": "六"}, "grade", "invalid_grade"),
        ({"class_name": ""}, "class_name", "required"),
        ({"destination": "CHN"}, "destination", "invalid_code"),
    ],
)
def test_return_rules(env, facts, field, code):
    e = _gone(env)
    with pytest.raises(FieldError) as exc:
        _return(env, Person.objects.get(pk=e.person_id), **facts)
    assert (exc.value.field, exc.value.code) == (field, code)


def test_return_without_a_recorded_departure_needs_the_start_of_the_period(env):
    senior = f.school("440105", "senior")
    reg_s = f.registrar(senior)
    e = c.enrolled(senior, grade=10)
    w = change_submit(
        actor=reg_s, kind="withdrawal", enrollment=e, facts={"applicant_name": "张大明"}, today=DAY
    )
    change_decide(actor=env["haizhu"], request=w, action="approve", today=DAY)
    person = Person.objects.get(pk=e.person_id)
    with pytest.raises(FieldError) as exc:
        _return(env, person, grade=7)
    assert (exc.value.field, exc.value.code) == ("abroad_from", "required")
    req = _return(env, person, grade=7, abroad_from="2026-09-21", destination="GBR")
    assert req.facts["overseas_study"] == {"from": "2026-09-21", "to": "2028-07-15", "destination": "GBR"}
