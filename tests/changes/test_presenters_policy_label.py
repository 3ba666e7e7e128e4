"""The rule set a request was decided under, named as people name it (issue 8 item 12: no internal codes)."""

from __future__ import annotations

from xueji.changes.presenters import policy_label


def test_national_and_province_rule_sets_by_name():
    assert policy_label("national-2025") == "国家规则（2025 年办法）"
    assert policy_label("440000-v3") == "广东省学籍变动规则第 3 版"


def test_an_unknown_code_is_shown_as_it_is():
    assert policy_label("999999-v1") == "999999-v1"
    assert policy_label("440000") == "440000"
