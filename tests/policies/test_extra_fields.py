"""The field-definition schema and the value validators (第3条), without a database."""

from __future__ import annotations

from datetime import date

import pytest

from tests.factories.policies import guangdong_fields
from xueji.policies.extra_fields import (
    DefinitionInvalid,
    load_definition,
    validate_definition,
    validate_values,
    values_validator,
)


def _codes(fields) -> dict[str, str]:
    with pytest.raises(DefinitionInvalid) as info:
        validate_definition(fields)
    assert info.value.code == "invalid_extra_fields"
    assert set(info.value.fields) == set(info.value.field_codes)
    return info.value.field_codes


def _text(key="note", label="备注", **extra):
    return {"key": key, "label": label, "type": "text", **extra}


# ----------------------------------------------------------------------------------------- definitions


def test_valid_definition_round_trips_through_storage():
    defs = validate_definition(guangdong_fields())
    stored = [d.to_dict() for d in defs]
    assert [d.key for d in defs] == [
        "residence_permit_no",
        "bus_route",
        "siblings",
        "commute_km",
        "points_admitted_on",
        "points_admission",
        "interests",
    ]
    assert stored[0] == {
        "key": "residence_permit_no",
        "label": "居住证号码",
        "type": "text",
        "required": False,
        "max_length": 30,
    }
    assert stored[2] == {
        "key": "siblings",
        "label": "兄弟姐妹人数",
        "type": "integer",
        "required": False,
        "min_value": 0,
        "max_value": 10,
    }
    assert stored[3]["min_value"] == "0" and stored[3]["decimal_places"] == 1
    assert load_definition(stored) == defs


def test_text_gets_default_max_length():
    [d] = validate_definition([_text()])
    assert d.max_length == 200


@pytest.mark.parametrize("key", ["Bad", "1abc", "a", "has-dash", "名字", "x" * 41, "", "a b"])
def test_bad_key(key):
    assert _codes([_text(key=key)]) == {"fields.0.key": "invalid_key"}


def test_bad_key_message_names_position_and_attribute():
    with pytest.raises(DefinitionInvalid) as info:
        validate_definition([_text(), _text(key="Bad", label="别的")])
    assert info.value.fields["fields.1.key"].startswith("第 2 个字段的字段键“Bad”无效")


def test_duplicate_key():
    codes = _codes([_text(), _text(label="另一个")])
    assert codes == {"fields.1.key": "duplicate_key"}


def test_duplicate_label():
    assert _codes([_text(), _text(key="note2")]) == {"fields.1.label": "duplicate_label"}


@pytest.mark.parametrize("key", ["name", "id_number", "grade", "entry_ym", "student_number"])
def test_key_collides_with_national_basic_field(key):
    """第3条: basic fields are fixed nationally — a province cannot redefine one."""
    with pytest.raises(DefinitionInvalid) as info:
        validate_definition([_text(key=key)])
    assert info.value.field_codes == {"fields.0.key": "reserved_key"}
    assert "国家基础学籍信息字段重名" in info.value.fields["fields.0.key"]


def test_label_collides_with_national_column_header():
    assert _codes([_text(label="联系电话")]) == {"fields.0.label": "reserved_label"}


@pytest.mark.parametrize("field_type", ["choice", "multi_choice"])
def test_choice_without_options(field_type):
    assert _codes([{"key": "bus", "label": "校车", "type": field_type}]) == {
        "fields.0.choices": "choices_required"
    }
    assert _codes([{"key": "bus", "label": "校车", "type": field_type, "choices": []}]) == {
        "fields.0.choices": "choices_required"
    }


@pytest.mark.parametrize(
    ("choices", "code"),
    [
        ([{"code": "01", "label": "一"}, {"code": "01", "label": "二"}], "duplicate_choice_code"),
        ([{"code": "01", "label": "一"}, {"code": "02", "label": "一"}], "duplicate_choice_label"),
        ([{"code": "0 1", "label": "一"}], "invalid_choice_code"),
        ([{"code": "01", "label": ""}], "invalid_choice_label"),
        (["01"], "invalid_choices"),
        ("01 一", "invalid_choices"),
    ],
)
def test_bad_code_table(choices, code):
    assert _codes([{"key": "bus", "label": "校车", "type": "choice", "choices": choices}]) == {
        "fields.0.choices": code
    }


@pytest.mark.parametrize(
    ("definition", "expected"),
    [
        ({"key": "x1", "label": "甲", "type": "number"}, {"fields.0.type": "invalid_type"}),
        ({"key": "x1", "label": "", "type": "text"}, {"fields.0.label": "label_required"}),
        ({"key": "x1", "label": "甲" * 31, "type": "text"}, {"fields.0.label": "label_too_long"}),
        (
            {"key": "x1", "label": "甲", "type": "text", "required": "yes"},
            {"fields.0.required": "invalid_required"},
        ),
        (
            {"key": "x1", "label": "甲", "type": "text", "max_length": 0},
            {"fields.0.max_length": "invalid_max_length"},
        ),
        (
            {"key": "x1", "label": "甲", "type": "text", "min_value": 1},
            {"fields.0.min_value": "attribute_not_allowed"},
        ),
        (
            {"key": "x1", "label": "甲", "type": "date", "choices": [{"code": "1", "label": "a"}]},
            {"fields.0.choices": "attribute_not_allowed"},
        ),
        (
            {"key": "x1", "label": "甲", "type": "integer", "min_value": 1.5},
            {"fields.0.min_value": "invalid_bound"},
        ),
        (
            {"key": "x1", "label": "甲", "type": "integer", "min_value": 5, "max_value": 1},
            {"fields.0.max_value": "invalid_range"},
        ),
        (
            {"key": "x1", "label": "甲", "type": "decimal", "decimal_places": 9},
            {"fields.0.decimal_places": "invalid_decimal_places"},
        ),
        (
            {"key": "x1", "label": "甲", "type": "decimal", "decimal_places": 1, "max_value": "1.25"},
            {"fields.0.max_value": "invalid_bound"},
        ),
        (
            {"key": "x1", "label": "甲", "type": "text", "colour": "red"},
            {"fields.0.colour": "unknown_attribute"},
        ),
        ("not a dict", {"fields.0": "invalid_definition"}),
    ],
)
def test_bad_attributes(definition, expected):
    assert _codes([definition]) == expected


def test_empty_and_oversized_sets():
    assert _codes([]) == {"fields": "no_fields"}
    assert _codes({"key": "x"}) == {"fields": "invalid_definition"}
    assert _codes([_text(key=f"f{i:03d}", label=f"字段{i}") for i in range(101)]) == {
        "fields": "too_many_fields"
    }


def test_every_problem_reported_at_once():
    codes = _codes(
        [_text(key="Bad"), _text(key="name", label="另"), {"key": "bus", "label": "校车", "type": "choice"}]
    )
    assert codes == {
        "fields.0.key": "invalid_key",
        "fields.1.key": "reserved_key",
        "fields.2.choices": "choices_required",
    }


# --------------------------------------------------------------------------------------------- values


@pytest.fixture
def defs():
    return validate_definition(guangdong_fields())


def test_values_from_import_strings(defs):
    clean, errors = validate_values(
        defs,
        {
            "residence_permit_no": " 4401052018 ",
            "bus_route": "02-二号线",
            "siblings": "2",
            "commute_km": "3.5",
            "points_admitted_on": "2026/09/01",
            "points_admission": "是",
            "interests": "科技、A",
        },
    )
    assert errors == {}
    assert clean == {
        "residence_permit_no": "4401052018",
        "bus_route": "02",
        "siblings": 2,
        "commute_km": "3.5",
        "points_admitted_on": "2026-09-01",
        "points_admission": True,
        "interests": ["A", "C"],
    }


def test_values_from_json_and_spreadsheet_types(defs):
    clean, errors = validate_values(
        defs,
        {
            "bus_route": "一号线",
            "siblings": 3.0,
            "commute_km": 12,
            "points_admitted_on": date(2026, 9, 1),
            "points_admission": False,
            "interests": ["B"],
            "residence_permit_no": 123456.0,
        },
    )
    assert errors == {}
    assert clean == {
        "bus_route": "01",
        "siblings": 3,
        "commute_km": "12.0",
        "points_admitted_on": "2026-09-01",
        "points_admission": False,
        "interests": ["B"],
        "residence_permit_no": "123456",
    }


def test_blank_optional_values_are_omitted(defs):
    clean, errors = validate_values(
        defs, {"bus_route": "00", "siblings": "", "interests": [], "commute_km": None}
    )
    assert (clean, errors) == ({"bus_route": "00"}, {})


def test_required_value_missing_names_label(defs):
    clean, errors = validate_values(defs, {"bus_route": "  "})
    assert errors == {"bus_route": "校车线路为必填项"}
    assert clean == {}


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("siblings", "两个", "兄弟姐妹人数“两个”不是整数"),
        ("siblings", True, "兄弟姐妹人数“是”不是整数"),
        ("siblings", "11", "兄弟姐妹人数不能大于 10"),
        ("siblings", -1, "兄弟姐妹人数不能小于 0"),
        ("commute_km", "abc", "上学距离“abc”不是有效的数"),
        ("commute_km", "1.25", "上学距离最多保留 1 位小数"),
        ("commute_km", "-3", "上学距离不能小于 0"),
        ("points_admitted_on", "2026-02-30", "积分入学日期“2026-02-30”不是有效日期（格式 YYYY-MM-DD）"),
        ("points_admission", "也许", "是否积分入学须填“是”或“否”"),
        ("residence_permit_no", "1" * 31, "居住证号码不能超过 30 个字符"),
        ("residence_permit_no", {"a": 1}, "居住证号码须为文本"),
        ("interests", "体育,音乐", "兴趣特长类别“音乐”不是代码表中的有效代码"),
    ],
)
def test_wrong_type_names_label(defs, key, value, message):
    raw = {"bus_route": "01", key: value}
    clean, errors = validate_values(defs, raw)
    assert errors == {key: message}
    assert key not in clean


def test_choice_code_not_in_table(defs):
    _, errors = validate_values(defs, {"bus_route": "09"})
    assert errors == {"bus_route": "校车线路“09”不是代码表中的有效代码"}


def test_unknown_key_rejected(defs):
    clean, errors = validate_values(defs, {"bus_route": "01", "blood_type": "A"})
    assert errors == {"blood_type": "“blood_type”不是本省已确定的非基础学籍信息字段"}
    assert clean == {"bus_route": "01"}


def test_not_a_mapping():
    assert validate_values([], ["x"]) == ({}, {"__all__": "非基础学籍信息须为“字段键: 值”的对象"})


def test_national_default_validator_accepts_nothing():
    """No active provincial set: no non-basic fields; any key is unknown, nothing is stored."""
    validator = values_validator([])
    assert validator({}) == ({}, {})
    assert validator({"bus_route": "01"}) == (
        {},
        {"bus_route": "“bus_route”不是本省已确定的非基础学籍信息字段"},
    )


def test_every_national_basic_field_is_reserved():
    """第3条: the students app declares its catalog (StudentsConfig.ready); none of it is left open to a province."""
    from xueji.policies.extra_fields import RESERVED_KEYS, RESERVED_LABELS
    from xueji.students.fields import ENROLLMENT_FIELDS, PERSON_FIELDS

    specs = (*PERSON_FIELDS, *ENROLLMENT_FIELDS)
    assert {s.key for s in specs} | {"student_number", "stage"} <= RESERVED_KEYS
    assert {s.label for s in specs} | {"学籍号", "学段"} <= RESERVED_LABELS
