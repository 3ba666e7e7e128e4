"""Browser test of the printed documents (issue 8 item 6) in headless Chromium: from the record page to the
学籍卡 print view and from a transfer's page to its 转学申请表, at 1280 px and 390 px; with the print media
emulated, no navigation, button, form or htmx control is visible (computed styles), on the print views and on
an ordinary page; the "下载 PDF" link downloads a PDF. Screenshots go to ``var/screenshots/``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.urls import reverse

from tests.e2e.conftest import shot
from tests.factories import changes as c
from tests.factories import core as f
from xueji.audit.enums import EventType
from xueji.audit.models import AuditEvent
from xueji.changes.queries import transfer_lookup
from xueji.changes.services import change_decide, change_submit
from xueji.students.models import Person

pytestmark = pytest.mark.e2e

VIEWPORTS = {
    "1280": {"viewport": {"width": 1280, "height": 900}},
    "390": {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True},
}

#: Every control that must not print: the site's navigation, buttons, forms, htmx triggers, the toolbar.
CONTROLS = ".topbar, .sidenav, .tabs, .print-toolbar, button, .btn, form, [hx-get], [hx-post], a.pt-btn"

_VISIBLE_CONTROLS = """(selector) => [...document.querySelectorAll(selector)].filter((el) => {
  const style = getComputedStyle(el);
  const box = el.getBoundingClientRect();
  return style.display !== "none" && style.visibility !== "hidden" && box.width > 0 && box.height > 0;
}).map((el) => el.outerHTML.slice(0, 80))"""


def _login(context: Any, live_server: Any, username: str) -> Any:
    page = context.new_page()
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", f.PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    return page


def _visible_controls(page: Any) -> list[str]:
    return page.evaluate(_VISIBLE_CONTROLS, CONTROLS)  # type: ignore[no-any-return]


def _no_sideways_scroll(page: Any, width: int) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= width


@pytest.mark.django_db(transaction=True)
def test_print_card_and_transfer_form(live_server, browser):  # type: ignore[no-untyped-def]
    f.departments()
    c.calendar()
    src = f.school("440105", "primary", name="海珠区第一小学")
    dst = f.school("440105", "primary", name="海珠区第二小学")
    reg_src = f.registrar(src, username="reg_src", display_name="王老师")
    reg_dst = f.registrar(dst, username="reg_dst", display_name="李老师")
    f.user("dept_registrar", f.dept("440105"), username="haizhu", display_name="海珠区学籍科")
    enrollment = c.enrolled(src, grade=3, name="林䶮雨")
    person = Person.objects.get(pk=enrollment.person_id)
    req = change_submit(
        actor=reg_dst,
        kind="transfer",
        enrollment=transfer_lookup(student_number=person.student_number, name="林䶮雨"),
        target_school=dst,
        facts={"class_name": "3班", "reason_text": "随父母工作调动"},
    )
    change_decide(actor=reg_src, request=req, action="approve", comment="同意转出")

    for label, options in VIEWPORTS.items():
        width = options["viewport"]["width"]
        context = browser.new_context(locale="zh-CN", accept_downloads=True, **options)
        page = _login(context, live_server, "reg_src")

        # The record page links to the card; printed, the record page itself shows no controls.
        page.goto(f"{live_server.url}{reverse('students:detail', args=[person.pk])}")
        page.emulate_media(media="print")
        assert _visible_controls(page) == []
        assert page.locator("#basic").is_visible()
        shot(page, f"print-record-page-{label}")
        page.emulate_media(media="screen")
        page.click("[data-testid=print-card]")
        page.wait_for_url(f"**{reverse('documents:card', args=[person.pk])}")

        # The print view on screen: the toolbar (打印, 下载 PDF, 返回) above the sheet.
        assert page.locator("[data-testid=print-toolbar]").is_visible()
        assert page.locator("[data-testid=card-name]").inner_text() == "林䶮雨"
        assert page.locator("[data-testid=card-number]").inner_text() == person.student_number
        _no_sideways_scroll(page, width)
        shot(page, f"print-card-screen-{label}")
        # Printed: the sheet only.
        page.emulate_media(media="print")
        assert _visible_controls(page) == []
        assert page.locator("[data-testid=sheet]").is_visible()
        shot(page, f"print-card-{label}")
        page.emulate_media(media="screen")

        with page.expect_download() as download:
            page.click("[data-testid=pdf-link]")
        assert Path(download.value.path()).read_bytes().startswith(b"%PDF-")
        assert download.value.suggested_filename == f"xueji-card-{person.pk}.pdf"

        # The transfer's page links to its form.
        page.goto(f"{live_server.url}{reverse('changes:detail', args=[req.pk])}")
        page.click("[data-testid=print-form]")
        page.wait_for_url(f"**{reverse('documents:change_form', args=[req.pk])}")
        steps = page.locator("[data-testid=form-steps]").inner_text()
        assert "王老师" in steps and "李老师" in steps and "同意转出" in steps
        _no_sideways_scroll(page, width)
        shot(page, f"print-transfer-screen-{label}")
        page.emulate_media(media="print")
        assert _visible_controls(page) == []
        shot(page, f"print-transfer-{label}")
        context.close()

    printed = AuditEvent.objects.filter(event_type=EventType.DOCUMENT_PRINTED, actor=reg_src)
    # Per width: the card view, its PDF, the transfer form.
    assert sorted((e.after["document"], e.after["channel"]) for e in printed) == sorted(
        [("card", "html"), ("card", "pdf"), ("change_form", "html")] * 2
    )
