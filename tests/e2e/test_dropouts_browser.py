"""Browser test of the dropout ledger 控辍保学台账 (第17条) in headless Chromium: a school registrar reports a pupil
from the student record, records a home visit, is refused closing as 劝返复学 without a class, then closes it; the
county sees the ledger and the case on a phone. Screenshots at 1280 px and 390 px go to ``var/screenshots/``."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.e2e.conftest import shot
from tests.factories import changes as c
from tests.factories import core as f
from xueji.dropouts.models import DropoutCase
from xueji.dropouts.services import case_open

pytestmark = pytest.mark.e2e


def _login(context: object, live_server: object, username: str) -> object:
    page = context.new_page()  # type: ignore[attr-defined]
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", f.PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    return page


@pytest.mark.django_db(transaction=True)
def test_report_follow_up_and_close_a_dropout(live_server, browser):  # type: ignore[no-untyped-def]
    f.departments()
    c.calendar()
    school = f.school("440105", "primary", name="海珠区第一小学")
    f.registrar(school, username="reg_school", display_name="王老师")
    f.user("dept_registrar", f.dept("440105"), username="haizhu", display_name="海珠区学籍科")
    pupil = c.enrolled(school, grade=3, name="林小雨")
    today = timezone.localdate().isoformat()

    # 1. Desktop: the school reports the pupil from the student record.
    desk = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = _login(desk, live_server, "reg_school")
    page.goto(live_server.url + reverse("students:detail", args=[pupil.person_id]))
    page.click("[data-testid=report-dropout]")
    page.select_option("#id_reason", "work")
    page.fill("#id_days_absent", "12")
    shot(page, "dropouts-open-1280")
    page.click("[data-testid=open-case]")
    page.wait_for_selector("[data-testid=case-summary]")
    case = DropoutCase.objects.get()
    assert case.source == "school" and case.days_absent == 12

    # 2. A home visit (劝返) sets the next follow-up on the working-day calendar.
    page.fill("#id_date", today)
    page.select_option("#id_kind", "visit")
    page.fill("#id_people", "班主任、村干部")
    page.fill("#id_result", "家长同意下周送回学校")
    page.fill("#id_next_in_working_days", "3")
    page.click("[data-testid=follow-up-form] button[type=submit]")
    page.wait_for_selector("[data-testid=follow-ups]")
    assert "家长同意下周送回学校" in page.inner_text("[data-testid=follow-ups]")

    # 3. 劝返复学 without a class is refused with a Chinese field error; with class and date it closes.
    page.select_option("#id_outcome", "returned")
    page.click("[data-testid=close-form] button[type=submit]")
    page.wait_for_selector("#id_returned_class-error")
    assert "复学班级" in page.inner_text("#id_returned_class-error")
    shot(page, "dropouts-close-error-1280")
    page.select_option("#id_outcome", "returned")
    page.fill("#id_returned_class", "3班")
    page.fill("#id_returned_on", today)
    page.click("[data-testid=close-form] button[type=submit]")
    page.wait_for_selector("[data-testid=case-outcome]")
    assert "劝返复学" in page.inner_text("[data-testid=case-outcome]")
    shot(page, "dropouts-case-1280")
    page.goto(live_server.url + reverse("dropouts:ledger"))
    assert page.inner_text("[data-testid=count-returned] .num") == "1"
    shot(page, "dropouts-ledger-1280")
    desk.close()

    # A second school's open case: the county's ledger then breaks the numbers down per school.
    second = f.school("440105", "primary", name="海珠区第二小学")
    case_open(
        actor=f.registrar(second),
        enrollment=c.enrolled(second, grade=2, name="周大海"),
        source="school",
        days_absent=20,
        last_seen=None,
        reason="illness",
    )

    # 4. Phone: the county sees the ledger and the case without sideways scrolling.
    phone = browser.new_context(
        viewport={"width": 390, "height": 844}, locale="zh-CN", is_mobile=True, has_touch=True
    )
    page = _login(phone, live_server, "haizhu")
    page.goto(live_server.url + reverse("dropouts:ledger"))
    assert "林小雨" in page.inner_text("[data-testid=dropout-cases]")
    assert "海珠区第二小学" in page.inner_text("[data-testid=dropout-by-school]")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(page, "dropouts-ledger-390")
    page.click("[data-testid=dropout-cases] a:text('林小雨')")
    page.wait_for_selector("[data-testid=case-summary]")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(page, "dropouts-case-390")
    phone.close()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("width", [1280, 390])
def test_county_enters_a_lead_and_sees_escalations(live_server, browser, width):  # type: ignore[no-untyped-def]
    """第17条: a lead from another department is entered by the county (a pupil of another county is "not found");
    an overdue school case escalated by the daily task shows on the ledger, with the returns per month."""
    from datetime import timedelta

    from xueji.dropouts.services import cases_escalate

    f.departments()
    c.calendar()
    school = f.school("440105", "primary", name="海珠区第一小学")
    other = f.school("440106", "primary", name="天河区实验小学")
    f.user("dept_registrar", f.dept("440105"), username="haizhu", display_name="海珠区学籍科")
    pupil = c.enrolled(school, grade=4, name="林小雨")
    elsewhere = c.enrolled(other, grade=4, name="陈晓东")
    late = case_open(
        actor=f.registrar(school),
        enrollment=c.enrolled(school, grade=5, name="周大海"),
        source="school",
        days_absent=20,
        last_seen=None,
        reason="illness",
        today=timezone.localdate() - timedelta(days=40),
    )
    cases_escalate()

    phone = width < 1000
    context = browser.new_context(
        viewport={"width": width, "height": 844 if phone else 900},
        locale="zh-CN",
        is_mobile=phone,
        has_touch=phone,
    )
    page = _login(context, live_server, "haizhu")
    page.goto(live_server.url + reverse("dropouts:ledger"))
    assert page.inner_text("[data-testid=count-escalated] .num") == "1"
    assert "已升级至地市级教育行政部门" in page.inner_text("[data-testid=dropout-cases]")
    assert page.locator("[data-testid=returns-by-month] tbody tr").count() == 12
    if phone:
        assert page.evaluate("document.documentElement.scrollWidth") <= width
    shot(page, f"dropouts-ledger-escalated-{width}")

    page.click("[data-testid=new-lead]")
    page.fill("#id_number", elsewhere.person.student_number)
    page.fill("#id_name", "陈晓东")
    page.fill("#id_lead_from", "城关派出所")
    page.select_option("#id_reason", "work")
    page.fill("#id_days_absent", "15")
    page.click("[data-testid=open-lead]")
    page.wait_for_selector("#id_number-error")
    assert "未找到" in page.inner_text("#id_number-error")
    assert DropoutCase.objects.count() == 1
    shot(page, f"dropouts-lead-not-found-{width}")
    page.fill("#id_number", pupil.person.student_number)
    page.fill("#id_name", "林小雨")
    page.click("[data-testid=open-lead]")
    page.wait_for_selector("[data-testid=case-summary]")
    assert "城关派出所" in page.inner_text("[data-testid=case-summary]")
    if phone:
        assert page.evaluate("document.documentElement.scrollWidth") <= width
    shot(page, f"dropouts-lead-case-{width}")

    page.goto(live_server.url + reverse("dropouts:case", args=[late.pk]))
    assert page.locator("[data-testid=escalations] tbody tr").count() == 2
    if phone:
        assert page.evaluate("document.documentElement.scrollWidth") <= width
    shot(page, f"dropouts-case-escalations-{width}")
    context.close()
