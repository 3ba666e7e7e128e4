"""Semester verification 学籍核查 (第25条; 第5条 分级负责): who opens a round and what it creates (set-based, every
school in scope notified), the school's findings (only its own active pupils; 404 otherwise), submitting (blocked
while unexplained problem records are open, and after the round closed), the county's review (accept / return
with a note / resubmit), the progress per unit (totals equal direct counts) and the two oversight metrics."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import changes as c
from tests.factories import core as f
from xueji.audit.models import AuditEvent
from xueji.changes.models import Notification
from xueji.core.errors import Conflict, FieldError, Forbidden, NotFound
from xueji.dropouts.enums import Reason, Source
from xueji.dropouts.services import case_open
from xueji.schools.enums import SchoolState
from xueji.students.models import Enrollment, ProblemRecord
from xueji.verification import workflow
from xueji.verification.enums import FindingKind, ReturnState, RoundState, Whereabouts
from xueji.verification.models import Finding, SchoolReturn, VerificationRound
from xueji.verification.queries import (
    absent_without_case,
    progress,
    progress_unit,
    return_get,
    returns_overdue,
    round_get,
    rounds_visible,
)
from xueji.verification.services import (
    finding_remove,
    finding_save,
    return_accept,
    return_send_back,
    return_submit,
    round_close,
    round_open,
)

pytestmark = pytest.mark.django_db


def _ret(rnd, school) -> SchoolReturn:  # type: ignore[no-untyped-def]
    return SchoolReturn.objects.select_related("round", "school", "school__org", "reviewer").get(
        round=rnd, school=school
    )


def _absent(v, rnd, pupil=None):  # type: ignore[no-untyped-def]
    return finding_save(
        actor=v["reg"],
        ret=_ret(rnd, v["school"]),
        enrollment_id=(pupil or v["pupil"]).pk,
        kind=FindingKind.ABSENT,
        whereabouts=Whereabouts.NOT_IN_SCHOOL,
        detail="开学以来未到校",
    )


def _problem(school, pupil, explanation: str = "") -> ProblemRecord:  # type: ignore[no-untyped-def]
    return ProblemRecord.objects.create(
        kind=ProblemRecord.Kind.ID_INVALID,
        person_id=pupil.person_id,
        province_code="440000",
        scope_path=school.org.path,
        explanation=explanation,
    )


# ------------------------------------------------------------------------------------------- opening a round


def test_province_opens_round_with_a_return_and_a_notice_for_every_active_school(v, rnd, today):  # type: ignore[no-untyped-def]
    schools = {r.school_id for r in SchoolReturn.objects.filter(round=rnd)}
    assert schools == {v["school"].pk, v["sibling"].pk, v["other"].pk}  # not 北京's school
    assert all(r.state == ReturnState.DRAFT for r in SchoolReturn.objects.filter(round=rnd))
    ret = _ret(rnd, v["school"])
    assert ret.scope_path == v["school"].org.path
    assert ret.reviewer_id == v["school"].supervising_dept_id == f.dept("440105").pk
    notices = Notification.objects.filter(notice="verify_open", params__round=rnd.pk)
    assert {n.org_unit_id for n in notices} == schools
    assert all(n.needs_action and "学籍核查" in n.message for n in notices)
    assert rnd.scope_path == f.dept("440000").path and rnd.state == RoundState.OPEN
    assert (
        AuditEvent.objects.filter(event_type="verification.round_opened", subject_id=str(rnd.pk)).count() == 1
    )


def test_opening_is_set_based_whatever_the_number_of_schools(v, today):  # type: ignore[no-untyped-def]
    for _ in range(25):
        f.school("440106", "primary")
    with CaptureQueriesContext(connection) as q:
        rnd = round_open(
            actor=v["province"],
            unit=f.dept("440000"),
            title="核查",
            school_year=2026,
            semester="1",
            deadline=today + timedelta(days=3),
        )
    assert SchoolReturn.objects.filter(round=rnd).count() == 28
    assert len(q.captured_queries) <= 15  # not one INSERT per school


def test_closed_or_merged_schools_get_no_return(v, today):  # type: ignore[no-untyped-def]
    closed = f.school("440105", "primary", name="已撤销小学")
    closed.state = SchoolState.CLOSED
    closed.save()
    rnd = round_open(
        actor=v["province"], unit=f.dept("440000"), title="核查", school_year=2026, semester="1",
        deadline=today + timedelta(days=3),
    )  # fmt: skip
    assert not SchoolReturn.objects.filter(round=rnd, school=closed).exists()


def test_national_department_opens_over_every_province(v, today):  # type: ignore[no-untyped-def]
    rnd = round_open(
        actor=v["national"], unit=f.dept("000000"), title="全国核查", school_year=2026, semester="2",
        deadline=today + timedelta(days=3),
    )  # fmt: skip
    assert SchoolReturn.objects.filter(round=rnd, school=v["beijing"]).exists()


@pytest.mark.parametrize("who", ["reg", "haizhu", "city"])
def test_only_province_or_national_department_opens(v, today, who):  # type: ignore[no-untyped-def]
    unit = {"reg": v["school"].org, "haizhu": f.dept("440105"), "city": f.dept("440100")}[who]
    with pytest.raises(Forbidden) as exc:
        round_open(actor=v[who], unit=unit, title="核查", school_year=2026, semester="1",
                   deadline=today + timedelta(days=3))  # fmt: skip
    assert exc.value.code == "not_round_opener"
    assert not VerificationRound.objects.exists() and not SchoolReturn.objects.exists()


def test_other_province_is_not_found_and_nothing_created(v, today):  # type: ignore[no-untyped-def]
    with pytest.raises(NotFound):
        round_open(actor=v["bj_province"], unit=f.dept("440000"), title="核查", school_year=2026, semester="1",
                   deadline=today + timedelta(days=3))  # fmt: skip
    assert not VerificationRound.objects.exists()


@pytest.mark.parametrize("days", [0, -1])
def test_deadline_must_be_in_the_future(v, today, days):  # type: ignore[no-untyped-def]
    with pytest.raises(FieldError) as exc:
        round_open(actor=v["province"], unit=f.dept("440000"), title="核查", school_year=2026, semester="1",
                   deadline=today + timedelta(days=days))  # fmt: skip
    assert exc.value.field == "deadline" and "截止日期" in exc.value.message
    assert not VerificationRound.objects.exists()


def test_bad_title_or_semester_names_the_field(v, today):  # type: ignore[no-untyped-def]
    for kwargs, field in (
        ({"title": " "}, "title"),
        ({"semester": "3"}, "semester"),
        ({"school_year": 1990}, "school_year"),
    ):
        args: dict[str, Any] = {"title": "核查", "school_year": 2026, "semester": "1", **kwargs}
        with pytest.raises(FieldError) as exc:
            round_open(actor=v["province"], unit=f.dept("440000"), deadline=today + timedelta(days=3), **args)
        assert exc.value.field == field
    assert not VerificationRound.objects.exists()


def test_one_open_round_per_unit(v, rnd, today):  # type: ignore[no-untyped-def]
    with pytest.raises(Conflict) as exc:
        round_open(actor=v["province"], unit=f.dept("440000"), title="再次", school_year=2026, semester="1",
                   deadline=today + timedelta(days=3))  # fmt: skip
    assert exc.value.code == "round_already_open"
    round_close(actor=v["province"], rnd=rnd)
    again = round_open(actor=v["province"], unit=f.dept("440000"), title="再次", school_year=2026, semester="1",
                       deadline=today + timedelta(days=3))  # fmt: skip
    assert again.state == RoundState.OPEN


def test_only_the_opening_unit_closes(v, rnd):  # type: ignore[no-untyped-def]
    for who in ("haizhu", "city", "national"):
        with pytest.raises(Forbidden):
            round_close(actor=v[who], rnd=rnd)
    round_close(actor=v["province"], rnd=rnd)
    rnd.refresh_from_db()
    assert rnd.state == RoundState.CLOSED and rnd.closed_by == v["province"]
    with pytest.raises(Conflict):
        round_close(actor=v["province"], rnd=rnd)
    assert not Notification.objects.filter(
        notice="verify_open", params__round=rnd.pk, done_at__isnull=True
    ).exists()


def test_rounds_are_visible_in_the_region_only(v, rnd):  # type: ignore[no-untyped-def]
    for who in ("reg", "haizhu", "city", "province", "national"):
        assert list(rounds_visible(v[who])) == [rnd], who
    assert not rounds_visible(v["bj_province"]).exists()
    with pytest.raises(NotFound):
        round_get(viewer=v["bj_province"], round_id=rnd.pk)
    with pytest.raises(NotFound):
        round_get(viewer=v["reg"], round_id="abc")


# ---------------------------------------------------------------------------------------------------- findings


def test_school_registrar_marks_and_re_marks_one_finding_per_pupil(v, rnd):  # type: ignore[no-untyped-def]
    _absent(v, rnd)
    fd = finding_save(
        actor=v["reg"], ret=_ret(rnd, v["school"]), enrollment_id=v["pupil"].pk,
        kind=FindingKind.CORRECTION, correction_fields=["birth_date", "name"],
    )  # fmt: skip
    assert Finding.objects.count() == 1
    assert fd.kind == FindingKind.CORRECTION and fd.correction_fields == ["birth_date", "name"]
    assert fd.whereabouts == "" and fd.scope_path == v["school"].org.path
    events = list(AuditEvent.objects.filter(event_type="verification.finding_saved").order_by("pk"))
    assert len(events) == 2
    event = events[-1]
    assert event.subject_id == str(v["pupil"].person_id)
    assert "开学以来" not in str(event.after) and "林小雨" not in str(event.after)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"kind": "absent", "detail": "不在"}, "whereabouts"),
        ({"kind": "absent", "whereabouts": "unknown"}, "detail"),
        ({"kind": "phantom"}, "detail"),
        ({"kind": "correction"}, "correction_fields"),
        ({"kind": "correction", "correction_fields": ["shoe_size"]}, "correction_fields"),
        ({"kind": "correction", "correction_fields": ["other"]}, "detail"),
        ({"kind": "lost"}, "kind"),
        ({"kind": "phantom", "detail": "长" * 301}, "detail"),
    ],
)
def test_finding_needs_its_facts(v, rnd, kwargs, field):  # type: ignore[no-untyped-def]
    with pytest.raises(FieldError) as exc:
        finding_save(actor=v["reg"], ret=_ret(rnd, v["school"]), enrollment_id=v["pupil"].pk, **kwargs)
    assert exc.value.field == field
    assert not Finding.objects.exists()


def test_pupil_of_another_school_or_former_pupil_is_not_found(v, rnd):  # type: ignore[no-untyped-def]
    ret = _ret(rnd, v["school"])
    with pytest.raises(NotFound):
        finding_save(actor=v["reg"], ret=ret, enrollment_id=v["sibling_pupil"].pk, kind="phantom", detail="x")
    Enrollment.objects.filter(pk=v["pupil2"].pk).update(is_active=False)
    with pytest.raises(NotFound):
        finding_save(actor=v["reg"], ret=ret, enrollment_id=v["pupil2"].pk, kind="phantom", detail="x")
    with pytest.raises(NotFound):
        finding_save(actor=v["reg"], ret=ret, enrollment_id="not-a-uuid", kind="phantom", detail="x")
    assert not Finding.objects.exists()


def test_only_the_schools_registrar_marks(v, rnd):  # type: ignore[no-untyped-def]
    for who in ("reg_sibling", "haizhu", "province"):
        with pytest.raises(Forbidden):
            finding_save(actor=v[who], ret=_ret(rnd, v["school"]), enrollment_id=v["pupil"].pk,
                         kind="phantom", detail="x")  # fmt: skip
    assert not Finding.objects.exists()


def test_other_county_school_return_is_not_found(v, rnd):  # type: ignore[no-untyped-def]
    for who, school in (("reg_other", "school"), ("tianhe", "school"), ("reg", "other"), ("haizhu", "other")):
        with pytest.raises(NotFound):
            return_get(viewer=v[who], rnd=rnd, school_id=v[school].pk)
    assert return_get(viewer=v["city"], rnd=rnd, school_id=v["school"].pk).school_id == v["school"].pk


def test_remove_finding(v, rnd):  # type: ignore[no-untyped-def]
    _absent(v, rnd)
    finding_remove(actor=v["reg"], ret=_ret(rnd, v["school"]), enrollment_id=v["pupil"].pk)
    assert not Finding.objects.exists()
    with pytest.raises(NotFound):
        finding_remove(actor=v["reg"], ret=_ret(rnd, v["school"]), enrollment_id=v["pupil"].pk)


# -------------------------------------------------------------------------------------------------- submitting


def test_submit_records_roster_count_and_notifies_the_county(v, rnd):  # type: ignore[no-untyped-def]
    _absent(v, rnd)
    ret = return_submit(actor=v["reg"], ret=_ret(rnd, v["school"]))
    assert ret.state == ReturnState.SUBMITTED
    assert ret.roster_count == 2 and ret.submitted_by == v["reg"] and ret.submitted_at is not None
    county = Notification.objects.get(notice="verify_submitted", params__round=rnd.pk)
    assert county.org_unit_id == f.dept("440105").pk and county.needs_action
    assert Notification.objects.get(org_unit=v["school"].org, notice="verify_open").done_at is not None
    assert AuditEvent.objects.filter(event_type="verification.submitted", subject_id=str(ret.pk)).exists()


def test_submit_blocked_while_problem_records_are_unexplained(v, rnd):  # type: ignore[no-untyped-def]
    problem = _problem(v["school"], v["pupil"])
    _problem(v["school"], v["pupil2"])
    _problem(v["sibling"], v["sibling_pupil"])  # another school's: not counted
    with pytest.raises(Conflict) as exc:
        return_submit(actor=v["reg"], ret=_ret(rnd, v["school"]))
    assert exc.value.code == "problems_unexplained"
    assert "2 条问题学籍" in exc.value.message and "第二十五条" in exc.value.message
    assert _ret(rnd, v["school"]).state == ReturnState.DRAFT
    problem.explanation = "学生户口待迁入，已联系派出所"
    problem.save()
    ProblemRecord.objects.filter(person_id=v["pupil2"].person_id).update(state=ProblemRecord.State.MERGED)
    assert return_submit(actor=v["reg"], ret=_ret(rnd, v["school"])).state == ReturnState.SUBMITTED


def test_submit_blocked_after_the_round_closed(v, rnd):  # type: ignore[no-untyped-def]
    round_close(actor=v["province"], rnd=rnd)
    with pytest.raises(Conflict) as exc:
        return_submit(actor=v["reg"], ret=_ret(rnd, v["school"]))
    assert exc.value.code == "round_closed"
    with pytest.raises(Conflict):
        _absent(v, rnd)
    assert _ret(rnd, v["school"]).state == ReturnState.DRAFT and not Finding.objects.exists()


def test_only_the_schools_registrar_submits(v, rnd):  # type: ignore[no-untyped-def]
    for who in ("reg_sibling", "haizhu"):
        with pytest.raises(Forbidden):
            return_submit(actor=v[who], ret=_ret(rnd, v["school"]))
    assert _ret(rnd, v["school"]).state == ReturnState.DRAFT


# ------------------------------------------------------------------------------------------------ county review


def test_return_and_resubmit_then_accept(v, rnd):  # type: ignore[no-untyped-def]
    return_submit(actor=v["reg"], ret=_ret(rnd, v["school"]))
    with pytest.raises(Conflict):  # submitted: the school cannot change it any more
        _absent(v, rnd)
    with pytest.raises(FieldError) as exc:
        return_send_back(actor=v["haizhu"], ret=_ret(rnd, v["school"]), note=" ")
    assert exc.value.field == "note"
    ret = return_send_back(actor=v["haizhu"], ret=_ret(rnd, v["school"]), note="请核实三年级人数")
    assert ret.state == ReturnState.RETURNED and ret.review_note == "请核实三年级人数"
    back = Notification.objects.get(org_unit=v["school"].org, notice="verify_returned")
    assert back.needs_action and "请核实三年级人数" in back.message
    _absent(v, rnd)  # returned: editable again
    ret = return_submit(actor=v["reg"], ret=_ret(rnd, v["school"]))
    assert ret.state == ReturnState.SUBMITTED
    ret = return_accept(actor=v["haizhu"], ret=_ret(rnd, v["school"]))
    assert ret.state == ReturnState.ACCEPTED and ret.reviewed_by == v["haizhu"]
    with pytest.raises(Conflict):
        return_submit(actor=v["reg"], ret=_ret(rnd, v["school"]))
    assert AuditEvent.objects.filter(event_type="verification.returned").count() == 1
    assert AuditEvent.objects.filter(event_type="verification.accepted").count() == 1


def test_only_the_schools_county_reviews(v, rnd):  # type: ignore[no-untyped-def]
    return_submit(actor=v["reg"], ret=_ret(rnd, v["school"]))
    for who in ("tianhe", "city", "province", "reg"):
        with pytest.raises(Forbidden) as exc:
            return_accept(actor=v[who], ret=_ret(rnd, v["school"]))
        assert exc.value.code == "not_reviewer"
    assert _ret(rnd, v["school"]).state == ReturnState.SUBMITTED


def test_a_draft_cannot_be_reviewed(v, rnd):  # type: ignore[no-untyped-def]
    with pytest.raises(Conflict) as exc:
        return_accept(actor=v["haizhu"], ret=_ret(rnd, v["school"]))
    assert exc.value.code == "not_submitted"


ALL_STATES = list(ReturnState.values)
ALL_ACTIONS = [workflow.SUBMIT, workflow.ACCEPT, workflow.RETURN]
LEGAL = {
    ("draft", "submit"): "submitted",
    ("returned", "submit"): "submitted",
    ("submitted", "accept"): "accepted",
    ("submitted", "return"): "returned",
}


@pytest.mark.parametrize("state", ALL_STATES)
@pytest.mark.parametrize("action", ALL_ACTIONS)
def test_workflow_table(state, action):  # type: ignore[no-untyped-def]
    assert workflow.next_state(state, action) == LEGAL.get((state, action))


# ---------------------------------------------------------------------------------------------------- progress


def _direct(rnd, prefix, today):  # type: ignore[no-untyped-def]
    qs = SchoolReturn.objects.filter(round=rnd, scope_path__startswith=prefix)
    late = rnd.deadline < today
    return {
        "total": qs.count(),
        "draft": qs.filter(state="draft").count(),
        "submitted": qs.filter(state="submitted").count(),
        "returned": qs.filter(state="returned").count(),
        "accepted": qs.filter(state="accepted").count(),
        "overdue": qs.filter(state__in=["draft", "returned"]).count() if late else 0,
    }


def _mixed(v, rnd):  # type: ignore[no-untyped-def]
    return_submit(actor=v["reg"], ret=_ret(rnd, v["school"]))
    return_accept(actor=v["haizhu"], ret=_ret(rnd, v["school"]))
    return_submit(actor=v["reg_sibling"], ret=_ret(rnd, v["sibling"]))
    return_send_back(actor=v["haizhu"], ret=_ret(rnd, v["sibling"]), note="补充说明")


@pytest.mark.parametrize("late", [False, True])
def test_progress_totals_equal_direct_counts(v, rnd, today, late):  # type: ignore[no-untyped-def]
    for _ in range(3):
        f.school("440106", "primary")  # no return: opened after the round
    _mixed(v, rnd)
    when = rnd.deadline + timedelta(days=1) if late else today
    for code in ("440000", "440100", "440105"):
        unit = f.dept(code)
        table = progress(rnd=rnd, unit=unit, today=when)
        direct = _direct(rnd, unit.path, when)
        assert {k: getattr(table.totals, k) for k in direct} == direct
        for row in table.rows:  # every child row equals its own direct count
            child = type(unit).objects.get(pk=row.unit_id)
            assert {k: getattr(row, k) for k in direct} == _direct(rnd, child.path, when)
        assert sum(r.total for r in table.rows) == table.totals.total
    county = progress(rnd=rnd, unit=f.dept("440105"), today=when)
    assert {r.unit_id for r in county.rows} == {v["school"].pk, v["sibling"].pk}  # schools under a county
    province = progress(rnd=rnd, unit=f.dept("440000"), today=when)
    assert [r.unit_id for r in province.rows] == [f.dept("440100").pk]
    assert province.totals.overdue == (2 if late else 0)  # 天河一小 (draft) and 海珠二中 (returned)


def test_progress_is_aggregated_in_a_fixed_number_of_queries(v, rnd, today):  # type: ignore[no-untyped-def]
    unit = f.dept("440000")
    with CaptureQueriesContext(connection) as q:
        progress(rnd=rnd, unit=unit, today=today)
    assert len(q.captured_queries) == 3  # grouped counts, the children's names, the totals


def test_progress_unit_is_scoped(v, rnd):  # type: ignore[no-untyped-def]
    assert progress_unit(viewer=v["city"], rnd=rnd).pk == f.dept("440100").pk
    assert progress_unit(viewer=v["province"], rnd=rnd, unit_id=f.dept("440105").pk).pk == f.dept("440105").pk
    for who, unit in (("haizhu", "440106"), ("city", "440000"), ("haizhu", "110101")):
        with pytest.raises(NotFound):
            progress_unit(viewer=v[who], rnd=rnd, unit_id=f.dept(unit).pk)


# ------------------------------------------------------------------------------------------- oversight metrics


def test_returns_overdue(v, rnd):  # type: ignore[no-untyped-def]
    _mixed(v, rnd)
    after = rnd.deadline + timedelta(days=1)
    assert not returns_overdue(f.dept("440000").path, rnd.deadline).exists()  # the deadline day itself
    late = returns_overdue(f.dept("440000").path, after)
    assert {r.school_id for r in late} == {v["sibling"].pk, v["other"].pk}
    assert {r.scope_path for r in late} == {v["sibling"].org.path, v["other"].org.path}
    assert [r.school_id for r in returns_overdue(f.dept("440105").path, after)] == [v["sibling"].pk]
    round_close(actor=v["province"], rnd=rnd)
    # closing the round does not hide the schools that never verified (第26条)
    assert {r.school_id for r in returns_overdue(f.dept("440000").path, after)} == {
        v["sibling"].pk,
        v["other"].pk,
    }


def test_absent_without_case(v, rnd, today):  # type: ignore[no-untyped-def]
    c.calendar()
    _absent(v, rnd)
    _absent(v, rnd, v["pupil2"])
    finding_save(actor=v["reg"], ret=_ret(rnd, v["school"]), enrollment_id=v["pupil2"].pk,
                 kind="absent", whereabouts="unknown", detail="下落不明")  # fmt: skip
    senior = f.school("440105", "senior")
    rnd2_ret = SchoolReturn.objects.create(round=rnd, school=senior, scope_path=senior.org.path,
                                           reviewer=senior.supervising_dept)  # fmt: skip
    senior_pupil = c.enrolled(senior, grade=10, name="高一生")
    finding_save(actor=f.registrar(senior), ret=_ret(rnd, senior), enrollment_id=senior_pupil.pk,
                 kind="absent", whereabouts="unknown", detail="未到校")  # fmt: skip
    assert rnd2_ret.pk
    prefix = f.dept("440000").path
    found = absent_without_case(prefix)
    assert {fd.enrollment_id for fd in found} == {v["pupil"].pk, v["pupil2"].pk}  # the senior pupil is not
    assert {fd.scope_path for fd in found} == {v["school"].org.path}
    case_open(actor=v["reg"], enrollment=v["pupil"], source=Source.SCHOOL, days_absent=10, last_seen=None,
              reason=Reason.WORK, today=today)  # fmt: skip
    assert [fd.enrollment_id for fd in absent_without_case(prefix)] == [v["pupil2"].pk]
    Enrollment.objects.filter(pk=v["pupil2"].pk).update(is_active=False)
    assert not absent_without_case(prefix).exists()
    assert not absent_without_case(f.dept("440106").path).exists()
