"""The check-rules page (issue 10 §2; 第5条 the province makes and files its rules, 第9、25条 the checks): the national
defaults and the province's overrides of the seven rules, and a new filed version by the province department's
registrar only — through the API's service and validation, a Chinese error naming the field, nothing written on
bad input, another province 404."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from xueji.audit.enums import EventType
from xueji.audit.models import AuditEvent
from xueji.policies.forms import CheckRulesForm
from xueji.policies.models import ProvinceRuleSet
from xueji.policies.rules import CHECK_RULES, CheckRules
from xueji.students.queries import check_rules_for

pytestmark = pytest.mark.django_db
URL = reverse("policies:check_rules")


def _post(**changes: Any) -> dict[str, Any]:
    data = dict(CheckRulesForm.initial_from(CheckRules.from_rules(None)))
    today = timezone.localdate()
    data.update(
        province="440000",
        effective_from=today.isoformat(),
        filed_on=today.isoformat(),
        filing_reference="粤教基函〔2026〕12号",
    )
    data.update({k: str(v) for k, v in changes.items()})
    return data


def _row(html: str, rule: str, key: str) -> str:
    start = html.index(f'<tr data-rule="{rule}" data-key="{key}">')
    return html[start : html.index("</tr>", start)]


def test_the_page_shows_every_rule_with_its_national_default_and_the_override(
    client: Client, gd_registrar: Any
) -> None:
    ProvinceRuleSet.objects.create(
        province_code="440000",
        version=1,
        effective_from=date(2026, 1, 1),
        filed_on=date(2026, 1, 1),
        rules={"checks": {"no_class": {"grace_days": 45}, "id_invalid": {"enabled": False}}},
    )
    client.force_login(gd_registrar)
    response = client.get(URL)
    assert response.status_code == 200
    html = response.content.decode()
    for rule, extra in CHECK_RULES.items():
        for key in ("enabled", "owner", "due_working_days", *extra):
            assert f'data-rule="{rule}" data-key="{key}"' in html
    grace = _row(html, "no_class", "grace_days")
    assert "<td>30</td>" in grace and "<strong>45</strong>" in grace and grace.endswith("<td>45</td>\n  ")
    assert "<strong>停用</strong>" in _row(html, "id_invalid", "enabled")
    assert "<td>县级教育行政部门</td>" in _row(html, "suspected_duplicate", "owner")  # default, no override
    assert "本省第 1 版" in html
    assert (
        'name="no_class__grace_days"' in html and 'value="45"' in html
    )  # the form starts from what is in force


def test_the_province_registrar_files_a_version_the_checks_read(client: Client, gd_registrar: Any) -> None:
    ProvinceRuleSet.objects.create(
        province_code="440000",
        version=1,
        effective_from=date(2026, 1, 1),
        filed_on=date(2026, 1, 1),
        rules={"deferral_months": 6},
    )
    client.force_login(gd_registrar)
    response = client.post(
        URL,
        _post(
            age_grade__margin_years=1,
            no_class__enabled="0",
            archive_overdue__owner="county",
            suspension_overdue__due_working_days=15,
        ),
    )
    assert response.status_code == 302
    rule_set = ProvinceRuleSet.objects.get(province_code="440000", version=2)
    assert rule_set.rules["deferral_months"] == 6  # other keys carried over
    # only what differs from the national defaults is the province's override
    assert rule_set.rules["checks"] == {
        "age_grade": {"margin_years": 1},
        "no_class": {"enabled": False},
        "archive_overdue": {"owner": "county"},
        "suspension_overdue": {"due_working_days": 15},
    }
    assert rule_set.filing_reference == "粤教基函〔2026〕12号"
    rules = check_rules_for("440000", timezone.localdate())
    assert rules.version == "440000-v2" and not rules.enabled("no_class")
    assert rules.due_working_days("suspension_overdue") == 15
    assert AuditEvent.objects.filter(event_type=EventType.RULES_FILED).count() == 1


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"age_grade__margin_years": 11}, "age_grade__margin_years", "放宽年数 须为 0 至 10 之间的整数"),
        ({"no_class__grace_days": "三十"}, "no_class__grace_days", "宽限天数 须为 0 至 365 之间的整数"),
        ({"not_promoted__check_from": "02-30"}, "not_promoted__check_from", "检查起始日"),
        ({"id_invalid__due_working_days": ""}, "id_invalid__due_working_days", "请填写身份证件号未通过校验"),
        ({"filing_reference": ""}, "filing_reference", "备案文号为必填项"),
    ],
)
def test_bad_input_names_the_field_and_writes_nothing(
    client: Client, gd_registrar: Any, changes: dict[str, Any], field: str, message: str
) -> None:
    client.force_login(gd_registrar)
    response = client.post(URL, _post(**changes))
    assert response.status_code == 400
    html = response.content.decode()
    assert f'id="id_{field}-error"' in html and message in html
    assert not ProvinceRuleSet.objects.exists()
    assert not AuditEvent.objects.filter(event_type=EventType.RULES_FILED).exists()


def test_another_province_is_not_found_and_nothing_is_filed(client: Client, bj_registrar: Any) -> None:
    client.force_login(bj_registrar)
    assert client.get(URL, {"province": "440000"}).status_code == 404
    assert client.post(URL, _post()).status_code == 404
    assert not ProvinceRuleSet.objects.exists()


def test_a_county_reads_the_rules_but_cannot_file(client: Client, county_registrar: Any) -> None:
    client.force_login(county_registrar)
    html = client.get(URL).content.decode()
    assert (
        'data-rule="age_grade" data-key="margin_years"' in html
        and 'name="age_grade__margin_years"' not in html
    )
    assert client.post(URL, _post(age_grade__margin_years=2)).status_code == 403
    assert not ProvinceRuleSet.objects.exists()
