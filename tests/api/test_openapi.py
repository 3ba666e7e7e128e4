"""OpenAPI at /api/v1/openapi.json, the docs page at /api/v1/docs, and schema/field-spec agreement."""

from __future__ import annotations

import pytest
from django.test import Client

from xueji.students.fields import ENROLLMENT_FIELDS, GUARDIAN_FIELDS, PERSON_FIELDS
from xueji.students.schemas import EnrollmentIn, GuardianIn, PersonIn, StudentUpdateIn

OUR_PATHS = {
    "/api/v1/orgs/": {"get"},
    "/api/v1/orgs/{org_id}": {"get"},
    "/api/v1/orgs/{org_id}/children": {"get"},
    "/api/v1/schools/": {"get", "post"},
    "/api/v1/schools/{school_id}": {"get"},
    "/api/v1/students/": {"get", "post"},
    "/api/v1/students/problems": {"get"},
    "/api/v1/students/problems/{problem_id}/resolve": {"post"},
    "/api/v1/students/{person_id}": {"get", "patch"},
    "/api/v1/students/{person_id}/reveal": {"post"},
    "/api/v1/students/{person_id}/guardians": {"post"},
    "/api/v1/students/{person_id}/archive": {"post"},
    "/api/v1/students/{person_id}/archive/complete": {"post"},
    "/api/v1/students/{person_id}/history": {"get"},
    "/api/v1/audit/events": {"get"},
}


@pytest.fixture
def openapi(db: None) -> dict:
    response = Client().get("/api/v1/openapi.json")
    assert response.status_code == 200
    return response.json()


def test_openapi_lists_every_operation(openapi: dict) -> None:
    paths = openapi["paths"]

    assert {p: set(paths[p]) for p in OUR_PATHS if p in paths} == OUR_PATHS


def test_every_operation_requires_bearer_or_session(openapi: dict) -> None:
    for path in OUR_PATHS:
        for op in openapi["paths"][path].values():
            assert op["security"] == [{"TokenAuth": []}, {"SessionAuth": []}], path


def test_error_component_is_the_one_error_shape(openapi: dict) -> None:
    error = openapi["components"]["schemas"]["ErrorOut"]

    assert set(error["properties"]) == {"code", "message", "fields"}
    assert sorted(error["required"]) == ["code", "fields", "message"]


def test_every_operation_documents_its_errors(openapi: dict) -> None:
    for path in OUR_PATHS:
        for method, op in openapi["paths"][path].items():
            assert {"401", "422"} <= set(op["responses"]), (method, path)
            assert op["responses"]["401"]["content"]["application/json"]["schema"] == {
                "$ref": "#/components/schemas/ErrorOut"
            }


def test_person_id_is_a_uuid_in_the_schema(openapi: dict) -> None:
    [param] = openapi["paths"]["/api/v1/students/{person_id}"]["get"]["parameters"]

    assert param["schema"]["format"] == "uuid"


def test_page_size_is_capped_at_200(openapi: dict) -> None:
    params = {p["name"]: p for p in openapi["paths"]["/api/v1/students/"]["get"]["parameters"]}

    assert params["page_size"]["schema"]["maximum"] == 200
    assert set(params) == {
        "q",
        "school_id",
        "grade",
        "class_name",
        "status",
        "include_inactive",
        "page",
        "page_size",
        "after",
    }


def test_input_schemas_carry_exactly_the_national_field_set() -> None:
    assert set(PersonIn.model_fields) == {s.key for s in PERSON_FIELDS}
    assert set(StudentUpdateIn.model_fields) == {s.key for s in PERSON_FIELDS}
    assert set(EnrollmentIn.model_fields) == {s.key for s in ENROLLMENT_FIELDS}
    assert set(GuardianIn.model_fields) == {s.key for s in GUARDIAN_FIELDS}


@pytest.mark.django_db
def test_docs_page_renders() -> None:
    response = Client().get("/api/v1/docs")

    assert response.status_code == 200
    assert "swagger" in response.content.decode().lower()


@pytest.mark.django_db
def test_docs_page_loads_nothing_from_a_cdn() -> None:
    html = Client().get("/api/v1/docs").content.decode()

    assert "cdn." not in html
    assert "/static/ninja/swagger-ui-bundle.js" in html


@pytest.mark.django_db
def test_docs_page_uses_the_vendored_swagger_assets() -> None:
    html = Client().get("/api/v1/docs").content.decode()

    assert "https://" not in html
    assert "<script>" not in html  # no inline script (CSP): settings travel in a JSON block
    assert '<script src="/static/ninja/swagger-ui-bundle.js">' in html
    assert '<script src="/static/ninja/swagger-ui-init.js">' in html
    assert 'href="/static/ninja/swagger-ui.css"' in html
