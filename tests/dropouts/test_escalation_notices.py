"""第17条 逐级上报 (and 第5条 分级负责): an overdue case that goes up tells the department it went up to — a
needs-action notice to the pupil's county at the first step, the city at the second, the province at the third
(when it is still overdue) — once per step; the notice names the school, never the pupil; a follow-up marks the
notices done."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from tests.factories import changes as c
from tests.factories import core as f
from xueji.changes.models import Notification
from xueji.dropouts.enums import Escalation, FollowUpKind, Reason, Source
from xueji.dropouts.models import CaseEscalation, DropoutCase
from xueji.dropouts.services import case_open, cases_escalate, follow_up_add

pytestmark = pytest.mark.django_db
MONDAY = date(2026, 11, 23)
DUE = date(2026, 11, 30)  # 5 working days after MONDAY


@pytest.fixture
def s(tree):  # type: ignore[no-untyped-def]
    c.calendar()
    school = f.school("440105", "primary", name="海珠一小")
    return {
        "school": school,
        "pupil": c.enrolled(school, grade=4, name="林小雨"),
        "reg": f.registrar(school),
        "haizhu": c.dept_registrar("440105"),
        "county": f.dept("440105"),
        "city": f.dept("440100"),
        "province": f.dept("440000"),
    }


def _open(s: dict[str, Any], source: str = Source.SCHOOL) -> DropoutCase:
    return case_open(
        actor=s["reg"] if source == Source.SCHOOL else s["haizhu"],
        enrollment=s["pupil"],
        source=source,
        days_absent=10,
        last_seen=None,
        reason=Reason.STUDY_AVERSION,
        lead_from="派出所" if source == Source.LEAD else "",
        today=MONDAY,
    )


def _told(case: DropoutCase) -> list[tuple[int, str, bool]]:
    return [
        (n.org_unit_id, n.params["level"], n.needs_action)
        for n in Notification.objects.filter(notice="dropout_escalated", params__case=str(case.pk)).order_by(
            "id"
        )
    ]


def test_each_step_up_tells_the_department_of_that_level_once(s):  # type: ignore[no-untyped-def]
    case = _open(s)
    cases_escalate(today=DUE + timedelta(days=1), up_after=10, province_after=20)
    assert _told(case) == [(s["county"].pk, Escalation.COUNTY, True)]
    cases_escalate(today=DUE + timedelta(days=1), up_after=10, province_after=20)  # re-run: nobody told again
    assert len(_told(case)) == 1
    cases_escalate(today=date(2026, 12, 15), up_after=10, province_after=20)  # 11 working days late
    assert _told(case)[1:] == [(s["city"].pk, Escalation.CITY, True)]
    report = cases_escalate(today=date(2026, 12, 29), up_after=10, province_after=20)  # 21 working days late
    assert report.province == 1
    case.refresh_from_db()
    assert case.escalation == Escalation.PROVINCE
    assert _told(case)[2:] == [(s["province"].pk, Escalation.PROVINCE, True)]
    assert list(CaseEscalation.objects.filter(case=case).order_by("id").values_list("level", flat=True)) == [
        Escalation.COUNTY,
        Escalation.CITY,
        Escalation.PROVINCE,
    ]
    assert cases_escalate(today=date(2027, 3, 1), up_after=10, province_after=20).province == 0  # the top
    for n in Notification.objects.filter(notice="dropout_escalated"):
        assert "海珠一小" in n.text and "林小雨" not in n.text + str(n.params)  # the school, never the pupil
        assert "第十七条" in n.text


def test_a_lead_first_goes_to_the_city(s):  # type: ignore[no-untyped-def]
    case = _open(s, source=Source.LEAD)
    cases_escalate(today=DUE + timedelta(days=1), up_after=10, province_after=20)
    assert _told(case) == []
    cases_escalate(today=date(2026, 12, 15), up_after=10, province_after=20)
    assert _told(case) == [(s["city"].pk, Escalation.CITY, True)]


def test_a_follow_up_marks_the_escalation_notices_done(s):  # type: ignore[no-untyped-def]
    case = _open(s)
    late = date(2026, 12, 15)
    cases_escalate(today=late, up_after=10, province_after=20)
    assert Notification.objects.filter(notice="dropout_escalated", done_at__isnull=True).count() == 2
    follow_up_add(
        actor=s["reg"],
        case=case,
        on=late,
        kind=FollowUpKind.VISIT,
        people="班主任",
        result="家访",
        next_in_working_days=3,
        today=late,
    )
    assert not Notification.objects.filter(notice="dropout_escalated", done_at__isnull=True).exists()


def test_the_notice_goes_to_the_county_the_pupil_is_in_now(s):  # type: ignore[no-untyped-def]
    """After a merger or promotion moved the record, the case follows it and the notice goes to the new county."""
    from xueji.changes.kinds.common import move_to_school

    case = _open(s)
    tianhe_school = f.school("440106", "primary", name="天河一小")
    f.registrar(tianhe_school)
    move_to_school(s["pupil"], tianhe_school, grade=4, class_name="1班", leaving_status="07", actor=s["reg"])
    cases_escalate(today=DUE + timedelta(days=1), up_after=10, province_after=20)
    assert _told(case) == [(f.dept("440106").pk, Escalation.COUNTY, True)]
