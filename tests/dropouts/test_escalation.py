"""Escalation of overdue follow-ups (第17条 动态跟踪处理控辍保学台账; 第5条 分级负责): the daily task moves a school's
case whose next follow-up date has passed to the county, and any case overdue by more than N working days (a
setting) up to the city; the levels and their history show on the case and the ledger; a follow-up brings the
case back; re-running changes nothing. Also the ledger's returns per month."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from tests.factories import changes as c
from tests.factories import core as f
from xueji.audit.models import AuditEvent
from xueji.dropouts.enums import EVENT_ESCALATED, Escalation, FollowUpKind, Outcome, Reason, Source
from xueji.dropouts.models import CaseEscalation, DropoutCase
from xueji.dropouts.queries import case_list, ledger_counts, returns_by_month
from xueji.dropouts.services import case_close, case_open, cases_escalate, follow_up_add
from xueji.dropouts.tasks import escalate_overdue

pytestmark = pytest.mark.django_db
MONDAY = date(2026, 11, 23)  # first follow-up due 5 working days later: Monday 2026-11-30
DUE = date(2026, 11, 30)


@pytest.fixture
def s(tree):  # type: ignore[no-untyped-def]
    c.calendar()
    school = f.school("440105", "primary", name="海珠一小")
    return {
        "school": school,
        "pupil": c.enrolled(school, grade=4, name="林小雨"),
        "second": c.enrolled(school, grade=5, name="周大海"),
        "reg": f.registrar(school),
        "haizhu": c.dept_registrar("440105"),
        "city": c.dept_registrar("440100"),
    }


def _open(s: dict[str, Any], *, pupil: str = "pupil", source: str = Source.SCHOOL) -> DropoutCase:
    return case_open(
        actor=s["reg"] if source == Source.SCHOOL else s["haizhu"],
        enrollment=s[pupil],
        source=source,
        days_absent=10,
        last_seen=None,
        reason=Reason.STUDY_AVERSION,
        lead_from="派出所" if source == Source.LEAD else "",
        today=MONDAY,
    )


def test_first_follow_up_date_is_on_the_working_day_calendar(s):  # type: ignore[no-untyped-def]
    """第17条 dynamic tracking on the official calendar: 5 working days after Monday 2026-11-23."""
    assert _open(s).next_follow_up == DUE


def test_school_case_goes_to_the_county_the_day_after_its_follow_up_date(s):  # type: ignore[no-untyped-def]
    case = _open(s)
    assert cases_escalate(today=DUE, up_after=10).county == 0  # due today: not late yet
    report = cases_escalate(today=DUE + timedelta(days=1), up_after=10)
    case.refresh_from_db()
    assert (report.county, report.city) == (1, 0)
    assert case.escalation == Escalation.COUNTY
    [step] = CaseEscalation.objects.filter(case=case)
    assert (step.level, step.missed, step.on, step.working_days_overdue) == (
        Escalation.COUNTY,
        DUE,
        DUE + timedelta(days=1),
        1,
    )
    event = AuditEvent.objects.get(event_type=EVENT_ESCALATED)
    assert (event.after["kind"], event.after["overdue"]) == (Escalation.COUNTY, 1)
    assert event.actor_id is None
    assert "林小雨" not in str(event.after) + event.summary


def test_overdue_by_more_than_n_working_days_goes_up_to_the_city(s):  # type: ignore[no-untyped-def]
    """第5条: 10 working days after 2026-11-30 is Monday 2026-12-14 — still the county's; Tuesday goes up."""
    case = _open(s)
    cases_escalate(today=date(2026, 12, 14), up_after=10)
    case.refresh_from_db()
    assert case.escalation == Escalation.COUNTY
    report = cases_escalate(today=date(2026, 12, 15), up_after=10)
    case.refresh_from_db()
    assert (report.county, report.city) == (0, 1)
    assert case.escalation == Escalation.CITY
    assert list(case.escalations.order_by("id").values_list("level", "working_days_overdue")) == [
        (Escalation.COUNTY, 10),
        (Escalation.CITY, 11),
    ]


def test_weekend_days_do_not_count_towards_going_up(s, settings):  # type: ignore[no-untyped-def]
    """The N of the setting is working days: Saturday and Sunday after the due day do not count."""
    settings.XUEJI_DROPOUT_ESCALATE_UP_WORKING_DAYS = 4
    case = _open(s)
    DropoutCase.objects.filter(pk=case.pk).update(next_follow_up=date(2026, 12, 4))
    # Friday 12-04 due; Thursday 12-10 is 4 working days later (Mon–Thu): not more than 4.
    cases_escalate(today=date(2026, 12, 10))
    case.refresh_from_db()
    assert case.escalation == Escalation.COUNTY
    cases_escalate(today=date(2026, 12, 11))
    case.refresh_from_db()
    assert case.escalation == Escalation.CITY


def test_the_daily_task_escalates_as_of_today(s):  # type: ignore[no-untyped-def]
    from django.utils import timezone

    case = _open(s)
    DropoutCase.objects.filter(pk=case.pk).update(next_follow_up=timezone.localdate() - timedelta(days=60))
    assert escalate_overdue.call() == {"county": 1, "city": 1, "province": 1}
    case.refresh_from_db()
    assert case.escalation == Escalation.PROVINCE


def test_a_lead_is_the_countys_own_and_only_goes_up_to_the_city(s):  # type: ignore[no-untyped-def]
    case = _open(s, source=Source.LEAD)
    assert cases_escalate(today=DUE + timedelta(days=1), up_after=10) == type(
        cases_escalate(today=DUE, up_after=10)
    )(county=0, city=0)
    case.refresh_from_db()
    assert case.escalation == Escalation.NONE
    cases_escalate(today=date(2026, 12, 15), up_after=10)
    case.refresh_from_db()
    assert case.escalation == Escalation.CITY
    assert list(case.escalations.values_list("level", flat=True)) == [Escalation.CITY]


def test_escalation_runs_once_a_day_and_never_moves_down(s):  # type: ignore[no-untyped-def]
    case = _open(s)
    day = DUE + timedelta(days=2)
    cases_escalate(today=day, up_after=10)
    again = cases_escalate(today=day, up_after=10)
    assert (again.county, again.city) == (0, 0)
    assert CaseEscalation.objects.count() == 1
    cases_escalate(today=date(2026, 12, 20), up_after=10)
    cases_escalate(today=date(2026, 12, 21), up_after=50)  # a larger setting does not bring it down
    case.refresh_from_db()
    assert case.escalation == Escalation.CITY


def test_a_follow_up_brings_the_case_back_and_keeps_the_history(s):  # type: ignore[no-untyped-def]
    case = _open(s)
    late = DUE + timedelta(days=1)
    cases_escalate(today=late, up_after=10)
    follow_up_add(
        actor=s["reg"],
        case=case,
        on=late,
        kind=FollowUpKind.VISIT,
        people="班主任",
        result="家访，监护人同意督促返校",
        next_in_working_days=3,
        today=late,
    )
    case.refresh_from_db()
    assert case.escalation == Escalation.NONE
    assert CaseEscalation.objects.filter(case=case).count() == 1
    assert cases_escalate(today=late + timedelta(days=1), up_after=10).county == 0


def test_closed_cases_are_never_escalated(s):  # type: ignore[no-untyped-def]
    case = _open(s)
    case_close(
        actor=s["reg"],
        case=case,
        outcome=Outcome.RETURNED,
        returned_class="4年级2班",
        returned_on=MONDAY + timedelta(days=1),
        today=MONDAY + timedelta(days=1),
    )
    assert cases_escalate(today=date(2026, 12, 31), up_after=10).county == 0
    assert not CaseEscalation.objects.exists()


def test_ledger_and_case_show_the_escalation(s):  # type: ignore[no-untyped-def]
    case = _open(s)
    _open(s, pupil="second")
    cases_escalate(today=date(2026, 12, 15), up_after=10)
    DropoutCase.objects.filter(person=s["second"].person).update(escalation=Escalation.COUNTY)
    assert ledger_counts(viewer=s["haizhu"], today=date(2026, 12, 15)).escalated == 2
    only_city = case_list(viewer=s["city"], escalation=Escalation.CITY, today=date(2026, 12, 15))
    assert [x.pk for x in only_city] == [case.pk]
    both = case_list(viewer=s["haizhu"], escalation="any", today=date(2026, 12, 15))
    assert both.count() == 2
    client = Client()
    client.force_login(s["haizhu"])
    ledger = client.get(reverse("dropouts:ledger"), {"escalation": "city"}).content.decode()
    assert ledger.count('data-testid="row-escalation"') == 1 and "已升级至地市级教育行政部门" in ledger
    page = client.get(reverse("dropouts:case", args=[case.pk])).content.decode()
    assert 'data-testid="escalations"' in page and "2026-11-30" in page


def test_returns_per_month_on_the_ledger(s):  # type: ignore[no-untyped-def]
    """The monthly report's figure (第17条): pupils returned to school per month of their return."""
    first = _open(s)
    second = _open(s, pupil="second")
    case_close(
        actor=s["reg"],
        case=first,
        outcome=Outcome.RETURNED,
        returned_class="4年级1班",
        returned_on=date(2026, 11, 25),
        today=date(2026, 11, 26),
    )
    case_close(
        actor=s["reg"],
        case=second,
        outcome=Outcome.RETURNED,
        returned_class="5年级1班",
        returned_on=date(2026, 12, 2),
        today=date(2026, 12, 3),
    )
    rows = returns_by_month(viewer=s["haizhu"], today=date(2026, 12, 10), months=3)
    assert rows == [(date(2026, 12, 1), 1), (date(2026, 11, 1), 1), (date(2026, 10, 1), 0)]
    assert returns_by_month(viewer=f.registrar(f.school("440106", "primary")), today=date(2026, 12, 10))[
        0
    ] == (
        date(2026, 12, 1),
        0,
    )


def test_a_weekend_after_the_due_date_is_not_yet_late(s):  # type: ignore[no-untyped-def]
    """Overdue is counted in working days (第17条 on the official calendar): a case due Friday is not escalated on
    Saturday or Sunday, only on Monday."""
    case = case_open(
        actor=s["reg"],
        enrollment=s["pupil"],
        source=Source.SCHOOL,
        days_absent=10,
        last_seen=None,
        reason=Reason.STUDY_AVERSION,
        today=date(2026, 11, 20),  # Friday: follow-up due Friday 2026-11-27
    )
    assert case.next_follow_up == date(2026, 11, 27)
    assert cases_escalate(today=date(2026, 11, 28), up_after=10).county == 0  # Saturday
    assert cases_escalate(today=date(2026, 11, 29), up_after=10).county == 0  # Sunday
    assert cases_escalate(today=date(2026, 11, 30), up_after=10).county == 1  # Monday
