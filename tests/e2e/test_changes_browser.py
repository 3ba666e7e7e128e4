"""Browser test of a transfer (第15条) in headless Chromium: the receiving school finds the student by 学籍号 +
姓名 and starts the transfer, the sending school approves it from its worklist (htmx, in place), the county
approves it, and the student shows at the new school. Screenshots at 1280 px and 390 px go to
``var/screenshots/``."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.e2e.conftest import shot
from tests.factories import changes as c
from tests.factories import core as f
from xueji.changes.models import ApprovalStep, ChangeRequest
from xueji.changes.queries import transfer_lookup
from xueji.changes.services import change_submit
from xueji.students.models import Enrollment, Person

pytestmark = pytest.mark.e2e

_shot = shot


def _login(context: object, live_server: object, username: str) -> object:
    page = context.new_page()  # type: ignore[attr-defined]
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", f.PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    return page


def _desktop(browser: object) -> object:
    return browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")  # type: ignore[attr-defined]


def _phone(browser: object) -> object:
    return browser.new_context(  # type: ignore[attr-defined]
        viewport={"width": 390, "height": 844}, locale="zh-CN", is_mobile=True, has_touch=True
    )


def _no_sideways_scroll(page: object, name: str) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")  # type: ignore[attr-defined]
    assert width <= 390, f"{name} scrolls sideways at 390px ({width}px)"


@pytest.mark.django_db(transaction=True)
def test_transfer_start_approve_and_arrive(live_server, browser, media):  # type: ignore[no-untyped-def]
    f.departments()
    c.calendar()
    src = f.school("440105", "primary", name="海珠区第一小学")
    dst = f.school("440105", "primary", name="海珠区第二小学")
    third = f.school("440105", "primary", name="海珠区第三小学")
    f.registrar(src, username="reg_src", display_name="王老师")
    f.registrar(dst, username="reg_dst", display_name="李老师")
    reg_third = f.registrar(third, username="reg_third")
    f.user("dept_registrar", f.dept("440105"), username="haizhu", display_name="海珠区学籍科")
    moving = c.enrolled(src, grade=3, name="林小雨")
    person = Person.objects.get(pk=moving.person_id)
    # A second transfer out of the same school, already overdue: red on the school's list, escalated to the county.
    late = c.enrolled(src, grade=4, name="周大海")
    late_person = Person.objects.get(pk=late.person_id)
    late_req = change_submit(
        actor=reg_third,
        kind="transfer",
        enrollment=transfer_lookup(student_number=late_person.student_number, name="周大海"),
        target_school=third,
        facts={"class_name": "2班"},
    )
    ApprovalStep.objects.filter(request=late_req, position=1).update(
        due_on=timezone.localdate() - timedelta(days=20)
    )

    # 1. The receiving school finds the student (学籍号 + 姓名) and starts the transfer.
    desk_dst = _desktop(browser)
    page = _login(desk_dst, live_server, "reg_dst")
    page.goto(f"{live_server.url}{reverse('changes:list')}")
    page.click("a:has-text('转学（转入）')")
    page.fill("[name=student_number]", person.student_number)
    page.fill("[name=name]", "林小雨")
    _shot(page, "change-transfer-lookup-1280")
    page.click("button:has-text('查找学生')")
    page.locator("[data-testid=found]").wait_for()
    assert "海珠区第一小学" in page.locator("[data-testid=found]").inner_text()
    page.click("button:has-text('提交申请')")  # without the class: a field error, nothing written
    page.locator("#id_class_name-error").wait_for()
    assert ChangeRequest.objects.filter(person=person).count() == 0
    page.fill("[name=class_name]", "3班")
    page.fill("[name=reason_text]", "随父母工作调动")
    _shot(page, "change-transfer-form-1280")
    page.click("button:has-text('提交申请')")
    page.wait_for_url(re.compile(r"/changes/[0-9a-f-]{36}/$"))
    req = ChangeRequest.objects.get(person=person)
    assert (req.state, req.current_position) == ("pending", 1)
    _shot(page, "change-detail-1280")

    # 2. The sending school: its worklist shows both transfers, the late one in red. A rejection without a
    # comment is refused in place; the approval is one click and the row shows its new state.
    desk_src = _desktop(browser)
    page = _login(desk_src, live_server, "reg_src")
    page.goto(f"{live_server.url}{reverse('changes:worklist')}")
    late_row = page.locator(f"#wi-{late_req.pk}-1")
    assert "is-overdue" in (late_row.get_attribute("class") or "")
    assert "超期" in late_row.locator("[data-testid=days-left]").inner_text()
    _shot(page, "change-worklist-1280")
    late_row.locator("summary").click()
    late_row.locator("button[value=reject]").click()
    page.locator(f"#wi-{late_req.pk}-1 [data-testid=decide-error]").wait_for()
    assert ChangeRequest.objects.get(pk=late_req.pk).state == "pending"
    _shot(page, "change-worklist-error-1280")
    row = page.locator(f"#wi-{req.pk}-1")
    row.locator("button[value=approve]").click()
    page.locator(f"#wi-{req.pk}-1 [data-testid=confirm-approve]").click()  # confirmed after before → after
    page.locator(f"#wi-{req.pk}-1 [data-testid=done]").wait_for()
    assert "已同意" in page.locator(f"#wi-{req.pk}-1").inner_text()
    assert ChangeRequest.objects.get(pk=req.pk).current_position == 2
    _shot(page, "change-worklist-approved-1280")

    # 3. The county: the transfer is on its list; the late school step is escalated (view-only).
    desk_county = _desktop(browser)
    page = _login(desk_county, live_server, "haizhu")
    _shot(page, "change-dashboard-county-1280")
    page.goto(f"{live_server.url}{reverse('changes:worklist')}")
    assert page.locator(f"[data-testid=escalated-list] #wi-{late_req.pk}-1").count() == 1
    assert page.locator(f"#wi-{late_req.pk}-1 button").count() == 0
    _shot(page, "change-worklist-county-1280")
    page.locator(f"#wi-{req.pk}-2 button[value=approve]").click()
    page.locator(f"#wi-{req.pk}-2 [data-testid=confirm-approve]").click()
    page.locator(f"#wi-{req.pk}-2 [data-testid=done]").wait_for()
    assert "已办结" in page.locator(f"#wi-{req.pk}-2").inner_text()

    # 4. The student is now at the receiving school, same 学籍号; the timeline shows the whole chain.
    new = Enrollment.objects.get(person=person, is_active=True)
    assert (new.school_id, new.class_name) == (dst.pk, "3班")
    page = desk_dst.pages[0]  # type: ignore[attr-defined]
    page.goto(f"{live_server.url}{reverse('students:detail', args=[person.pk])}#changes")
    assert "海珠区第二小学" in page.locator(".record-head").inner_text()
    timeline = page.locator("[data-testid=timeline]")
    timeline.wait_for()
    assert "已办结" in timeline.inner_text()
    _shot(page, "change-student-timeline-1280")
    page.goto(f"{live_server.url}{reverse('changes:detail', args=[req.pk])}")
    _shot(page, "change-detail-done-1280")

    # The other pages of the module, for the eye: requests, cohort graduation, promotion, deferral.
    c.enrolled(src, grade=6, name="吴六年")
    page = desk_src.pages[0]  # type: ignore[attr-defined]
    for name, path in (
        ("change-list-1280", reverse("changes:list")),
        ("change-cohort-graduation-1280", reverse("changes:cohort_graduation") + "?grade=6&kind=graduation"),
        (
            "change-suspension-1280",
            reverse("changes:new", args=["suspension"]) + f"?student={late_person.pk}",
        ),
    ):
        page.goto(f"{live_server.url}{path}")
        _shot(page, name)
    page = desk_county.pages[0]  # type: ignore[attr-defined]
    year = timezone.localdate().year if timezone.localdate().month >= 7 else timezone.localdate().year - 1
    for name, path in (
        ("change-promotion-1280", reverse("changes:promotion") + f"?school_year={year}"),
        ("change-deferral-1280", reverse("changes:new", args=["deferral"])),
    ):
        page.goto(f"{live_server.url}{path}")
        _shot(page, name)
    assert page.locator("[name=household_code]").count() == 1

    # 5. Phone-sized screens: the worklist becomes cards with big buttons; nothing scrolls sideways.
    phone = _phone(browser)
    phone.add_cookies(desk_src.cookies())  # type: ignore[attr-defined]
    mpage = phone.new_page()
    mpage.goto(f"{live_server.url}{reverse('changes:worklist')}")
    _shot(mpage, "change-worklist-390")
    _no_sideways_scroll(mpage, "worklist")
    button = mpage.locator(f"#wi-{late_req.pk}-1 button[value=approve]")
    assert button.bounding_box()["height"] >= 40  # type: ignore[index]
    mpage.locator(f"#wi-{late_req.pk}-1 summary").click()
    _shot(mpage, "change-worklist-open-390")
    _no_sideways_scroll(mpage, "worklist (comment open)")
    for name, path in (
        ("change-list-390", reverse("changes:list")),
        ("change-detail-390", reverse("changes:detail", args=[late_req.pk])),
        ("change-student-390", reverse("students:detail", args=[late_person.pk]) + "#changes"),
        ("change-suspension-390", reverse("changes:new", args=["suspension"]) + f"?student={late_person.pk}"),
    ):
        mpage.goto(f"{live_server.url}{path}")
        _shot(mpage, name)
        _no_sideways_scroll(mpage, name)
    phone.close()
    phone_dst = _phone(browser)
    phone_dst.add_cookies(desk_dst.cookies())  # type: ignore[attr-defined]
    mpage = phone_dst.new_page()
    mpage.goto(f"{live_server.url}{reverse('changes:new', args=['transfer'])}")
    _shot(mpage, "change-transfer-390")
    _no_sideways_scroll(mpage, "transfer")
    phone_dst.close()
    for ctx in (desk_dst, desk_src, desk_county):
        ctx.close()  # type: ignore[attr-defined]
