"""The ledger rolled up per child unit (第5条 分级负责, 第17条): a city sees its counties, a county its schools —
open cases, the oldest open case's days, overdue follow-ups, escalated cases, returns per month — each number
equal to a direct count of the cases, counted where the pupil is enrolled NOW (not ``case.school``, stale after a
merger or transfer until someone writes the case); the page's unit filter (404 outside the jurisdiction) and
paging; the export's summary sheets, formula-safe."""

from __future__ import annotations

import io
from datetime import date, timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from tests.factories import changes as c
from tests.factories import core as f
from xueji.dropouts.enums import Outcome, Reason, Source, State
from xueji.dropouts.models import DropoutCase
from xueji.dropouts.queries import ledger_by_unit, month_starts
from xueji.dropouts.services import case_close, case_open
from xueji.regions.models import OrgUnit
from xueji.students.models import Enrollment

pytestmark = pytest.mark.django_db
MONDAY = date(2026, 11, 23)
TODAY = date(2026, 12, 10)


@pytest.fixture
def s(tree):  # type: ignore[no-untyped-def]
    c.calendar()
    one = f.school("440105", "primary", name="海珠一小")
    two = f.school("440105", "primary", name="海珠二小")
    tianhe = f.school("440106", "primary", name="天河一小")
    regs = {sch.pk: f.registrar(sch) for sch in (one, two, tianhe)}
    pupils = [
        c.enrolled(sch, grade=4, name=name)
        for name, sch in zip(("林小雨", "周大海", "陈小明", "王小红"), (one, one, two, tianhe), strict=True)
    ]
    cases = []
    for e in pupils:
        cases.append(
            case_open(
                actor=regs[e.school_id],
                enrollment=e,
                source=Source.SCHOOL,
                days_absent=10,
                last_seen=None,
                reason=Reason.WORK,
                today=MONDAY,
            )
        )
    # one returned this month at 海珠一小, one last month at 天河一小
    case_close(
        actor=regs[one.pk],
        case=cases[1],
        outcome=Outcome.RETURNED,
        returned_class="4年级1班",
        returned_on=date(2026, 12, 1),
        today=date(2026, 12, 2),
    )
    case_close(
        actor=regs[tianhe.pk],
        case=cases[3],
        outcome=Outcome.RETURNED,
        returned_class="4年级1班",
        returned_on=date(2026, 11, 25),
        today=date(2026, 11, 26),
    )
    DropoutCase.objects.filter(pk=cases[2].pk).update(next_follow_up=TODAY + timedelta(days=3))  # not overdue
    return {"one": one, "two": two, "tianhe": tianhe, "pupils": pupils, "cases": cases, "regs": regs}


def _direct(unit: OrgUnit, today: date) -> dict[int, dict[str, Any]]:
    """The roll-up counted case by case: an open case where its pupil's active record is, a closed one where it
    was closed."""
    months = month_starts(today)
    out: dict[int, dict[str, Any]] = {}
    for child in OrgUnit.objects.filter(parent=unit):
        mine = []
        for case in DropoutCase.objects.all():
            active = Enrollment.objects.filter(person_id=case.person_id, is_active=True).first()
            path = active.scope_path if case.state == State.OPEN and active else case.scope_path
            if path.startswith(child.path):
                mine.append(case)
        open_ = [x for x in mine if x.state == State.OPEN]
        out[child.pk] = {
            "open": len(open_),
            "overdue": sum(x.is_overdue(today) for x in mine),
            "oldest_days": max((x.days_open(today) for x in open_), default=0),
            "returned": tuple(
                sum(
                    1
                    for x in mine
                    if x.outcome == Outcome.RETURNED and x.returned_on and x.returned_on.replace(day=1) == m
                )
                for m in months
            ),
        }
    return out


def _rows(unit: OrgUnit, viewer: Any, today: date) -> dict[int, dict[str, Any]]:
    return {
        r.unit.pk: {
            "open": r.open,
            "overdue": r.overdue,
            "oldest_days": r.oldest_days,
            "returned": r.returned,
        }
        for r in ledger_by_unit(viewer=viewer, unit=unit, today=today)
    }


def test_the_roll_up_equals_direct_counts_at_city_and_county(s):  # type: ignore[no-untyped-def]
    city, haizhu, tianhe = f.dept("440100"), f.dept("440105"), f.dept("440106")
    by_county = _rows(city, c.dept_registrar("440100"), TODAY)
    assert by_county == _direct(city, TODAY)
    assert by_county[haizhu.pk]["open"] == 2 and by_county[haizhu.pk]["overdue"] == 1
    assert by_county[haizhu.pk]["oldest_days"] == (TODAY - MONDAY).days
    assert by_county[haizhu.pk]["returned"][:2] == (1, 0)
    assert by_county[tianhe.pk]["returned"][:2] == (0, 1)
    by_school = _rows(haizhu, c.dept_registrar("440105"), TODAY)
    assert by_school == _direct(haizhu, TODAY)
    assert set(by_school) == {s["one"].org_id, s["two"].org_id}
    province = f.dept("440000")
    assert _rows(province, c.dept_registrar("440000"), TODAY) == _direct(province, TODAY)


def test_a_moved_record_counts_where_the_pupil_is_now(s):  # type: ignore[no-untyped-def]
    """A merger (or a transfer before anyone wrote the case) moves the pupil's record: the open case counts at
    the new school and county at once, although ``case.school`` still names the old one."""
    city, haizhu, tianhe = f.dept("440100"), f.dept("440105"), f.dept("440106")
    moved = s["pupils"][0]
    Enrollment.objects.filter(pk=moved.pk).update(school=s["tianhe"], scope_path=s["tianhe"].org.path)
    case = DropoutCase.objects.get(pk=s["cases"][0].pk)
    assert case.school_id == s["one"].pk  # stale
    rows = _rows(city, c.dept_registrar("440100"), TODAY)
    assert rows == _direct(city, TODAY)
    assert (rows[haizhu.pk]["open"], rows[haizhu.pk]["overdue"]) == (1, 0)
    assert (rows[tianhe.pk]["open"], rows[tianhe.pk]["overdue"]) == (1, 1)
    # the county that lost the pupil no longer lists the case; the closed returns stay where they were closed
    assert _rows(haizhu, c.dept_registrar("440105"), TODAY)[s["one"].org_id]["open"] == 0
    assert _rows(tianhe, c.dept_registrar("440106"), TODAY)[s["tianhe"].org_id]["open"] == 1


def _login(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_page_lists_units_drills_down_and_pages(s, monkeypatch):  # type: ignore[no-untyped-def]
    city, haizhu = f.dept("440100"), f.dept("440105")
    client = _login(c.dept_registrar("440100"))
    html = client.get(reverse("dropouts:ledger")).content.decode()
    assert f'data-unit="{haizhu.pk}"' in html and 'data-testid="dropout-by-unit"' in html
    down = client.get(reverse("dropouts:ledger"), {"unit": haizhu.pk}).content.decode()
    assert f'data-unit="{s["one"].org_id}"' in down and f'data-unit="{s["tianhe"].org_id}"' not in down
    assert "林小雨" in down and "王小红" not in down  # the cases of the chosen unit only
    assert f'?unit={city.pk}"' in down  # back up to the city
    beijing = f.dept("110000")
    assert client.get(reverse("dropouts:ledger"), {"unit": beijing.pk}).status_code == 404
    assert client.get(reverse("dropouts:ledger"), {"unit": "x"}).status_code == 404
    assert (
        _login(s["regs"][s["one"].pk]).get(reverse("dropouts:ledger"), {"unit": haizhu.pk}).status_code == 404
    )
    monkeypatch.setattr("xueji.dropouts.views.UNITS_PER_PAGE", 1)
    first = client.get(reverse("dropouts:ledger")).content.decode()
    second = client.get(reverse("dropouts:ledger"), {"unit_page": 2}).content.decode()
    assert 'data-testid="unit-pager"' in first
    units = [u for u in OrgUnit.objects.filter(parent=city) if f'data-unit="{u.pk}"' in first + second]
    assert len(units) == 2 and first.count("data-unit=") == 1


def test_the_export_has_summary_sheets_equal_to_the_roll_up_and_formula_safe(s):  # type: ignore[no-untyped-def]
    from openpyxl import load_workbook

    haizhu = f.dept("440105")
    OrgUnit.objects.filter(pk=s["two"].org_id).update(name="=1+1海珠二小")
    response = _login(c.dept_registrar("440105")).get(reverse("dropouts:export"))
    assert response.status_code == 200
    wb = load_workbook(io.BytesIO(response.content))
    assert wb.sheetnames == ["控辍保学台账", "各单位汇总", "每月劝返复学"]
    summary = list(wb["各单位汇总"].iter_rows(values_only=True))
    assert summary[0][:5] == ("单位", "跟踪中案件", "跟踪逾期", "升级督办中", "最长立案天数")
    from django.utils import timezone

    today = timezone.localdate()
    expected = {
        r.unit.name: r for r in ledger_by_unit(viewer=c.dept_registrar("440105"), unit=haizhu, today=today)
    }
    for row in summary[1:-1]:
        r = expected[row[0]]
        assert row[1:5] == (r.open, r.overdue, r.escalated, r.oldest_days)
        assert tuple(row[5:]) == r.returned
    assert summary[-1][0] == "合计" and summary[-1][1] == sum(r.open for r in expected.values())
    cell = next(c for c in wb["各单位汇总"]["A"] if c.value == "=1+1海珠二小")
    assert cell.data_type == "s"  # text, never a formula
    monthly = list(wb["每月劝返复学"].iter_rows(values_only=True))
    assert len(monthly) == 13 and monthly[0] == ("月份", "劝返复学人数")
