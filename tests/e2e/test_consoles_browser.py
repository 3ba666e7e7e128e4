"""Browser test of the three consoles (三权分立; issue 11 §6) in headless Chromium: each administrator signs in and
finds on the dashboard's menu its own console and nothing of the others'; the system administrator's
configuration-and-backups page at 1280 and 390 px. Screenshots go to ``var/screenshots/``."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import shot
from tests.factories import core as f
from xueji.accounts.enums import Role

pytestmark = pytest.mark.e2e

#: The menu labels each console shows, and labels of the other consoles it must not show.
MENUS = {
    Role.SYSTEM_ADMIN: ({"账号管理", "学校", "机构", "系统配置与备份"}, {"安全预警", "接入系统", "审计日志"}),
    Role.SECURITY_ADMIN: (
        {"账号管理", "安全预警", "接入系统"},
        {"系统配置与备份", "审计日志", "导出审计记录"},
    ),
    Role.AUDIT_ADMIN: ({"审计日志", "导出审计记录"}, {"账号管理", "安全预警", "系统配置与备份", "学校"}),
}


def _login(context: Any, live_server: Any, username: str) -> Any:
    page = context.new_page()
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", f.PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    return page


@pytest.mark.django_db(transaction=True)
def test_each_admin_finds_only_its_console(browser: Any, live_server: Any) -> None:
    f.departments()
    for role, (mine, others) in MENUS.items():
        f.user(role, f.dept("440000"), username=f"console_{role}")
        ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
        page = _login(ctx, live_server, f"console_{role}")
        labels = {t.strip() for t in page.locator("nav a").all_inner_texts()}
        shot(page, f"console-dashboard-{role}")
        assert mine <= labels, (role, labels)
        assert not others & labels, (role, labels)
        ctx.close()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("width", [1280, 390])
def test_system_console_page(browser: Any, live_server: Any, width: int) -> None:
    f.departments()
    f.user(Role.SYSTEM_ADMIN, f.dept("440000"), username="console_sys")
    ctx = browser.new_context(viewport={"width": width, "height": 900}, locale="zh-CN")
    page = _login(ctx, live_server, "console_sys")
    page.goto(f"{live_server.url}/console/system/")
    assert page.locator("h1").inner_text().strip() == "系统配置与备份"
    assert page.locator("text=PASSWORD_MAX_AGE_DAYS").count() == 1 or width == 390
    assert page.locator("h2", has_text="数据库备份").count() == 1
    shot(page, f"console-system-{width}")
    ctx.close()
