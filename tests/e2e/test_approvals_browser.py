"""Browser test of approving (issue 8 item 10) in headless Chromium at 1280 px and 390 px: the county opens an
approval's confirmation on the card (before → after), confirms it; selects cards and approves them in batch
with one confirmation and one result per item; a change starting later shows as 已批准待生效 with its date;
the school finds the request returned to it on its worklist. Screenshots go to ``var/screenshots/``."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.e2e.conftest import shot
from tests.factories import changes as c
from tests.factories import core as f
from xueji.changes.models import ChangeRequest
from xueji.changes.services import change_decide, change_submit
from xueji.students.models import Person

pytestmark = pytest.mark.e2e


def _login(context: Any, live_server: Any, username: str) -> Any:
    page = context.new_page()
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", f.PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    return page


def _context(browser: Any, width: int) -> Any:
    if width >= 1000:
        return browser.new_context(viewport={"width": width, "height": 900}, locale="zh-CN")
    return browser.new_context(
        viewport={"width": width, "height": 844}, locale="zh-CN", is_mobile=True, has_touch=True
    )


def _no_sideways_scroll(page: Any, width: int, name: str) -> None:
    scroll = page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= width, f"{name} scrolls sideways at {width}px ({scroll}px)"


def _suspension(reg: Any, enrollment: Any, start: Any) -> ChangeRequest:
    return change_submit(
        actor=reg,
        kind="suspension",
        enrollment=enrollment,
        facts={
            "start_date": start.isoformat(),
            "end_date": (start + timedelta(days=150)).isoformat(),
            "reason": "illness",
            "applicant_name": "张大明",
        },
    )


def _seed(reg: Any, school: Any, tag: str) -> dict[str, ChangeRequest]:
    """Three items for the county: a key-data change (new name), a suspension starting in three weeks and
    one starting today."""
    today = timezone.localdate()
    k = c.enrolled(school, grade=3, name=f"王{tag}明")
    later = c.enrolled(school, grade=3, name=f"林{tag}雨")
    now = c.enrolled(school, grade=3, name=f"周{tag}海")
    return {
        "K": change_submit(
            actor=reg,
            kind="key_data_change",
            enrollment=k,
            facts={"name": f"王{tag}晓", "evidence_ref": "户口簿变更页"},
        ),
        "later": _suspension(reg, later, today + timedelta(days=21)),
        "now": _suspension(reg, now, today),
    }


def _approve_one_and_batch(page: Any, live_server: Any, items: dict[str, ChangeRequest], width: int) -> None:
    page.goto(f"{live_server.url}{reverse('changes:worklist')}")
    card = page.locator(f"#wi-{items['K'].pk}-1")
    assert card.locator("[data-testid=wi-changes]").inner_text().count("→") == 1
    shot(page, f"approvals-worklist-{width}")
    _no_sideways_scroll(page, width, "worklist")

    # One approval: the confirmation opens on the card with before → after; nothing is decided yet.
    card.locator("button[value=approve]").click()
    confirm = page.locator(f"#wi-{items['K'].pk}-1 [data-testid=confirm]")
    confirm.wait_for()
    table = confirm.locator("[data-testid=change-table]").inner_text()
    person_id = items["K"].person_id
    assert person_id is not None
    name = Person.objects.get(pk=person_id).name
    assert name in table and items["K"].facts["name"] in table
    assert ChangeRequest.objects.get(pk=items["K"].pk).state == "pending"
    shot(page, f"approvals-confirm-{width}")
    _no_sideways_scroll(page, width, "confirmation")
    confirm.locator("[data-testid=confirm-approve]").click()
    page.locator(f"#wi-{items['K'].pk}-1 [data-testid=done]").wait_for()
    assert ChangeRequest.objects.get(pk=items["K"].pk).state == "approved"
    assert Person.objects.get(pk=person_id).name == items["K"].facts["name"]

    # Batch: two cards ticked, one confirmation listing both, one result each.
    for key in ("later", "now"):
        page.locator(f"#wi-{items[key].pk}-1 [data-testid=batch-check]").check()
    page.locator("[data-testid=batch-submit]").click()
    page.locator("[data-testid=batch-confirm]").wait_for()
    assert page.locator("[data-testid=batch-preview]").count() == 2
    assert ChangeRequest.objects.get(pk=items["now"].pk).state == "pending"
    shot(page, f"approvals-batch-confirm-{width}")
    _no_sideways_scroll(page, width, "batch confirmation")
    page.locator("[data-testid=batch-confirm-submit]").click()
    page.locator("[data-testid=batch-results]").wait_for()
    assert page.locator("[data-testid=batch-result][data-ok='1']").count() == 2
    later = ChangeRequest.objects.get(pk=items["later"].pk)
    assert (later.state, ChangeRequest.objects.get(pk=items["now"].pk).state) == ("scheduled", "approved")
    assert later.effective_on is not None and later.effective_on.isoformat() in page.content()
    shot(page, f"approvals-batch-results-{width}")
    _no_sideways_scroll(page, width, "batch results")

    # The notices of the work just finished are shown as done.
    page.goto(f"{live_server.url}{reverse('changes:worklist')}")
    assert page.locator("[data-testid=notification-done]").count() >= 3
    shot(page, f"approvals-worklist-after-{width}")

    # The scheduled change: its page says when it takes effect.
    page.goto(f"{live_server.url}{reverse('changes:detail', args=[later.pk])}")
    assert later.effective_on.isoformat() in page.locator("[data-testid=scheduled]").inner_text()
    shot(page, f"approvals-scheduled-detail-{width}")
    _no_sideways_scroll(page, width, "scheduled request")


@pytest.mark.django_db(transaction=True)
def test_single_approval_with_confirmation_and_batch_at_1280_and_390(live_server, browser, media):  # type: ignore[no-untyped-def]
    f.departments()
    c.calendar()
    school = f.school("440105", "primary", name="海珠区第一小学")
    reg = f.registrar(school, username="reg_school", display_name="王老师")
    county = f.user("dept_registrar", f.dept("440105"), username="haizhu", display_name="海珠区学籍科")
    desk_items = _seed(reg, school, "一")
    phone_items = _seed(reg, school, "二")
    # A request the county returned: it sits on the school's worklist.
    returned = _suspension(reg, c.enrolled(school, grade=3, name="钱退回"), timezone.localdate())
    change_decide(actor=county, request=returned, action="return", comment="请补充医院诊断证明", position=1)

    for width, items in ((1280, desk_items), (390, phone_items)):
        context = _context(browser, width)
        page = _login(context, live_server, "haizhu")
        _approve_one_and_batch(page, live_server, items, width)
        context.close()

    for width in (1280, 390):
        context = _context(browser, width)
        page = _login(context, live_server, "reg_school")
        page.goto(f"{live_server.url}{reverse('changes:worklist')}")
        card = page.locator(f"[data-testid=returned-list] #wi-{returned.pk}-1")
        assert "请补充医院诊断证明" in card.inner_text()
        assert card.locator("[data-testid=resubmit]").count() == 1
        shot(page, f"approvals-school-returned-{width}")
        _no_sideways_scroll(page, width, "school worklist")
        if width == 390:  # resubmitted from the card: back to the county, the return's notice done
            card.locator("[data-testid=resubmit]").click()
            page.wait_for_load_state()
            assert ChangeRequest.objects.get(pk=returned.pk).state == "pending"
            assert page.locator("[data-testid=returned-list]").count() == 0
            assert page.locator("[data-testid=notification-done]").count() >= 1
            shot(page, f"approvals-school-resubmitted-{width}")
        context.close()
