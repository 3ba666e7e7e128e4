"""专门学校 placement and return (第11条): the record stays at the original school; on return the school and
its department set the grade."""

from datetime import date

import pytest

from tests.factories import changes as c
from tests.factories import core as f
from xueji.changes.kinds.reform import current_placement
from xueji.changes.models import ApprovalStep
from xueji.changes.services import change_decide, change_submit
from xueji.core.errors import ApplicationError, FieldError
from xueji.students.models import Enrollment

pytestmark = pytest.mark.django_db
DAY = date(2026, 9, 24)


@pytest.fixture
def env(tree):
    c.calendar()
    junior = f.school("440105", "junior", name="海珠一中")
    return {
        "junior": junior,
        "reform": f.school("440105", "reform", name="广州市专门学校"),
        "reg": f.registrar(junior),
        "county": c.dept_registrar("440105"),
        "student": c.enrolled(junior, grade=8),
    }


def _place(env, e=None, **kw):
    facts = {
        "reform_school_id": env["reform"].pk,
        "start_date": "2026-09-24",
        "decision_ref": "海教专〔2026〕3号",
    }
    facts.update(kw)
    return change_submit(
        actor=env["reg"], kind="reform_placement", enrollment=e or env["student"], facts=facts, today=DAY
    )


def _placed(env):
    req = _place(env)
    change_decide(actor=env["county"], request=req, action="approve", today=DAY)
    return req


def _return(env, **kw):
    facts = {"return_date": "2026-09-24", "grade": 9, "class_name": "9(4)班"}
    facts.update(kw)
    return change_submit(
        actor=env["reg"], kind="reform_return", enrollment=env["student"], facts=facts, today=DAY
    )


def test_placement_keeps_the_record_active_at_the_original_school_and_marks_it(env):
    e = env["student"]
    before = Enrollment.objects.filter(pk=e.pk).values().get()
    req = _place(env)
    assert [(s.party, s.state) for s in ApprovalStep.objects.filter(request=req)] == [
        ("school", "approved"),
        ("school_dept", "pending"),
    ]
    assert current_placement(e.person_id) is None  # not yet approved
    change_decide(actor=env["county"], request=req, action="approve", today=DAY)
    assert Enrollment.objects.filter(pk=e.pk).values().get() == before
    marker = current_placement(e.person_id)
    assert (marker.pk, marker.facts["reform_school_name"], marker.facts["start_date"]) == (
        req.pk,
        "广州市专门学校",
        "2026-09-24",
    )


def test_placement_only_into_a_reform_school_that_teaches_the_stage(env):
    with pytest.raises(FieldError) as exc:
        _place(env, reform_school_id=env["junior"].pk)
    assert exc.value.code == "not_reform_school"
    with pytest.raises(FieldError) as exc:
        _place(env, reform_school_id="x")
    assert exc.value.code == "not_reform_school"
    primary = f.school("440105", "primary")
    pupil = c.enrolled(primary, grade=5)
    with pytest.raises(FieldError) as exc:
        change_submit(
            actor=f.registrar(primary),
            kind="reform_placement",
            enrollment=pupil,
            facts={"reform_school_id": env["reform"].pk, "start_date": "2026-10-08", "decision_ref": "x"},
            today=DAY,
        )
    assert exc.value.code == "stage_not_taught"


@pytest.mark.parametrize(
    ("facts", "field"),
    [
        ({"decision_ref": ""}, "decision_ref"),
        ({"start_date": ""}, "start_date"),
        ({"reform_school_id": ""}, "reform_school_id"),
    ],
)
def test_placement_needs_its_basis_and_date(env, facts, field):
    with pytest.raises(FieldError) as exc:
        _place(env, **facts)
    assert (exc.value.field, exc.value.code) == (field, "required")


def test_no_second_placement_before_returning(env):
    _placed(env)
    with pytest.raises(ApplicationError) as exc:
        _place(env)
    assert exc.value.code == "already_placed"


def test_return_sets_the_grade_the_school_and_department_agreed(env):
    placement = _placed(env)
    req = _return(env)
    assert req.facts["placement_request_id"] == str(placement.pk)
    change_decide(actor=env["county"], request=req, action="approve", today=DAY)
    e = Enrollment.objects.get(pk=env["student"].pk)
    assert (e.grade, e.class_name, e.status, e.is_active, e.school_id) == (
        9,
        "9(4)班",
        "01",
        True,
        env["junior"].pk,
    )
    assert current_placement(e.person_id) is None
    assert _place(env, start_date="2028-03-01").state == "pending"  # may be placed again later


def test_return_rejected_by_the_department_changes_nothing(env):
    _placed(env)
    before = Enrollment.objects.filter(pk=env["student"].pk).values().get()
    change_decide(
        actor=env["county"], request=_return(env), action="reject", comment="年级认定有误", today=DAY
    )
    assert Enrollment.objects.filter(pk=env["student"].pk).values().get() == before
    assert current_placement(env["student"].person_id) is not None


def test_return_without_a_placement_is_refused(env):
    with pytest.raises(ApplicationError) as exc:
        _return(env)
    assert exc.value.code == "not_placed"


@pytest.mark.parametrize(
    ("facts", "field", "code"),
    [
        ({"grade": 10}, "grade", "grade_out_of_stage"),
        ({"grade": ""}, "grade", "invalid_grade"),
        ({"return_date": "2026-09-20"}, "return_date", "before_placement"),
    ],
)
def test_return_rules(env, facts, field, code):
    _placed(env)
    with pytest.raises(FieldError) as exc:
        _return(env, **facts)
    assert (exc.value.field, exc.value.code) == (field, code)


def test_placement_names_only_a_reform_school_of_the_pupils_province(env):
    """Issue #6 §3.1 audit: the API took any reform school in the country, which the page never offers (it
    lists the province's). Another province's school is refused like a school that is not there."""
    from xueji.changes.models import ChangeRequest

    beijing = f.school("110105", "reform", name="北京市朝阳区专门学校")
    with pytest.raises(FieldError) as exc:
        _place(env, reform_school_id=beijing.pk)
    assert (exc.value.code, list(exc.value.fields)) == ("not_reform_school", ["reform_school_id"])
    assert ChangeRequest.objects.count() == 0
