"""The registration form's rules of issue 8 in a browser, at 1280 px and 390 px: a name with a digit is refused
next to the field (item 3); a pupil too old for 一年级 gets the age confirmation — a checkbox and a reason that
appear with the warning (item 4); confirming without a reason is refused; with one the student is registered and
the reason kept. Screenshots: var/screenshots/register-rules-*.png."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.e2e.conftest import shot
from tests.e2e.test_browser import _fill_registration, _login
from tests.factories import core as f
from xueji.policies.models import RuleConfirmation
from xueji.policies.rules import GradeAgeRules
from xueji.students.models import Person

pytestmark = pytest.mark.e2e


def _eight_years_old() -> date:
    """Eight on the counting day of a registration made today for September 2026: two years late for 一年级."""
    day = GradeAgeRules.from_rules(None).counting_day(timezone.localdate(), "202609")
    return date(day.year - 8, 5, 20)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("width", "height", "seq"), [(1280, 900, 124), (390, 844, 126)])
def test_name_error_and_age_confirmation(  # noqa: PLR0917 - fixtures and the viewport
    live_server: Any, browser: Any, national_grade_age: Any, width: int, height: int, seq: int
) -> None:
    f.departments()
    school = f.school("440105", "primary", name="海珠区第一小学")
    f.registrar(school, username="reg_rules")
    birth = _eight_years_old()
    id_number = f.resident_id(birth=birth, gender="2", seq=seq)

    context = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN")
    page = context.new_page()
    _login(page, live_server, "reg_rules")
    page.goto(f"{live_server.url}{reverse('students:register')}")
    assert page.locator("#sec-age-confirm").count() == 0  # nothing to confirm before the check
    _fill_registration(page, id_number)
    page.fill("[name=birth_date]", birth.isoformat())
    page.fill("[name=name]", "王小3")
    page.click("button:has-text('提交注册')")

    # Item 3: the name is refused next to the field; item 4: the warning brings the checkbox and the reason.
    name_error = page.locator("#id_name-error")
    name_error.wait_for()
    assert name_error.inner_text() == "姓名不能含有数字（“3”）"
    warning = page.locator("#id_age_confirmed-error")
    assert "为 8 周岁，一年级的正常年龄为 6–7 周岁" in warning.inner_text()
    assert page.locator("[name=age_confirmed]").is_visible()
    assert page.locator("[name=age_confirm_reason]").is_visible()
    assert page.input_value("[name=birth_date]") == birth.isoformat()  # input kept
    shot(page, f"register-rules-warning-{width}")

    # Confirming without a reason is not enough.
    page.fill("[name=name]", "阿依古丽·吐尔逊")
    page.check("[name=age_confirmed]")
    page.click("button:has-text('提交注册')")
    reason_error = page.locator("#id_age_confirm_reason-error")
    reason_error.wait_for()
    assert reason_error.inner_text() == "请填写年龄与年级不符的原因（2–200 字）"
    assert page.locator("[name=age_confirmed]").is_checked()
    assert page.locator("#id_name-error").count() == 0
    shot(page, f"register-rules-reason-{width}")

    page.fill("[name=age_confirm_reason]", "因病缓学两年")
    page.click("button:has-text('提交注册')")
    page.wait_for_url(re.compile(r"/students/[0-9a-f-]{36}/$"))
    person = Person.objects.get(name="阿依古丽·吐尔逊")
    confirmation = RuleConfirmation.objects.get(person_id=person.pk)
    assert (confirmation.rule, confirmation.reason) == ("grade_age", "因病缓学两年")
    shot(page, f"register-rules-done-{width}")
    context.close()
