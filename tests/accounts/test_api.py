"""Auth API: POST /api/v1/auth/token and GET /api/v1/auth/me."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.factories import accounts as fa
from tests.factories import core as f
from xueji.accounts.auth import token_digest
from xueji.accounts.models import ApiToken, User
from xueji.audit.enums import EventType
from xueji.audit.models import AuditEvent

pytestmark = pytest.mark.django_db


def test_token_happy_path(registrar_a):
    User.objects.filter(pk=registrar_a.pk).update(last_login=None)
    r = fa.token(fa.client(), "reg_a")
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"token", "expires_at"}
    row = ApiToken.objects.get(user=registrar_a)
    assert row.digest == token_digest(body["token"])
    assert row.expires_at - timezone.now() > timedelta(hours=11)
    assert User.objects.get(pk=registrar_a.pk).last_login is not None  # dormancy clock (第24条)
    event = AuditEvent.objects.get(event_type=EventType.TOKEN_ISSUED)
    assert (event.actor_id, event.subject_id, event.ip) == (registrar_a.pk, str(registrar_a.pk), "10.0.0.1")
    assert body["token"] not in str(event.after)
    me = fa.client().get("/api/v1/auth/me", HTTP_AUTHORIZATION=f"Bearer {body['token']}")
    assert me.status_code == 200
    assert me.json()["username"] == "reg_a"


def test_wrong_password_and_unknown_user_get_the_same_401(registrar_a):
    wrong = fa.token(fa.client("10.0.0.3"), "reg_a", "wrong-password")
    unknown = fa.token(fa.client("10.0.0.4"), "nobody_here", "wrong-password")
    assert wrong.status_code == unknown.status_code == 401
    assert (
        wrong.json()
        == unknown.json()
        == {"code": "invalid_credentials", "message": "用户名或密码错误", "fields": {}}
    )
    assert AuditEvent.objects.filter(event_type=EventType.LOGIN_FAILED).count() == 2
    assert not ApiToken.objects.exists()


def test_sealed_account_is_refused(registrar_a):
    fa.sealed(registrar_a)
    assert fa.token(fa.client(), "reg_a").json()["code"] == "account_sealed"
    assert fa.token(fa.client("10.0.0.8"), "reg_a", "wrong-password").json()["code"] == "invalid_credentials"
    assert not ApiToken.objects.exists()


def test_inactive_account_is_refused_generically(registrar_a):
    User.objects.filter(pk=registrar_a.pk).update(is_active=False)
    r = fa.token(fa.client(), "reg_a")
    assert (r.status_code, r.json()["code"]) == (401, "invalid_credentials")


@pytest.mark.parametrize(
    "change",
    [
        {"must_change_password": True},
        {"password_changed_at": timezone.now() - timedelta(days=91)},
    ],
)
def test_account_owing_a_password_change_is_refused(registrar_a, settings, change):
    settings.PASSWORD_POLICY_PROFILE = "dengbao"
    User.objects.filter(pk=registrar_a.pk).update(**change)
    r = fa.token(fa.client(), "reg_a")
    assert (r.status_code, r.json()["code"]) == (403, "password_change_required")
    assert not ApiToken.objects.exists()


def test_token_endpoint_locks_out_after_five_failures(registrar_a):
    c = fa.client("10.9.9.9")
    codes = [fa.token(c, "reg_a", "wrong-password").status_code for _ in range(5)]
    assert codes == [401, 401, 401, 401, 429]
    locked = fa.token(c, "reg_a")
    assert locked.status_code == 429
    assert locked.json()["code"] == "locked_out"
    assert locked["Content-Type"].startswith("application/json")
    assert fa.token(fa.client("10.0.0.2"), "reg_a").status_code == 200


def test_web_and_api_failures_share_the_lockout(registrar_a):
    c = fa.client("10.9.9.7")
    for _ in range(5):
        fa.web_login(c, "reg_a", "wrong-password")
    assert fa.token(c, "reg_a").status_code == 429


def test_token_input_is_validated(registrar_a):
    r = fa.client().post("/api/v1/auth/token", {"username": "reg_a"}, content_type="application/json")
    assert r.status_code == 422
    assert r.json()["code"] == "invalid_input"
    assert "password" in r.json()["fields"]


def test_revoked_token_and_sealed_holder_stop_working(registrar_a):
    raw = fa.token(fa.client(), "reg_a").json()["token"]
    auth = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    assert fa.client().get("/api/v1/auth/me", **auth).status_code == 200
    fa.sealed(registrar_a)
    r = fa.client().get("/api/v1/auth/me", **auth)
    assert (r.status_code, r.json()["code"]) == (401, "unauthenticated")


def test_me_lists_roles_and_filing(registrar_a, school_a):
    c = fa.client()
    c.force_login(registrar_a)
    body = c.get("/api/v1/auth/me").json()
    assert body == {
        "id": registrar_a.pk,
        "username": "reg_a",
        "display_name": "",
        "org_unit_id": None,
        "roles": [
            {
                "role": "school_registrar",
                "role_label": "学校学籍管理员",
                "org_unit_id": school_a.org.pk,
                "org_unit_name": "海珠区第一小学",
                "org_unit_level": "school",
            }
        ],
        "is_admin": False,
        "filed_and_trained": True,
        "must_change_password": False,
    }


def test_me_for_unfiled_registrar_and_admin(school_a):
    unfiled = f.registrar(school_a, filed=False)
    c = fa.client()
    c.force_login(unfiled)
    assert c.get("/api/v1/auth/me").json()["filed_and_trained"] is False
    admin = fa.security_admin()
    c = fa.client()
    c.force_login(admin)
    body = c.get("/api/v1/auth/me").json()
    assert (body["is_admin"], [r["role"] for r in body["roles"]]) == (True, ["security_admin"])
    assert body["roles"][0]["org_unit_level"] == "province"


def test_me_requires_authentication(db):
    r = fa.client().get("/api/v1/auth/me")
    assert (r.status_code, r.json()["code"]) == (401, "unauthenticated")
