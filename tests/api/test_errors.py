"""One error shape everywhere: ``{code, message, fields}`` (architecture.md convention 10)."""

from __future__ import annotations

import uuid

import pytest

from tests.api.conftest import World


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
