"""Session timeout warning and form drafts in headless Chromium (issue #8 item 13), at 1280 px and 390 px.

The session is made short (``SESSION_COOKIE_AGE`` 16 s, warning 8 s before the end). A registrar types part
of a 新生注册 form; the page warns (继续使用 / 退出) without blocking, 继续使用 renews the session, then the
session runs out and the page says so. After logging in again the form comes back with the typed values and
"已恢复未提交的草稿"; submitting registers the student and the draft is gone. On the phone the form is
submitted after the session ended: the login page takes the user back to the form, restored; "丢弃草稿" and
退出 clear it. The policy editor's draft brings back the rows added with htmx. Screenshots in var/screenshots/.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest
from django.urls import reverse

from tests.e2e.conftest import shot
from tests.e2e.test_browser import _fill_registration
from tests.factories import core as f
from tests.factories import policies as pf
from xueji.students.models import Person

pytestmark = pytest.mark.e2e

IDLE = 16  # seconds: the session ends 16 s after the last request
WARN = 8  # the page warns 8 s before
DRAFTS = "Object.keys(sessionStorage).filter((k) => k.startsWith('xueji:draft:'))"


def _short_sessions(settings: Any) -> None:
    settings.SESSION_COOKIE_AGE = IDLE
    settings.SESSION_WARNING_SECONDS = WARN


def _log_in(page: Any, username: str) -> None:
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", f.PASSWORD)
    page.click("button[type=submit]")


def _until(page: Any, expression: str, timeout: float = 10.0) -> None:
    """Poll ``expression`` with ``page.evaluate`` (``wait_for_function`` evaluates strings, which the CSP
    forbids: no 'unsafe-eval')."""
    for _ in range(int(timeout / 0.1)):
        if page.evaluate(expression):
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"still false after {timeout}s: {expression}")


def _no_sideways_scroll(page: Any, name: str) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"{name} scrolls sideways at 390px ({width}px)"


def _type_some(page: Any) -> None:
    page.fill("[name=name]", "李小花")
    page.select_option("[name=gender]", "2")
    page.fill("[name=class_name]", "2班")
    page.fill("[name=current_address]", "广州市海珠区新港中路1号")
    _until(page, f"{DRAFTS}.length === 1")  # saved after a short pause in typing


def _setup() -> None:
    f.departments()
    school = f.school("440105", "primary", name="海珠区第一小学")
    f.registrar(school, username="reg_clock", display_name="王老师")


@pytest.mark.django_db(transaction=True)
def test_warning_expiry_and_draft_restored_after_login_desktop(live_server, browser, settings):  # type: ignore[no-untyped-def]
    _setup()
    _short_sessions(settings)
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = context.new_page()
    register = f"{live_server.url}{reverse('students:register')}"
    page.goto(register)  # not signed in: the login page, then back here
    _log_in(page, "reg_clock")
    page.wait_for_url(register)
    _type_some(page)
    draft = page.evaluate(f"sessionStorage.getItem({DRAFTS}[0])")
    assert "李小花" in draft
    assert "csrfmiddlewaretoken" not in draft and "password" not in draft

    # The warning: it blocks nothing (the form can still be typed in), counts down, offers 继续使用 / 退出.
    warning = page.locator("[data-testid=session-warning]")
    warning.wait_for(timeout=(IDLE + 10) * 1000)
    assert "登录即将超时" in warning.inner_text()
    assert re.search(r"\d:\d\d", warning.locator("[data-countdown]").first.inner_text())
    assert warning.locator("button", has_text="退出").is_visible()
    page.fill("[name=native_place]", "广东广州")
    page.screenshot(path=str(_shots() / "session-warning-1280.png"))  # the viewport: the banner over the page

    # 继续使用 renews the session: the warning goes away and comes back only a whole idle period later.
    warning.locator("button", has_text="继续使用").click()
    warning.wait_for(state="detached")
    page.wait_for_timeout((IDLE - WARN - 3) * 1000)
    assert page.locator("[data-testid=session-warning]").count() == 0

    # Then nothing more happens: the status reads while warning do not renew it, and the session ends.
    expired = page.locator("[data-testid=session-expired]")
    expired.wait_for(timeout=(IDLE + 15) * 1000)
    assert "登录已超时" in expired.inner_text()
    assert "重新登录后会自动恢复" in expired.inner_text()
    page.screenshot(path=str(_shots() / "session-expired-1280.png"))

    # Log in again: back on the form, with the typed values and the notice.
    settings.SESSION_COOKIE_AGE = 3600  # time enough to finish the form
    expired.locator("a", has_text="重新登录").click()
    page.wait_for_url(re.compile(r"/login/\?reason=timeout&next="))
    assert "登录超时" in page.inner_text(".login-box")
    _log_in(page, "reg_clock")
    page.wait_for_url(register)
    notice = page.locator("[data-testid=draft-restored]")
    notice.wait_for()
    assert "已恢复未提交的草稿" in notice.inner_text()
    assert page.input_value("[name=name]") == "李小花"
    assert page.input_value("[name=class_name]") == "2班"
    assert page.input_value("[name=native_place]") == "广东广州"  # typed while the warning showed
    assert page.locator("[name=gender]").input_value() == "2"
    shot(page, "session-draft-restored-1280")

    # Submit: the student is registered and the draft is gone.
    id_number = f.resident_id(birth=date(2019, 5, 20), gender="2", seq=124)
    _fill_registration(page, id_number)
    page.click("button:has-text('提交注册')")
    page.wait_for_url(re.compile(r"/students/[0-9a-f-]{36}/$"))
    assert Person.objects.filter(name="李小花").count() == 1
    assert page.evaluate(f"{DRAFTS}.length") == 0
    page.goto(register)
    assert page.locator("[data-testid=draft-restored]").count() == 0
    assert page.input_value("[name=name]") == ""
    context.close()


@pytest.mark.django_db(transaction=True)
def test_form_posted_after_expiry_comes_back_after_login_phone(live_server, browser, settings):  # type: ignore[no-untyped-def]
    _setup()
    _short_sessions(settings)
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, locale="zh-CN", is_mobile=True, has_touch=True
    )
    page = context.new_page()
    register = f"{live_server.url}{reverse('students:register')}"
    page.goto(register)
    _log_in(page, "reg_clock")
    page.wait_for_url(register)
    _type_some(page)

    page.locator("[data-testid=session-warning]").wait_for(timeout=(IDLE + 10) * 1000)
    _no_sideways_scroll(page, "session warning")
    page.screenshot(path=str(_shots() / "session-warning-390.png"))  # the viewport: where the banner is
    page.locator("[data-testid=session-expired]").wait_for(timeout=(IDLE + 15) * 1000)
    page.screenshot(path=str(_shots() / "session-expired-390.png"))

    # The user submits anyway: the post cannot succeed; it lands on the login page, nothing is saved.
    settings.SESSION_COOKIE_AGE = 3600
    page.click("button:has-text('提交注册')")
    page.wait_for_url(re.compile(r"/login/\?reason=timeout&next=%2Fstudents%2Fnew%2F"))
    assert "登录超时" in page.inner_text(".login-box")
    assert not Person.objects.filter(name="李小花").exists()
    shot(page, "session-login-again-390")
    _log_in(page, "reg_clock")
    page.wait_for_url(register)
    page.locator("[data-testid=draft-restored]").wait_for()
    assert page.input_value("[name=name]") == "李小花"
    assert page.input_value("[name=current_address]") == "广州市海珠区新港中路1号"
    _no_sideways_scroll(page, "restored draft")
    page.screenshot(path=str(_shots() / "session-draft-restored-390.png"))

    # 丢弃草稿: the page's own (empty) values come back and the draft is gone.
    page.click("button:has-text('丢弃草稿')")
    assert page.locator("[data-testid=draft-restored]").count() == 0
    assert page.input_value("[name=name]") == ""
    assert page.evaluate(f"{DRAFTS}.length") == 0

    # A new draft, then 退出: logging out clears every draft of the tab.
    page.fill("[name=name]", "周小雨")
    _until(page, f"{DRAFTS}.length === 1")
    page.click(".topbar form button:has-text('退出')")
    page.wait_for_url(re.compile(r"/login/$"))
    assert page.evaluate(f"{DRAFTS}.length") == 0
    context.close()


@pytest.mark.django_db(transaction=True)
def test_policy_editor_draft_brings_back_rows_added_with_htmx(live_server, browser, tree):  # type: ignore[no-untyped-def]
    pf.province_registrar("440000", username="gd_draft")
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = context.new_page()
    page.goto(f"{live_server.url}/policies/new/")
    _log_in(page, "gd_draft")
    page.wait_for_url(re.compile(r"/policies/new/$"))
    page.fill("#id_rows-0-key", "bus_route")
    page.fill("#id_rows-0-label", "校车线路")
    page.click("button[name=add_row]")
    page.wait_for_selector("#id_rows-1-key")
    page.click("button[name=add_row]")
    page.wait_for_selector("#id_rows-2-key")
    page.fill("#id_rows-2-key", "note")
    page.fill("#id_rows-2-label", "备注")
    _until(page, f"(sessionStorage.getItem({DRAFTS}[0]) || '').includes('备注')")

    page.reload()  # as after logging in again: a fresh page with one row
    page.locator("[data-testid=draft-restored]").wait_for()
    assert page.get_attribute("#id_rows-TOTAL_FORMS", "value") == "3"
    assert page.input_value("#id_rows-0-label") == "校车线路"
    assert page.input_value("#id_rows-2-key") == "note"
    assert page.input_value("#id_rows-2-label") == "备注"
    shot(page, "session-policy-draft-1280")
    context.close()


def _shots() -> Any:
    from tests.e2e.conftest import SHOTS

    SHOTS.mkdir(parents=True, exist_ok=True)
    return SHOTS


@pytest.mark.django_db(transaction=True)
def test_a_draft_older_than_the_longest_session_is_dropped(live_server, browser, tree):  # type: ignore[no-untyped-def]
    """A draft may hold a child's ID number: one older than 12 hours (the absolute session limit) is deleted
    when the next page loads, however the tab was left."""
    pf.province_registrar("440000", username="gd_old")
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
    page = context.new_page()
    page.goto(f"{live_server.url}/policies/new/")
    _log_in(page, "gd_old")
    page.wait_for_url(re.compile(r"/policies/new/$"))
    page.fill("#id_rows-0-label", "校车线路")
    _until(page, f"{DRAFTS}.length === 1")
    page.evaluate(
        f"(() => {{ const k = {DRAFTS}[0]; const d = JSON.parse(sessionStorage.getItem(k));"
        " d.savedAt = Date.now() - 13 * 3600 * 1000; sessionStorage.setItem(k, JSON.stringify(d)); })()"
    )
    page.reload()
    page.wait_for_load_state("load")
    assert page.locator("[data-testid=draft-restored]").count() == 0
    assert page.input_value("#id_rows-0-label") == ""
    context.close()
