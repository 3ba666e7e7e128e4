"""休学/复学 (第16条), 退学 (第18条), 死亡 (第21条)."""

from datetime import date

import pytest

from tests.factories import changes as c
from tests.factories import core as f
from xueji.changes.models import ApprovalStep
from xueji.changes.services import change_decide, change_submit
from xueji.core.errors import ApplicationError, FieldError

pytestmark = pytest.mark.django_db
DAY = date(2026, 9, 24)


@pytest.fixture
def env(tree):
    c.calendar()
    primary = f.school("440105", "primary")
    senior = f.school("440105", "senior")
    return {
        "primary": primary,
        "senior": senior,
        "reg_p": f.registrar(primary),
        "reg_s": f.registrar(senior),
        "county": c.dept_registrar("440105"),
    }


def _suspend(env, enrollment, **facts):
    data = {
        "start_date": "2026-09-24",
        "end_date": "2027-07-01",
        "reason": "illness",
        "applicant_name": "张大明",
    }
    data.update(facts)
    return change_submit(actor=env["reg_p"], kind="suspension", enrollment=enrollment, facts=data, today=DAY)


def test_suspension_school_confirms_county_approves_record_kept(env):
    e = c.enrolled(env["primary"], grade=4)
    req = _suspend(env, e)
    assert [(s.party, s.state) for s in ApprovalStep.objects.filter(request=req)] == [
        ("school", "approved"),
        ("school_dept", "pending"),
    ]
    change_decide(actor=env["county"], request=req, action="approve", today=DAY)
    e.refresh_from_db()
    assert (e.status, e.is_active, e.school_id) == ("02", True, env["primary"].pk)


def test_suspension_longer_than_one_year_is_refused(env):
    e = c.enrolled(env["primary"], grade=4)
    with pytest.raises(FieldError) as exc:
        _suspend(env, e, end_date="2027-10-20")
    assert exc.value.code == "suspension_too_long"


def test_suspension_needs_the_guardian_as_applicant(env):
    e = c.enrolled(env["primary"], grade=4)
    with pytest.raises(FieldError) as exc:
        _suspend(env, e, applicant_name="")
    assert exc.value.field == "applicant_name"


@pytest.mark.parametrize(("choice", "grade"), [("original", 4), ("next", 5)])
def test_resumption_returns_to_the_chosen_grade(env, choice, grade):
    e = c.enrolled(env["primary"], grade=4)
    change_decide(actor=env["county"], request=_suspend(env, e), action="approve", today=DAY)
    req = change_submit(
        actor=env["reg_p"],
        kind="resumption",
        enrollment=e,
        facts={"resume_date": "2026-09-24", "grade_choice": choice},
        today=DAY,
    )
    change_decide(actor=env["county"], request=req, action="approve", today=DAY)
    e.refresh_from_db()
    assert (e.status, e.grade) == ("05", grade)


def test_resumption_only_from_suspension(env):
    e = c.enrolled(env["primary"], grade=4)
    with pytest.raises(ApplicationError) as exc:
        change_submit(
            actor=env["reg_p"],
            kind="resumption",
            enrollment=e,
            facts={"resume_date": "2026-09-24"},
            today=DAY,
        )
    assert exc.value.code == "status_not_allowed"


def test_withdrawal_refused_in_compulsory_education(env):
    """第18条: 义务教育阶段学生不予办理退学手续."""
    e = c.enrolled(env["primary"], grade=4)
    with pytest.raises(ApplicationError) as exc:
        change_submit(
            actor=env["reg_p"], kind="withdrawal", enrollment=e, facts={"applicant_name": "张大明"}, today=DAY
        )
    assert exc.value.code == "withdrawal_compulsory"
    assert "第十八条" in exc.value.message


def test_senior_withdrawal_is_filed_not_approved_by_the_upper_level(env):
    e = c.enrolled(env["senior"], grade=10)
    req = change_submit(
        actor=env["reg_s"], kind="withdrawal", enrollment=e, facts={"applicant_name": "张大明"}, today=DAY
    )
    step = ApprovalStep.objects.get(request=req, position=1)
    assert step.mode == "notify"
    with pytest.raises(ApplicationError):
        change_decide(actor=env["county"], request=req, action="reject", comment="不同意", today=DAY)
    change_decide(actor=env["county"], request=req, action="approve", today=DAY)
    e.refresh_from_db()
    step.refresh_from_db()
    assert (e.status, e.is_active, step.state) == ("03", False, "filed")


def test_death_filing_window_is_sixty_working_days(env):
    """第21条: within 60 working days; 2026-09-01 + 60 working days = 2026-11-30."""
    e = c.enrolled(env["primary"], grade=2)
    req = change_submit(
        actor=env["reg_p"],
        kind="death",
        enrollment=e,
        facts={"date_of_death": "2026-09-01"},
        today=date(2026, 11, 27),
    )
    assert (req.facts["filing_due"], req.facts["filed_late"]) == ("2026-11-30", False)
    change_decide(actor=env["county"], request=req, action="approve", today=date(2026, 11, 27))
    e.refresh_from_db()
    assert (e.status, e.is_active) == ("11", False)


def test_death_filed_late_is_accepted_and_marked(env):
    e = c.enrolled(env["primary"], grade=2)
    req = change_submit(
        actor=env["reg_p"],
        kind="death",
        enrollment=e,
        facts={"date_of_death": "2026-09-01"},
        today=date(2026, 12, 1),
    )
    assert req.facts["filed_late"] is True
