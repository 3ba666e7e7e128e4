"""第24条: accounts unused for more than six months are sealed; only a security admin unseals (test 16)."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from tests.factories import accounts as fa
from tests.factories import core as f
from xueji.accounts.auth import issue_token
from xueji.accounts.enums import Role
from xueji.accounts.models import ApiToken, User
from xueji.accounts.services import DORMANT_REASON, account_seal, account_unseal, seal_dormant
from xueji.accounts.views import SEALED_LOGIN_ERROR
from xueji.audit.enums import EventType
from xueji.audit.models import AuditEvent
from xueji.core.errors import Conflict, FieldError, Forbidden, NotFound

pytestmark = pytest.mark.django_db


def test_181_days_without_login_seals_179_does_not(registrar_a, school_a):
    now = timezone.now()
    fa.last_seen(registrar_a, now - timedelta(days=181))
    recent = fa.last_seen(f.registrar(school_a), now - timedelta(days=179))
    assert seal_dormant(actor=None, now=now) == 1
    registrar_a.refresh_from_db()
    recent.refresh_from_db()
    assert registrar_a.sealed_at == now
    assert registrar_a.sealed_reason == DORMANT_REASON
    assert recent.sealed_at is None
    event = AuditEvent.objects.get(event_type=EventType.ACCOUNT_SEALED)
    assert (event.subject_id, event.actor_username, event.org_unit_id) == (
        str(registrar_a.pk),
        "system",
        school_a.org.pk,
    )


def test_exactly_180_days_is_not_more_than_six_months(registrar_a):
    now = timezone.now()
    fa.last_seen(registrar_a, now - timedelta(days=180))
    assert seal_dormant(actor=None, now=now) == 0


def test_never_logged_in_counts_from_creation(tree):
    now = timezone.now()
    user = f.user()
    User.objects.filter(pk=user.pk).update(last_login=None, date_joined=now - timedelta(days=181))
    fresh = f.user()
    assert seal_dormant(actor=None, now=now) == 1
    assert User.objects.get(pk=user.pk).sealed_at == now
    assert User.objects.get(pk=fresh.pk).sealed_at is None


def test_sealed_and_inactive_accounts_are_left_alone_and_tokens_revoked(tree):
    now = timezone.now()
    old = now - timedelta(days=400)
    already = fa.sealed(fa.last_seen(f.user(), old))
    inactive = fa.last_seen(f.user(), old)
    User.objects.filter(pk=inactive.pk).update(is_active=False)
    dormant = fa.last_seen(f.user(), old)
    issue_token(dormant)
    assert seal_dormant(actor=None, now=now) == 1
    assert AuditEvent.objects.filter(event_type=EventType.ACCOUNT_SEALED).count() == 1
    assert User.objects.get(pk=already.pk).sealed_reason == "测试封存"
    assert User.objects.get(pk=inactive.pk).sealed_at is None
    assert ApiToken.objects.get(user=dormant).revoked_at == now


def test_one_audit_event_per_sealed_account(tree):
    now = timezone.now()
    users = [fa.last_seen(f.user(), now - timedelta(days=200)) for _ in range(3)]
    assert seal_dormant(actor=None, now=now) == 3
    subjects = set(
        AuditEvent.objects.filter(event_type=EventType.ACCOUNT_SEALED).values_list("subject_id", flat=True)
    )
    assert subjects == {str(u.pk) for u in users}


def test_management_command_reports_count(registrar_a):
    fa.last_seen(registrar_a, timezone.now() - timedelta(days=181))
    out = StringIO()
    call_command("seal_dormant_accounts", stdout=out)
    assert out.getvalue().strip() == "已封存 1 个账号"
    assert User.objects.get(pk=registrar_a.pk).sealed_at is not None


def test_sealed_account_cannot_log_in_on_web_or_api(registrar_a):
    fa.last_seen(registrar_a, timezone.now() - timedelta(days=181))
    seal_dormant(actor=None, now=timezone.now())
    r = fa.web_login(fa.client(), "reg_a")
    assert list(r.context["form"].non_field_errors()) == [SEALED_LOGIN_ERROR]
    r = fa.token(fa.client(), "reg_a")
    assert r.status_code == 403
    assert r.json()["code"] == "account_sealed"


# --- unsealing ---------------------------------------------------------------------------------------------------


def test_security_admin_unseals_restarts_clock_and_is_audited(registrar_a):
    sec = fa.security_admin()
    fa.last_seen(registrar_a, timezone.now() - timedelta(days=181))
    seal_dormant(actor=None, now=timezone.now())
    registrar_a.refresh_from_db()
    account_unseal(actor=sec, user=registrar_a)
    registrar_a.refresh_from_db()
    assert registrar_a.sealed_at is None
    assert registrar_a.sealed_reason == ""
    assert timezone.now() - registrar_a.last_login < timedelta(minutes=1)
    event = AuditEvent.objects.get(event_type=EventType.ACCOUNT_UNSEALED)
    assert (event.actor_id, event.actor_role, event.subject_id) == (
        sec.pk,
        "security_admin",
        str(registrar_a.pk),
    )
    assert event.before["sealed_reason"] == DORMANT_REASON
    # The dormancy clock restarted: the next run leaves it alone, and the holder logs in again.
    assert seal_dormant(actor=None, now=timezone.now()) == 0
    assert fa.web_login(fa.client(), "reg_a").status_code == 302


@pytest.mark.parametrize("role", [Role.SYSTEM_ADMIN, Role.AUDIT_ADMIN, Role.DEPT_REGISTRAR, Role.APPROVER])
def test_only_security_admin_unseals(registrar_a, role):
    actor = f.user(role, f.dept("440000"))
    fa.sealed(registrar_a)
    with pytest.raises(Forbidden):
        account_unseal(actor=actor, user=registrar_a)
    assert User.objects.get(pk=registrar_a.pk).sealed_at is not None
    assert not AuditEvent.objects.filter(event_type=EventType.ACCOUNT_UNSEALED).exists()


def test_school_registrar_and_system_cannot_unseal(registrar_a, school_a):
    fa.sealed(registrar_a)
    with pytest.raises(Forbidden):
        account_unseal(actor=f.registrar(school_a), user=registrar_a)
    with pytest.raises(Forbidden) as exc:
        account_unseal(actor=None, user=registrar_a)
    assert exc.value.code == "security_admin_required"


def test_security_admin_elsewhere_sees_nothing(registrar_a):
    beijing = fa.security_admin(f.dept("110000"))
    fa.sealed(registrar_a)
    with pytest.raises(NotFound):
        account_unseal(actor=beijing, user=registrar_a)


def test_unsealing_an_unsealed_account_conflicts(registrar_a):
    with pytest.raises(Conflict) as exc:
        account_unseal(actor=fa.security_admin(), user=registrar_a)
    assert exc.value.code == "not_sealed"


def test_manual_seal_needs_reason_and_revokes_tokens(registrar_a):
    sysadmin = fa.system_admin()
    with pytest.raises(FieldError) as exc:
        account_seal(actor=sysadmin, user=registrar_a, reason=" ")
    assert exc.value.code == "required"
    issue_token(registrar_a)
    account_seal(actor=sysadmin, user=registrar_a, reason="离岗")
    assert User.objects.get(pk=registrar_a.pk).sealed_reason == "离岗"
    assert ApiToken.objects.get(user=registrar_a).revoked_at is not None
    with pytest.raises(Conflict):
        account_seal(actor=sysadmin, user=registrar_a, reason="离岗")


def test_web_unseal_by_system_admin_is_forbidden_and_by_security_admin_works(registrar_a):
    fa.system_admin(username="sys1")
    fa.security_admin(username="sec1")
    fa.sealed(registrar_a)
    c = fa.client()
    fa.web_login(c, "sys1")
    assert c.post(f"/accounts/{registrar_a.pk}/unseal/").status_code == 403
    c = fa.client()
    fa.web_login(c, "sec1")
    r = c.post(f"/accounts/{registrar_a.pk}/unseal/")
    assert r.status_code == 302
    assert User.objects.get(pk=registrar_a.pk).sealed_at is None
