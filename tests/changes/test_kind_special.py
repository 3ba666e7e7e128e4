"""特殊教育 (第11、14条): 随班就读 / 送教上门 status with evidence, category and level; the expert committee's
decisions registered by the school and approved above."""

from datetime import date

import pytest

from tests.factories import changes as c
from tests.factories import core as f
from xueji.changes.models import ChangeRequest
from xueji.changes.services import change_decide, change_submit
from xueji.core.errors import ApplicationError, FieldError
from xueji.students.models import Enrollment, Person

pytestmark = pytest.mark.django_db
DAY = date(2026, 9, 24)


@pytest.fixture
def env(tree):
    c.calendar()
    primary = f.school("440105", "primary")
    special = f.school("440105", "special")
    return {
        "primary": primary,
        "special": special,
        "reg": f.registrar(primary),
        "reg_sp": f.registrar(special),
        "county": c.dept_registrar("440105"),
    }


def _certificate(e, category="5", level="2"):
    return Person.objects.get(pk=e.person_id).id_number + category + level


def _status(env, e, reg="reg", **kw):
    facts = {
        "service": "inclusive",
        "disability_type": "5",
        "disability_level": 2,
        "evidence_type": "disability_certificate",
        "evidence_ref": _certificate(e),
    }
    facts.update(kw)
    return change_submit(actor=env[reg], kind="special_education", enrollment=e, facts=facts, today=DAY)


def _approved(env, req):
    return change_decide(actor=env["county"], request=req, action="approve", today=DAY)


def test_inclusive_education_with_a_disability_certificate(env):
    e = c.enrolled(env["primary"], grade=3)
    req = _status(env, e)
    person = Person.objects.get(pk=e.person_id)
    assert (person.disability_type, person.inclusive_education) == ("0", "0")  # nothing before approval
    req = _approved(env, req)
    person.refresh_from_db()
    assert (person.disability_type, person.inclusive_education) == ("5", "3")
    assert (req.facts["disability_level"], req.facts["service_name"]) == (2, "随班就读")
    assert req.facts["previous"] == {"disability_type": "0", "inclusive_education": "0"}
    # Issue 11 §3: the certificate number (the ID number + category + level) is sealed in the stored facts.
    raw = ChangeRequest.objects.filter(pk=req.pk).values_list("facts", flat=True).get()
    assert person.id_number not in str(raw) and raw["service"] == "inclusive"
    assert raw["evidence_ref"].startswith("E1:") and raw["disability_level"].startswith("E1:")


@pytest.mark.parametrize(("category", "code"), [("1", "1"), ("2", "2"), ("4", "4"), ("7", "4")])
def test_inclusive_code_follows_the_category(env, category, code):
    e = c.enrolled(env["primary"], grade=3)
    _approved(env, _status(env, e, disability_type=category, evidence_ref=_certificate(e, category)))
    assert Person.objects.get(pk=e.person_id).inclusive_education == code


def test_home_teaching_with_hospital_evidence(env):
    e = c.enrolled(env["primary"], grade=2)
    _approved(
        env,
        _status(
            env,
            e,
            service="home_teaching",
            disability_type="4",
            disability_level=1,
            evidence_type="medical",
            evidence_ref="广州市第一人民医院诊断证明",
        ),
    )
    person = Person.objects.get(pk=e.person_id)
    assert (person.disability_type, person.inclusive_education) == ("4", "0")


def test_special_school_students_need_no_such_status(env):
    e = c.enrolled(env["special"], grade=3)
    with pytest.raises(ApplicationError) as exc:
        _status(env, e, reg="reg_sp")
    assert exc.value.code == "not_ordinary_school"


@pytest.mark.parametrize(
    ("facts", "field", "code"),
    [
        ({"service": "other"}, "service", "invalid_code"),
        ({"disability_type": "0"}, "disability_type", "invalid_code"),
        ({"disability_level": 5}, "disability_level", "invalid_level"),
        ({"disability_level": ""}, "disability_level", "invalid_level"),
        ({"evidence_type": ""}, "evidence_type", "required"),
        ({"evidence_ref": ""}, "evidence_ref", "required"),
        ({"evidence_ref": "123"}, "evidence_ref", "certificate_format"),
        ({"evidence_ref": "44010520180314999X52"}, "evidence_ref", "certificate_mismatch"),
        ({"disability_level": 3}, "evidence_ref", "certificate_mismatch"),
        ({"disability_type": "2"}, "evidence_ref", "certificate_mismatch"),
    ],
)
def test_status_needs_evidence_category_and_level(env, facts, field, code):
    """第11条: 残疾人证或县级以上医院、相关鉴定单位证明; 按残疾类别和等级分类管理."""
    e = c.enrolled(env["primary"], grade=3)
    with pytest.raises(FieldError) as exc:
        _status(env, e, **facts)
    assert (exc.value.field, exc.value.code) == (field, code)


def _decide(env, e, choice, reg="reg", **kw):
    facts = {
        "decision": choice,
        "committee": "海珠区残疾人教育专家委员会",
        "assessed_on": "2026-09-10",
        "decision_ref": "海残专评〔2026〕12号",
    }
    facts.update(kw)
    return change_submit(actor=env[reg], kind="special_ed_decision", enrollment=e, facts=facts, today=DAY)


def _special_student(env, grade):
    e = c.enrolled(env["primary"], grade=grade)
    _approved(env, _status(env, e))
    return e


@pytest.mark.parametrize(("decision", "grade", "after"), [("promote", 3, 4), ("repeat", 3, 2)])
def test_committee_promotes_or_lets_repeat_after_approval_above(env, decision, grade, after):
    e = _special_student(env, grade)
    req = _decide(env, e, decision, class_name="特色班")
    e.refresh_from_db()
    assert e.grade == grade  # registered, not yet approved
    _approved(env, req)
    e.refresh_from_db()
    assert (e.grade, e.class_name, e.status, e.is_active) == (after, "特色班", "01", True)


def test_committee_may_graduate_outside_the_graduating_grade(env):
    e = _special_student(env, 5)
    _approved(env, _decide(env, e, "graduate"))
    e.refresh_from_db()
    assert (e.status, e.is_active) == ("07", False)


def test_committee_progression_within_a_school_teaching_the_next_stage(env):
    e = c.enrolled(env["special"], grade=6)
    _approved(env, _decide(env, e, "progress", reg="reg_sp", class_name="初一班"))
    e.refresh_from_db()
    assert (e.stage, e.grade, e.class_name, e.entry_method) == ("junior", 7, "初一班", "11")


@pytest.mark.parametrize(
    ("decision", "grade", "code"),
    [
        ("promote", 6, "grade_out_of_stage"),
        ("repeat", 1, "grade_out_of_stage"),
        ("progress", 6, "stage_not_taught"),
    ],
)
def test_committee_decisions_stay_within_what_the_school_can_record(env, decision, grade, code):
    e = _special_student(env, grade)
    with pytest.raises(ApplicationError) as exc:
        _decide(env, e, decision)
    assert exc.value.code == code


def test_committee_decision_only_for_special_education_students(env):
    e = c.enrolled(env["primary"], grade=3)
    with pytest.raises(ApplicationError) as exc:
        _decide(env, e, "repeat")
    assert exc.value.code == "not_special_education"


@pytest.mark.parametrize(
    ("facts", "field", "code"),
    [
        ({"decision": "skip"}, "decision", "invalid_code"),
        ({"committee": ""}, "committee", "required"),
        ({"decision_ref": ""}, "decision_ref", "required"),
        ({"assessed_on": "2026-09-25"}, "assessed_on", "in_future"),
    ],
)
def test_committee_decision_needs_its_record(env, facts, field, code):
    e = _special_student(env, 3)
    with pytest.raises(FieldError) as exc:
        _decide(env, e, "promote", **facts)
    assert (exc.value.field, exc.value.code) == (field, code)


def test_rejected_decision_changes_nothing(env):
    e = _special_student(env, 3)
    before = Enrollment.objects.filter(pk=e.pk).values().get()
    change_decide(
        actor=env["county"],
        request=_decide(env, e, "repeat"),
        action="reject",
        comment="评估材料不全",
        today=DAY,
    )
    assert Enrollment.objects.filter(pk=e.pk).values().get() == before
