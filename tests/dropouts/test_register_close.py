"""Closing outcomes tied to the register (第17条; 第15、19、21条): when an applied change closes the pupil's 学籍 —
death, going abroad, a transfer out of compulsory education — the open dropout case closes with the matching
outcome, a history row "系统依据学籍变动关闭" and an audit by the system; a record that only moved (a transfer to another
compulsory school, a promotion) takes its case along, never into senior high; the system never gives "other"
(it needs the county); by hand, death / transfer / abroad are refused while the register still shows the pupil
enrolled."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from tests.factories import changes as c
from tests.factories import core as f
from xueji.audit.enums import EventType
from xueji.audit.models import AuditEvent
from xueji.changes.kinds.common import move_to_school, set_status
from xueji.changes.services import change_decide, change_submit
from xueji.core.errors import FieldError
from xueji.core.signals import records_changed
from xueji.dropouts.enums import FollowUpKind, Outcome, Reason, Source, State
from xueji.dropouts.models import DropoutCase, FollowUp
from xueji.dropouts.queries import case_list
from xueji.dropouts.services import case_close, case_open, cases_follow_register

pytestmark = pytest.mark.django_db
MONDAY = date(2026, 11, 23)


@pytest.fixture
def s(tree):  # type: ignore[no-untyped-def]
    c.calendar()
    school = f.school("440105", "primary", name="海珠一小")
    return {
        "school": school,
        "pupil": c.enrolled(school, grade=4, name="林小雨"),
        "reg": f.registrar(school),
        "haizhu": c.dept_registrar("440105"),
    }


def _open(s: dict[str, Any]) -> DropoutCase:
    return case_open(
        actor=s["reg"],
        enrollment=s["pupil"],
        source=Source.SCHOOL,
        days_absent=10,
        last_seen=None,
        reason=Reason.STUDY_AVERSION,
        today=MONDAY,
    )


def _assert_closed_by_register(case: DropoutCase, outcome: str) -> None:
    case.refresh_from_db()
    assert (case.state, case.outcome, case.closed_by_id) == (State.CLOSED, outcome, None)
    assert case.next_follow_up is None and case.outcome_note.startswith("系统依据学籍变动关闭")
    [row] = FollowUp.objects.filter(case=case, kind=FollowUpKind.SYSTEM)
    assert row.recorded_by_id is None and row.result.startswith("系统依据学籍变动关闭")
    event = AuditEvent.objects.filter(event_type=EventType.DROPOUT_CLOSED).latest("id")
    assert event.actor_id is None and event.after["outcome"] == outcome
    assert "林小雨" not in str(event.after) + event.summary


def test_an_applied_death_change_closes_the_case(s, django_capture_on_commit_callbacks):  # type: ignore[no-untyped-def]
    case = _open(s)
    req = change_submit(
        actor=s["reg"],
        kind="death",
        enrollment=s["pupil"],
        facts={"date_of_death": "2026-11-20"},
        today=date(2026, 11, 27),
    )
    case.refresh_from_db()
    assert case.state == State.OPEN  # submitted, not applied: the case stays open
    with django_capture_on_commit_callbacks(execute=True):
        change_decide(actor=s["haizhu"], request=req, action="approve", today=date(2026, 11, 27))
    _assert_closed_by_register(case, Outcome.DEATH)
    assert cases_follow_register().closed == 0  # re-running changes nothing


@pytest.mark.parametrize(
    ("status", "outcome"),
    [("10", Outcome.TRANSFERRED), ("13", Outcome.ABROAD), ("99", Outcome.ABROAD)],
)
def test_the_register_status_gives_the_outcome(s, django_capture_on_commit_callbacks, status, outcome):  # type: ignore[no-untyped-def]
    case = _open(s)
    with django_capture_on_commit_callbacks(execute=True):
        set_status(s["pupil"], status, active=False)
        records_changed.send(sender=None, reason="change_applied")
    _assert_closed_by_register(case, outcome)


def test_a_transfer_within_compulsory_education_takes_the_case_along(s):  # type: ignore[no-untyped-def]
    """第17条: a pupil transferred to another primary school is still a compulsory pupil who may not attend; the
    case follows to the receiving school (which follows up until the child attends), it does not close."""
    case = _open(s)
    target = f.school("440106", "primary", name="天河一小")
    new = move_to_school(s["pupil"], target, grade=4, class_name="1班", leaving_status="10", actor=s["reg"])
    report = cases_follow_register()
    assert (report.closed, report.followed) == (0, 1)
    case.refresh_from_db()
    assert (case.state, case.school_id, case.enrollment_id) == (State.OPEN, target.pk, new.pk)
    assert [x.pk for x in case_list(viewer=f.registrar(target), today=MONDAY)] == [case.pk]


def test_a_transfer_out_with_no_record_left_closes_the_case_at_the_school_that_had_it(s):  # type: ignore[no-untyped-def]
    case = _open(s)
    set_status(s["pupil"], "10", active=False)  # transferred out, no enrollment in compulsory education now
    assert cases_follow_register().closed == 1
    _assert_closed_by_register(case, Outcome.TRANSFERRED)
    assert [x.pk for x in case_list(viewer=s["reg"], today=MONDAY)] == [case.pk]  # stays in its ledger
    from django.test import Client
    from django.urls import reverse

    client = Client()
    client.force_login(s["reg"])
    page = client.get(reverse("dropouts:case", args=[case.pk])).content.decode()
    assert "系统依据学籍变动关闭" in page and "系统记录" in page and "转学" in page


def test_the_case_does_not_follow_into_senior_high_nor_close_as_other(s):  # type: ignore[no-untyped-def]
    """A pupil now at a senior high school (not compulsory) keeps the case where it was for the county to close
    by hand; a later withdrawal there gives no automatic "other" outcome (第17条: other needs the county)."""
    case = _open(s)
    senior = f.school("440105", "senior", name="海珠高中")
    new = move_to_school(s["pupil"], senior, grade=10, class_name="1班", leaving_status="07", actor=s["reg"])
    assert cases_follow_register().closed == 0
    case.refresh_from_db()
    assert (case.state, case.school_id) == (State.OPEN, s["school"].pk)
    set_status(new, "03", active=False)  # withdrawn (第18条, senior high only)
    assert cases_follow_register().closed == 0
    case.refresh_from_db()
    assert case.state == State.OPEN and case.outcome == ""


def test_a_record_that_only_moved_takes_the_case_along(s):  # type: ignore[no-untyped-def]
    """Promotion to the junior school (status 毕业 on the old record, a new active one): still a compulsory
    pupil, the case stays open and now belongs to the new school."""
    case = _open(s)
    junior = f.school("440105", "junior", name="海珠一中")
    new = move_to_school(s["pupil"], junior, grade=7, class_name="1班", leaving_status="07", actor=s["reg"])
    report = cases_follow_register()
    assert (report.closed, report.followed) == (0, 1)
    case.refresh_from_db()
    assert (case.state, case.school_id, case.enrollment_id) == (State.OPEN, junior.pk, new.pk)


def test_a_rolled_back_change_closes_nothing(s, django_capture_on_commit_callbacks):  # type: ignore[no-untyped-def]
    from django.db import transaction

    case = _open(s)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        try:
            with transaction.atomic():
                set_status(s["pupil"], "11", active=False)
                records_changed.send(sender=None, reason="change_applied")
                raise RuntimeError
        except RuntimeError:
            pass
    assert callbacks == []
    case.refresh_from_db()
    assert case.state == State.OPEN


@pytest.mark.parametrize("outcome", [Outcome.DEATH, Outcome.TRANSFERRED, Outcome.ABROAD])
def test_by_hand_the_register_outcomes_wait_for_the_change(s, outcome):  # type: ignore[no-untyped-def]
    case = _open(s)
    with pytest.raises(FieldError) as exc:
        case_close(actor=s["haizhu"], case=case, outcome=outcome, today=MONDAY + timedelta(days=1))
    assert exc.value.field == "outcome" and "学籍变动" in exc.value.message
    case.refresh_from_db()
    assert case.state == State.OPEN
