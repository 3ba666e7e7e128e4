"""Browser test of a bulk registration (第6条; issue 8 item 8) in headless Chromium, at 1280 px and 390 px: the
dry run previews the first rows with the bad cell marked and offers the problems as .xlsx (downloaded and
opened), the corrected file is committed, and the batch lists the students created with their 学籍号 — also
downloaded. Screenshots go to ``var/screenshots/``."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from tests.e2e.conftest import shot
from tests.factories import core as f
from tests.factories import imports as fi
from xueji.students.models import Person

pytestmark = pytest.mark.e2e


def _rows(n: int, start: int) -> list[dict[str, str]]:
    """``n`` valid rows for 一年级: pupils six years old at the start of the current school year."""
    today = timezone.localdate()
    school_year = today.year if today.month >= 9 else today.year - 1
    first = date(school_year - 6, 1, 10)
    return [
        fi.student_row(birth=first + timedelta(days=start + i), **{"入学年月": f"{school_year}09"})
        for i in range(n)
    ]


def _csv(rows: list[dict[str, str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(fi.HEADERS)
    for row in rows:
        writer.writerow([row.get(h, "") for h in fi.HEADERS])
    return buffer.getvalue().encode("utf-8-sig")


def _login(context: object, live_server: object, username: str) -> object:
    page = context.new_page()  # type: ignore[attr-defined]
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", f.PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    return page


def _upload(page: object, live_server: object, name: str, data: bytes) -> None:
    page.goto(f"{live_server.url}{reverse('imports:new')}")  # type: ignore[attr-defined]
    page.set_input_files(  # type: ignore[attr-defined]
        "input[type=file]", files=[{"name": name, "mimeType": "text/csv", "buffer": data}]
    )
    page.click("form button[type=submit]")  # type: ignore[attr-defined]
    page.locator("[data-testid=batch-notice]").wait_for()  # type: ignore[attr-defined]


def _no_sideways_scroll(page: object, width: int, name: str) -> None:
    scroll = page.evaluate("document.documentElement.scrollWidth")  # type: ignore[attr-defined]
    assert scroll <= width, f"{name} scrolls sideways at {width}px ({scroll}px)"


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("width", [1280, 390])
def test_dry_run_preview_problems_commit_created_list(live_server, browser, settings, tmp_path, width):  # type: ignore[no-untyped-def]
    settings.VAR_DIR = tmp_path / "var"
    f.departments()
    school = f.school("440105", "primary", name="海珠区第一小学")
    f.registrar(school, username="reg_imp", display_name="王老师")
    rows = _rows(3, start=0 if width > 400 else 40)
    bad = [dict(r) for r in rows]
    bad[1]["出生日期"] = "2019-02-30"  # 第 3 行: no such day
    options = {"viewport": {"width": width, "height": 900 if width > 400 else 844}, "locale": "zh-CN"}
    if width < 400:
        options.update(is_mobile=True, has_touch=True)
    context = browser.new_context(accept_downloads=True, **options)
    page = _login(context, live_server, "reg_imp")

    # 1. The dry run: one message, the preview with the bad cell marked, the problem list.
    _upload(page, live_server, "新生.csv", _csv(bad))
    assert page.locator("[data-testid=batch-notice]").count() == 1
    assert "发现 1 个问题" in page.locator("[data-testid=batch-notice]").inner_text()
    preview = page.locator("[data-testid=preview]")
    assert preview.locator("tbody tr").count() == 3
    marked = preview.locator("td.cell-bad")
    assert (
        marked.count() == 1 and "2019-02-30" in marked.inner_text() and "不是有效日期" in marked.inner_text()
    )
    id_number = rows[0]["身份证件号"]
    assert id_number not in page.content()  # masked in the preview
    assert page.locator("button:has-text('确认导入')").count() == 0
    _no_sideways_scroll(page, width, "dry run")
    shot(page, f"import-dry-run-{width}")

    # 2. The problems workbook: one row per problem, and the upload with the bad cell filled red.
    with page.expect_download() as info:
        page.click("[data-testid=problems-download]")
    download = info.value
    assert download.suggested_filename == "新生-问题清单.xlsx"
    download.save_as(tmp_path / f"problems-{width}.xlsx")
    wb = load_workbook(tmp_path / f"problems-{width}.xlsx")
    assert wb.sheetnames == ["问题清单", "原始数据（已标注）"]
    first_problem = next(wb["问题清单"].iter_rows(min_row=2, values_only=True))
    assert first_problem[:2] == (3, "出生日期")
    copy = wb["原始数据（已标注）"]
    column = [c.value for c in copy[1]].index("出生日期") + 1
    assert copy.cell(row=3, column=column).fill.fgColor.rgb == "FFFFC7CE"

    # 3. The corrected file: checked, committed; the batch lists the students with their full 学籍号.
    _upload(page, live_server, "新生-改.csv", _csv(rows))
    assert "校验通过：3 行均可导入" in page.locator("[data-testid=batch-notice]").inner_text()
    shot(page, f"import-checked-{width}")
    page.click("button:has-text('确认导入 3 名学生')")
    created = page.locator("[data-testid=created]")
    created.wait_for()
    assert page.locator("[data-testid=batch-notice]").count() == 1
    assert "已导入 3 名学生" in page.locator("[data-testid=batch-notice]").inner_text()
    numbers = {p.student_number for p in Person.objects.all()}  # stored encrypted: read through the model
    assert len(numbers) == 3
    shown = set(created.locator("td[data-label='学籍号']").all_inner_texts())
    assert shown == numbers  # the school's own registrar sees them in full (issue 8 item 1)
    assert created.locator("td[data-label='年级']").first.inner_text() == "一年级"
    _no_sideways_scroll(page, width, "created list")
    shot(page, f"import-created-{width}")

    with page.expect_download() as info:
        page.click("[data-testid=created-download]")
    info.value.save_as(tmp_path / f"created-{width}.xlsx")
    ws = load_workbook(tmp_path / f"created-{width}.xlsx").active
    assert {r[0] for r in ws.iter_rows(min_row=2, values_only=True)} == numbers
    assert ws.freeze_panes == "A2"
    context.close()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("width", [1280, 390])
def test_county_roster_export_with_chosen_columns(live_server, browser, settings, tmp_path, width):  # type: ignore[no-untyped-def]
    """Issue 8 item 9 through 第24条 (issue 11 §4): a county registrar opens 名册导出 from the menu, lands on the
    export request, picks columns and a grade and names the legal basis; the city's approver approves; the
    registrar downloads a de-identified roster of their county (no name, no 学籍号)."""
    from tests.factories import students as sf
    from tests.factories.tasks import run_queued_tasks
    from xueji.audit import signing

    settings.VAR_DIR = tmp_path / "var"
    settings.AUDIT_CHAIN_KEY_DIR = tmp_path / "keys"
    settings.XUEJI_EXPORT_K = 5
    signing.generate_files()
    f.departments()
    school = f.school("440105", "primary", name="海珠区第一小学")
    today = timezone.localdate()
    school_year = today.year if today.month >= 9 else today.year - 1
    born = date(school_year - 6, 2, 1)
    pupils = [
        sf.student(school, None, name=n, birth_date=born + timedelta(days=i))
        for i, n in enumerate("甲乙丙丁戊")
    ]
    f.user("dept_registrar", f.dept("440105"), username="haizhu", display_name="海珠区学籍科")
    f.user("approver", f.dept("440100"), username="gz_approver", display_name="广州市审核人")
    options = {"viewport": {"width": width, "height": 900 if width > 400 else 844}, "locale": "zh-CN"}
    if width < 400:
        options.update(is_mobile=True, has_touch=True)
    context = browser.new_context(accept_downloads=True, **options)
    page = _login(context, live_server, "haizhu")
    if width < 400:
        page.click("[data-toggle-nav]")
    page.click("nav.sidenav a:has-text('名册导出')")
    page.wait_for_url(f"{live_server.url}{reverse('exports:new')}?source=roster")
    for key in ("gender", "birth_date", "school_code"):
        page.check(f"input[name=fields_][value={key}]")
    page.check("input[name=fields_][value=name]")  # asked for, dropped from a de-identified file
    page.select_option("[name=grade]", "1")
    page.fill("[name=purpose]", "核定学位需求")
    page.fill("[name=recipient]", "海珠区教育局规划科")
    page.fill("[name=legal_basis]", "海珠区人民政府关于核定学位的批复")
    page.fill("[name=authority]", "广州市海珠区人民政府")
    page.select_option("[name=authority_level]", "county")
    page.fill("[name=document_number]", "海府函〔2026〕12号")
    page.fill("[name=period_start]", today.isoformat())
    page.fill("[name=period_end]", (today + timedelta(days=30)).isoformat())
    _no_sideways_scroll(page, width, "export request form")
    page.evaluate("window.scrollTo(0, 0)")
    shot(page, f"roster-export-request-{width}")
    page.click("[data-testid=export-submit]")
    page.wait_for_selector("[data-testid=export-state]")
    assert page.inner_text("[data-testid=export-state]") == "待审批"
    detail_url = page.url
    approver = _login(context.browser.new_context(**options), live_server, "gz_approver")
    approver.goto(f"{live_server.url}{reverse('exports:approvals')}")
    approver.click(f"a[href='{detail_url.removeprefix(live_server.url)}']")
    approver.fill("[name=note]", "同意")
    shot(approver, f"roster-export-approve-{width}")
    approver.click("[data-testid=export-approve]")
    approver.wait_for_selector("[data-testid=export-signature]")
    run_queued_tasks()
    page.goto(detail_url)
    assert page.inner_text("[data-testid=export-state]") == "可下载"
    with page.expect_download() as info:
        page.click("[data-testid=export-download]")
    info.value.save_as(tmp_path / f"roster-{width}.xlsx")
    book = load_workbook(tmp_path / f"roster-{width}.xlsx")
    ws = book.worksheets[0]
    header = [c.value for c in ws[1]]
    assert header == ["假名编号", "性别", "出生年份", "学校标识码"]
    rows = list(ws.iter_rows(min_row=2, values_only=True))
    assert len(rows) == 5 and {r[3] for r in rows} == {school.school_code}
    text = str(rows)
    assert all(p.person.name not in text and p.person.student_number not in text for p in pupils)
    assert "说明" in book.sheetnames
    context.close()
