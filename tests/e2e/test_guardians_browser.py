"""Browser test of the guardian mobile end (家长端, issue 12 §1; 第5、13、15、16条) in headless Chromium at 390 px
(the guardian's phone) and 1280 px (the school): the school prints a binding slip; the guardian signs in with the
image captcha and the SMS code (read from the file SMS backend), binds the child from the slip's link, sees the
record with masked identifiers, asks for a correction which the school approves, and applies for a transfer
which the receiving school turns into the transfer request; the guardian follows the timeline and deadlines.
Screenshots go to ``var/screenshots/guardians-*.png``."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import shot
from tests.factories import changes as c
from tests.factories import core as f
from tests.guardians.helpers import CAPTCHA, wire
from xueji.changes.enums import ChangeKind
from xueji.changes.models import ChangeRequest
from xueji.guardians.enums import RequestState
from xueji.guardians.models import GuardianLink, GuardianRequest
from xueji.students.models import Person

pytestmark = pytest.mark.e2e
PHONE = "13912345678"
PHONE_VIEW = {"width": 390, "height": 844}


def _reload_middleware(live_server: Any) -> None:
    """The live server built its middleware chain when it started: rebuild it after a change of MIDDLEWARE."""
    handler = live_server.thread.httpd.get_app()
    getattr(handler, "application", handler).load_middleware()


@pytest.fixture
def guardian_end(live_server, settings, monkeypatch, tmp_path):  # type: ignore[no-untyped-def]
    """The guardian wiring (until config/ has it), SMS into files under a temporary directory, a known
    captcha answer."""
    original = list(settings.MIDDLEWARE)
    wire(settings)
    changed = original != settings.MIDDLEWARE
    if changed:
        _reload_middleware(live_server)
    settings.XUEJI_SMS_BACKEND = "xueji.guardians.sms.FileBackend"
    settings.XUEJI_SMS_FILE_PATH = tmp_path / "sms"
    monkeypatch.setattr("xueji.guardians.captcha.new_answer", lambda: CAPTCHA)
    yield tmp_path / "sms"
    if changed:
        settings.MIDDLEWARE = original
        _reload_middleware(live_server)


def _staff(browser: Any, live_server: Any, username: str, width: int = 1280) -> Any:
    context = browser.new_context(viewport={"width": width, "height": 900}, locale="zh-CN")
    page = context.new_page()
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", f.PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    return page


def _last_code(sms_dir: Path, phone: str) -> str:
    files = sorted(sms_dir.glob("*.sms"))
    assert files, "the file SMS backend wrote no message"
    text = files[-1].read_text(encoding="utf-8")
    assert text.startswith(f"To: {phone}\n")
    match = re.search(r"验证码为 (\d{6})", text)
    assert match, text
    return match.group(1)


@pytest.mark.django_db(transaction=True)
def test_guardian_binds_views_corrects_and_applies_for_a_transfer(live_server, browser, guardian_end):  # type: ignore[no-untyped-def]
    f.departments()
    c.calendar()
    school = f.school("440105", "primary", name="海珠区第一小学")
    target = f.school("440106", "primary", name="天河区实验小学")
    f.registrar(school, username="reg_school", display_name="王老师")
    f.registrar(target, username="reg_target", display_name="李老师")
    pupil = c.enrolled(school, grade=3, name="林小雨")
    person = Person.objects.get(pk=pupil.person_id)

    # 1. The school issues a binding code for guardian slot 1 and prints the slip (1280 px).
    desk = _staff(browser, live_server, "reg_school")
    desk.goto(f"{live_server.url}/guardian-requests/")
    desk.fill("#id_student_number", person.student_number)
    desk.click("[data-testid=find-pupil] button[type=submit]")
    desk.wait_for_selector("[data-testid=slots]")
    desk.click("[data-testid=slots] tbody tr:first-child button:has-text('签发并打印绑定单')")
    desk.wait_for_selector("[data-testid=slip]")
    code = desk.inner_text("[data-testid=binding-code]").strip()
    assert re.fullmatch(r"[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}", code)
    assert desk.locator("[data-testid=slip] svg").count() == 1
    shot(desk, "guardians-slip-1280")

    # 2. The guardian's phone scans the slip's QR code before having signed in: the guardian end asks to sign in
    # first. The code (URL fragment) leaves the address bar and waits in the tab's sessionStorage; captcha, then
    # the SMS code; after login the guardian is back on the binding page with the code filled in.
    raw = code.replace("-", "")
    phone_ctx = browser.new_context(viewport=PHONE_VIEW, locale="zh-CN", is_mobile=True, has_touch=True)
    m = phone_ctx.new_page()
    m.goto(f"{live_server.url}/m/bind/#c={raw}")
    m.wait_for_url(re.compile(r".*/m/login/\?next=%2Fm%2Fbind%2F$"))
    m.wait_for_function("() => !window.location.hash")
    assert m.evaluate("sessionStorage.getItem('xj_m_bind_code')") == raw
    assert m.locator("#captcha-img").evaluate("img => img.naturalWidth") == 160
    m.fill("#id_phone", PHONE)
    m.fill("#id_captcha", CAPTCHA.lower())
    shot(m, "guardians-login-390")
    m.click("button:has-text('获取短信验证码')")
    m.wait_for_selector("#id_code")
    assert "139****5678" in m.inner_text("main")
    m.fill("#id_code", _last_code(guardian_end, PHONE))
    shot(m, "guardians-verify-390")
    m.click("button:has-text('登录')")
    m.wait_for_url(f"{live_server.url}/m/bind/")
    m.wait_for_selector("#bind-form")
    assert m.input_value("#id_code") == raw
    assert m.evaluate("sessionStorage.getItem('xj_m_bind_code')") is None  # used once, then forgotten
    # No horizontal scrolling on the phone.
    assert m.evaluate("document.documentElement.scrollWidth") <= PHONE_VIEW["width"]
    # The service worker is registered for /m/ and caches static files only.
    scope = m.evaluate(
        "Promise.race([navigator.serviceWorker.ready.then(r => r.scope),"
        " new Promise(r => setTimeout(() => r(''), 5000))])"
    )
    assert scope == f"{live_server.url}/m/"
    m.goto(f"{live_server.url}/m/")
    assert "还没有绑定孩子" in m.inner_text("main")

    # 3. Binding from the slip's link when signed in: the code arrives in the URL fragment and fills the form.
    m.goto(f"{live_server.url}/m/bind/#c={raw}")
    m.wait_for_selector("#bind-form")
    assert m.input_value("#id_code") == raw
    assert "#" not in m.url
    m.fill("#id_child_name", "林小雨")
    m.fill("#id_guardian_name", "林妈妈")
    m.select_option("#id_relation", "2")
    m.click("button:has-text('同意并绑定')")
    m.wait_for_selector(".m-error")
    assert "同意" in m.inner_text(".m-error")  # consent is required (PIPL 第31条)
    m.check("#id_consent")
    shot(m, "guardians-bind-390")
    m.click("button:has-text('同意并绑定')")
    m.wait_for_selector(".m-record")
    link = GuardianLink.objects.get()
    assert link.consent_at is not None and link.person_id == person.pk
    record = m.inner_text(".m-record")
    assert person.id_number not in record and person.student_number not in record
    assert person.student_number[:7] + "********" + person.student_number[-4:] in record
    assert m.evaluate("document.documentElement.scrollWidth") <= PHONE_VIEW["width"]
    shot(m, "guardians-child-390")

    # 4. A correction: the guardian asks, the school approves, the record changes.
    m.click("a:has-text('申请更正信息')")
    m.select_option("#id_field", "home_address")
    m.fill("#id_value", "广州市天河区体育西路 1 号")
    m.fill("#id_note", "已搬家")
    m.click("button:has-text('提交申请')")
    m.wait_for_selector(".m-timeline")
    assert "待学校处理" in m.inner_text("main")
    shot(m, "guardians-correction-submitted-390")
    correction = GuardianRequest.objects.get(kind="correction")

    desk.goto(f"{live_server.url}/guardian-requests/")
    desk.click("[data-testid=open-requests] a:has-text('审核')")
    desk.wait_for_selector("[data-testid=accept-form]")
    shot(desk, "guardians-review-1280")
    desk.click("[data-testid=accept-form] button[type=submit]")
    desk.wait_for_selector("[data-testid=guardian-request]")
    person.refresh_from_db()
    assert person.home_address == "广州市天河区体育西路 1 号"
    correction.refresh_from_db()
    assert correction.state == RequestState.DONE

    m.goto(f"{live_server.url}/m/requests/{correction.pk}/")
    assert "已办结" in m.inner_text("main") and "学校审核通过" in m.inner_text(".m-timeline")
    shot(m, "guardians-correction-done-390")
    m.goto(f"{live_server.url}/m/")
    assert "已审核通过" in m.inner_text(".m-notices")
    shot(m, "guardians-home-390")
    # The guardian was also told by SMS (no personal data in the text).
    notices = sorted(guardian_end.glob("*.sms"))
    assert "已审核通过" in notices[-1].read_text(encoding="utf-8")

    # 5. A transfer application to the receiving school (第15条), which starts the transfer.
    m.goto(f"{live_server.url}/m/children/{link.pk}/")
    m.click("a:has-text('申请转学')")
    m.fill("#id_school_code", target.school_code)
    m.fill("#id_reason", "随父母工作调动")
    shot(m, "guardians-transfer-form-390")
    m.click("button:has-text('提交申请')")
    m.wait_for_selector(".m-timeline")
    assert "天河区实验小学" in m.inner_text("main")
    transfer = GuardianRequest.objects.get(kind="transfer")

    # The pupil's own school does not see it; the receiving school does (here on a phone-sized screen).
    desk.goto(f"{live_server.url}/guardian-requests/")
    assert desk.locator("[data-testid=open-requests]").count() == 0
    target_page = _staff(browser, live_server, "reg_target", width=390)
    target_page.goto(f"{live_server.url}/guardian-requests/")
    assert "林小雨" in target_page.inner_text("[data-testid=open-requests]")
    shot(target_page, "guardians-worklist-390")
    target_page.click("[data-testid=open-requests] a:has-text('审核')")
    target_page.fill("#id_class_name", "3班")
    target_page.click("[data-testid=accept-form] button[type=submit]")
    target_page.wait_for_url(re.compile(r".*/changes/.*"))
    change = ChangeRequest.objects.get()
    assert change.kind == ChangeKind.TRANSFER and change.target_school_id == target.pk
    transfer.refresh_from_db()
    assert transfer.state == RequestState.ACCEPTED and transfer.change_request_id == change.pk

    m.goto(f"{live_server.url}/m/requests/{transfer.pk}/")
    timeline = m.inner_text(".m-timeline")
    assert "学校受理" in timeline and "办理期限" in timeline
    assert m.evaluate("document.documentElement.scrollWidth") <= PHONE_VIEW["width"]
    shot(m, "guardians-transfer-progress-390")
    m.goto(f"{live_server.url}/m/children/{link.pk}/")
    assert "转学" in m.inner_text("main")
    shot(m, "guardians-child-progress-390")
    # The same page on a wide screen stays a readable column.
    m.set_viewport_size({"width": 1280, "height": 900})
    assert m.locator(".m-main").evaluate("el => el.getBoundingClientRect().width") <= 640
    shot(m, "guardians-child-progress-1280")
    phone_ctx.close()
