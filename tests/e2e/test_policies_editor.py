"""The row editor in headless Chromium: htmx "add row" appends a row and bumps the formset total, and the
saved draft holds exactly the rows typed (第3条). Marked e2e."""

from __future__ import annotations

import pytest
from django.conf import settings

from tests.factories import policies as pf
from xueji.policies.models import ExtraFieldSet

pytestmark = pytest.mark.e2e


@pytest.mark.django_db(transaction=True)
def test_add_rows_with_htmx_and_save(live_server, browser, client, tree):
    user = pf.province_registrar("440000", username="gd_browser")
    client.force_login(user)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    context = browser.new_context(viewport={"width": 390, "height": 900}, locale="zh-CN")
    context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": live_server.url}])
    page = context.new_page()
    page.goto(live_server.url + "/policies/new/")
    page.fill("#id_rows-0-key", "bus_route")
    page.fill("#id_rows-0-label", "校车线路")
    page.select_option("#id_rows-0-type", "choice")
    page.select_option("#id_rows-0-required", "True")
    page.fill("#id_rows-0-options", "01 一号线\n02 二号线")
    page.click("button[name=add_row]")
    page.wait_for_selector("#id_rows-1-key")
    assert page.input_value("#id_rows-0-key") == "bus_route"  # htmx appended; nothing was reloaded
    assert page.get_attribute("#id_rows-TOTAL_FORMS", "value") == "2"
    page.fill("#id_rows-1-key", "note")
    page.fill("#id_rows-1-label", "备注")
    page.click("text=保存草稿")
    page.wait_for_url("**/policies/*/")
    assert "草稿" in page.inner_text("h1")
    fs = ExtraFieldSet.objects.get()
    assert [(d["key"], d["required"]) for d in fs.fields] == [("bus_route", True), ("note", False)]
    assert fs.fields[0]["choices"] == [{"code": "01", "label": "一号线"}, {"code": "02", "label": "二号线"}]
