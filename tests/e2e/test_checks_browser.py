"""Browser test of the problem-record queue (第9、25条) in headless Chromium: the nightly checks opened records;
the county sees its queue with the overdue one marked, opens a record, escalates it to the city; on a phone
(390 px) the queue and a record are usable. Screenshots at 1280 px and 390 px go to ``var/screenshots/``."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.e2e.conftest import shot
from tests.factories import changes as c
from tests.factories import core as f
from xueji.checks.services import run_checks
from xueji.students.models import Enrollment, ProblemRecord

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
def test_county_queue_escalate_and_phone(live_server, browser):  # type: ignore[no-untyped-def]
    f.departments()
    c.calendar()
    school = f.school("440105", "primary", name="海珠区第一小学")
    f.registrar(school, username="reg_school", display_name="王老师")
    f.user("dept_registrar", f.dept("440105"), username="haizhu", display_name="海珠区学籍科")
    today = timezone.localdate()
    late = c.enrolled(school, grade=3, name="林小雨")
    unplaced = c.enrolled(school, grade=4, name="陈子涵")
    Enrollment.objects.filter(pk=late.pk).update(archive_due=today - timedelta(days=30))
    Enrollment.objects.filter(pk=unplaced.pk).update(
        class_name="", registered_at=timezone.now() - timedelta(days=45)
    )
    run_checks(actor=None, today=today, provinces=["440000"])
    overdue = ProblemRecord.objects.get(person_id=late.person_id)
    ProblemRecord.objects.filter(pk=overdue.pk).update(due_on=date(2026, 1, 5))

    # 1. Desktop: the county's queue lists both, the overdue one marked.
    desk = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = _login(desk, live_server, "haizhu")
    page.goto(live_server.url + reverse("checks:queue"))
    page.wait_for_selector("[data-testid=problem-queue]")
    rows = page.inner_text("[data-testid=problem-queue]")
    assert "学籍档案逾期未建立" in rows and "未分班" in rows and "林小雨" in rows
    assert page.locator(f"#p-{overdue.pk} [data-testid=overdue]").count() == 1
    assert page.inner_text("[data-testid=count-overdue] .num") == "1"
    shot(page, "checks-queue-1280")

    # 2. The record: its reason and article, the actions of the county; escalate with a note.
    page.click(f"#p-{overdue.pk} [data-testid=open-problem]")
    page.wait_for_selector("[data-testid=problem-actions]")
    assert "第六条" in page.inner_text("h1")
    assert page.locator("[data-testid=act-explain]").count() == 0  # the school's action
    page.fill("[data-testid=act-escalate] input[name=note]", "学校逾期两次，提请市级督办")
    shot(page, "checks-problem-1280")
    page.click("[data-testid=act-escalate] button[type=submit]")
    page.wait_for_selector("[data-testid=problem-history]")
    assert "提请市级督办" in page.inner_text("[data-testid=problem-history]")
    assert ProblemRecord.objects.get(pk=overdue.pk).owner == "city"
    desk.close()

    # 3. Phone: the queue and a record read without sideways scrolling.
    phone = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN", is_mobile=True)
    page = _login(phone, live_server, "haizhu")
    page.goto(live_server.url + reverse("checks:queue"))
    page.wait_for_selector("[data-testid=problem-queue]")
    assert "未分班" in page.inner_text("[data-testid=problem-queue]")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(page, "checks-queue-390")
    page.goto(live_server.url + reverse("checks:problem", args=[overdue.pk]))
    page.wait_for_selector("[data-testid=problem-facts]")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(page, "checks-problem-390")
    phone.close()
