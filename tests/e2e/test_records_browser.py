"""Issue 8 items 1 and 2 in Chromium at 1280 and 390 px: the registrar reveals the full 学籍号 of a pupil
without an ID (audited), edits ordinary fields, the class and a family member (history before/after), and a
receiving school finds a student by identity number + name typed with spaces and full-width digits."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.urls import reverse

from tests.e2e.conftest import shot
from tests.factories import changes as c
from tests.factories import core as f
from tests.factories import students as sf
from xueji.audit.enums import EventType
from xueji.audit.models import AuditEvent, FieldHistory
from xueji.students.models import Enrollment, Guardian, Person

pytestmark = pytest.mark.e2e

SIZES = {"1280": {"width": 1280, "height": 900}, "390": {"width": 390, "height": 844}}


def _page(browser: Any, live_server: Any, size: str, username: str) -> Any:
    mobile = size == "390"
    context = browser.new_context(viewport=SIZES[size], locale="zh-CN", is_mobile=mobile, has_touch=mobile)
    page = context.new_page()
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", f.PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    return page


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("size", ["1280", "390"])
def test_reveal_number_and_edit_the_record(live_server, browser, media, size):  # type: ignore[no-untyped-def]
    f.departments()
    school = f.school("440105", "primary", name="海珠区第一小学")
    registrar = f.registrar(school, username="reg_edit", display_name="王老师")
    e = sf.student_without_id(school, registrar, name="阿依古丽·买买提")
    person = Person.objects.get(pk=e.person_id)
    assert person.student_number.startswith("J")

    page = _page(browser, live_server, size, "reg_edit")
    page.goto(f"{live_server.url}{reverse('students:detail', args=[person.pk])}")
    assert person.student_number not in page.content()
    page.click("[data-testid=reveal-number]")
    page.locator(".record-head .revealed").wait_for()
    assert page.locator(".record-head .revealed").inner_text() == person.student_number
    assert (
        AuditEvent.objects.filter(event_type=EventType.STUDENT_REVEALED, subject_id=str(person.pk)).count()
        == 1
    )
    shot(page, f"record-number-revealed-{size}")

    # Edit: a bad phone is refused in place and nothing is saved; then phone and class are saved.
    page.click("[data-testid=edit-record]")
    page.wait_for_url(re.compile(r"/edit/$"))
    assert page.locator("[name=name]").count() == 0  # key fields are not on the form (第13条)
    page.fill("[name=phone]", "12345")
    page.fill("[name=class_name]", "三(4)班")
    page.click("button:has-text('保存修改')")
    page.locator("#id_phone-error").wait_for()
    assert Enrollment.objects.get(pk=e.pk).class_name == e.class_name
    shot(page, f"record-edit-error-{size}")
    page.fill("[name=phone]", "13912345678")
    page.click("button:has-text('保存修改')")
    page.wait_for_url(re.compile(r"/students/[0-9a-f-]{36}/#basic$"))
    page.locator("text=已保存修改").wait_for()
    assert Person.objects.get(pk=person.pk).phone == "13912345678"
    assert Enrollment.objects.get(pk=e.pk).class_name == "三(4)班"
    assert "三(4)班" in page.locator(".record-head").inner_text()

    # A family member's phone; the history tab shows before → after (masked like the page).
    page.goto(f"{live_server.url}{reverse('students:detail', args=[person.pk])}#family")
    page.click("[data-testid=guardian-edit]")
    page.wait_for_url(re.compile(r"/guardians/[0-9a-f-]{36}/$"))
    page.fill("[name=g-phone]", "13700137000")
    page.click("button:has-text('保存修改')")
    page.locator("text=已保存家庭成员信息").wait_for()
    assert Guardian.objects.get(person_id=person.pk).phone == "13700137000"
    page.goto(f"{live_server.url}{reverse('students:detail', args=[person.pk])}#history")
    history = page.locator("#history").inner_text()
    assert "联系电话" in history and "139****5678" in history
    assert set(FieldHistory.objects.filter(subject_id=str(person.pk)).values_list("field", flat=True)) == {
        "phone",
        "guardians.1.phone",
    }
    shot(page, f"record-history-after-edit-{size}")


def _full_width(text: str) -> str:
    return "".join(chr(ord(ch) + 0xFEE0) if ch.isascii() and ch.isalnum() else ch for ch in text)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("size", ["1280", "390"])
def test_transfer_lookup_by_identity_number(live_server, browser, media, size):  # type: ignore[no-untyped-def]
    f.departments()
    c.calendar()
    src = f.school("440105", "primary", name="海珠区第一小学")
    dst = f.school("440106", "primary", name="天河区实验小学")
    f.registrar(dst, username="reg_dst")
    moving = c.enrolled(src, grade=3, name="林小雨")
    id_number = Person.objects.get(pk=moving.person_id).id_number
    typed = f"{_full_width(id_number[:6])} {id_number[6:14]} {id_number[14:]}"

    page = _page(browser, live_server, size, "reg_dst")
    page.goto(f"{live_server.url}{reverse('changes:new', args=['transfer'])}")
    assert "身份证件号" in page.locator("label[for=id_student_number]").inner_text()
    page.fill("[name=student_number]", typed)
    page.fill("[name=name]", "林小雨 ")
    page.click("button:has-text('查找学生')")
    page.locator("[data-testid=found]").wait_for()
    assert "海珠区第一小学" in page.locator("[data-testid=found]").inner_text()
    shot(page, f"transfer-lookup-by-id-{size}")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("size", ["1280", "390"])
def test_batch_class_move_from_the_list(live_server, browser, media, size):  # type: ignore[no-untyped-def]
    f.departments()
    school = f.school("440105", "primary", name="海珠区第一小学")
    registrar = f.registrar(school, username="reg_move")
    pupils = [sf.student(school, registrar, name=n) for n in ("林小雨", "王小明", "李小红")]

    page = _page(browser, live_server, size, "reg_move")
    page.goto(f"{live_server.url}{reverse('students:list')}")
    for e in pupils[:2]:
        page.check(f"input[data-select-row][value='{e.person_id}']")
    bar = page.locator("form[data-selection]")
    bar.wait_for()
    assert bar.locator("[data-selection-count]").inner_text() == "2"
    shot(page, f"list-selected-{size}")
    bar.locator("button:has-text('调班')").click()
    page.wait_for_url(re.compile(r"/students/class-move/$"))
    assert "已选 2 名学生" in page.content()
    page.fill("[name=class_name]", "一(3)班")
    shot(page, f"class-move-confirm-{size}")
    page.click("button:has-text('确认调班')")
    page.locator("text=已将 2 名学生调入“一(3)班”").wait_for()
    moved = dict(Enrollment.objects.filter(pk__in=[e.pk for e in pupils]).values_list("pk", "class_name"))
    assert [moved[e.pk] for e in pupils] == ["一(3)班", "一(3)班", pupils[2].class_name]
    assert AuditEvent.objects.filter(event_type=EventType.CLASS_ASSIGNED).count() == 2
