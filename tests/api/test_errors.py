"""One error shape everywhere: ``{code, message, fields}`` (architecture.md convention 10)."""

from __future__ import annotations

import uuid

import pytest
from django.test import Client

from tests.api.conftest import Api, World


@pytest.mark.django_db
def test_400_has_exactly_the_error_shape(world: World) -> None:
    response = world.api("registrar_a").patch(f"/api/v1/students/{world.student.pk}", {"name": "李大红"})

    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"code", "message", "fields"}
    assert body["code"] == "key_field_change"
    assert body["fields"] == {"name": "关键信息须走变更审核流程"}
    assert "第十三条" in body["message"]


@pytest.mark.django_db
def test_404_has_exactly_the_error_shape(world: World) -> None:
    response = world.api("registrar_a").get(f"/api/v1/students/{uuid.uuid4()}")

    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "message": "对象不存在或不在您的管辖范围内", "fields": {}}


@pytest.mark.django_db
def test_out_of_jurisdiction_is_the_same_404_as_nonexistent(world: World) -> None:
    api = world.api("registrar_b")

    outside = api.get(f"/api/v1/students/{world.student.pk}")
    missing = api.get(f"/api/v1/students/{uuid.uuid4()}")

    assert outside.status_code == missing.status_code == 404
    assert outside.json() == missing.json()


@pytest.mark.django_db
def test_403_has_exactly_the_error_shape(world: World) -> None:
    response = world.api("audit_gd").get("/api/v1/students/")

    assert response.status_code == 403
    assert response.json() == {
        "code": "no_student_data_role",
        "message": "您的角色不能查看或办理学生学籍数据",
        "fields": {},
    }


@pytest.mark.django_db
def test_422_names_the_bad_query_parameter(world: World) -> None:
    response = world.api("registrar_a").get("/api/v1/students/", {"page_size": "201"})

    assert response.status_code == 422
    body = response.json()
    assert set(body) == {"code", "message", "fields"}
    assert body["code"] == "invalid_input"
    assert set(body["fields"]) == {"page_size"}


@pytest.mark.django_db
def test_malformed_person_id_is_422_not_500(world: World) -> None:
    response = world.api("registrar_a").get("/api/v1/students/not-a-uuid")

    assert response.status_code == 422
    assert set(response.json()["fields"]) == {"person_id"}


@pytest.mark.django_db
def test_malformed_json_body_is_400_in_the_error_shape(world: World) -> None:
    api = world.api("registrar_a")
    response = api.client.post(
        "/api/v1/students/", "{not json", content_type="application/json", **api.headers
    )

    assert response.status_code == 400
    assert set(response.json()) == {"code", "message", "fields"}
    assert response.json()["code"] == "invalid_body"


# --------------------------------------------------------------------------- bad input is 4xx (issue #6 §3.9)
@pytest.mark.django_db
@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/students/?page=99999999999999999999",
        "/api/v1/students/problems?page=99999999999999999999",
        "/api/v1/changes/notifications?page=99999999999999999999",
    ],
)
def test_absurd_page_number_is_422_naming_page(world: World, url: str) -> None:
    api = world.api("registrar_a")

    response = api.client.get(url, **api.headers)

    assert response.status_code == 422
    body = response.json()
    assert set(body) == {"code", "message", "fields"}
    assert body["code"] == "invalid_input"
    assert set(body["fields"]) == {"page"}


@pytest.mark.django_db
def test_absurd_page_number_in_the_audit_api_is_422(world: World) -> None:
    api = world.api("audit_gd")

    response = api.client.get("/api/v1/audit/events?page=99999999999999999999", **api.headers)

    assert response.status_code == 422
    assert set(response.json()["fields"]) == {"page"}


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/api/v1/students/?q=%00", "/api/v1/schools/?q=a%00b"])
def test_nul_byte_in_a_query_parameter_is_400_naming_it(world: World, url: str) -> None:
    api = world.api("registrar_a")

    response = api.client.get(url, **api.headers)

    assert response.status_code == 400
    assert response.json() == {
        "code": "nul_character",
        "message": "请求中含有不允许的空字符（\\0）",
        "fields": {"q": "q：不能含有空字符（\\0）"},
    }


@pytest.mark.django_db
def test_nul_byte_in_a_json_body_is_400_naming_the_field(world: World) -> None:
    response = Api().post("/api/v1/auth/token", {"username": "reg\x00a", "password": "x"})

    assert response.status_code == 400
    assert response.json()["code"] == "nul_character"
    assert response.json()["fields"] == {"username": "username：不能含有空字符（\\0）"}


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/api/v1/auth/token", "/api/v1/imports/", "/api/v1/students/{pk}/archive"])
def test_multipart_without_boundary_is_400_in_the_error_shape(world: World, url: str) -> None:
    api = world.api("registrar_a")

    response = api.client.generic(
        "POST",
        url.format(pk=world.student.pk),
        b"--x\r\ncontent",
        content_type="multipart/form-data",
        **api.headers,
    )

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json; charset=utf-8"
    assert response.json()["code"] == "invalid_body"
    assert set(response.json()) == {"code", "message", "fields"}


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/students/?q=%00", "/schools/?q=%00", "/students/?name%00=1"])
def test_nul_byte_in_a_web_page_query_is_a_400_page(world: World, url: str) -> None:
    client = Client()
    client.force_login(world.users["registrar_a"])

    response = client.get(url)

    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")


@pytest.mark.django_db
def test_multipart_without_boundary_on_a_web_page_is_400(world: World) -> None:
    response = Client().generic("POST", "/login/", b"--x\r\ncontent", content_type="multipart/form-data")

    assert response.status_code == 400


@pytest.mark.django_db
def test_an_integer_beyond_64_bits_in_the_path_is_4xx_not_500(world: World) -> None:
    """SQLite cannot bind it (OverflowError → 400 invalid_input); PostgreSQL compares it as numeric and
    finds nothing (404). Either way a 4xx in the error shape, never a 500."""
    api = world.api("registrar_a")

    response = api.client.get("/api/v1/schools/99999999999999999999", **api.headers)

    expected = {
        400: {"code": "invalid_input", "message": "请求参数超出允许的范围", "fields": {}},
        404: {"code": "not_found", "message": "对象不存在或不在您的管辖范围内", "fields": {}},
    }
    assert response.status_code in expected
    assert response.json() == expected[response.status_code]


@pytest.mark.django_db
def test_an_integer_beyond_64_bits_in_a_page_address_is_a_4xx_page(world: World) -> None:
    client = Client()
    client.force_login(world.users["registrar_a"])

    response = client.get("/schools/99999999999999999999/")

    assert response.status_code in {400, 404}  # SQLite: cannot bind → 400; PostgreSQL: no such row → 404
    assert response["Content-Type"].startswith("text/html")


def test_the_openapi_schema_declares_the_global_errors_on_every_operation(client: Client) -> None:
    schema = client.get("/api/v1/openapi.json").json()
    operations = [op for ops in schema["paths"].values() for op in ops.values()]

    assert len(operations) >= 48
    for operation in operations:
        assert "400" in operation["responses"], operation["operationId"]
        if operation.get("parameters") or operation.get("requestBody"):
            assert "422" in operation["responses"], operation["operationId"]
        if operation.get("security"):
            assert "401" in operation["responses"], operation["operationId"]
    assert set(schema["components"]["schemas"]["ErrorOut"]["required"]) == {"code", "message", "fields"}


@pytest.mark.django_db
def test_a_form_posted_to_a_json_operation_with_the_session_is_400_not_500(world: World) -> None:
    """The CSRF check of the session scheme reads the form; the JSON operation then finds no body."""
    client = Client(enforce_csrf_checks=False)
    client.force_login(world.users["registrar_a"])
    response = client.post("/api/v1/students/", data={"name": "林小雨"})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_body"
