"""Login, lockout, logout, sessions and forced password change (acceptance tests 13–16)."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone

from tests.factories import accounts as fa
from tests.factories import core as f
from xueji.accounts.middleware import SESSION_LOGIN_AT, SESSION_SEEN_AT
from xueji.accounts.models import User
from xueji.accounts.views import GENERIC_LOGIN_ERROR, SEALED_LOGIN_ERROR
from xueji.audit.enums import EventType
from xueji.audit.models import AuditEvent

pytestmark = pytest.mark.django_db


def _logged_in(c: Client) -> bool:
    return "_auth_user_id" in c.session


def test_login_page_renders(client):
    r = client.get("/login/")
    assert r.status_code == 200
    assert "登录学籍管理系统" in r.content.decode()
    assert 'name="username"' in r.content.decode()


def test_login_success_rotates_session_key_and_audits(registrar_a):
    c = fa.client()
    pre = c.session
    pre["marker"] = 1
    pre.save()
    old_key = pre.session_key
    r = fa.web_login(c, "reg_a")
    assert r.status_code == 302
    assert r["Location"] == "/"
    assert _logged_in(c)
    assert c.session.session_key != old_key
    assert not Session.objects.filter(session_key=old_key).exists()
    registrar_a.refresh_from_db()
    assert registrar_a.last_login is not None
    event = AuditEvent.objects.get(event_type=EventType.LOGIN)
    assert (event.actor_id, event.subject_id, event.ip) == (registrar_a.pk, str(registrar_a.pk), "10.0.0.1")


def test_login_follows_only_local_next(registrar_a):
    r = fa.client().post("/login/", {"username": "reg_a", "password": f.PASSWORD, "next": "/schools/"})
    assert r["Location"] == "/schools/"
    r = fa.client().post(
        "/login/", {"username": "reg_a", "password": f.PASSWORD, "next": "https://evil.example/"}
    )
    assert r["Location"] == "/"


def test_unknown_user_and_wrong_password_look_identical(registrar_a):
    wrong = fa.web_login(fa.client("10.0.0.5"), "reg_a", "wrong-password")
    unknown = fa.web_login(fa.client("10.0.0.6"), "nobody_here", "wrong-password")
    assert wrong.status_code == unknown.status_code == 200
    assert list(wrong.context["form"].non_field_errors()) == [GENERIC_LOGIN_ERROR]
    assert list(unknown.context["form"].non_field_errors()) == [GENERIC_LOGIN_ERROR]
    assert SEALED_LOGIN_ERROR not in wrong.content.decode()
    events = AuditEvent.objects.filter(event_type=EventType.LOGIN_FAILED, success=False)
    assert sorted(events.values_list("subject_id", flat=True)) == ["nobody_here", "reg_a"]


def test_deactivated_account_gets_the_generic_message(registrar_a):
    User.objects.filter(pk=registrar_a.pk).update(is_active=False)
    c = fa.client()
    r = fa.web_login(c, "reg_a")
    assert list(r.context["form"].non_field_errors()) == [GENERIC_LOGIN_ERROR]
    assert not _logged_in(c)


def test_sealed_account_is_told_only_with_the_right_password(registrar_a):
    fa.sealed(registrar_a)
    c = fa.client()
    right = fa.web_login(c, "reg_a")
    assert right.status_code == 200
    assert list(right.context["form"].non_field_errors()) == [SEALED_LOGIN_ERROR]
    assert not _logged_in(c)
    wrong = fa.web_login(fa.client("10.0.0.7"), "reg_a", "wrong-password")
    assert list(wrong.context["form"].non_field_errors()) == [GENERIC_LOGIN_ERROR]
    assert AuditEvent.objects.filter(event_type=EventType.LOGIN_FAILED).count() == 2
    assert not AuditEvent.objects.filter(event_type=EventType.LOGIN).exists()


# --- lockout (django-axes, username + IP) -------------------------------------------------------------------


def test_five_failures_lock_username_and_ip_but_not_other_ips(registrar_a):
    assert django_settings.AXES_FAILURE_LIMIT == 5
    attacker = fa.client("10.9.9.9")
    for _ in range(4):
        assert fa.web_login(attacker, "reg_a", "wrong-password").status_code == 200
    fifth = fa.web_login(attacker, "reg_a", "wrong-password")
    assert fifth.status_code == 429
    assert "登录已临时锁定" in fifth.content.decode()
    # Locked even with the right password, from that address...
    assert fa.web_login(attacker, "reg_a").status_code == 429
    assert not _logged_in(attacker)
    # ...while the holder, elsewhere, still logs in (no malicious lockout, ASVS 6.3.1).
    victim = fa.client("10.0.0.2")
    assert fa.web_login(victim, "reg_a").status_code == 302
    assert _logged_in(victim)


def test_lockout_is_per_username(registrar_a):
    other = f.user(username="other_user")
    c = fa.client("10.9.9.8")
    for _ in range(5):
        fa.web_login(c, "reg_a", "wrong-password")
    assert fa.web_login(c, "other_user").status_code == 302
    assert other.pk == int(c.session["_auth_user_id"])


# --- logout and sessions -------------------------------------------------------------------------------------


def test_logout_requires_post_and_kills_the_session(registrar_a):
    c = fa.client()
    fa.web_login(c, "reg_a")
    key = c.session.session_key
    assert c.get("/logout/").status_code == 405
    assert _logged_in(c)
    r = c.post("/logout/")
    assert r.status_code == 302
    assert r["Location"] == "/login/"
    assert not Session.objects.filter(session_key=key).exists()
    assert AuditEvent.objects.filter(event_type=EventType.LOGOUT, actor_id=registrar_a.pk).count() == 1
    # Replaying the old session cookie gets an anonymous visitor.
    replay = fa.client()
    replay.cookies[django_settings.SESSION_COOKIE_NAME] = key
    r = replay.get("/password/")
    assert r.status_code == 302
    assert r["Location"].startswith("/login/")


def test_sealing_ends_open_sessions(registrar_a):
    c = fa.client()
    fa.web_login(c, "reg_a")
    User.objects.filter(pk=registrar_a.pk).update(sealed_at=timezone.now(), sealed_reason="测试")
    r = c.get("/password/")
    assert r.status_code == 302
    assert r["Location"] == "/login/?reason=sealed"
    assert not _logged_in(c)
    assert "账号已封存，会话已结束" in c.get(r["Location"]).content.decode()
    assert AuditEvent.objects.filter(event_type=EventType.LOGOUT, actor_id=registrar_a.pk).count() == 1


def test_disabling_ends_open_sessions(registrar_a):
    c = fa.client()
    fa.web_login(c, "reg_a")
    key = c.session.session_key
    User.objects.filter(pk=registrar_a.pk).update(is_active=False)
    r = c.get("/password/")
    assert r.status_code == 302
    assert r["Location"].startswith("/login/")
    assert not Session.objects.filter(session_key=key).exists()


def test_absolute_session_lifetime(registrar_a, settings):
    settings.SESSION_ABSOLUTE_SECONDS = 3600
    c = fa.client()
    fa.web_login(c, "reg_a")
    assert c.get("/password/").status_code == 200
    s = c.session
    s[SESSION_LOGIN_AT] = time.time() - 3601
    s.save()
    r = c.get("/password/")
    assert r["Location"] == "/login/?reason=expired"
    assert not _logged_in(c)


def test_admin_sessions_have_a_shorter_idle_limit(tree, settings):
    admin = fa.system_admin(username="sys1")
    c = fa.client()
    fa.web_login(c, "sys1")
    assert c.get("/accounts/").status_code == 200
    s = c.session
    s[SESSION_SEEN_AT] = time.time() - 15 * 60 - 5
    s.save()
    r = c.get("/accounts/")
    assert r["Location"] == "/login/?reason=idle&next=%2Faccounts%2F"
    assert admin.pk is not None


def test_password_change_ends_other_sessions_but_keeps_this_one(registrar_a):
    here, there = fa.client("10.0.0.1"), fa.client("10.0.0.2")
    fa.web_login(here, "reg_a")
    fa.web_login(there, "reg_a")
    r = here.post(
        "/password/",
        {
            "old_password": f.PASSWORD,
            "new_password1": "Xj-New-Pass-2026!",
            "new_password2": "Xj-New-Pass-2026!",
        },
    )
    assert r.status_code == 302
    assert here.get("/password/").status_code == 200
    r = there.get("/password/")
    assert r.status_code == 302
    assert r["Location"].startswith("/login/")


def test_password_change_form_errors_name_fields(registrar_a):
    c = fa.client()
    fa.web_login(c, "reg_a")
    r = c.post("/password/", {"old_password": f.PASSWORD, "new_password1": "short", "new_password2": "short"})
    assert r.status_code == 400
    assert r.context["form"].errors["new_password1"] == ["新密码：密码至少需要 8 个字符"]
    r = c.post(
        "/password/",
        {"old_password": f.PASSWORD, "new_password1": "Xj-New-Pass-2026!", "new_password2": "Xj-Other-2026!"},
    )
    assert r.context["form"].errors["new_password2"] == ["两次输入的新密码不一致"]


# --- forced change (dengbao expiry, one-time passwords) -------------------------------------------------------


def test_dengbao_expired_password_forces_change_before_anything_else(registrar_a, settings):
    settings.PASSWORD_POLICY_PROFILE = "dengbao"
    User.objects.filter(pk=registrar_a.pk).update(password_changed_at=timezone.now() - timedelta(days=91))
    c = fa.client()
    r = fa.web_login(c, "reg_a")
    assert r["Location"] == "/password/"
    for page in ("/", "/accounts/", "/schools/", "/students/"):
        r = c.get(page)
        assert (page, r.status_code, r["Location"]) == (page, 302, "/password/")
    page = c.get("/password/")
    assert page.status_code == 200
    assert "第二十四条" in page.content.decode()
    r = c.post(
        "/password/",
        {
            "old_password": f.PASSWORD,
            "new_password1": "Xj-New-Pass-2026!",
            "new_password2": "Xj-New-Pass-2026!",
        },
    )
    assert (r.status_code, r["Location"]) == (302, "/")
    assert (
        c.get("/accounts/").status_code == 403
    )  # the page itself answers now (registrars manage no accounts)


def test_forced_change_leaves_static_api_and_logout_alone(registrar_a):
    User.objects.filter(pk=registrar_a.pk).update(must_change_password=True)
    c = fa.client()
    fa.web_login(c, "reg_a")
    assert c.get("/api/v1/auth/me").status_code == 401  # the API judges for itself (auth.usable)
    assert c.post("/logout/")["Location"] == "/login/"


def test_nist_profile_does_not_force_rotation(registrar_a, settings):
    settings.PASSWORD_POLICY_PROFILE = "nist"
    User.objects.filter(pk=registrar_a.pk).update(password_changed_at=timezone.now() - timedelta(days=400))
    c = fa.client()
    assert fa.web_login(c, "reg_a")["Location"] == "/"
    assert c.get("/password/").status_code == 200
    r = c.get("/accounts/")
    assert r.status_code == 403  # reached the page itself (a registrar may not manage accounts)


def test_htmx_requests_get_hx_redirect(registrar_a):
    User.objects.filter(pk=registrar_a.pk).update(must_change_password=True)
    c = fa.client()
    fa.web_login(c, "reg_a")
    r = c.get("/accounts/", HTTP_HX_REQUEST="true")
    assert r.status_code == 200
    assert r["HX-Redirect"] == "/password/"
