"""Token auth for clients and session auth (with CSRF) for the browser (issue §7)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from tests.api.conftest import Api, World
from tests.factories import core as f
from xueji.accounts.auth import issue_token

UNAUTHENTICATED = {"code": "unauthenticated", "message": "请先登录或提供有效令牌", "fields": {}}
CSRF = "a1b2c3d4e5f6g7h8i9j0k1l2m3n4o5p6"  # a well-formed 32-character CSRF secret


@pytest.mark.django_db
def test_token_from_username_and_password_opens_the_api(world: World) -> None:
    client = Client()
    issued = client.post(
        "/api/v1/auth/token",
        json.dumps({"username": "reg_a", "password": f.PASSWORD}),
        content_type="application/json",
    )
    assert issued.status_code == 200
    token = issued.json()["token"]

    response = client.get("/api/v1/students/", HTTP_AUTHORIZATION=f"Bearer {token}")

    assert response.status_code == 200
    assert sorted(item["name"] for item in response.json()["items"]) == ["李小红", "王无证", "王无证"]


@pytest.mark.django_db
@pytest.mark.parametrize("header", ["Bearer not-a-token", "Bearer ", "Token abc", "Basic cmVnX2E6eA=="])
def test_bad_authorization_header_is_401(world: World, header: str) -> None:
    response = Client().get("/api/v1/students/", HTTP_AUTHORIZATION=header)

    assert response.status_code == 401
    assert response.json() == UNAUTHENTICATED


@pytest.mark.django_db
def test_expired_token_is_401(world: World) -> None:
    raw, row = issue_token(world.users["registrar_a"])
    row.expires_at = timezone.now() - timedelta(seconds=1)
    row.save(update_fields=["expires_at"])

    response = Client().get("/api/v1/students/", HTTP_AUTHORIZATION=f"Bearer {raw}")

    assert response.status_code == 401


@pytest.mark.django_db
def test_revoked_token_is_401(world: World) -> None:
    raw, row = issue_token(world.users["registrar_a"])
    row.revoked_at = timezone.now()
    row.save(update_fields=["revoked_at"])

    response = Client().get("/api/v1/students/", HTTP_AUTHORIZATION=f"Bearer {raw}")

    assert response.status_code == 401


@pytest.mark.django_db
def test_token_of_sealed_account_is_401(world: World) -> None:
    user = world.users["registrar_a"]
    raw, _ = issue_token(user)
    user.sealed_at = timezone.now()
    user.save(update_fields=["sealed_at"])

    response = Client().get("/api/v1/students/", HTTP_AUTHORIZATION=f"Bearer {raw}")

    assert response.status_code == 401


@pytest.mark.django_db
def test_session_auth_reads(world: World) -> None:
    client = Client()
    client.force_login(world.users["registrar_a"])

    response = client.get(f"/api/v1/students/{world.student.pk}")

    assert response.status_code == 200
    assert response.json()["student_number"] == world.student.student_number


@pytest.mark.django_db
def test_session_post_without_csrf_token_is_refused(world: World) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.users["registrar_a"])

    response = client.post(
        f"/api/v1/students/{world.student.pk}/reveal",
        json.dumps({"field": "id_number"}),
        content_type="application/json",
    )

    assert response.status_code == 403
    assert set(response.json()) == {"code", "message", "fields"}
    assert world.student.id_number not in response.content.decode()


@pytest.mark.django_db
def test_session_patch_without_csrf_token_is_refused_and_changes_nothing(world: World) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.users["registrar_a"])

    response = client.patch(
        f"/api/v1/students/{world.student.pk}",
        json.dumps({"current_address": "别处"}),
        content_type="application/json",
    )

    assert response.status_code == 403
    world.student.refresh_from_db()
    assert world.student.current_address == "广州市海珠区新港中路1号"


@pytest.mark.django_db
def test_session_post_with_csrf_token_is_accepted(world: World) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.users["registrar_a"])
    client.cookies["csrftoken"] = CSRF

    response = client.post(
        f"/api/v1/students/{world.student.pk}/reveal",
        json.dumps({"field": "id_number"}),
        content_type="application/json",
        HTTP_X_CSRFTOKEN=CSRF,
    )

    assert response.status_code == 200
    assert response.json() == {"field": "id_number", "value": world.student.id_number}


@pytest.mark.django_db
def test_bearer_token_needs_no_csrf_token(world: World) -> None:
    api = Api(world.users["registrar_a"], client=Client(enforce_csrf_checks=True))

    response = api.post(f"/api/v1/students/{world.student.pk}/reveal", {"field": "phone"})

    assert response.status_code == 200
    assert response.json() == {"field": "phone", "value": "13800138000"}


@pytest.mark.django_db
def test_anonymous_post_without_csrf_cookie_is_401(world: World) -> None:
    response = Client(enforce_csrf_checks=True).post(
        "/api/v1/students/", "{}", content_type="application/json"
    )

    assert response.status_code == 401
    assert response.json() == UNAUTHENTICATED
