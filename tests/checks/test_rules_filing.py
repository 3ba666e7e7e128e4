"""Province check rules as data (第5条 实施细则; issue 10 §2): filed by the province department as a new version of
its rule set, validated key by key, read by the runner; other provinces and roles cannot file."""

from __future__ import annotations

from datetime import date

import pytest

from tests.factories import core as f
from tests.factories.policies import province_registrar
from xueji.accounts.enums import Role
from xueji.core.errors import ApplicationError, Forbidden, NotFound
from xueji.policies.models import ProvinceRuleSet
from xueji.policies.services import check_rules_file
from xueji.students.queries import check_rules_for

pytestmark = pytest.mark.django_db
FILING = {
    "effective_from": date(2026, 3, 1),
    "filed_on": date(2026, 2, 1),
    "filing_reference": "粤教规〔2026〕1号",
}


def test_province_files_a_version_that_overrides_one_key_and_keeps_the_rest(tree):
    ProvinceRuleSet.objects.create(
        province_code="440000",
        version=1,
        effective_from=date(2026, 1, 1),
        filed_on=date(2026, 1, 1),
        rules={"suspension_max_months": 6},
    )
    actor = province_registrar("440000")
    rule_set = check_rules_file(
        actor=actor, province_code="440000", checks={"age_grade": {"margin_years": 2}}, **FILING
    )
    assert rule_set.version == 2 and rule_set.rules["suspension_max_months"] == 6
    resolved = check_rules_for("440000", date(2026, 12, 1))
    assert resolved["age_grade"]["margin_years"] == 2
    assert resolved["age_grade"]["due_working_days"] == 20  # national default kept
    assert check_rules_for("440000", date(2026, 2, 15))["age_grade"]["margin_years"] == 0  # not yet in force
    assert check_rules_for("110000", date(2026, 12, 1))["age_grade"]["margin_years"] == 0


def test_bad_values_are_refused_per_key_and_nothing_written(tree):
    with pytest.raises(ApplicationError) as exc:
        check_rules_file(
            actor=province_registrar("440000"),
            province_code="440000",
            checks={"no_class": {"grace_days": 9999}, "suspension_overdue": {"max_days": "一年"}},
            **FILING,
        )
    assert exc.value.code == "invalid_rules"
    assert set(exc.value.fields) == {"checks.no_class.grace_days", "checks.suspension_overdue.max_days"}
    assert not ProvinceRuleSet.objects.exists()


def test_only_the_province_department_files(tree):
    with pytest.raises(NotFound):
        check_rules_file(actor=province_registrar("110000"), province_code="440000", checks={}, **FILING)
    county = f.user(Role.DEPT_REGISTRAR, f.dept("440105"))
    with pytest.raises((Forbidden, NotFound)):
        check_rules_file(actor=county, province_code="440000", checks={}, **FILING)
    assert not ProvinceRuleSet.objects.exists()


def test_api_files_rules(client, tree):
    client.force_login(province_registrar("440000"))
    body = {
        "checks": {"no_class": {"enabled": False}},
        "filed_on": "2026-02-01",
        "effective_from": "2026-03-01",
        "filing_reference": "粤教规〔2026〕2号",
    }
    r = client.post("/api/v1/checks/rules/440000", body, content_type="application/json")
    assert r.status_code == 201 and r.json()["checks"] == {"no_class": {"enabled": False}}
    r = client.post("/api/v1/checks/rules/110000", body, content_type="application/json")
    assert r.status_code == 404
