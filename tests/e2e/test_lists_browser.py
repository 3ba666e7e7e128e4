"""Browser test of the student list (issue 8 items 11 and 12) in headless Chromium at 1280 px and 390 px: a name
found by two of its characters, the class filter by number, sorting by a column header (and back), page sizes
and page numbers, rows selected for 调班 (the bar counts them and posts their ids); the registration form's
region box suggests codes of the whole country and its date boxes read YYYY-MM-DD in an English browser.
Screenshots go to ``var/screenshots/``."""

from __future__ import annotations

import re
from datetime import date
from typing import Any
from urllib.parse import parse_qs

import pytest
from django.urls import reverse

from tests.e2e.conftest import shot
from tests.factories import core as f
from tests.factories import students as sf
from xueji.students.services import register_students

pytestmark = pytest.mark.e2e

NAMES = ["张馨瑜", "李明轩", "王子涵", "赵雨桐", "陈思远"]


def _seed() -> dict[str, Any]:
    f.departments()
    school = f.school("440105", "primary", name="海珠区第一小学")
    registrar = f.registrar(school, username="reg_list", display_name="王老师")
    rows = [
        (name, "3班" if i < 2 else "(3)班" if i == 2 else "13班" if i == 3 else "1班")
        for i, name in enumerate(NAMES)
    ]
    rows += [(f"学生{f.han_digits(i)}", "2班") for i in range(20)]
    regs = [
        sf.registration(school, name=name, birth_date=date(2019, 10, 1), enrollment={"class_name": cls})
        for name, cls in rows
    ]
    register_students(actor=registrar, school=school, registrations=regs)
    return {"school": school, "registrar": registrar}


def _login(context: Any, live_server: Any) -> Any:
    page = context.new_page()
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", "reg_list")
    page.fill("input[name=password]", f.PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    return page


def _names(page: Any) -> list[str]:
    return [t.strip() for t in page.locator("#results td.card-title a").all_inner_texts()]


def _settle(page: Any) -> None:
    """Wait until htmx has no request in flight (the live search waits 300 ms before asking)."""
    page.wait_for_timeout(350)
    page.wait_for_load_state("networkidle")
    page.locator(".htmx-request").first.wait_for(state="detached")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("width", "height"), [(1280, 900), (390, 844)])
def test_search_filter_sort_page_and_select(live_server, browser, width, height):  # type: ignore[no-untyped-def]
    _seed()
    phone = width < 500
    context = browser.new_context(
        viewport={"width": width, "height": height}, locale="zh-CN", is_mobile=phone, has_touch=phone
    )
    page = _login(context, live_server)
    page.goto(f"{live_server.url}{reverse('students:list')}")
    assert len(_names(page)) == 25

    # A name by two of its characters (any part of it), live.
    page.fill("#s-q", "馨瑜")
    _settle(page)
    assert _names(page) == ["张馨瑜"]
    assert "q=%E9%A6%A8%E7%91%9C" in page.url  # the address holds the search (back/forward, sharing)
    shot(page, f"lists-search-{width}")
    page.fill("#s-q", "")
    _settle(page)

    # The class by its number: 3 finds 3班 and (3)班, not 13班.
    page.fill("#s-class", "3")
    page.press("#s-class", "Enter")
    _settle(page)
    assert sorted(_names(page)) == sorted(["张馨瑜", "李明轩", "王子涵"])
    shot(page, f"lists-class-{width}")
    page.fill("#s-class", "")
    page.press("#s-class", "Enter")
    _settle(page)

    # Sort by name, then the other way round: the column header toggles (aria-sort says which); the cards of a
    # phone have no header row, so the same links stand above them.
    sort_by_name = ".sort-bar a.sort-link >> text=姓名" if phone else "thead a.sort-link >> text=姓名"
    page.click(sort_by_name)
    _settle(page)
    assert page.get_attribute("th:has(a[data-sort='-name'])", "aria-sort") == "ascending"
    ascending = _names(page)
    assert ascending == sorted(ascending) and len(ascending) == 25
    page.click(sort_by_name)
    _settle(page)
    assert page.get_attribute("th:has(a[data-sort='name'])", "aria-sort") == "descending"
    assert _names(page) == sorted(ascending, reverse=True)
    shot(page, f"lists-sorted-{width}")

    # 20 a page, then page 2; the order is kept across pages and into the next search.
    page.click("a[data-page-size='20']")
    _settle(page)
    first = _names(page)
    assert len(first) == 20
    page.click(".pager a.page-no >> text=2")
    _settle(page)
    second = _names(page)
    assert len(second) == 5 and first + second == sorted(ascending, reverse=True)
    assert page.locator(".pager .pages .page-no.current").inner_text() == "2"
    assert "size=20" in page.url and "page=2" in page.url
    shot(page, f"lists-page2-{width}")
    page.fill("#s-q", "学生")
    _settle(page)
    assert len(_names(page)) == 20 and _names(page) == sorted(_names(page), reverse=True)
    page.fill("#s-q", "")
    _settle(page)

    # Select rows: the bar appears with the count; select the page; clear; post two to 调班.
    bar = page.locator("#selection-form")
    assert not bar.is_visible()
    boxes = page.locator("#results input[data-select-row]")
    boxes.nth(0).check()
    boxes.nth(1).check()
    assert bar.is_visible() and page.locator("[data-selection-count]").inner_text() == "2"
    shot(page, f"lists-selected-{width}")
    if not phone:
        page.check("#results input[data-select-all]")
        assert page.locator("[data-selection-count]").inner_text() == str(boxes.count())
    page.click("[data-selection-clear]")
    assert not bar.is_visible()
    boxes.nth(0).check()
    boxes.nth(2).check()
    chosen = [boxes.nth(i).get_attribute("value") for i in (0, 2)]
    with page.expect_request(lambda r: r.method == "POST" and "/class-move/" in r.url) as posted:
        page.click("#selection-form button:has-text('调班')")
    sent = parse_qs(posted.value.post_data or "")
    assert sorted(sent["ids"]) == sorted(chosen)
    assert sent["next"][0].startswith(reverse("students:list"))
    page.wait_for_load_state("networkidle")
    shot(page, f"lists-class-move-{width}")
    if phone:
        width_px = page.evaluate("document.documentElement.scrollWidth")
        assert width_px <= 390, f"the list scrolls sideways at 390px ({width_px}px)"
    context.close()


@pytest.mark.django_db(transaction=True)
def test_registration_region_suggestions_and_dates_in_an_english_browser(live_server, browser):  # type: ignore[no-untyped-def]
    _seed()
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    page = _login(context, live_server)
    page.goto(f"{live_server.url}{reverse('students:register')}")
    birth = page.locator("[name=birth_date]")
    assert birth.get_attribute("type") == "text" and birth.get_attribute("placeholder") == "YYYY-MM-DD"
    entry = page.locator("[name=entry_ym]")
    assert entry.get_attribute("type") == "text" and entry.get_attribute("placeholder") == "YYYY-MM"
    page.locator("[name=birthplace_code]").press_sequentially("乌鲁木齐")
    page.locator("#id_birthplace_code-regions option[value='650100']").wait_for(state="attached")
    options = page.eval_on_selector_all(
        "#id_birthplace_code-regions option", "os => os.map(o => [o.value, o.textContent])"
    )
    assert ["650100", "新疆维吾尔自治区乌鲁木齐市"] in options  # another province than the school's
    page.locator("[name=birthplace_code]").fill("")
    page.locator("[name=birthplace_code]").press_sequentially("4401")
    page.locator("#id_birthplace_code-regions option[value='650100']").wait_for(
        state="detached"
    )  # replaced by the new ones
    first = page.eval_on_selector_all(
        "#id_birthplace_code-regions option", "os => os.slice(0, 2).map(o => o.value)"
    )
    assert first == ["440100", "440103"]
    shot(page, "lists-register-regions-1280")
    birth.fill("2019-05-20")  # typed as the placeholder says, kept as typed (no locale reformatting)
    assert birth.input_value() == "2019-05-20"
    assert re.fullmatch(birth.get_attribute("pattern") or "", "2019-05-20")
    context.close()
