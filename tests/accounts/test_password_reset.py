"""Issue #6 §3.4: a system admin cannot take over a registrar through a password reset.

Resets of accounts that read student data need a second person (the security admin confirms; maker–checker,
ASVS 2.3.5 / 6.4.6). The temporary credential is single-use and only lets the holder set a password (no other
page, no API token), expires, and the holder is told at login who reset it and when.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.factories import accounts as fa
from tests.factories import core as f
from xueji.accounts.auth import issue_token
from xueji.accounts.enums import Role
from xueji.accounts.models import ApiToken, PasswordResetRequest, User
from xueji.accounts.services import (
    password_change,
    password_reset,
    password_reset_confirm,
    password_reset_request,
)
from xueji.audit.enums import EventType
from xueji.audit.models import AuditEvent
from xueji.core.errors import Conflict, Forbidden, NotFound

pytestmark = pytest.mark.django_db
NEW_PASSWORD = "Xj-Own-Choice-2026!"


def _as(user: User):
    c = fa.client()
    c.force_login(user)
    return c


def _confirmed(registrar: User) -> tuple[PasswordResetRequest, str]:
    reset = password_reset_request(actor=fa.system_admin(), user=registrar)
    return password_reset_confirm(actor=fa.security_admin(), reset=reset)


def test_system_admin_alone_cannot_take_over_a_registrar(registrar_a):
    """The probe: reset → temporary password on screen → log in → set a password → read students."""
    sysadmin = fa.system_admin()
    response = _as(sysadmin).post(f"/accounts/{registrar_a.pk}/reset-password/")

    assert response.status_code == 302
    assert response["Location"] == f"/accounts/{registrar_a.pk}/"
    registrar_a.refresh_from_db()
    assert registrar_a.check_password(f.PASSWORD)  # nothing changed yet
    assert registrar_a.must_change_password is False
    reset = PasswordResetRequest.objects.get(user=registrar_a)
    assert (reset.requested_by, reset.confirmed_at) == (sysadmin, None)
    with pytest.raises(Forbidden) as exc:
        password_reset(actor=sysadmin, user=registrar_a)
    assert exc.value.code == "second_person_required"


def test_reset_of_an_account_without_student_data_stays_single_person(tree):
    """A new account without roles reads no student data: the system admin still resets it alone."""
    target = f.user(org_unit=fa.county())
    temp = password_reset(actor=fa.system_admin(), user=target)
    assert User.objects.get(pk=target.pk).check_password(temp)


def test_security_admin_confirms_and_only_then_a_one_time_password_exists(registrar_a):
    sysadmin, secadmin = fa.system_admin(), fa.security_admin()
    token, _row = issue_token(registrar_a)
    c = _as(sysadmin)
    c.post(f"/accounts/{registrar_a.pk}/reset-password/")
    reset = PasswordResetRequest.objects.get(user=registrar_a)
    with pytest.raises(Conflict) as exc:
        password_reset_request(actor=sysadmin, user=registrar_a)
    assert exc.value.code == "reset_pending"

    # The system admin cannot confirm their own request; another security admin outside the subtree gets 404.
    assert c.post(f"/accounts/resets/{reset.pk}/confirm/").status_code == 403
    with pytest.raises(NotFound):
        password_reset_confirm(actor=fa.security_admin(f.dept("110000")), reset=reset)

    page = _as(secadmin).get(f"/accounts/{registrar_a.pk}/")
    assert "待安全管理员确认" in page.content.decode()
    assert [r.pk for r in _as(secadmin).get("/accounts/").context["pending_resets"]] == [reset.pk]
    assert _as(fa.security_admin(f.dept("110000"))).get("/accounts/").context["pending_resets"] == []
    response = _as(secadmin).post(f"/accounts/resets/{reset.pk}/confirm/")
    assert response.status_code == 200
    temp = response.context["password"]
    user = User.objects.get(pk=registrar_a.pk)
    assert user.check_password(temp) and user.must_change_password is True
    assert ApiToken.objects.get(user=registrar_a).revoked_at is not None
    reset.refresh_from_db()
    assert (reset.confirmed_by, reset.used_at) == (secadmin, None)
    assert reset.expires_at is not None
    events = AuditEvent.objects.filter(
        event_type__in=[EventType.PASSWORD_RESET_REQUESTED, EventType.PASSWORD_RESET_CONFIRMED]
    ).order_by("id")
    assert [(e.event_type, e.actor_id, e.subject_id) for e in events] == [
        (EventType.PASSWORD_RESET_REQUESTED, sysadmin.pk, str(registrar_a.pk)),
        (EventType.PASSWORD_RESET_CONFIRMED, secadmin.pk, str(registrar_a.pk)),
    ]
    assert all(temp not in f"{e.summary}{e.before}{e.after}" for e in AuditEvent.objects.all())
    with pytest.raises(Conflict) as exc:
        password_reset_confirm(actor=secadmin, reset=reset)
    assert exc.value.code == "reset_not_pending"
    assert token  # the old token was revoked above


def test_temporary_credential_only_sets_a_password_and_is_single_use(registrar_a, school_a):
    _reset, temp = _confirmed(registrar_a)
    c = fa.client()

    assert fa.web_login(c, "reg_a", temp)["Location"] == "/password/"
    assert c.get("/students/")["Location"] == "/password/"
    assert c.get("/api/v1/students/").status_code == 401
    api = fa.client(ip="10.0.0.2")
    refused = fa.token(api, "reg_a", temp)
    assert (refused.status_code, refused.json()["code"]) == (403, "password_change_required")
    # Logged out without setting a password: the temporary credential is spent.
    c.post("/logout/")
    again = fa.web_login(fa.client(ip="10.0.0.3"), "reg_a", temp)
    assert again.status_code == 200
    assert "一次性临时密码已使用" in again.content.decode()
    assert "_auth_user_id" not in again.wsgi_request.session
    used = AuditEvent.objects.filter(
        event_type=EventType.LOGIN_FAILED, subject_id=str(registrar_a.pk)
    ).latest("id")
    assert used.summary == "reg_a 登录失败：一次性临时密码已使用或已失效"


def test_holder_sets_a_password_and_is_told_who_reset_it(registrar_a, school_a):
    reset, temp = _confirmed(registrar_a)
    c = fa.client()
    fa.web_login(c, "reg_a", temp)
    page = c.get("/password/").content.decode()
    requester, confirmer = reset.requested_by.username, reset.confirmed_by.username
    assert requester in page and confirmer in page
    assert timezone.localtime(reset.confirmed_at).strftime("%Y-%m-%d %H:%M") in page
    response = c.post(
        "/password/", {"old_password": temp, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    )
    assert response.status_code == 302
    reset.refresh_from_db()
    assert reset.completed_at is not None
    assert c.get("/students/").status_code == 200

    # Next login with the holder's own password: told once who reset it and when.
    c2 = fa.client(ip="10.0.0.4")
    first = c2.post("/login/", {"username": "reg_a", "password": NEW_PASSWORD}, follow=True)
    notice = [str(m) for m in first.context["messages"]]
    assert any(requester in m and confirmer in m and "重置" in m for m in notice)
    c3 = fa.client(ip="10.0.0.5")
    second = c3.post("/login/", {"username": "reg_a", "password": NEW_PASSWORD}, follow=True)
    assert not any("重置" in str(m) for m in second.context["messages"])


def test_temporary_credential_expires(registrar_a, settings):
    reset, temp = _confirmed(registrar_a)
    PasswordResetRequest.objects.filter(pk=reset.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    response = fa.web_login(fa.client(), "reg_a", temp)
    assert response.status_code == 200
    assert "一次性临时密码已使用" in response.content.decode()


def test_only_system_admin_requests_and_only_security_admin_confirms(registrar_a):
    for role in (Role.SECURITY_ADMIN, Role.AUDIT_ADMIN, Role.DEPT_REGISTRAR):
        with pytest.raises(Forbidden):
            password_reset_request(actor=f.user(role, fa.province()), user=registrar_a)
    reset = password_reset_request(actor=fa.system_admin(), user=registrar_a)
    for role in (Role.SYSTEM_ADMIN, Role.AUDIT_ADMIN, Role.DEPT_REGISTRAR):
        with pytest.raises(Forbidden):
            password_reset_confirm(actor=f.user(role, fa.province()), reset=reset)
    with pytest.raises(Forbidden) as exc:
        password_reset_request(actor=fa.system_admin(), user=fa.security_admin(fa.county()))
    assert exc.value.code == "admin_target_forbidden"
    # Changing the password oneself closes nothing that is still pending confirmation.
    password_change(actor=registrar_a, user=registrar_a, old=f.PASSWORD, new=NEW_PASSWORD)
    reset.refresh_from_db()
    assert reset.is_pending
