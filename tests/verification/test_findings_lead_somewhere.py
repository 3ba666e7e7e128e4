"""Gaps found in the review of the semester verification (第25条; issue 10 §2):

1. reviewing one school's return marks done only that school's "submitted" notice at the county, not every
   school's of the round;
2. a record the county returned (or reopened) has lost its explanation and blocks the school's submission again;
   only records the school owns block it — one corrected and handed to the county does not;
3. accepting a return with 人籍分离 / 空挂学籍 / 需更正 findings opens problem records (owned by the school, due in
   working days, one open per pupil and reason, idempotent);
5. a closed round's schools that never submitted stay overdue (第26条 oversight reads it).
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.factories import changes as c
from tests.factories import core as f
from xueji.changes.models import Notification
from xueji.core.errors import Conflict
from xueji.students.models import ProblemEvent, ProblemRecord
from xueji.students.records import problem_act, problem_due_on
from xueji.verification.enums import CorrectionField, FindingKind, ReturnState, Whereabouts
from xueji.verification.models import SchoolReturn, VerificationRound
from xueji.verification.queries import returns_overdue
from xueji.verification.services import (
    finding_save,
    return_accept,
    return_send_back,
    return_submit,
    round_close,
    round_open,
)
from xueji.workdays.services import add_working_days

pytestmark = pytest.mark.django_db
Kind = ProblemRecord.Kind


def _ret(rnd, school) -> SchoolReturn:  # type: ignore[no-untyped-def]
    return SchoolReturn.objects.select_related("round", "school", "school__org", "reviewer").get(
        round=rnd, school=school
    )


def _submitted_notices(v, rnd) -> dict[int, bool]:  # type: ignore[no-untyped-def]
    """school id → is its "submitted" notice at the county still waiting."""
    rows = Notification.objects.filter(
        org_unit_id=v["school"].supervising_dept_id, notice="verify_submitted", params__round=rnd.pk
    )
    return {n.params["school"]: n.done_at is None for n in rows}


# ------------------------------------------------------------------------------------- 1. notices per school


@pytest.mark.parametrize("review", ["accept", "return"])
def test_reviewing_one_school_leaves_the_other_schools_submitted_notice_waiting(v, rnd, review):  # type: ignore[no-untyped-def]
    return_submit(actor=v["reg"], ret=_ret(rnd, v["school"]))
    return_submit(actor=v["reg_sibling"], ret=_ret(rnd, v["sibling"]))
    assert _submitted_notices(v, rnd) == {v["school"].pk: True, v["sibling"].pk: True}
    if review == "accept":
        return_accept(actor=v["haizhu"], ret=_ret(rnd, v["school"]))
    else:
        return_send_back(actor=v["haizhu"], ret=_ret(rnd, v["school"]), note="请核实人籍分离学生去向")
    assert _submitted_notices(v, rnd) == {v["school"].pk: False, v["sibling"].pk: True}
    return_accept(actor=v["haizhu"], ret=_ret(rnd, v["sibling"]))
    assert _submitted_notices(v, rnd) == {v["school"].pk: False, v["sibling"].pk: False}


# --------------------------------------------------------------------- 2. explanations and the submit blocker


def _problem(v, owner: str = ProblemRecord.Owner.SCHOOL) -> ProblemRecord:  # type: ignore[no-untyped-def]
    return ProblemRecord.objects.create(
        kind=Kind.ARCHIVE_OVERDUE,
        person_id=v["pupil"].person_id,
        province_code="440000",
        scope_path=v["school"].org.path,
        school=v["school"],
        owner=owner,
    )


def _act(user, problem, action, note="说明", outcome=""):  # type: ignore[no-untyped-def]
    return problem_act(
        actor=user,
        problem=ProblemRecord.objects.get(pk=problem.pk),
        action=action,
        note=note,
        outcome=outcome,
    )


def test_a_returned_record_needs_a_new_explanation_before_the_school_can_submit(v, rnd):  # type: ignore[no-untyped-def]
    """第25条: the county's "return" rejects the school's explanation; submitting on the old one is refused."""
    problem = _problem(v)
    _act(v["reg"], problem, "explain", "档案材料正在扫描")
    _act(v["reg"], problem, "correct", "已上传材料")  # handed to the county
    returned = _act(v["haizhu"], problem, "return", "材料不全")
    assert returned.owner == "school" and returned.explanation == "" and returned.explained_at is None
    with pytest.raises(Conflict) as exc:
        return_submit(actor=v["reg"], ret=_ret(rnd, v["school"]))
    assert exc.value.code == "problems_unexplained" and exc.value.count == 1
    _act(v["reg"], problem, "explain", "补齐材料中")
    assert return_submit(actor=v["reg"], ret=_ret(rnd, v["school"])).state == ReturnState.SUBMITTED


def test_a_reopened_record_loses_its_explanation(v, rnd):  # type: ignore[no-untyped-def]
    problem = _problem(v)
    _act(v["reg"], problem, "explain", "已核实")
    _act(v["haizhu"], problem, "resolve", "已处理", outcome="resolved")
    reopened = _act(v["haizhu"], problem, "reopen", "仍未建立档案")
    assert (reopened.state, reopened.owner, reopened.explanation) == ("open", "school", "")
    with pytest.raises(Conflict):
        return_submit(actor=v["reg"], ret=_ret(rnd, v["school"]))


def test_a_record_corrected_and_handed_to_the_county_no_longer_blocks(v, rnd):  # type: ignore[no-untyped-def]
    problem = _problem(v)
    _problem_county = ProblemRecord.objects.create(  # the county's to decide from the start (a duplicate)
        kind=Kind.SUSPECTED_DUPLICATE,
        person_id=v["pupil2"].person_id,
        province_code="440000",
        scope_path=v["school"].org.path,
        school=v["school"],
        owner=ProblemRecord.Owner.COUNTY,
    )
    with pytest.raises(Conflict) as exc:
        return_submit(actor=v["reg"], ret=_ret(rnd, v["school"]))
    assert exc.value.count == 1  # the school's own record only
    _act(v["reg"], problem, "correct", "已补建档案")  # no explanation, but the county has it now
    assert ProblemRecord.objects.get(pk=problem.pk).explanation == ""
    assert return_submit(actor=v["reg"], ret=_ret(rnd, v["school"])).state == ReturnState.SUBMITTED
    assert ProblemRecord.objects.get(pk=_problem_county.pk).state == "open"


# ----------------------------------------------------------------------- 3. accepted findings open records


def _findings(v, rnd) -> None:  # type: ignore[no-untyped-def]
    ret = _ret(rnd, v["school"])
    finding_save(
        actor=v["reg"], ret=ret, enrollment_id=v["pupil"].pk, kind=FindingKind.ABSENT,
        whereabouts=Whereabouts.NOT_IN_SCHOOL, detail="开学以来未到校",
    )  # fmt: skip
    finding_save(
        actor=v["reg"], ret=ret, enrollment_id=v["pupil2"].pk, kind=FindingKind.CORRECTION,
        correction_fields=[CorrectionField.BIRTH_DATE], detail="出生日期录错",
    )  # fmt: skip
    phantom = c.enrolled(v["school"], grade=5, name="赵空挂")
    finding_save(
        actor=v["reg"], ret=ret, enrollment_id=phantom.pk, kind=FindingKind.PHANTOM, detail="查无此人"
    )


def test_accepting_a_return_opens_a_problem_record_per_finding(v, rnd, today):  # type: ignore[no-untyped-def]
    """第25条: 严肃、及时处理检查中发现的人籍分离、空挂学籍等问题 — what the county accepts becomes work with an owner
    and a deadline, not a note on a closed return."""
    _findings(v, rnd)
    return_submit(actor=v["reg"], ret=_ret(rnd, v["school"]))
    assert not ProblemRecord.objects.filter(kind__startswith="verify_").exists()  # not before the review
    return_accept(actor=v["haizhu"], ret=_ret(rnd, v["school"]))
    records = {p.kind: p for p in ProblemRecord.objects.filter(kind__startswith="verify_")}
    assert set(records) == {Kind.VERIFY_ABSENT, Kind.VERIFY_CORRECTION, Kind.VERIFY_PHANTOM}
    absent = records[Kind.VERIFY_ABSENT]
    assert absent.person_id == v["pupil"].person_id
    assert records[Kind.VERIFY_CORRECTION].person_id == v["pupil2"].person_id
    expected_due = add_working_days(today, 10).due
    for p in records.values():
        assert (p.owner, p.state, p.source, p.school_id) == ("school", "open", "verification", v["school"].pk)
        assert p.scope_path == v["school"].org.path and p.due_on == expected_due
        assert p.due_on == problem_due_on("440000", p.kind, today)
        assert "第二十五条" in p.article
        assert ProblemEvent.objects.filter(problem=p, action="open", actor=v["haizhu"]).count() == 1
    assert "未在任何学校就读" in absent.detail
    assert "出生日期" in records[Kind.VERIFY_CORRECTION].detail
    assert "开学以来" not in absent.detail  # the school's free text stays on the finding


def test_a_returned_return_opens_nothing(v, rnd):  # type: ignore[no-untyped-def]
    _findings(v, rnd)
    return_submit(actor=v["reg"], ret=_ret(rnd, v["school"]))
    return_send_back(actor=v["haizhu"], ret=_ret(rnd, v["school"]), note="请核实")
    assert not ProblemRecord.objects.filter(kind__startswith="verify_").exists()


def test_accepting_again_in_a_later_round_opens_no_second_record(v, rnd, today):  # type: ignore[no-untyped-def]
    """One open record per pupil and reason (the partial unique index): a pupil still 人籍分离 in the next
    round, whose record is not yet handled, keeps the one record."""
    _findings(v, rnd)
    return_submit(actor=v["reg"], ret=_ret(rnd, v["school"]))
    return_accept(actor=v["haizhu"], ret=_ret(rnd, v["school"]))
    assert ProblemRecord.objects.filter(kind__startswith="verify_").count() == 3
    round_close(actor=v["province"], rnd=rnd)

    second = round_open(
        actor=v["province"], unit=f.dept("440000"), title="第二学期核查", school_year=2026, semester="2",
        deadline=today + timedelta(days=14),
    )  # fmt: skip
    _findings(v, second)
    ProblemRecord.objects.filter(kind__startswith="verify_").update(explanation="跟进中")
    return_submit(actor=v["reg"], ret=_ret(second, v["school"]))
    return_accept(actor=v["haizhu"], ret=_ret(second, v["school"]))
    # the first two pupils keep their one record; the second round's new phantom pupil gets its own
    assert ProblemRecord.objects.filter(kind=Kind.VERIFY_ABSENT).count() == 1
    assert ProblemRecord.objects.filter(kind=Kind.VERIFY_CORRECTION).count() == 1
    assert ProblemRecord.objects.filter(kind=Kind.VERIFY_PHANTOM).count() == 2


# --------------------------------------------------------------------------- 5. overdue after the round closed


def test_closing_a_round_keeps_its_overdue_schools_overdue(v, rnd):  # type: ignore[no-untyped-def]
    """第26条: a school that never verified its roster stays overdue after the province ended the round."""
    return_submit(actor=v["reg"], ret=_ret(rnd, v["school"]))  # on time
    return_submit(actor=v["reg_sibling"], ret=_ret(rnd, v["sibling"]))
    return_send_back(
        actor=v["haizhu"], ret=_ret(rnd, v["sibling"]), note="请补充"
    )  # returned, not resubmitted
    later = rnd.deadline + timedelta(days=1)
    before = set(returns_overdue("/", later).values_list("school_id", flat=True))
    assert before == {v["sibling"].pk, v["other"].pk}  # returned and draft; not the submitted one
    round_close(actor=v["province"], rnd=VerificationRound.objects.get(pk=rnd.pk))
    assert set(returns_overdue("/", later).values_list("school_id", flat=True)) == before
    haizhu = f.dept("440105").path
    assert set(returns_overdue(haizhu, later).values_list("school_id", flat=True)) == {v["sibling"].pk}
    assert not returns_overdue("/", rnd.deadline).exists()  # on the deadline day nobody is late yet


def test_each_verification_reason_links_to_its_proper_change(v):  # type: ignore[no-untyped-def]
    """The school corrects through the proper change (第13、17、25条), as for the checks' reasons."""
    from xueji.checks.views import correction_link

    problem = ProblemRecord(person_id=v["pupil"].person_id, kind=Kind.VERIFY_ABSENT)
    assert correction_link(problem)[0] == f"/dropouts/new/{v['pupil'].person_id}/"
    # 第18条 义务教育阶段不予退学: a compulsory pupil's 空挂学籍 is explained and resolved by the county, not withdrawn
    problem.kind = Kind.VERIFY_PHANTOM
    assert correction_link(problem)[0] == f"/students/{v['pupil'].person_id}/"
    senior = c.enrolled(f.school("440105", "senior", name="海珠高中"), grade=10)
    problem = ProblemRecord(person_id=senior.person_id, kind=Kind.VERIFY_PHANTOM)
    assert correction_link(problem)[0].endswith(f"/new/withdrawal/?student={senior.person_id}")
    problem.kind = Kind.VERIFY_ABSENT  # the dropout ledger is for compulsory pupils only (第17条)
    assert correction_link(problem)[0] == f"/students/{senior.person_id}/"
    problem = ProblemRecord(person_id=v["pupil"].person_id, kind=Kind.VERIFY_CORRECTION)
    assert correction_link(problem)[0].endswith(f"/{v['pupil'].person_id}/edit/")
