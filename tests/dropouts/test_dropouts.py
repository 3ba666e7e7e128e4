"""The dropout ledger 控辍保学台账 (第17条): who opens a case, compulsory education only, scope (404 and nothing
created), follow-ups on the working-day calendar, overdue cases, closing only with an enumerated outcome, the
ledger counts, the .xlsx export, and an audit that names the case and student but carries no personal data."""

from __future__ import annotations

import io
import json
from datetime import date, timedelta

import pytest
from django.db import IntegrityError, transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests.factories import changes as c
from tests.factories import core as f
from xueji.audit.enums import EventType
from xueji.audit.models import AuditEvent
from xueji.core.errors import ApplicationError, Conflict, FieldError, Forbidden
from xueji.dropouts.enums import FollowUpKind, Outcome, Reason, Source, State
from xueji.dropouts.models import DropoutCase
from xueji.dropouts.queries import case_list, ledger_by_school, ledger_counts
from xueji.dropouts.services import case_close, case_open, follow_up_add

pytestmark = pytest.mark.django_db
MONDAY = date(2026, 11, 23)
FRIDAY = date(2026, 11, 27)


@pytest.fixture
def s(tree):  # type: ignore[no-untyped-def]
    c.calendar()
    school = f.school("440105", "primary", name="海珠一小")
    sibling = f.school("440105", "primary", name="海珠二小")
    other = f.school("440106", "primary", name="天河一小")
    return {
        "school": school,
        "sibling": sibling,
        "pupil": c.enrolled(school, grade=3, name="林小雨"),
        "reg": f.registrar(school),
        "reg_sibling": f.registrar(sibling),
        "reg_other": f.registrar(other),
        "haizhu": c.dept_registrar("440105"),
        "tianhe": c.dept_registrar("440106"),
    }


def _open(s, *, actor=None, source=Source.SCHOOL, today=MONDAY):  # type: ignore[no-untyped-def]
    return case_open(
        actor=actor or s["reg"],
        enrollment=s["pupil"],
        source=source,
        days_absent=12,
        last_seen=today - timedelta(days=14),
        reason=Reason.WORK,
        lead_from="城关派出所" if source == Source.LEAD else "",
        today=today,
    )


def _login(user):  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(user)
    return client


# ---------------------------------------------------------------------------------------------- opening a case


def test_school_registrar_opens_case_with_first_follow_up_on_working_days(s):  # type: ignore[no-untyped-def]
    case = _open(s, today=FRIDAY)
    assert case.state == State.OPEN
    assert case.scope_path == s["pupil"].scope_path
    assert case.school_id == s["school"].pk
    # 5 working days after Friday 2026-11-27: Mon..Fri of the next week → Friday 2026-12-04.
    assert case.next_follow_up == date(2026, 12, 4)


def test_senior_pupil_is_refused_with_a_field_error(s):  # type: ignore[no-untyped-def]
    senior = f.school("440105", "senior", name="海珠高中")
    pupil = c.enrolled(senior, grade=10, name="高一生")
    with pytest.raises(FieldError) as exc:
        case_open(
            actor=f.registrar(senior),
            enrollment=pupil,
            source=Source.SCHOOL,
            days_absent=3,
            last_seen=None,
            reason=Reason.OTHER,
            today=MONDAY,
        )
    assert exc.value.code == "not_compulsory"
    assert "义务教育" in exc.value.fields["person"]
    assert not DropoutCase.objects.exists()


def test_school_report_only_by_the_pupils_school(s):  # type: ignore[no-untyped-def]
    with pytest.raises(Forbidden):
        _open(s, actor=s["haizhu"], source=Source.SCHOOL)
    assert not DropoutCase.objects.exists()


def test_lead_only_by_a_department_registrar_over_the_pupil(s):  # type: ignore[no-untyped-def]
    with pytest.raises(Forbidden):
        _open(s, actor=s["reg"], source=Source.LEAD)
    with pytest.raises(Forbidden):
        _open(s, actor=s["tianhe"], source=Source.LEAD)
    case = _open(s, actor=s["haizhu"], source=Source.LEAD)
    assert case.source == Source.LEAD


def test_one_open_case_per_pupil(s):  # type: ignore[no-untyped-def]
    _open(s)
    with pytest.raises(Conflict):
        _open(s)
    assert DropoutCase.objects.count() == 1


def test_future_last_seen_is_refused(s):  # type: ignore[no-untyped-def]
    with pytest.raises(FieldError) as exc:
        case_open(
            actor=s["reg"],
            enrollment=s["pupil"],
            source=Source.SCHOOL,
            days_absent=1,
            last_seen=MONDAY + timedelta(days=1),
            reason=Reason.WORK,
            today=MONDAY,
        )
    assert exc.value.field == "last_seen"


# ----------------------------------------------------------------------------------------------------- scope


def test_out_of_scope_report_is_404_and_creates_nothing(s):  # type: ignore[no-untyped-def]
    url = reverse("dropouts:open", args=[s["pupil"].person_id])
    data = {"source": "school", "reason": "work", "days_absent": "10", "last_seen": ""}
    for outsider in (s["reg_sibling"], s["reg_other"], s["tianhe"]):
        assert _login(outsider).post(url, data).status_code == 404
        assert _login(outsider).get(url).status_code == 404
    assert not DropoutCase.objects.exists()
    assert not AuditEvent.objects.filter(event_type=EventType.DROPOUT_OPENED).exists()


def test_case_pages_are_404_outside_scope(s):  # type: ignore[no-untyped-def]
    case = _open(s)
    for outsider in (s["reg_sibling"], s["tianhe"]):
        client = _login(outsider)
        assert client.get(reverse("dropouts:case", args=[case.pk])).status_code == 404
        response = client.post(reverse("dropouts:close", args=[case.pk]), {"outcome": "death"})
        assert response.status_code == 404
        response = client.post(
            reverse("dropouts:follow_up", args=[case.pk]),
            {
                "date": "2026-11-23",
                "kind": "phone",
                "people": "王老师",
                "result": "无人接听",
                "next_in_working_days": "3",
            },
        )
        assert response.status_code == 404
    case.refresh_from_db()
    assert case.state == State.OPEN
    assert not case.follow_ups.exists()


def test_ledger_lists_only_the_viewers_cases(s):  # type: ignore[no-untyped-def]
    case = _open(s)
    assert list(case_list(viewer=s["reg"], today=MONDAY)) == [case]
    assert list(case_list(viewer=s["haizhu"], today=MONDAY)) == [case]
    assert list(case_list(viewer=s["reg_sibling"], today=MONDAY)) == []
    assert list(case_list(viewer=s["tianhe"], today=MONDAY)) == []
    page = _login(s["reg_sibling"]).get(reverse("dropouts:ledger"))
    assert page.status_code == 200
    assert "林小雨" not in page.content.decode()


# ------------------------------------------------------------------------------------ follow-ups and overdue


def test_follow_up_sets_next_date_on_the_working_day_calendar(s):  # type: ignore[no-untyped-def]
    case = _open(s, today=MONDAY)
    follow = follow_up_add(
        actor=s["reg"],
        case=case,
        on=FRIDAY,
        kind=FollowUpKind.VISIT,
        people="班主任、村干部",
        result="家长同意下周送回学校",
        next_in_working_days=1,
        today=FRIDAY,
    )
    assert follow.next_date == date(2026, 11, 30)  # Friday + 1 working day = Monday
    case.refresh_from_db()
    assert case.next_follow_up == date(2026, 11, 30)


def test_follow_up_dates_are_checked(s):  # type: ignore[no-untyped-def]
    case = _open(s, today=FRIDAY)
    base = {
        "actor": s["reg"],
        "case": case,
        "kind": FollowUpKind.PHONE,
        "people": "王老师",
        "result": "无人接听",
    }
    with pytest.raises(FieldError) as exc:
        follow_up_add(**base, on=MONDAY, next_in_working_days=3, today=FRIDAY)
    assert exc.value.field == "date"
    with pytest.raises(FieldError) as exc:
        follow_up_add(**base, on=FRIDAY, next_in_working_days=0, today=FRIDAY)
    assert exc.value.field == "next_in_working_days"
    assert not case.follow_ups.exists()


def test_case_past_its_next_follow_up_is_overdue(s):  # type: ignore[no-untyped-def]
    case = _open(s, today=MONDAY)
    due = case.next_follow_up
    assert not case.is_overdue(due)
    assert case.is_overdue(due + timedelta(days=1))
    assert ledger_counts(viewer=s["haizhu"], today=due).overdue == 0
    assert ledger_counts(viewer=s["haizhu"], today=due + timedelta(days=1)).overdue == 1
    assert list(case_list(viewer=s["haizhu"], overdue=True, today=due + timedelta(days=1))) == [case]
    assert list(case_list(viewer=s["haizhu"], overdue=True, today=due)) == []


def test_ledger_page_shows_overdue_count(s):  # type: ignore[no-untyped-def]
    case = _open(s, today=MONDAY)
    DropoutCase.objects.filter(pk=case.pk).update(next_follow_up=timezone.localdate() - timedelta(days=1))
    page = _login(s["haizhu"]).get(reverse("dropouts:ledger") + "?overdue=on")
    body = page.content.decode()
    assert page.status_code == 200
    assert "林小雨" in body
    assert "逾期" in body


# ---------------------------------------------------------------------------------------------------- closing


def test_returned_to_school_needs_class_and_date(s):  # type: ignore[no-untyped-def]
    case = _open(s, today=MONDAY)
    with pytest.raises(ApplicationError) as exc:
        case_close(actor=s["reg"], case=case, outcome=Outcome.RETURNED, today=FRIDAY)
    assert set(exc.value.fields) == {"returned_class", "returned_on"}
    case.refresh_from_db()
    assert case.state == State.OPEN
    closed = case_close(
        actor=s["reg"],
        case=case,
        outcome=Outcome.RETURNED,
        returned_class="3班",
        returned_on=FRIDAY,
        today=FRIDAY,
    )
    assert (closed.state, closed.returned_class, closed.returned_on) == (State.CLOSED, "3班", FRIDAY)
    assert closed.next_follow_up is None
    assert ledger_counts(viewer=s["haizhu"], today=FRIDAY).returned_this_month == 1
    assert ledger_counts(viewer=s["haizhu"], today=FRIDAY).open == 0


def test_other_outcome_needs_a_county_user_and_a_note(s):  # type: ignore[no-untyped-def]
    case = _open(s)
    with pytest.raises(Forbidden) as exc:
        case_close(actor=s["reg"], case=case, outcome=Outcome.OTHER, note="随父母外出")
    assert exc.value.code == "county_approval_required"
    with pytest.raises(FieldError) as field_exc:
        case_close(actor=s["haizhu"], case=case, outcome=Outcome.OTHER, note="")
    assert field_exc.value.field == "note"
    closed = case_close(actor=s["haizhu"], case=case, outcome=Outcome.OTHER, note="经县教育局批准")
    assert closed.outcome == Outcome.OTHER


def test_cannot_close_without_outcome_or_twice(s):  # type: ignore[no-untyped-def]
    case = _open(s)
    with pytest.raises(FieldError) as exc:
        case_close(actor=s["reg"], case=case, outcome="")
    assert exc.value.field == "outcome"
    case_close(actor=s["reg"], case=case, outcome=Outcome.HOME_TEACHING)
    with pytest.raises(Conflict):
        case_close(actor=s["reg"], case=case, outcome=Outcome.TRANSFERRED)
    with pytest.raises(Conflict):
        follow_up_add(
            actor=s["reg"],
            case=case,
            on=MONDAY,
            kind="phone",
            people="王老师",
            result="—",
            next_in_working_days=2,
        )


def test_database_refuses_a_silent_close(s):  # type: ignore[no-untyped-def]
    case = _open(s)
    with pytest.raises(IntegrityError), transaction.atomic():
        DropoutCase.objects.filter(pk=case.pk).update(state=State.CLOSED, closed_at=timezone.now())


def test_close_form_shows_chinese_field_error(s):  # type: ignore[no-untyped-def]
    case = _open(s)
    response = _login(s["reg"]).post(reverse("dropouts:close", args=[case.pk]), {"outcome": "returned"})
    assert response.status_code == 400
    assert "劝返复学须填写复学班级" in response.content.decode()
    case.refresh_from_db()
    assert case.state == State.OPEN


def test_pages_open_follow_up_and_close(s):  # type: ignore[no-untyped-def]
    client = _login(s["reg"])
    response = client.post(
        reverse("dropouts:open", args=[s["pupil"].person_id]),
        {"source": "school", "reason": "aversion", "days_absent": "15", "last_seen": ""},
    )
    case = DropoutCase.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("dropouts:case", args=[case.pk])
    today = timezone.localdate().isoformat()
    response = client.post(
        reverse("dropouts:follow_up", args=[case.pk]),
        {
            "date": today,
            "kind": "visit",
            "people": "班主任",
            "result": "家长同意返校",
            "next_in_working_days": "5",
        },
    )
    assert response.status_code == 302
    response = client.post(
        reverse("dropouts:close", args=[case.pk]),
        {"outcome": "returned", "returned_class": "3班", "returned_on": today},
    )
    assert response.status_code == 302
    page = client.get(reverse("dropouts:case", args=[case.pk])).content.decode()
    assert "家长同意返校" in page and "劝返复学" in page
    case.refresh_from_db()
    assert case.days_open(timezone.localdate()) == 0  # the local date of closing, not the UTC one


# ---------------------------------------------------------------------------------------------- audit, export


def test_audit_names_case_and_student_but_no_personal_data(s):  # type: ignore[no-untyped-def]
    case = _open(s)
    follow_up_add(
        actor=s["reg"],
        case=case,
        on=MONDAY,
        kind="visit",
        people="班主任张老师",
        result="母亲说孩子在外打工",
        next_in_working_days=2,
        today=MONDAY,
    )
    case_close(
        actor=s["reg"],
        case=case,
        outcome=Outcome.RETURNED,
        returned_class="3班",
        returned_on=MONDAY,
        today=MONDAY,
    )
    events = list(AuditEvent.objects.filter(event_type__startswith="dropout."))
    assert {e.event_type for e in events} == {
        EventType.DROPOUT_OPENED,
        EventType.DROPOUT_FOLLOWED_UP,
        EventType.DROPOUT_CLOSED,
    }
    for e in events:
        assert e.subject_type == "student" and e.subject_id == str(case.person_id)
        assert str(case.pk) in e.summary
        text = json.dumps([e.summary, e.before, e.after], ensure_ascii=False)
        for secret in ("林小雨", "张老师", "打工", Reason.WORK.value, str(Reason.WORK.label), "3班"):
            assert secret not in text


def test_export_is_xlsx_of_the_viewers_cases_and_audited(s):  # type: ignore[no-untyped-def]
    from openpyxl import load_workbook

    _open(s)
    response = _login(s["haizhu"]).get(reverse("dropouts:export"))
    assert response.status_code == 200
    ws = load_workbook(io.BytesIO(response.content)).active
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0][:2] == ("学校", "姓名")
    assert [r[1] for r in rows[1:]] == ["林小雨"]
    event = AuditEvent.objects.get(event_type=EventType.DROPOUT_EXPORTED)
    assert event.after == {"rows": 1}
    assert "林小雨" not in json.dumps([event.summary, event.after], ensure_ascii=False)
    # another county's export holds none of them
    response = _login(s["tianhe"]).get(reverse("dropouts:export"))
    rows = list(load_workbook(io.BytesIO(response.content)).active.iter_rows(values_only=True))
    assert len(rows) == 1


def test_ledger_by_school_equals_direct_counts(s):  # type: ignore[no-untyped-def]
    sibling_school = s["sibling"]
    other_pupil = c.enrolled(sibling_school, grade=2, name="周大海")
    _open(s, today=MONDAY)
    late = case_open(
        actor=s["reg_sibling"],
        enrollment=other_pupil,
        source=Source.SCHOOL,
        days_absent=30,
        last_seen=None,
        reason=Reason.ILLNESS,
        today=MONDAY,
    )
    later = late.next_follow_up + timedelta(days=1)
    rows = {r["school_id"]: r for r in ledger_by_school(viewer=s["haizhu"], today=later)}
    for school_id, row in rows.items():
        mine = DropoutCase.objects.filter(school_id=school_id)
        assert row["open"] == mine.filter(state=State.OPEN).count()
        assert row["overdue"] == sum(case.is_overdue(later) for case in mine)
    assert set(rows) == {s["school"].pk, sibling_school.pk}
    assert ledger_by_school(viewer=s["reg"], today=later) == [
        {
            "school_id": s["school"].pk,
            "school__name": "海珠一小",
            "open": 1,
            "overdue": 1,
            "escalated": 0,
            "returned": 0,
        }
    ]
    assert ledger_by_school(viewer=s["tianhe"], today=later) == []


def test_an_open_case_follows_the_pupil_to_the_new_school(s):  # type: ignore[no-untyped-def]
    """After a transfer the school now responsible (and its county) see and follow up the case; the former
    school no longer sees it (第17条; a former school sees only its frozen copy of the record)."""
    from xueji.changes.kinds.common import move_to_school

    case = _open(s, today=MONDAY)
    move_to_school(
        s["pupil"], s["sibling"], grade=3, class_name="2班", leaving_status="10", actor=s["reg_sibling"]
    )
    assert [c.pk for c in case_list(viewer=s["reg_sibling"], today=FRIDAY)] == [case.pk]
    assert list(case_list(viewer=s["reg"], today=FRIDAY)) == []
    follow_up_add(
        actor=s["reg_sibling"],
        case=case,
        on=FRIDAY,
        kind=FollowUpKind.PHONE,
        people="班主任",
        result="已联系监护人",
        next_in_working_days=2,
        today=FRIDAY,
    )
    case.refresh_from_db()
    assert case.school_id == s["sibling"].pk
    with pytest.raises((Forbidden, ApplicationError)):
        follow_up_add(
            actor=s["reg"],
            case=case,
            on=FRIDAY,
            kind=FollowUpKind.PHONE,
            people="班主任",
            result="x",
            next_in_working_days=2,
            today=FRIDAY,
        )


def test_a_pupil_on_approved_suspension_is_no_dropout(s):  # type: ignore[no-untyped-def]
    from xueji.students.models import Enrollment

    Enrollment.objects.filter(pk=s["pupil"].pk).update(status="02")
    s["pupil"].refresh_from_db()
    with pytest.raises(FieldError) as exc:
        _open(s)
    assert exc.value.code == "suspended"
    assert not DropoutCase.objects.exists()


def test_ledger_exports_are_rate_limited(s, settings):  # type: ignore[no-untyped-def]
    settings.XUEJI_RATE_LIMITS = {**settings.XUEJI_RATE_LIMITS, "export": (1, 86400)}
    client = _login(s["haizhu"])
    assert client.get(reverse("dropouts:export")).status_code == 200
    assert client.get(reverse("dropouts:export")).status_code == 429
    assert AuditEvent.objects.filter(event_type=EventType.DROPOUT_EXPORTED).count() == 1
