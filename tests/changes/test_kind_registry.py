"""The kind registry: a kind's spec is its single home (CONTRIBUTING.md "Adding a change kind").

Every ``ChangeKind`` has a spec with its form, its typed facts, its labels and presentation; the tables the
pages and the API use (the start menus, the national lookups, the submission body's variants) are derived
from the specs alone; the OpenAPI publishes one facts schema per kind as a union discriminated on ``kind``.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from xueji.changes import kinds
from xueji.changes.enums import ChangeKind, Entry
from xueji.changes.kinds.base import KindSpec
from xueji.changes.kinds.facts import KindFacts
from xueji.changes.kinds.inputs import KindForm
from xueji.changes.lookups import LOOKUP_KINDS
from xueji.changes.schemas import SUBMIT_VARIANTS

ALL_KINDS = sorted(ChangeKind.values)


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_every_kind_has_a_complete_spec(kind: str) -> None:
    spec = kinds.get(kind)

    assert isinstance(spec, KindSpec)
    assert spec.kind == kind
    assert spec.entry in Entry.values
    assert issubclass(spec.form, KindForm)
    assert spec.form.kind == kind
    assert issubclass(spec.facts_schema, KindFacts)
    assert all(isinstance(k, str) and str(v) for k, v in spec.fact_labels.items())
    assert spec.fact_text("__no_such_fact__", "x") is None


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_every_form_input_is_a_published_fact(kind: str) -> None:
    """The page's form and the API's facts schema describe the same inputs (the form's ``county`` choice of
    the receiving department is not a fact: it is the body's ``household_county_code``)."""
    spec = kinds.get(kind)
    published = set(spec.facts_schema.model_fields)

    inputs = set(spec.form.base_fields) - {"county"}

    assert inputs <= published, inputs - published


def test_kinds_not_started_from_a_record_have_a_start_link_label() -> None:
    elsewhere = [s for s in kinds.specs() if s.entry != Entry.RECORD]

    assert {s.kind for s in elsewhere} == {
        ChangeKind.TRANSFER,
        ChangeKind.PROGRESSION,
        ChangeKind.RETURN_FROM_ABROAD,
        ChangeKind.DEFERRAL,
    }
    assert all(s.start_label for s in elsewhere)


def test_the_record_menu_keeps_its_order() -> None:
    menu = [s.kind for s in kinds.specs(entry=Entry.RECORD)]

    assert menu == [
        ChangeKind.SUSPENSION,
        ChangeKind.RESUMPTION,
        ChangeKind.WITHDRAWAL,
        ChangeKind.ABROAD,
        ChangeKind.REFORM_PLACEMENT,
        ChangeKind.REFORM_RETURN,
        ChangeKind.SPECIAL_EDUCATION,
        ChangeKind.SPECIAL_EDUCATION_DECISION,
        ChangeKind.KEY_DATA_CHANGE,
        ChangeKind.GRADUATION,
        ChangeKind.COMPLETION,
        ChangeKind.INCOMPLETE,
        ChangeKind.DEATH,
    ]


def test_derived_tables_come_from_the_specs_alone() -> None:
    """Adding a kind = its spec: the submission body's variants and the national lookups follow from it."""
    assert set(SUBMIT_VARIANTS) == set(ChangeKind.values)
    assert {k: v.model_fields["facts"].annotation for k, v in SUBMIT_VARIANTS.items()} == {
        s.kind: s.facts_schema for s in kinds.specs()
    }
    assert {s.kind for s in kinds.specs() if s.entry in {Entry.LOOKUP, Entry.RECEIVING}} == LOOKUP_KINDS


def test_a_missing_kind_module_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kinds, "_MODULES", (*kinds._MODULES, "no_such_kind"))
    monkeypatch.setattr(kinds, "_loaded", False)

    with pytest.raises(ModuleNotFoundError):
        kinds.get(ChangeKind.TRANSFER)


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node or ("allOf" in node and len(node["allOf"]) == 1):
        ref = node["$ref"] if "$ref" in node else node["allOf"][0]["$ref"]
        node = schema["components"]["schemas"][ref.rsplit("/", 1)[-1]]
    return node


@pytest.mark.django_db
def test_openapi_publishes_a_facts_schema_per_kind() -> None:
    schema = Client().get("/api/v1/openapi.json").json()
    body = schema["paths"]["/api/v1/changes/"]["post"]["requestBody"]["content"]["application/json"]["schema"]

    union = _resolve(schema, body)

    assert union["discriminator"]["propertyName"] == "kind"
    assert set(union["discriminator"]["mapping"]) == set(ChangeKind.values)
    assert len(union["oneOf"]) == len(ChangeKind.values)
    for kind, ref in union["discriminator"]["mapping"].items():
        variant = _resolve(schema, {"$ref": ref})
        assert variant["properties"]["kind"]["const"] == kind
        facts = _resolve(schema, variant["properties"]["facts"])
        assert set(facts["properties"]) == set(kinds.get(kind).facts_schema.model_fields), kind
        assert all(p.get("description") for p in facts["properties"].values()), kind


@pytest.mark.django_db
def test_openapi_publishes_the_codes_a_fact_takes() -> None:
    schema = Client().get("/api/v1/openapi.json").json()
    facts = schema["components"]["schemas"]["SuspensionFacts"]["properties"]

    assert facts["reason"]["enum"] == ["illness", "military", "abroad", "family", "other"]
    assert facts["start_date"]["format"] == "date"
