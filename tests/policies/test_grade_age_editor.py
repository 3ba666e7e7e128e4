"""The age rule editor (issue 8 item 4; 第5条 the province makes and files its rules, 第11条 入学年龄): the rule in
force per grade, the versions, and a new filed version by the province's registrar only — validated with a
Chinese error naming the key, then read by registration."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests.factories import core as f
from xueji.audit.enums import EventType
from xueji.audit.models import AuditEvent
from xueji.policies.forms import GradeAgeForm
from xueji.policies.models import ProvinceRuleSet
from xueji.policies.queries import grade_age_rules_for
from xueji.policies.rules import GradeAgeRules

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("national_grade_age")]
URL = reverse("policies:grade_age")


def _post(**changes: Any) -> dict[str, Any]:
    data = {k: str(v) for k, v in GradeAgeForm.initial_from(GradeAgeRules.from_rules(None)).items()}
    today = timezone.localdate()
    data.update(
        province="440000",
        effective_from=today.isoformat(),
        filed_on=today.isoformat(),
        filing_reference="粤教基函〔2026〕8号",
    )
    data.update({k: str(v) for k, v in changes.items()})
    return data


def test_the_page_shows_the_national_rule_per_grade(client: Client, gd_registrar: Any) -> None:
    client.force_login(gd_registrar)
    html = client.get(URL).content.decode()
    assert "国家默认" in html
    assert "<td>1 年级</td>\n    <td>6 周岁</td>\n    <td>6–7</td>\n    <td>5–12</td>" in html
    assert "<td>10 年级</td>\n    <td>15 周岁</td>\n    <td>15–17</td>\n    <td>13–21</td>" in html
    assert 'name="primary_normal_low"' in html  # the registrar of the province may file a new version


def test_the_province_registrar_files_a_new_version_that_registration_reads(
    client: Client, gd_registrar: Any
) -> None:
    ProvinceRuleSet.objects.create(
        province_code="440000",
        version=1,
        effective_from=date(2026, 1, 1),
        rules={"deferral_months": 6},
        filed_on=date(2026, 1, 1),
    )
    client.force_login(gd_registrar)
    response = client.post(URL, _post(school_entry_age=7, primary_normal_high=2, primary_allowed_high=7))
    assert response.status_code == 302
    rule_set = ProvinceRuleSet.objects.get(province_code="440000", version=2)
    assert rule_set.rules["deferral_months"] == 6  # other keys carried over
    assert rule_set.rules["school_entry_age"] == 7
    assert rule_set.rules["grade_age"]["primary"] == {"normal": [0, 2], "allowed": [-1, 7]}
    assert (rule_set.filing_reference, rule_set.created_by_id) == ("粤教基函〔2026〕8号", gd_registrar.pk)
    rules = grade_age_rules_for("440000", timezone.localdate())
    assert (rules.version, rules.entry_age, rules.bands["primary"]["normal"]) == ("440000-v2", 7, (0, 2))
    event = AuditEvent.objects.get(event_type=EventType.RULES_FILED)
    assert event.after == {
        "version": 2,
        "keys": ["grade_age", "school_entry_age"],
        "filed_on": timezone.localdate().isoformat(),
        "filing_reference": "粤教基函〔2026〕8号",
    }
    html = client.get(URL).content.decode()
    assert (
        "本省第 2 版" in html and "440000-v2" not in html and "<td>1 年级</td>\n    <td>7 周岁</td>" in html
    )


def test_invalid_bands_are_refused_naming_the_key(client: Client, gd_registrar: Any) -> None:
    client.force_login(gd_registrar)
    response = client.post(URL, _post(junior_normal_low=1))
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert errors["junior_normal_low"] == [
        "grade_age.junior.normal（初中正常范围）须包含标准年龄（下限 ≤ 0 ≤ 上限）"
    ]
    response = client.post(URL, _post(age_on="02-30"))
    assert response.context["form"].errors["age_on"] == [
        "grade_age.age_on（年龄计算日）须为 MM-DD 格式的日期，如 08-31"
    ]
    assert ProvinceRuleSet.objects.count() == 0


def test_the_filing_must_be_real(client: Client, gd_registrar: Any) -> None:
    client.force_login(gd_registrar)
    tomorrow = timezone.localdate() + timedelta(days=1)
    response = client.post(URL, _post(filed_on=tomorrow.isoformat(), effective_from=tomorrow.isoformat()))
    assert response.status_code == 400
    assert response.context["form"].errors["filed_on"] == ["报部备案日期不能晚于今天"]
    response = client.post(URL, _post(filing_reference=""))
    assert response.status_code == 400
    assert ProvinceRuleSet.objects.count() == 0


def test_a_version_cannot_take_effect_before_the_one_in_force(client: Client, gd_registrar: Any) -> None:
    """The version in force is the newest effective by a day: one dated before it would never apply."""
    client.force_login(gd_registrar)
    today = timezone.localdate()
    assert (
        client.post(URL, _post(filed_on=today - timedelta(days=10), effective_from=today)).status_code == 302
    )
    response = client.post(
        URL, _post(filed_on=today - timedelta(days=10), effective_from=today - timedelta(days=5))
    )
    assert response.status_code == 400
    assert ProvinceRuleSet.objects.count() == 1


def test_a_county_registrar_reads_but_may_not_file(client: Client, county_registrar: Any) -> None:
    client.force_login(county_registrar)
    html = client.get(URL).content.decode()
    assert "国家默认" in html and 'name="primary_normal_low"' not in html
    assert client.post(URL, _post()).status_code == 403
    assert ProvinceRuleSet.objects.count() == 0


def test_another_province_is_not_found(client: Client, bj_registrar: Any) -> None:
    client.force_login(bj_registrar)
    assert client.get(URL, {"province": "440000"}).status_code == 404
    assert client.post(URL, _post()).status_code == 404
    assert ProvinceRuleSet.objects.count() == 0


def test_a_school_registrar_reads_the_rule_of_the_province(client: Client, tree: Any) -> None:
    school = f.school("440105", "primary", name="海珠区第一小学")
    client.force_login(f.registrar(school, username="reg_rule"))
    response = client.get(URL)
    assert response.status_code == 200
    assert "<td>1 年级</td>" in response.content.decode()
