"""Changes with a start date take effect on that date, not at the approval (第16条 休学; ADR 0005): the approval
schedules them (已批准待生效), the daily task applies them on the date — once, each in its own transaction,
audited as the system acting on the approval — and the working-day clocks of the steps stay as they were."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.utils import timezone

from tests.factories import changes as c
from tests.factories import core as f
from tests.factories.tasks import run_queued_tasks
from xueji.audit.enums import EventType
from xueji.audit.models import AuditEvent
from xueji.changes import kinds
from xueji.changes.merger import school_merge
from xueji.changes.models import ApprovalStep, ChangeRequest, Notification
from xueji.changes.queries import worklist
from xueji.changes.services import (
    change_cancel,
    change_decide,
    change_submit,
    clear_pending_business,
    scheduled_change_apply,
    scheduled_changes_apply,
)
from xueji.changes.tasks import apply_due_changes
from xueji.core.errors import ApplicationError, Conflict
from xueji.students.models import Enrollment
from xueji.workdays.services import official_calendar

pytestmark = pytest.mark.django_db
DAY = date(2026, 9, 24)
START = date(2026, 10, 8)


@pytest.fixture
def env(tree):  # type: ignore[no-untyped-def]
    c.calendar()
    primary = f.school("440105", "primary", name="海珠一小")
    return {
        "primary": primary,
        "reg": f.registrar(primary),
        "county": c.dept_registrar("440105"),
        "e": c.enrolled(primary, grade=3, name="林小雨"),
    }


def _suspend(env, *, start: date = START, today: date = DAY, enrollment=None) -> ChangeRequest:  # type: ignore[no-untyped-def]
    return change_submit(
        actor=env["reg"],
        kind="suspension",
        enrollment=enrollment or env["e"],
        facts={
            "start_date": start.isoformat(),
            "end_date": (start + timedelta(days=200)).isoformat(),
            "reason": "illness",
            "applicant_name": "张大明",
        },
        today=today,
    )


def _status(env) -> str:  # type: ignore[no-untyped-def]
    return Enrollment.objects.get(pk=env["e"].pk).status


def _applied_events(req: ChangeRequest) -> list[AuditEvent]:
    return [
        e
        for e in AuditEvent.objects.filter(event_type=EventType.CHANGE_APPLIED)
        if (e.after or {}).get("request") == str(req.pk) or e.subject_id == str(req.person_id)
    ]


def test_a_start_date_after_the_approval_schedules_the_change_and_leaves_the_record(env):
    """第16条: the suspension runs from its start date — approving it earlier writes nothing to the record."""
    req = _suspend(env)
    change_decide(actor=env["county"], request=req, action="approve", today=DAY)
    req.refresh_from_db()
    assert (req.state, req.effective_on, req.closed_at) == ("scheduled", START, None)
    assert _status(env) == "01"  # still 在读
    assert [s.state for s in ApprovalStep.objects.filter(request=req)] == ["approved", "approved"]
    decided = AuditEvent.objects.filter(event_type=EventType.CHANGE_DECIDED).latest("occurred_at")
    assert decided.after["effective_on"] == START.isoformat()
    assert _applied_events(req) == []
    note = Notification.objects.filter(org_unit=env["primary"].org, request=req).latest("created_at")
    assert START.isoformat() in note.message and not note.needs_action


def test_the_task_applies_it_on_the_date_once_as_the_system_on_behalf_of_the_approval(env):
    req = _suspend(env)
    change_decide(actor=env["county"], request=req, action="approve", today=DAY)

    before = scheduled_changes_apply(actor=None, today=START - timedelta(days=1))
    assert (before.applied, _status(env)) == (0, "01")  # not before its date
    early = scheduled_change_apply(actor=None, request_id=req.pk, today=START - timedelta(days=1))
    assert (early, ChangeRequest.objects.get(pk=req.pk).state) == ("skipped", "scheduled")

    first = scheduled_changes_apply(actor=None, today=START)
    req.refresh_from_db()
    assert (first.applied, first.voided, first.failed) == (1, 0, 0)
    assert (req.state, req.effective_on, _status(env)) == ("approved", START, "02")
    assert req.closed_at is not None
    [event] = AuditEvent.objects.filter(event_type=EventType.CHANGE_APPLIED)
    assert (event.actor_id, event.actor_username, event.actor_role) == (None, "system", "system")
    assert event.after["approved_by"] == env["county"].pk and event.after["request"] == str(req.pk)

    again = scheduled_changes_apply(actor=None, today=START + timedelta(days=3))  # a later run: nothing
    assert (again.applied, again.voided, again.failed) == (0, 0, 0)
    assert scheduled_change_apply(actor=None, request_id=req.pk, today=START) == "skipped"
    assert AuditEvent.objects.filter(event_type=EventType.CHANGE_APPLIED).count() == 1
    note = Notification.objects.filter(org_unit=env["primary"].org, request=req).latest("created_at")
    assert note.message == "休学已生效"


def test_a_start_date_today_or_past_applies_at_the_approval(env):
    req = _suspend(env, start=DAY)
    change_decide(actor=env["county"], request=req, action="approve", today=DAY)
    req.refresh_from_db()
    assert (req.state, req.effective_on, _status(env)) == ("approved", DAY, "02")


def test_a_missed_day_is_caught_up_and_the_change_keeps_its_start_date(env):
    req = _suspend(env)
    change_decide(actor=env["county"], request=req, action="approve", today=DAY)
    assert scheduled_changes_apply(actor=None, today=START + timedelta(days=2)).applied == 1
    req.refresh_from_db()
    assert (req.state, req.effective_on, _status(env)) == ("approved", START, "02")


def test_the_queued_task_applies_a_change_due_today(env):
    today = timezone.localdate()
    req = _suspend(env, start=today, today=today - timedelta(days=2))
    change_decide(actor=env["county"], request=req, action="approve", today=today - timedelta(days=1))
    assert ChangeRequest.objects.get(pk=req.pk).state == "scheduled"

    apply_due_changes.enqueue()
    assert run_queued_tasks() == ["SUCCESSFUL"]
    assert (ChangeRequest.objects.get(pk=req.pk).state, _status(env)) == ("approved", "02")
    apply_due_changes.enqueue()
    assert run_queued_tasks() == ["SUCCESSFUL"]
    assert AuditEvent.objects.filter(event_type=EventType.CHANGE_APPLIED).count() == 1


def test_the_legal_clocks_stay_those_of_the_approval_and_nothing_escalates_while_scheduled(env):
    """第15条-style working-day clocks are the steps' own: scheduling neither restarts nor extends them, and a
    scheduled request is no one's work (no overdue step to escalate, 第5、26条)."""
    req = _suspend(env)
    step = ApprovalStep.objects.get(request=req, position=1)
    assert step.clock_days is not None
    expected = official_calendar().add_working_days(DAY, step.clock_days).due
    assert step.due_on == expected
    change_decide(actor=env["county"], request=req, action="approve", today=DAY)
    step.refresh_from_db()
    assert (step.started_on, step.due_on, step.state) == (DAY, expected, "approved")
    late = expected + timedelta(days=30)
    assert worklist(viewer=env["county"], today=late) == []
    assert worklist(viewer=c.dept_registrar("440100"), today=late) == []


def test_the_initiator_may_withdraw_it_before_the_date_and_the_task_then_does_nothing(env):
    req = _suspend(env)
    change_decide(actor=env["county"], request=req, action="approve", today=DAY)
    change_cancel(actor=env["reg"], request=req, reason="家长改变主意")
    req.refresh_from_db()
    assert req.state == "cancelled"
    assert scheduled_changes_apply(actor=None, today=START).applied == 0
    assert _status(env) == "01"


def test_a_scheduled_change_keeps_the_student_busy(env):
    """One business in flight per student: a second request waits until the scheduled one took effect or was
    withdrawn (也 在办业务清理 cancels it)."""
    req = _suspend(env)
    change_decide(actor=env["county"], request=req, action="approve", today=DAY)
    with pytest.raises(Conflict) as exc:
        _suspend(env, start=START + timedelta(days=30))
    assert exc.value.code == "request_in_flight"
    assert clear_pending_business(actor=env["county"], enrollment=env["e"], reason="毕业前清理") == 1
    assert ChangeRequest.objects.get(pk=req.pk).state == "cancelled"


def test_a_school_with_a_scheduled_change_is_not_merged_before_it_is_settled(env):
    """A merger moves the school's records and requests: one still to take effect must be settled first."""
    req = _suspend(env)
    change_decide(actor=env["county"], request=req, action="approve", today=DAY)
    into = f.school("440105", "primary", name="海珠二小")
    with pytest.raises(Conflict) as exc:
        school_merge(actor=env["county"], school=env["primary"], into=into, reason="海教〔2027〕12号")
    assert exc.value.code == "requests_in_flight"


def test_a_record_that_no_longer_fits_voids_the_change_on_its_date(env):
    req = _suspend(env)
    change_decide(actor=env["county"], request=req, action="approve", today=DAY)
    Enrollment.objects.filter(pk=env["e"].pk).update(status="04")  # e.g. closed meanwhile by another path
    report = scheduled_changes_apply(actor=None, today=START)
    req.refresh_from_db()
    assert (report.applied, report.voided, req.state, _status(env)) == (0, 1, "cancelled", "04")
    cancelled = AuditEvent.objects.filter(event_type=EventType.CHANGE_CANCELLED).latest("occurred_at")
    assert (cancelled.actor_username, cancelled.after["code"]) == ("system", "status_not_allowed")
    note = Notification.objects.filter(org_unit=env["primary"].org, request=req).latest("created_at")
    assert note.message.startswith("休学未能生效")


def test_an_inactive_record_or_a_missing_approval_voids_it(env):
    req = _suspend(env)
    change_decide(actor=env["county"], request=req, action="approve", today=DAY)
    Enrollment.objects.filter(pk=env["e"].pk).update(is_active=False)
    assert scheduled_change_apply(actor=None, request_id=req.pk, today=START) == "voided"
    assert AuditEvent.objects.filter(event_type=EventType.CHANGE_CANCELLED).latest("occurred_at").after == {
        "request": str(req.pk),
        "code": "record_inactive",
    }
    other = c.enrolled(env["primary"], grade=3, name="周大海")
    second = _suspend(env, enrollment=other)
    change_decide(actor=env["county"], request=second, action="approve", today=DAY)
    ApprovalStep.objects.filter(request=second).update(decided_by=None)  # no approval on record
    assert scheduled_change_apply(actor=None, request_id=second.pk, today=START) == "voided"
    assert Enrollment.objects.get(pk=other.pk).status == "01"
    assert scheduled_change_apply(actor=None, request_id=second.pk, today=START) == "skipped"


def test_one_failing_change_does_not_stop_the_others_and_is_retried(env, monkeypatch):
    first = _suspend(env)
    other = c.enrolled(env["primary"], grade=3, name="周大海")
    second = _suspend(env, enrollment=other)
    for req in (first, second):
        change_decide(actor=env["county"], request=req, action="approve", today=DAY)
    spec = kinds.get("suspension")
    original = type(spec).apply

    def broken(self, request, actor, today):  # type: ignore[no-untyped-def]
        if request.pk == first.pk:
            raise RuntimeError("disk full")
        return original(self, request, actor, today)

    monkeypatch.setattr(type(spec), "apply", broken)
    report = scheduled_changes_apply(actor=None, today=START)
    assert (report.applied, report.failed) == (1, 1)
    assert ChangeRequest.objects.get(pk=first.pk).state == "scheduled"  # rolled back, retried next run
    assert Enrollment.objects.get(pk=env["e"].pk).status == "01"
    assert Enrollment.objects.get(pk=other.pk).status == "02"
    monkeypatch.setattr(type(spec), "apply", original)
    assert scheduled_changes_apply(actor=None, today=START + timedelta(days=1)).applied == 1
    assert Enrollment.objects.get(pk=env["e"].pk).status == "02"


def test_a_refusal_of_the_kind_on_the_date_voids_it_and_leaves_the_record(env, monkeypatch):
    req = _suspend(env)
    change_decide(actor=env["county"], request=req, action="approve", today=DAY)
    spec = kinds.get("suspension")

    def refuse(self, request, actor, today):  # type: ignore[no-untyped-def]
        raise ApplicationError("record_changed", "学籍已变化")

    monkeypatch.setattr(type(spec), "apply", refuse)
    assert scheduled_change_apply(actor=None, request_id=req.pk, today=START) == "voided"
    assert (ChangeRequest.objects.get(pk=req.pk).state, _status(env)) == ("cancelled", "01")


@pytest.mark.parametrize(
    ("kind", "facts_key"),
    [
        ("suspension", "start_date"),
        ("resumption", "resume_date"),
        ("abroad", "departure_date"),
        ("reform_placement", "start_date"),
        ("reform_return", "return_date"),
    ],
)
def test_the_kinds_with_a_start_date_name_it(kind, facts_key):
    spec = kinds.get(kind)
    assert spec.effective_fact == facts_key
    assert spec.effective_on({facts_key: "2027-01-05"}) == date(2027, 1, 5)
    assert spec.effective_on({}) is None
    assert spec.effective_on({facts_key: "2027-02-30"}) is None  # not a date: applied at the approval


def test_the_kinds_without_one_take_effect_at_the_approval():
    for kind in ("transfer", "withdrawal", "death", "graduation", "key_data_change", "deferral"):
        assert kinds.get(kind).effective_on({"start_date": "2027-01-05"}) is None, kind


def test_a_class_move_after_the_approval_voids_a_scheduled_resumption(env):
    """A resumption writes the grade and class captured at submission: applied after a 调班 it would undo the
    move silently, so on its date it is void instead and the school is told."""
    from xueji.students.records import class_assign

    Enrollment.objects.filter(pk=env["e"].pk).update(status="02")  # 休学
    e = Enrollment.objects.select_related("school", "school__org").get(pk=env["e"].pk)
    req = change_submit(
        actor=env["reg"],
        kind="resumption",
        enrollment=e,
        facts={"resume_date": START.isoformat(), "grade_choice": "original"},
        today=DAY,
    )
    change_decide(actor=env["county"], request=req, action="approve", today=DAY)
    req.refresh_from_db()
    assert req.state == "scheduled"
    class_assign(actor=env["reg"], enrollments=[e], class_name="三(9)班")
    report = scheduled_changes_apply(actor=None, today=START)
    req.refresh_from_db()
    moved = Enrollment.objects.get(pk=e.pk)
    assert (report.voided, req.state, moved.class_name, moved.status) == (1, "cancelled", "三(9)班", "02")
    cancelled = AuditEvent.objects.filter(event_type=EventType.CHANGE_CANCELLED).latest("occurred_at")
    assert cancelled.after["code"] == "record_changed"
