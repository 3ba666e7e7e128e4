"""毕业/结业/肄业 (第19条) and graduating a whole grade, end to end through the engine."""

from datetime import date

import pytest

from tests.factories import changes as c
from tests.factories import core as f
from xueji.audit.models import AuditEvent
from xueji.changes.kinds.graduation import graduate_cohort
from xueji.changes.models import ApprovalStep, ChangeRequest
from xueji.changes.services import change_decide, change_submit, clear_pending_business
from xueji.changes.workflow import RequestState, StepState
from xueji.core.errors import ApplicationError, Conflict, FieldError, Forbidden, NotFound
from xueji.students.enums import StudentStatus
from xueji.students.models import Enrollment, ProblemRecord
from xueji.students.queries import StudentFilters, enrollment_get, enrollment_list

pytestmark = pytest.mark.django_db
DAY = date(2026, 6, 15)


@pytest.fixture
def env(tree):
    c.calendar()
    primary = f.school("440105", "primary")
    junior = f.school("440105", "junior")
    senior = f.school("440105", "senior")
    return {
        "primary": primary,
        "junior": junior,
        "senior": senior,
        "reg_p": f.registrar(primary),
        "reg_j": f.registrar(junior),
        "reg_s": f.registrar(senior),
        "county": c.dept_registrar("440105"),
    }


def _steps(req):
    return [(s.party, s.state) for s in ApprovalStep.objects.filter(request=req)]


def _graduate(env, e, reg="reg_p", kind="graduation", **facts):
    return change_submit(actor=env[reg], kind=kind, enrollment=e, facts=facts, today=DAY)


def test_compulsory_graduation_is_the_schools_alone_and_the_record_stays_findable(env):
    """义务教育: the school graduates its graduating grade (no upper-level step); 第19条 the record is kept."""
    e = c.enrolled(env["primary"], grade=6)
    req = _graduate(env, e, certificate_number="HZ2026-001")
    assert (req.state, _steps(req)) == ("approved", [("school", "approved")])
    e.refresh_from_db()
    assert (e.status, e.is_active) == ("07", False)
    assert req.facts["closed_on"] == "2026-06-15"
    assert req.facts["certificate_number"] == "HZ2026-001"
    found = enrollment_list(viewer=env["reg_p"], filters=StudentFilters(status="07", include_inactive=True))
    assert [x.pk for x in found] == [e.pk]
    assert enrollment_get(viewer=env["county"], person_id=e.person_id).pk == e.pk
    assert AuditEvent.objects.filter(event_type="change.applied", subject_id=str(e.person_id)).count() == 1


def test_senior_graduation_needs_the_department(env):
    e = c.enrolled(env["senior"], grade=12)
    req = _graduate(env, e, reg="reg_s")
    assert _steps(req) == [("school", "approved"), ("school_dept", "pending")]
    e.refresh_from_db()
    assert (e.status, e.is_active) == ("01", True)
    change_decide(actor=env["county"], request=req, action="approve", today=DAY)
    e.refresh_from_db()
    assert (e.status, e.is_active) == ("07", False)


def test_rejected_senior_graduation_leaves_the_record(env):
    e = c.enrolled(env["senior"], grade=12)
    before = Enrollment.objects.filter(pk=e.pk).values().get()
    req = _graduate(env, e, reg="reg_s")
    change_decide(actor=env["county"], request=req, action="reject", comment="成绩未达标", today=DAY)
    assert Enrollment.objects.filter(pk=e.pk).values().get() == before


@pytest.mark.parametrize(
    ("school", "reg", "grade"), [("primary", "reg_p", 5), ("junior", "reg_j", 8), ("senior", "reg_s", 11)]
)
def test_only_the_graduating_grade_graduates(env, school, reg, grade):
    e = c.enrolled(env[school], grade=grade)
    with pytest.raises(ApplicationError) as exc:
        _graduate(env, e, reg=reg)
    assert exc.value.code == "not_graduating_grade"
    assert f"{grade}年级" not in exc.value.message  # grade names (初二（八年级）), not numbers
    assert ChangeRequest.objects.count() == 0


@pytest.mark.parametrize("kind", ["completion", "incomplete"])
def test_completion_and_incomplete_are_senior_high_only(env, kind):
    e = c.enrolled(env["junior"], grade=9)
    with pytest.raises(ApplicationError) as exc:
        _graduate(env, e, reg="reg_j", kind=kind)
    assert exc.value.code == "senior_only"
    assert "第十九条" in exc.value.message


def test_completion_in_the_graduating_grade_sets_08(env):
    e = c.enrolled(env["senior"], grade=12)
    req = _graduate(env, e, reg="reg_s", kind="completion")
    change_decide(actor=env["county"], request=req, action="approve", today=DAY)
    e.refresh_from_db()
    assert (e.status, e.is_active) == ("08", False)


def test_completion_before_the_graduating_grade_is_refused(env):
    e = c.enrolled(env["senior"], grade=11)
    with pytest.raises(ApplicationError) as exc:
        _graduate(env, e, reg="reg_s", kind="completion")
    assert exc.value.code == "not_graduating_grade"


def test_incomplete_in_any_senior_grade_sets_09(env):
    e = c.enrolled(env["senior"], grade=11)
    req = _graduate(env, e, reg="reg_s", kind="incomplete")
    assert _steps(req) == [("school", "approved"), ("school_dept", "pending")]
    change_decide(actor=env["county"], request=req, action="approve", today=DAY)
    e.refresh_from_db()
    assert (e.status, e.is_active) == ("09", False)


def _open_suspension(env, e):
    return change_submit(
        actor=env["reg_p"],
        kind="suspension",
        enrollment=e,
        facts={
            "start_date": "2026-06-15",
            "end_date": "2026-12-31",
            "reason": "illness",
            "applicant_name": "张大明",
        },
        today=DAY,
    )


def test_business_in_flight_blocks_graduation_naming_it_until_cleared(env):
    e = c.enrolled(env["primary"], grade=6)
    _open_suspension(env, e)
    with pytest.raises(Conflict) as exc:
        _graduate(env, e)
    assert exc.value.code == "pending_business"
    assert "“休学”" in exc.value.message
    assert clear_pending_business(actor=env["county"], enrollment=e, reason="毕业前清理") == 1
    assert _graduate(env, e).state == "approved"
    e.refresh_from_db()
    assert e.status == "07"


def test_clearing_pending_business_closes_requests_through_the_workflow(env):
    """在办业务清理 writes the request's state as a cancellation does: closed, undecided steps cancelled."""
    e = c.enrolled(env["primary"], grade=6)
    req = _open_suspension(env, e)

    clear_pending_business(actor=env["county"], enrollment=e, reason="毕业前清理")

    req.refresh_from_db()
    assert (req.state, req.closed_at is not None) == (RequestState.CANCELLED, True)
    assert [s.state for s in req.steps.order_by("position")] == [StepState.APPROVED, StepState.CANCELLED]
    e.refresh_from_db()
    assert e.status == StudentStatus.ENROLLED


def test_open_problem_record_blocks_graduation(env):
    e = c.enrolled(env["primary"], grade=6)
    ProblemRecord.objects.create(
        kind=ProblemRecord.Kind.ID_INVALID,
        person_id=e.person_id,
        province_code=e.province_code,
        scope_path=e.scope_path,
    )
    with pytest.raises(ApplicationError) as exc:
        _graduate(env, e)
    assert exc.value.code == "problem_record_open"


def test_suspended_student_cannot_graduate(env):
    e = c.enrolled(env["primary"], grade=6)
    change_decide(actor=env["county"], request=_open_suspension(env, e), action="approve", today=DAY)
    with pytest.raises(ApplicationError) as exc:
        _graduate(env, e)
    assert exc.value.code == "status_not_allowed"


def test_cohort_graduates_everyone_eligible_and_reports_who_was_skipped(env):
    a = c.enrolled(env["primary"], grade=6, name="甲")
    b = c.enrolled(env["primary"], grade=6, name="乙")
    busy = c.enrolled(env["primary"], grade=6, name="丙")
    younger = c.enrolled(env["primary"], grade=5, name="丁")
    _open_suspension(env, busy)
    result = graduate_cohort(actor=env["reg_p"], school=env["primary"], grade=6, today=DAY)
    assert sorted(r.enrollment_id for r in result.submitted) == sorted([a.pk, b.pk])
    assert {r.state for r in result.submitted} == {"approved"}
    [skip] = result.skipped
    assert (skip.enrollment_id, skip.name, skip.code) == (busy.pk, "丙", "pending_business")
    statuses = dict(Enrollment.objects.values_list("pk", "status"))
    assert (statuses[a.pk], statuses[b.pk], statuses[busy.pk], statuses[younger.pk]) == (
        "07",
        "07",
        "01",
        "01",
    )
    bulk = AuditEvent.objects.get(event_type="change.bulk")
    assert (bulk.after["grade"], len(bulk.after["submitted"]), bulk.after["skipped"][0]["code"]) == (
        6,
        2,
        "pending_business",
    )


def test_senior_cohort_completion_waits_for_the_department(env):
    e = c.enrolled(env["senior"], grade=12)
    result = graduate_cohort(actor=env["reg_s"], school=env["senior"], grade=12, kind="completion", today=DAY)
    [req] = result.submitted
    assert (req.kind, req.state, req.enrollment_id) == ("completion", "pending", e.pk)


def test_cohort_refuses_a_non_graduating_grade_and_other_kinds(env):
    with pytest.raises(FieldError) as exc:
        graduate_cohort(actor=env["reg_p"], school=env["primary"], grade=5, today=DAY)
    assert exc.value.code == "not_graduating_grade"
    assert exc.value.message.startswith("五年级不是毕业年级")  # the one grade naming (issue 8 item 11)
    with pytest.raises(FieldError) as exc:
        graduate_cohort(actor=env["reg_p"], school=env["primary"], grade=6, kind="transfer", today=DAY)
    assert exc.value.code == "invalid_kind"


def test_cohort_only_by_the_schools_registrar(env):
    c.enrolled(env["primary"], grade=6)
    with pytest.raises(NotFound):
        graduate_cohort(actor=env["reg_j"], school=env["primary"], grade=6, today=DAY)
    with pytest.raises(Forbidden):
        graduate_cohort(actor=env["county"], school=env["primary"], grade=6, today=DAY)
    assert ChangeRequest.objects.count() == 0
