"""三权分立 and the account-administration matrix (acceptance test 9; 等保 8.1.5.1–8.1.5.3)."""

from __future__ import annotations

import itertools

import pytest

from tests.factories import accounts as fa
from tests.factories import core as f
from xueji.accounts.enums import ADMIN_ROLES, Role
from xueji.accounts.models import RoleGrant, User
from xueji.accounts.services import (
    account_seal,
    check_role_combination,
    password_reset,
    password_reset_confirm,
    password_reset_request,
    role_grant,
    role_revoke,
    user_create,
)
from xueji.audit.enums import EventType
from xueji.audit.models import AuditEvent
from xueji.core.errors import ApplicationError, Conflict, FieldError, Forbidden, NotFound

ALL_ROLES = list(Role)


def _expected(held: str, new: str) -> str | None:
    if held in ADMIN_ROLES and new in ADMIN_ROLES:
        return None if held == new else "admin_roles_exclusive"
    if (held in ADMIN_ROLES) != (new in ADMIN_ROLES):
        return "admin_business_mix"
    return None


@pytest.mark.parametrize(("held", "new"), list(itertools.product(ALL_ROLES, ALL_ROLES)))
def test_role_combination_matrix(held, new):
    expected = _expected(held, new)
    if expected is None:
        check_role_combination({held}, new)
    else:
        with pytest.raises(Conflict) as exc:
            check_role_combination({held}, new)
        assert exc.value.code == expected


def _unit_for(role: str, n: int, school_a, school_b):
    """A unit fit for ``role``; ``n`` picks one of two, so a repeated role lands on another unit."""
    if role == Role.SCHOOL_REGISTRAR:
        return (school_a, school_b)[n].org
    return f.dept(("440105", "440106")[n])


@pytest.mark.django_db
@pytest.mark.parametrize(("held", "new"), list(itertools.product(ALL_ROLES, ALL_ROLES)))
def test_role_grant_enforces_separation(held, new, school_a, school_b):
    sec = fa.security_admin()
    user = f.user(held, _unit_for(held, 0, school_a, school_b), filed=False)
    expected = _expected(held, new)
    if expected is None:
        grant = role_grant(actor=sec, user=user, role=new, org_unit=_unit_for(new, 1, school_a, school_b))
        assert set(RoleGrant.objects.filter(user=user).values_list("role", flat=True)) == {held, new}
        event = AuditEvent.objects.get(event_type=EventType.ROLE_GRANTED)
        assert (event.actor_id, event.subject_id, event.org_unit_id) == (
            sec.pk,
            str(user.pk),
            grant.org_unit_id,
        )
    else:
        with pytest.raises(Conflict) as exc:
            role_grant(actor=sec, user=user, role=new, org_unit=_unit_for(new, 1, school_a, school_b))
        assert exc.value.code == expected
        assert RoleGrant.objects.filter(user=user).count() == 1
        assert not AuditEvent.objects.filter(event_type=EventType.ROLE_GRANTED).exists()


@pytest.mark.django_db
@pytest.mark.parametrize("role", [Role.SYSTEM_ADMIN, Role.AUDIT_ADMIN, Role.DEPT_REGISTRAR, Role.APPROVER])
def test_only_security_admin_grants(tree, role):
    actor = f.user(role, fa.province())
    user = f.user()
    with pytest.raises(Forbidden):
        role_grant(actor=actor, user=user, role=Role.APPROVER, org_unit=fa.county())
    assert not RoleGrant.objects.filter(user=user).exists()


@pytest.mark.django_db
def test_security_admin_cannot_grant_to_self_or_outside_subtree(tree):
    sec = fa.security_admin(fa.county())
    with pytest.raises(Forbidden) as exc:
        role_grant(actor=sec, user=sec, role=Role.SECURITY_ADMIN, org_unit=fa.county())
    assert exc.value.code == "self_action"
    inside = f.user(Role.APPROVER, f.dept("440105"), filed=False)
    with pytest.raises(FieldError) as exc:
        role_grant(actor=sec, user=inside, role=Role.APPROVER, org_unit=fa.province())
    assert exc.value.code == "org_unit_out_of_scope"
    elsewhere = f.user(Role.APPROVER, f.dept("440106"), filed=False)
    with pytest.raises(NotFound):
        role_grant(actor=sec, user=elsewhere, role=Role.APPROVER, org_unit=fa.county())


@pytest.mark.django_db
def test_role_must_fit_unit_level(school_a):
    sec = fa.security_admin()
    user = f.user(org_unit=fa.county())
    with pytest.raises(FieldError) as exc:
        role_grant(actor=sec, user=user, role=Role.SCHOOL_REGISTRAR, org_unit=fa.county())
    assert exc.value.code == "role_level_mismatch"
    with pytest.raises(FieldError) as exc:
        role_grant(actor=sec, user=user, role=Role.DEPT_REGISTRAR, org_unit=school_a.org)
    assert exc.value.code == "role_level_mismatch"
    with pytest.raises(FieldError) as exc:
        role_grant(actor=sec, user=user, role="superuser", org_unit=fa.county())
    assert exc.value.code == "role_unknown"


@pytest.mark.django_db
def test_account_without_unit_or_grant_is_out_of_every_scope(tree):
    with pytest.raises(NotFound):
        role_grant(actor=fa.security_admin(), user=f.user(), role=Role.APPROVER, org_unit=fa.county())


@pytest.mark.django_db
def test_duplicate_grant_conflicts(registrar_a, school_a):
    with pytest.raises(Conflict) as exc:
        role_grant(
            actor=fa.security_admin(), user=registrar_a, role=Role.SCHOOL_REGISTRAR, org_unit=school_a.org
        )
    assert exc.value.code == "grant_exists"


@pytest.mark.django_db
def test_revoke_by_security_admin_is_audited(registrar_a):
    sec = fa.security_admin()
    grant = RoleGrant.objects.get(user=registrar_a)
    with pytest.raises(Forbidden):
        role_revoke(actor=fa.system_admin(), grant=grant)
    with pytest.raises(NotFound):
        role_revoke(actor=fa.security_admin(f.dept("110000")), grant=grant)
    role_revoke(actor=sec, grant=grant)
    assert not RoleGrant.objects.filter(user=registrar_a).exists()
    event = AuditEvent.objects.get(event_type=EventType.ROLE_REVOKED)
    assert event.before == {"role": "school_registrar", "org_unit_id": grant.org_unit_id}


# --- account administration matrix ---------------------------------------------------------------------------

ACTORS = [Role.SYSTEM_ADMIN, Role.SECURITY_ADMIN, Role.AUDIT_ADMIN, Role.DEPT_REGISTRAR, Role.APPROVER]
MATRIX = {
    # action: roles allowed
    "user_create": {Role.SYSTEM_ADMIN},
    "password_reset": {Role.SYSTEM_ADMIN},
    "account_seal": {Role.SYSTEM_ADMIN, Role.SECURITY_ADMIN},
    "role_grant": {Role.SECURITY_ADMIN},
}


def _act(action: str, actor: User, target: User) -> None:
    if action == "user_create":
        user_create(actor=actor, username="newbie", display_name="新用户", org_unit=fa.county())
    elif action == "password_reset":
        # The target (an approver) reads student data: a system admin may only request the reset.
        password_reset_request(actor=actor, user=target)
    elif action == "account_seal":
        account_seal(actor=actor, user=target, reason="离岗")
    elif action == "role_grant":
        role_grant(actor=actor, user=target, role=Role.DEPT_REGISTRAR, org_unit=fa.county())


@pytest.mark.django_db
@pytest.mark.parametrize(("action", "role"), list(itertools.product(MATRIX, ACTORS)))
def test_account_action_matrix(tree, action, role):
    actor = f.user(role, fa.province())
    target = f.user(Role.APPROVER, fa.county(), filed=False)
    if role in MATRIX[action]:
        _act(action, actor, target)
    else:
        with pytest.raises(Forbidden):
            _act(action, actor, target)


@pytest.mark.django_db
@pytest.mark.parametrize("target_role", sorted(ADMIN_ROLES))
def test_admin_accounts_cannot_be_reset_or_sealed_by_another_admin(tree, target_role):
    target = f.user(target_role, fa.county())
    with pytest.raises(Forbidden) as exc:
        password_reset(actor=fa.system_admin(), user=target)
    assert exc.value.code == "admin_target_forbidden"
    with pytest.raises(Forbidden) as exc:
        account_seal(actor=fa.security_admin(), user=target, reason="x")
    assert exc.value.code == "admin_target_forbidden"


@pytest.mark.django_db
def test_user_create_generates_one_time_password(tree):
    sysadmin = fa.system_admin()
    user = user_create(
        actor=sysadmin, username="li_hua", display_name="李华", phone="13800138000", org_unit=fa.county()
    )
    temp = user.temporary_password
    user = User.objects.get(pk=user.pk)
    assert user.check_password(temp)
    assert user.must_change_password is True
    assert (user.is_superuser, user.is_staff, user.org_unit) == (False, False, fa.county())
    assert not RoleGrant.objects.filter(user=user).exists()
    event = AuditEvent.objects.get(event_type=EventType.ACCOUNT_CREATED)
    assert (event.actor_id, event.subject_id, event.org_unit_id) == (
        sysadmin.pk,
        str(user.pk),
        fa.county().pk,
    )
    assert temp not in str(event.after)


@pytest.mark.django_db
def test_user_create_refuses_admin_chosen_password_and_bad_input(tree):
    sysadmin = fa.system_admin(fa.county())
    cases = [
        ({"password": "Xj-Chosen-2026!"}, "admin_cannot_choose_password"),
        ({"org_unit": fa.province()}, "org_unit_out_of_scope"),
        ({"org_unit": None}, "org_unit_required"),
        ({"username": "bad name!"}, "username_invalid"),
        ({"display_name": " "}, "required"),
        ({"phone": "call me"}, "phone_invalid"),
    ]
    for change, code in cases:
        kwargs = {
            "actor": sysadmin,
            "username": "li_hua",
            "display_name": "李华",
            "org_unit": fa.county(),
            **change,
        }
        with pytest.raises(ApplicationError) as exc:
            user_create(**kwargs)
        assert exc.value.code == code, change
    f.user(username="Taken")
    with pytest.raises(FieldError) as exc:
        user_create(actor=sysadmin, username="taken", display_name="李华", org_unit=fa.county())
    assert exc.value.code == "username_taken"
    assert not User.objects.filter(username="li_hua").exists()


@pytest.mark.django_db
def test_system_actor_may_set_a_validated_password(tree):
    user = user_create(actor=None, username="seeded", display_name="演示", password=f.PASSWORD)
    assert user.temporary_password is None
    assert User.objects.get(pk=user.pk).must_change_password is False
    with pytest.raises(FieldError) as exc:
        user_create(actor=None, username="weak", display_name="演示", password="Password123")
    assert exc.value.code == "password_too_common"


@pytest.mark.django_db
def test_password_reset_forces_change_and_revokes_tokens(registrar_a):
    from xueji.accounts.auth import issue_token
    from xueji.accounts.models import ApiToken

    issue_token(registrar_a)
    reset = password_reset_request(actor=fa.system_admin(), user=registrar_a)
    _, temp = password_reset_confirm(actor=fa.security_admin(), reset=reset)
    user = User.objects.get(pk=registrar_a.pk)
    assert user.check_password(temp)
    assert user.must_change_password is True
    assert ApiToken.objects.get(user=registrar_a).revoked_at is not None
    c = fa.client()
    assert fa.web_login(c, "reg_a", temp)["Location"] == "/password/"
