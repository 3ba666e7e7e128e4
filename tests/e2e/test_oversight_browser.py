"""Browser test of 违规监督 (第5、26条) in headless Chromium: a city registrar opens the page from the menu, sees
the counties with their counts, drills into a county and into the records behind a count (masked names). At
1280 px and 390 px (no sideways scrolling on the phone); screenshots go to ``var/screenshots/``."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import shot
from tests.factories import core as f
from tests.oversight.seed import seed_new_metrics, seed_violations
from xueji.accounts.enums import Role
from xueji.core.masking import mask_name
from xueji.students.models import Enrollment

pytestmark = pytest.mark.e2e


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("width", [1280, 390])
def test_city_registrar_drills_down_to_the_overdue_archives(live_server, browser, width):  # type: ignore[no-untyped-def]
    f.departments()
    school_a = f.school("440105", "primary", name="海珠区第一小学")
    school_b = f.school("440106", "primary", name="天河区实验小学")
    seed_violations(school_a, school_b)
    seed_new_metrics(school_a, school_b)
    f.user(Role.DEPT_REGISTRAR, f.dept("440100"), username="city_reg")

    phone = width < 1000
    context = browser.new_context(
        viewport={"width": width, "height": 844 if phone else 900},
        locale="zh-CN",
        is_mobile=phone,
        has_touch=phone,
    )
    page = context.new_page()
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", "city_reg")
    page.fill("input[name=password]", f.PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")

    page.goto(f"{live_server.url}/oversight/")
    assert page.locator("h1").inner_text().startswith("违规监督")
    row = page.locator(f'tr[data-unit="{school_a.org.parent_id}"]')
    assert row.locator('[data-metric="archives"]').inner_text().strip() == "2"
    shot(page, f"oversight_city_{width}")
    if phone:
        assert page.evaluate("document.documentElement.scrollWidth") <= width

    row.locator("a", has_text="海珠区").click()
    page.wait_for_url(f"**/oversight/{school_a.org.parent_id}/**")
    school_row = page.locator(f'tr[data-unit="{school_a.org_id}"]')
    school_row.locator('[data-metric="archives"] a').click()
    page.wait_for_url(f"**/oversight/{school_a.org_id}/archives/**")
    items = page.locator('[data-testid="oversight-items"] tbody tr')
    assert items.count() == 2
    overdue = Enrollment.objects.filter(school=school_a, archive_due__lt="2100-01-01", is_active=True)
    names = {e.person.name for e in overdue.select_related("person")}
    text = page.locator('[data-testid="oversight-items"]').inner_text()
    assert not any(n in text for n in names)
    assert any(mask_name(n) in text for n in names)
    shot(page, f"oversight_items_{width}")
    if phone:
        assert page.evaluate("document.documentElement.scrollWidth") <= width

    # 第15、26条: approvals decided past their clock, by person, for the county
    page.goto(f"{live_server.url}/oversight/{school_a.org.parent_id}/")
    assert (
        page.locator(f'tr[data-unit="{school_a.org_id}"] [data-metric="late_decisions"]').inner_text().strip()
        == "2"
    )
    page.click("[data-testid=oversight-people-link]")
    page.wait_for_selector("[data-testid=oversight-people]")
    assert "wang_approver" in page.inner_text("[data-testid=oversight-people]")
    shot(page, f"oversight_people_{width}")
    if phone:
        assert page.evaluate("document.documentElement.scrollWidth") <= width
    context.close()
