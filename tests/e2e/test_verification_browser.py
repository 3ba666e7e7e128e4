"""Browser test of the semester verification 学籍核查 (第25条) in headless Chromium: the province opens a round,
a school registrar (on a phone) finds a pupil on the roster, marks 人籍分离 and submits; the county accepts from
its review queue; the province sees the progress with its totals and drills down to the county's schools.
Screenshots at 1280 px and 390 px go to ``var/screenshots/``."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.e2e.conftest import shot
from tests.factories import changes as c
from tests.factories import core as f
from xueji.verification.models import SchoolReturn, VerificationRound

pytestmark = pytest.mark.e2e
DESK = {"viewport": {"width": 1280, "height": 900}, "locale": "zh-CN"}
PHONE = {"viewport": {"width": 390, "height": 844}, "locale": "zh-CN", "is_mobile": True, "has_touch": True}


def _login(context: Any, live_server: Any, username: str) -> Any:
    page = context.new_page()
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", f.PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    return page


def _fits(page: Any) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


@pytest.mark.django_db(transaction=True)
def test_school_submits_county_accepts_province_sees_progress(live_server, browser):  # type: ignore[no-untyped-def]
    f.departments()
    school = f.school("440105", "primary", name="海珠区第一小学")
    f.school("440105", "primary", name="海珠区第二小学")
    f.school("440106", "primary", name="天河区华景小学")
    f.registrar(school, username="reg_school", display_name="王老师")
    f.user("dept_registrar", f.dept("440105"), username="haizhu", display_name="海珠区学籍科")
    f.user("dept_registrar", f.dept("440000"), username="gd", display_name="广东省学籍科")
    c.enrolled(school, grade=3, name="林小雨")
    c.enrolled(school, grade=3, name="陈大海")
    deadline = (timezone.localdate() + timedelta(days=14)).isoformat()

    # 1. Desktop: the province opens the round.
    desk = browser.new_context(**DESK)
    page = _login(desk, live_server, "gd")
    page.goto(live_server.url + reverse("verification:index"))
    page.click("[data-testid=open-round]")
    page.fill("#id_title", "2026—2027学年第一学期学籍核查")
    page.fill("#id_deadline", deadline)
    shot(page, "verification-open-1280")
    page.click("[data-testid=open-submit]")
    page.wait_for_selector("[data-testid=progress]")
    rnd = VerificationRound.objects.get()
    assert SchoolReturn.objects.filter(round=rnd).count() == 3
    assert page.inner_text("[data-testid=total-total]") == "3"
    desk.close()

    # 2. Phone: the school registrar searches the roster, marks 人籍分离 and submits.
    phone = browser.new_context(**PHONE)
    page = _login(phone, live_server, "reg_school")
    page.goto(live_server.url + reverse("verification:index"))
    page.click("[data-testid=my-returns] a:text('2026—2027学年第一学期学籍核查')")
    page.wait_for_selector("[data-testid=roster]")
    page.fill("#r-q", "林小雨")
    page.wait_for_selector("#roster :text('陈大海')", state="detached")
    _fits(page)
    page.click("[data-testid=roster] [data-testid=mark]")
    page.wait_for_selector("[data-testid=finding-form]")
    page.check("input[name=kind][value=absent]")
    page.click("[data-testid=save-finding]")
    page.wait_for_selector("#id_whereabouts-error")
    assert "学生去向" in page.inner_text("#id_whereabouts-error")
    page.check("input[name=kind][value=absent]")
    page.select_option("#id_whereabouts", "not_in_school")
    page.fill("#id_detail", "开学以来未到校，监护人外出务工")
    _fits(page)
    shot(page, "verification-mark-390")
    page.click("[data-testid=save-finding]")
    page.wait_for_selector("[data-testid=finding-badge]")
    assert page.inner_text("[data-testid=count-absent]") == "1"
    assert "林小雨" in page.inner_text("[data-testid=to-report]")  # offer to report the dropout (第17条)
    _fits(page)
    shot(page, "verification-return-390")
    page.click("[data-testid=submit-return]")
    page.wait_for_selector(".msg-success")
    assert "已提交待审核" in page.inner_text("[data-testid=return-state]")
    shot(page, "verification-submitted-390")
    phone.close()

    # 3. Desktop: the county accepts from its queue.
    desk = browser.new_context(**DESK)
    page = _login(desk, live_server, "haizhu")
    page.goto(live_server.url + reverse("verification:review", args=[rnd.pk]) + "?state=submitted")
    assert "海珠区第一小学" in page.inner_text("[data-testid=review-queue]")
    shot(page, "verification-review-1280")
    page.click("[data-testid=review-queue] a:text('海珠区第一小学')")
    page.wait_for_selector("[data-testid=review-panel]")
    page.fill("#id_note", "核查结果属实")
    shot(page, "verification-decide-1280")
    page.click("[data-testid=accept]")
    page.wait_for_selector(".msg-success")
    assert SchoolReturn.objects.get(round=rnd, school=school).state == "accepted"
    desk.close()

    # 4. Province, desktop and phone: the progress per city, drill-down to the county's schools.
    for ctx, name in ((DESK, "1280"), (PHONE, "390")):
        context = browser.new_context(**ctx)
        page = _login(context, live_server, "gd")
        page.goto(live_server.url + reverse("verification:round", args=[rnd.pk]))
        assert page.inner_text("[data-testid=total-accepted]") == "1"
        assert page.inner_text("[data-testid=total-total]") == "3"
        assert "合计" in page.inner_text("[data-testid=progress-total-row]")
        shot(page, f"verification-progress-{name}")
        page.click("[data-testid=progress] a:text('广州市')")
        page.wait_for_selector("[data-testid=trail] strong")
        page.click("[data-testid=progress] a:text('海珠区')")
        page.wait_for_selector("[data-testid=progress] a:text('海珠区第一小学')")
        assert "已通过" not in page.inner_text("[data-testid=trail]")
        if name == "390":
            _fits(page)
        shot(page, f"verification-progress-county-{name}")
        context.close()
