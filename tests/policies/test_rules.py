"""The registration keys of a province rule set (issue 8 item 4): ``school_entry_age`` and ``grade_age`` — the
national defaults, a province override through ``policy_for``, and invalid values refused with a Chinese error
naming the key (CONTRIBUTING "Adding a province rule")."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from xueji.changes.policy import NATIONAL_DEFAULTS, merge, policy_for
from xueji.policies.models import ProvinceRuleSet
from xueji.policies.rules import GRADE_AGE_DEFAULT, GradeAgeRules, RulesInvalid, merge_rules, validate_rules

pytestmark = pytest.mark.usefixtures("national_grade_age")


def test_national_defaults_carry_the_registration_keys() -> None:
    assert NATIONAL_DEFAULTS["school_entry_age"] == 6
    assert NATIONAL_DEFAULTS["grade_age"] == GRADE_AGE_DEFAULT
    rules = GradeAgeRules.from_rules(None)
    assert (rules.entry_age, rules.age_on, rules.version) == (6, (8, 31), "national")
    assert rules.bands["primary"] == {"normal": (0, 1), "allowed": (-1, 6)}
    assert rules.bands["senior"] == {"normal": (0, 2), "allowed": (-2, 6)}
    assert [rules.expected_age(g) for g in (1, 6, 7, 10, 12)] == [6, 11, 12, 15, 17]


@pytest.mark.parametrize(
    ("rules", "errors"),
    [
        ({"school_entry_age": 5}, {"school_entry_age"}),
        ({"school_entry_age": "6"}, {"school_entry_age"}),
        ({"grade_age": []}, {"grade_age"}),
        ({"grade_age": {"age_on": "02-29"}}, {"grade_age.age_on"}),
        ({"grade_age": {"age_on": "8-31"}}, {"grade_age.age_on"}),
        ({"grade_age": {"kindergarten": {}}}, {"grade_age.kindergarten"}),
        ({"grade_age": {"primary": {"normal": [0, 1]}}}, {"grade_age.primary"}),
        ({"grade_age": {"primary": {"normal": [0, "1"], "allowed": [-1, 6]}}}, {"grade_age.primary.normal"}),
        ({"grade_age": {"primary": {"normal": [True, 1], "allowed": [-1, 6]}}}, {"grade_age.primary.normal"}),
        ({"grade_age": {"junior": {"normal": [0, 1], "allowed": [-9, 6]}}}, {"grade_age.junior.allowed"}),
        ({"grade_age": {"junior": {"normal": [1, 2], "allowed": [-1, 6]}}}, {"grade_age.junior.normal"}),
        ({"grade_age": {"senior": {"normal": [0, 3], "allowed": [-1, 2]}}}, {"grade_age.senior.allowed"}),
    ],
)
def test_invalid_values_are_refused_naming_the_key(rules: dict[str, Any], errors: set[str]) -> None:
    with pytest.raises(RulesInvalid) as exc:
        validate_rules(rules)
    assert set(exc.value.fields) == errors
    for key, message in exc.value.fields.items():
        assert key.split(".")[0] in message  # the message names the key


def test_messages_are_chinese_and_precise() -> None:
    with pytest.raises(RulesInvalid) as exc:
        validate_rules(
            {"school_entry_age": 5, "grade_age": {"primary": {"normal": [1, 2], "allowed": [-1, 6]}}}
        )
    assert exc.value.fields == {
        "school_entry_age": "school_entry_age（入学年龄）须为 6 或 7（第十一条：年满六周岁，条件不具备的地区可推迟到七周岁）",
        "grade_age.primary.normal": "grade_age.primary.normal（小学正常范围）须包含标准年龄（下限 ≤ 0 ≤ 上限）",
    }


def test_valid_rules_pass_through_with_other_keys() -> None:
    rules = {"school_entry_age": 7, "grade_age": {"age_on": "12-31"}, "deferral_months": 6}
    assert validate_rules(rules) == rules


def test_a_province_override_keeps_the_stages_it_does_not_name() -> None:
    merged = merge_rules(NATIONAL_DEFAULTS, {"grade_age": {"primary": {"normal": [0, 2], "allowed": [0, 4]}}})
    assert merged["grade_age"]["primary"] == {"normal": [0, 2], "allowed": [0, 4]}
    assert merged["grade_age"]["junior"] == GRADE_AGE_DEFAULT["junior"]
    assert GRADE_AGE_DEFAULT["primary"] == {"normal": [0, 1], "allowed": [-1, 6]}  # defaults untouched


def test_merge_still_merges_chains_per_kind() -> None:
    merged = merge(NATIONAL_DEFAULTS, {"chains": {"suspension": {"any": [["school", "approve"]]}}})
    assert merged["chains"]["suspension"] == {"any": [["school", "approve"]]}
    assert merged["chains"]["transfer"] == NATIONAL_DEFAULTS["chains"]["transfer"]


@pytest.mark.django_db
def test_policy_for_reads_the_province_override() -> None:
    ProvinceRuleSet.objects.create(
        province_code="440000",
        version=3,
        effective_from=date(2026, 1, 1),
        rules={"grade_age": {"age_on": "09-30"}},
        filed_on=date(2026, 1, 1),
    )
    policy = policy_for("440000", date(2026, 9, 1))
    assert policy.version == "440000-v3"
    assert policy["grade_age"]["age_on"] == "09-30"
    assert policy["grade_age"]["primary"] == GRADE_AGE_DEFAULT["primary"]
    assert policy_for("110000", date(2026, 9, 1))["grade_age"] == GRADE_AGE_DEFAULT


@pytest.mark.parametrize(
    "section",
    [{"approving_level": "school"}, {"approving_level": "city", "extra": 1}, "city", {"approving_level": 3}],
)
def test_the_export_approval_level_must_be_a_department_level(section: object) -> None:
    """第24条: a province names which department level approves its data exports — nothing else is filed."""
    with pytest.raises(RulesInvalid) as refused:
        validate_rules({"exports": section})
    assert "exports" in refused.value.fields


def test_an_export_approval_level_is_accepted() -> None:
    assert validate_rules({"exports": {"approving_level": "city"}})["exports"] == {"approving_level": "city"}
