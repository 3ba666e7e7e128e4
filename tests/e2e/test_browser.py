"""Browser tests in headless Chromium (Debian's /usr/bin/chromium, driven by Playwright's sync API).

A school registrar logs in, registers a student through the form, finds them with the live search, opens the
record (identity number masked, revealed on request), uploads an archive document, and — where the imports
pages are wired — imports a small CSV. Screenshots at 1280 px and 390 px go to ``var/screenshots/``.
"""

from __future__ import annotations

import re
from datetime import date

import pytest
from django.urls import reverse

from tests.e2e.conftest import SHOTS, shot
from tests.factories import core as f
from tests.factories import students as sf
from xueji.audit.enums import EventType
from xueji.audit.models import AuditEvent
from xueji.students.models import ArchiveDocument, Enrollment, Person

pytestmark = pytest.mark.e2e

PNG_1PX = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c6360000002"
    "0000050001e226059b0000000049454e44ae426082"
)
_shot = shot


def _shot_phone(page: object, name: str, slices: int = 3) -> None:
    """A full-page shot plus screen-sized slices (easier to judge by eye than one very tall image)."""
    _shot(page, name)
    height = page.evaluate("document.documentElement.scrollHeight")  # type: ignore[attr-defined]
    for i in range(min(slices, (height + 843) // 844)):
        page.screenshot(
            path=str(SHOTS / f"{name}-{i + 1}.png"),
            full_page=True,  # type: ignore[attr-defined]
            clip={"x": 0, "y": i * 844, "width": 390, "height": min(844, height - i * 844)},
        )


def _login(page: object, live_server: object, username: str) -> None:
    page.goto(f"{live_server.url}/login/")  # type: ignore[attr-defined]
    page.fill("input[name=username]", username)  # type: ignore[attr-defined]
    page.fill("input[name=password]", f.PASSWORD)  # type: ignore[attr-defined]
    page.click("button[type=submit]")  # type: ignore[attr-defined]
    page.wait_for_url(f"{live_server.url}/")  # type: ignore[attr-defined]


def _fill_registration(page: object, id_number: str) -> None:
    fill = page.fill  # type: ignore[attr-defined]
    select = page.select_option  # type: ignore[attr-defined]
    fill("[name=name]", "李小花")
    select("[name=gender]", "2")
    fill("[name=birth_date]", "2019-05-20")
    select("[name=ethnicity]", "01")
    fill("[name=birthplace_code]", "440105")
    fill("[name=native_place]", "广东广州")
    fill("[name=household_code]", "440105")
    select("[name=household_type]", "2")
    select("[name=health]", "10")
    fill("[name=id_number]", id_number)
    select("[name=grade]", "1")
    fill("[name=class_name]", "2班")
    fill("[name=entry_ym]", "2026-09")
    select("[name=entry_method]", "11")
    select("[name=study_mode]", "1")
    fill("[name=phone]", "13800138000")
    fill("[name=postal_code]", "510220")
    for key in ("current_address", "mailing_address", "home_address"):
        fill(f"[name={key}]", "广州市海珠区新港中路1号")
    fill("[name='guardians.0.name']", "李大山")
    select("[name='guardians.0.relation']", "1")
    fill("[name='guardians.0.address']", "广州市海珠区新港中路1号")
    fill("[name='guardians.0.phone']", "13900139000")
    for key in (
        "only_child",
        "preschool",
        "migrant_child",
        "orphan",
        "martyr_child",
        "needs_aid",
        "boarding_subsidy",
    ):
        select(f"[name={key}]", "0")
    select("[name=left_behind]", "0")


@pytest.mark.django_db(transaction=True)
def test_register_search_open_and_archive(live_server, browser, media):  # type: ignore[no-untyped-def]
    f.departments()
    school = f.school("440105", "primary", name="海珠区第一小学")
    f.registrar(school, username="reg_e2e", display_name="王老师")
    sf.student(school, None, name="陈一")  # something already on the list
    id_number = f.resident_id(birth=date(2019, 5, 20), gender="2", seq=124)

    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = context.new_page()
    _login(page, live_server, "reg_e2e")
    _shot(page, "dashboard-1280")

    # Register: first with a mistake (field-level error, input kept), then correctly.
    page.goto(f"{live_server.url}{reverse('students:register')}")
    _fill_registration(page, id_number[:-1] + ("0" if id_number[-1] != "0" else "1"))
    page.click("button:has-text('提交注册')")
    error = page.locator("#id_id_number-error")
    error.wait_for()
    assert "校验" in error.inner_text() or "身份证" in error.inner_text()
    assert page.input_value("[name=name]") == "李小花"
    assert Person.objects.filter(name="李小花").count() == 0
    _shot(page, "register-error-1280")
    page.fill("[name=id_number]", id_number)
    page.click("button:has-text('提交注册')")
    page.wait_for_url(re.compile(r"/students/[0-9a-f-]{36}/$"))
    number = page.locator("[data-testid=new-number]").inner_text()
    assert number == "G" + id_number
    person = Person.objects.get(name="李小花")
    assert person.student_number == number
    _shot(page, "detail-1280")

    # Search with the live (htmx) search box.
    page.goto(f"{live_server.url}{reverse('students:list')}")
    page.fill("#s-q", "李小")
    page.wait_for_url(re.compile(r"q=%E6%9D%8E"))
    row = page.locator("#results table tbody tr")
    row.first.wait_for()
    assert row.count() == 1
    html = page.content()
    assert id_number not in html and number not in html
    assert number[:7] + "********" + number[-4:] in html
    _shot(page, "students-1280")

    # Open the record; reveal the identity number in place (audited).
    page.click("#results a:has-text('李小花')")
    page.wait_for_url(re.compile(r"/students/[0-9a-f-]{36}/$"))
    assert id_number not in page.content()
    page.click("#rv-id_number button")
    page.locator(".revealed").wait_for()
    assert page.locator(".revealed").inner_text() == id_number
    assert (
        AuditEvent.objects.filter(event_type=EventType.STUDENT_REVEALED, subject_id=str(person.pk)).count()
        == 1
    )

    # Archive: upload a PNG, then mark the archive complete.
    page.goto(f"{page.url}#archive")
    page.select_option("[name=a-kind]", "identity")
    page.fill("[name=a-title]", "居民身份证")
    page.set_input_files(
        "[name=a-file]", files=[{"name": "id.png", "mimeType": "image/png", "buffer": PNG_1PX}]
    )
    page.click("button:has-text('上传')")
    page.locator("text=已上传档案材料").wait_for()
    assert ArchiveDocument.objects.filter(person=person, content_type="image/png").count() == 1
    page.click("button:has-text('档案建立完成')")
    page.locator("text=学籍档案已标记为建立完成").wait_for()
    assert Enrollment.objects.get(person=person).archive_completed_at is not None
    _shot(page, "archive-1280")
    page.goto(f"{page.url.split('#')[0]}#history")
    _shot(page, "history-1280")

    # Phone-sized screen: the same pages stay usable.
    phone = browser.new_context(
        viewport={"width": 390, "height": 844},
        locale="zh-CN",
        is_mobile=True,
        has_touch=True,
        device_scale_factor=1,
    )
    phone.add_cookies(context.cookies())
    mpage = phone.new_page()
    for name, path in (
        ("dashboard", "/"),
        ("students", reverse("students:list") + "?q=李"),
        ("detail", reverse("students:detail", args=[person.pk])),
        ("register", reverse("students:register")),
        ("orgs", reverse("regions:tree")),
        ("schools", reverse("schools:list")),
    ):
        mpage.goto(f"{live_server.url}{path}")
        _shot_phone(mpage, f"{name}-390")
        width = mpage.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"{name} scrolls sideways at 390px ({width}px)"
    mpage.click("[data-toggle-nav]")
    mpage.locator("#sidenav.open").wait_for()
    phone.close()
    context.close()


@pytest.mark.django_db(transaction=True)
def test_org_tree_expands_lazily(live_server, browser):  # type: ignore[no-untyped-def]
    f.departments()
    school = f.school("440105", "primary", name="海珠区第一小学")
    f.user("dept_registrar", f.dept("440100"), username="city_reg")
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = context.new_page()
    _login(page, live_server, "city_reg")
    page.goto(f"{live_server.url}{reverse('regions:tree')}")
    county = page.locator("details:has(> summary:has-text('海珠区'))").first
    link = page.locator(f"a:has-text('{school.name}')")
    assert link.count() == 0  # the county's schools are not in the page until it is opened
    county.locator("summary").click()
    link.wait_for()
    assert link.count() == 1
    assert link.get_attribute("href") == reverse("schools:detail", args=[school.pk])
    _shot(page, "orgs-1280")
    context.close()


@pytest.mark.django_db(transaction=True)
def test_import_a_small_csv(live_server, browser, media):  # type: ignore[no-untyped-def]
    new_url = reverse("imports:new")
    f.departments()
    school = f.school("440105", "primary", name="海珠区第一小学")
    f.registrar(school, username="reg_imp")
    from xueji.students.fields import ENROLLMENT_FIELDS, GUARDIAN_FIELDS, PERSON_FIELDS

    person = f.person_data(name="赵导入")
    enrollment = f.enrollment_data()
    guardian = f.guardian_data()
    headers = [s.label for s in PERSON_FIELDS + ENROLLMENT_FIELDS] + [
        f"家庭成员1{s.label}" for s in GUARDIAN_FIELDS
    ]
    values = [person.get(s.key, "") for s in PERSON_FIELDS] + [
        enrollment.get(s.key, "") for s in ENROLLMENT_FIELDS
    ]
    values += [guardian.get(s.key, "") for s in GUARDIAN_FIELDS]
    csv = ",".join(headers) + "\n" + ",".join(str(v) for v in values) + "\n"

    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = context.new_page()
    _login(page, live_server, "reg_imp")
    page.goto(f"{live_server.url}{new_url}")
    page.set_input_files(
        "input[type=file]",
        files=[{"name": "students.csv", "mimeType": "text/csv", "buffer": csv.encode("utf-8")}],
    )
    page.click("form button[type=submit]")
    commit = page.locator("button:has-text('确认导入')")
    commit.wait_for()
    _shot(page, "import-checked-1280")
    commit.click()
    page.locator("dt:has-text('已导入')").wait_for()
    _shot(page, "import-committed-1280")
    assert Person.objects.filter(name="赵导入").count() == 1
    assert Enrollment.objects.get(person__name="赵导入").school_id == school.pk
    context.close()


@pytest.mark.django_db(transaction=True)
def test_record_history_loads_earlier_rows_on_demand(live_server, browser):  # type: ignore[no-untyped-def]
    """Issue 7: the record page shows the latest history rows; "显示更早的记录" appends the earlier ones in place
    (htmx, CSP intact), at desktop and phone widths."""
    from xueji.audit.services import record
    from xueji.students import views as student_views

    f.departments()
    school = f.school("440105", "primary", name="海珠区第一小学")
    f.registrar(school, username="reg_hist")
    e = sf.student(school, None, name="林小雨")
    total = student_views.HISTORY_FIRST + 4
    for i in range(total):
        record(
            event_type=EventType.STUDENT_UPDATED,
            actor=None,
            subject_type="student",
            subject_id=e.person_id,
            summary=f"第{i:03d}次修改",
        )
    for width, name in ((1280, "history-more-1280"), (390, "history-more-390")):
        context = browser.new_context(viewport={"width": width, "height": 900}, locale="zh-CN")
        page = context.new_page()
        _login(page, live_server, "reg_hist")
        page.goto(f"{live_server.url}{reverse('students:detail', args=[e.person_id])}?views=0#history")
        rows = page.locator("#history table.history").first.locator("tbody tr:not(.more-row)")
        assert rows.count() == student_views.HISTORY_FIRST
        assert page.locator("text=第000次修改").count() == 0
        page.click("button:has-text('显示更早的记录')")
        page.locator("text=第000次修改").wait_for()
        assert rows.count() == total + 1  # + the registration event
        assert page.locator("button:has-text('显示更早的记录')").count() == 0
        _shot(page, name)
        context.close()
