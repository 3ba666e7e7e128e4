"""Writes on accounts: creation, authorisation (role grants), filing and training, passwords, sealing.

三权分立 (等保 2.0 8.1.5.1–8.1.5.3, security.md §1.4): the three admin roles are held by different people, no
account mixes an admin role with a business role, and each admin acts only within the subtree of the unit
where they hold the role. ``actor=None`` is the system itself (bootstrap, seed data, the scheduled dormancy
job) and is said explicitly by the caller.

Who may do what (``sys`` = system admin, ``sec`` = security admin, ``aud`` = audit admin, ``dept`` = a filed
department registrar; every admin action needs the target inside the actor's subtree, else ``not_found``):

=====================  =====  =====  =====  ======================  ==========================================
action                 sys    sec    aud    business roles          further rules
=====================  =====  =====  =====  ======================  ==========================================
user_create            yes    —      —      —                       admin never chooses the password (ASVS 6.4.6)
password_reset         yes    —      —      —                       not for admin-role accounts, not self,
                                                                    not for accounts reading student data
password_reset_request yes    —      —      —                       same targets; maker (issue #6 §3.4)
password_reset_confirm —      yes    —      —                       checker; one-time password, single use
account_seal           yes    yes    —      —                       not for admin-role accounts, not self
account_unseal         —      yes    —      —                       第24条; audited; never ``actor=None``
role_grant/revoke      —      yes    —      —                       授权 is the security admin's; not self
filing_record          yes    —      —      dept (of filed_with)    第22条; not self
password_change        own account only                             validators of the active profile
=====================  =====  =====  =====  ======================  ==========================================

Role combinations (checked on every grant, under a row lock on the user): at most one of the three admin roles
per account (at any units); an admin role never beside a business role (学校/部门学籍管理员, 审核人). Business
roles combine freely. A school registrar is granted at a school, a department registrar at a department.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import password_validation
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.db.models.functions import Coalesce
from django.utils import timezone

from xueji.audit.enums import EventType
from xueji.audit.services import record, record_many
from xueji.core.errors import ApplicationError, Conflict, FieldError, Forbidden, NotFound
from xueji.regions.enums import OrgLevel
from xueji.regions.models import OrgUnit

from .enums import ADMIN_ROLES, STUDENT_DATA_ROLES, Role
from .jurisdiction import all_grants, is_filed_and_trained
from .models import ApiToken, PasswordResetRequest, RegistrarFiling, RoleGrant, User
from .types import Actor

# ---------------------------------------------------------------------------------------------------------------
# helpers


def _forget_grants(user: Actor) -> None:
    """Drop the per-object grant cache that jurisdiction keeps on a user instance."""
    if user is not None and hasattr(user, "_xueji_grants"):
        del user._xueji_grants


def role_paths(actor: Actor, wanted: Iterable[str]) -> list[str]:
    """Org paths where ``actor`` holds one of ``wanted`` roles (active units only)."""
    wanted = set(wanted)
    return sorted(
        {g.org_unit.path for g in all_grants(actor) if g.role in wanted and g.org_unit.is_active}, key=len
    )


def _covers(paths: Iterable[str], unit: OrgUnit | None) -> bool:
    return unit is not None and any(unit.path.startswith(p) for p in paths)


def user_units(user: User) -> list[OrgUnit]:
    """The units an account belongs to: its home unit and the units of its grants."""
    units = [g.org_unit for g in RoleGrant.objects.filter(user=user).select_related("org_unit")]
    if user.org_unit is not None:
        units.insert(0, user.org_unit)
    return units


def user_in_paths(user: User, paths: Iterable[str]) -> bool:
    paths = list(paths)
    return bool(paths) and any(_covers(paths, u) for u in user_units(user))


def _acting_role(
    actor: Actor, allowed: set[str], *, message: str = "您的角色无权执行此操作"
) -> tuple[str, list[str]]:
    """The first of ``allowed`` roles the actor holds, with its paths; Forbidden when none."""
    for role in (Role.SYSTEM_ADMIN, Role.SECURITY_ADMIN, Role.AUDIT_ADMIN, Role.DEPT_REGISTRAR):
        if role in allowed:
            paths = role_paths(actor, {role})
            if paths:
                return str(role), paths
    raise Forbidden("forbidden", message)


def _require_target(actor: Actor, paths: list[str], user: User) -> None:
    if actor is not None and not user_in_paths(user, paths):
        raise NotFound()


def _not_self(actor: Actor, user: User) -> None:
    if actor is not None and actor.pk == user.pk:
        raise Forbidden("self_action", "不能对自己的账号执行此操作（三权分立：须由其他管理员办理）")


def _holds_admin_role(user: User) -> bool:
    return RoleGrant.objects.filter(user=user, role__in=ADMIN_ROLES).exists()


def _unit_for_audit(user: User) -> OrgUnit | None:
    if user.org_unit_id is not None:
        return user.org_unit
    grant = RoleGrant.objects.filter(user=user).select_related("org_unit").order_by("id").first()
    return grant.org_unit if grant else None


def audit_account(
    event: EventType,
    *,
    actor: Actor | None,
    user: User,
    summary: str,
    role: str = "",
    before: dict | None = None,
    after: dict | None = None,
    success: bool = True,
) -> None:
    unit = _unit_for_audit(user)
    record(
        event_type=event,
        actor=actor,
        actor_role=role,
        subject_type="user",
        subject_id=user.pk,
        org_unit_id=unit.pk if unit else None,
        province_code=unit.province_code if unit else "",
        summary=summary,
        before=before,
        after=after,
        success=success,
    )


def _lock(user: User) -> User:
    """Re-read the account under a row lock (PostgreSQL) so concurrent decisions on it serialise."""
    # of=("self",): PostgreSQL refuses FOR UPDATE on the nullable side of the outer join to org_unit.
    return User.objects.select_for_update(of=("self",)).select_related("org_unit").get(pk=user.pk)


def _revoke_tokens(user: User, now: datetime) -> int:
    return ApiToken.objects.filter(user=user, revoked_at__isnull=True).update(revoked_at=now)


_ALPHABET_UPPER = "ABCDEFGHJKLMNPQRSTUVWXYZ"
_ALPHABET_LOWER = "abcdefghijkmnpqrstuvwxyz"
_ALPHABET_DIGIT = "23456789"


def temporary_password() -> str:
    """A one-time password from the CSPRNG: 4 groups of 4 joined by '-' (19 characters, ≈ 95 bits).

    It satisfies both profiles (≥ 15 characters; upper, lower, digit and symbol) and is never stored in clear.
    """
    alphabet = _ALPHABET_UPPER + _ALPHABET_LOWER + _ALPHABET_DIGIT
    while True:
        groups = ["".join(secrets.choice(alphabet) for _ in range(4)) for _ in range(4)]
        value = "-".join(groups)
        if (
            any(c in _ALPHABET_UPPER for c in value)
            and any(c in _ALPHABET_LOWER for c in value)
            and any(c in _ALPHABET_DIGIT for c in value)
        ):
            return value


def _password_error(field: str, exc: ValidationError) -> FieldError:
    messages = "；".join(str(m) for m in exc.messages)
    code = exc.error_list[0].code if exc.error_list and exc.error_list[0].code else "password_invalid"
    return FieldError(field, code, f"{'新密码' if field != 'password' else '密码'}：{messages}")


# ---------------------------------------------------------------------------------------------------------------
# accounts

_PHONE_CHARS = set("0123456789+-() ")


@transaction.atomic
def user_create(
    *,
    actor: Actor | None,
    username: str,
    display_name: str,
    password: str | None = None,
    phone: str = "",
    org_unit: OrgUnit | None = None,
) -> User:
    """Create a personal account (等保 CES1-05: one account per person, never shared, never a superuser).

    A system admin creates accounts in their subtree (``org_unit`` = 所属机构, required for a person). The
    administrator never chooses the password (ASVS 6.4.6): a one-time password is generated, returned once on
    ``user.temporary_password`` (not stored in clear) and must be changed at first login. Only the system
    (``actor=None``: seed/bootstrap) may set a password, which is validated against the active profile.
    The account holds no role: a security admin authorises it with :func:`role_grant`.
    """
    role = ""
    if actor is not None:
        role, paths = _acting_role(actor, {Role.SYSTEM_ADMIN}, message="只有系统管理员可以创建账号")
        if org_unit is None:
            raise FieldError("org_unit", "org_unit_required", "所属机构：请选择账号所属机构")
        if not _covers(paths, org_unit):
            raise FieldError("org_unit", "org_unit_out_of_scope", "所属机构：不在您的管辖范围内")
        if password:
            raise FieldError(
                "password",
                "admin_cannot_choose_password",
                "密码：管理员不能为他人设定密码，系统将生成一次性临时密码",
            )
    if org_unit is not None and not org_unit.is_active:
        raise FieldError("org_unit", "org_unit_inactive", "所属机构：该机构已撤销")
    username = (username or "").strip()
    display_name = (display_name or "").strip()
    phone = (phone or "").strip()
    if not username:
        raise FieldError("username", "required", "用户名：必填")
    if len(username) > 150:
        raise FieldError("username", "too_long", "用户名：不能超过 150 个字符")
    try:
        UnicodeUsernameValidator()(username)
    except ValidationError as exc:
        raise FieldError("username", "username_invalid", "用户名：只能包含字母、数字和 @/./+/-/_") from exc
    if User.objects.filter(username__iexact=username).exists():
        raise FieldError("username", "username_taken", f"用户名：{username} 已被使用")
    if not display_name:
        raise FieldError("display_name", "required", "姓名：必填（账号须落实到个人）")
    if len(display_name) > 60:
        raise FieldError("display_name", "too_long", "姓名：不能超过 60 个字符")
    if phone and (len(phone) > 20 or not set(phone) <= _PHONE_CHARS or sum(c.isdigit() for c in phone) < 5):
        raise FieldError("phone", "phone_invalid", "联系电话：格式不正确")

    user = User(
        username=username,
        display_name=display_name,
        phone=phone,
        org_unit=org_unit,
        is_staff=False,
        is_superuser=False,
    )
    generated = None
    if password:
        try:
            password_validation.validate_password(password, user)
        except ValidationError as exc:
            raise _password_error("password", exc) from exc
    else:
        generated = password = temporary_password()
    user.set_password(password)
    user.must_change_password = generated is not None
    user.save()
    audit_account(
        EventType.ACCOUNT_CREATED,
        actor=actor,
        user=user,
        role=role,
        summary=f"创建账号 {username}（{display_name}）",
        after={
            "username": username,
            "display_name": display_name,
            "org_unit_id": org_unit.pk if org_unit else None,
            "temporary_password": generated is not None,
        },
    )
    user.temporary_password = generated  # type: ignore[attr-defined]
    return user


def _reset_target_checks(actor: Actor, user: User) -> str:
    role, paths = _acting_role(actor, {Role.SYSTEM_ADMIN}, message="只有系统管理员可以重置密码")
    _require_target(actor, paths, user)
    _not_self(actor, user)
    if _holds_admin_role(user):
        raise Forbidden("admin_target_forbidden", "不能重置管理员账号的密码（三权分立）")
    return role


def reads_student_data(user: User) -> bool:
    """The account holds a role that reads student records (its password reset needs a second person)."""
    return RoleGrant.objects.filter(user=user, role__in=STUDENT_DATA_ROLES).exists()


SECOND_PERSON_REQUIRED = Forbidden(
    "second_person_required",
    "该账号可以查看学生数据，重置密码须由系统管理员申请、安全管理员确认（双人复核）",
)


@transaction.atomic
def password_reset(*, actor: Actor, user: User) -> str:
    """An administrator starts a reset (ASVS 6.4.6): a generated one-time password, returned once, and the
    holder must change it at next login. Existing API tokens are revoked.

    Refused for accounts holding an admin role: a system admin able to reset a security or audit admin's
    password could take over that role, which 三权分立 forbids (those resets go through the system). Refused
    too (``second_person_required``) for accounts that read student data: one administrator alone could
    otherwise take over a registrar (issue #6 §3.4); those go through :func:`password_reset_request` and
    :func:`password_reset_confirm`.
    """
    role = ""
    if actor is not None:
        role = _reset_target_checks(actor, user)
        if reads_student_data(user):
            raise SECOND_PERSON_REQUIRED
    user = _lock(user)
    temp = temporary_password()
    user.set_password(temp)
    user.must_change_password = True
    user.save(update_fields=["password", "must_change_password"])
    _revoke_tokens(user, timezone.now())
    audit_account(
        EventType.PASSWORD_CHANGED,
        actor=actor,
        user=user,
        role=role,
        summary=f"管理员重置 {user.username} 的密码（一次性临时密码，登录后须修改）",
        after={"reset_by_admin": True},
    )
    return temp


def reset_ttl() -> timedelta:
    return timedelta(hours=int(getattr(settings, "PASSWORD_RESET_TTL_HOURS", 72)))


@transaction.atomic
def password_reset_request(*, actor: Actor, user: User) -> PasswordResetRequest:
    """Maker: a system admin asks for a password reset (issue #6 §3.4; ASVS 2.3.5 maker–checker, 6.4.6).

    Nothing changes on the account yet; a security admin must confirm (:func:`password_reset_confirm`). Same
    rules as :func:`password_reset` (system admin, target in the subtree, not self, not an admin-role account).
    One open request per account (``reset_pending``). Audited (``auth.password_reset_requested``).
    """
    role = _reset_target_checks(actor, user)
    locked = _lock(user)
    if PasswordResetRequest.objects.filter(
        user=locked, confirmed_at__isnull=True, cancelled_at__isnull=True
    ).exists():
        raise Conflict("reset_pending", "该账号已有待确认的重置密码申请")
    reset = PasswordResetRequest.objects.create(user=locked, requested_by=actor)
    audit_account(
        EventType.PASSWORD_RESET_REQUESTED,
        actor=actor,
        user=locked,
        role=role,
        summary=f"申请重置 {locked.username} 的密码（待安全管理员确认）",
        after={"reset_request": reset.pk},
    )
    return reset


@transaction.atomic
def password_reset_confirm(*, actor: Actor, reset: PasswordResetRequest) -> tuple[PasswordResetRequest, str]:
    """Checker: a security admin in whose subtree the account lies confirms a pending request (issue #6 §3.4).

    Sets a generated one-time password, returned once (to the confirming admin, who hands it to the holder),
    valid for ``PASSWORD_RESET_TTL_HOURS`` and for one login; the holder must set a password before anything
    else (``must_change_password``); API tokens are revoked. The requester can never confirm (the three admin
    roles are held by different people; and not self). Raises ``reset_not_pending`` for a request already
    confirmed or withdrawn. Audited (``auth.password_reset_confirmed``), never with the password.
    """
    if actor is None:
        raise Forbidden("security_admin_required", "确认重置密码须由安全管理员办理")
    role, paths = _acting_role(actor, {Role.SECURITY_ADMIN}, message="只有安全管理员可以确认重置密码")
    user = reset.user
    _require_target(actor, paths, user)
    _not_self(actor, user)
    if actor.pk == reset.requested_by_id:
        raise Forbidden("same_person", "申请人不能确认自己的重置申请（双人复核）")
    locked_reset = PasswordResetRequest.objects.select_for_update().get(pk=reset.pk)
    if not locked_reset.is_pending:
        raise Conflict("reset_not_pending", "该重置申请已确认或已撤销")
    if _holds_admin_role(user):
        raise Forbidden("admin_target_forbidden", "不能重置管理员账号的密码（三权分立）")
    locked = _lock(user)
    now = timezone.now()
    temp = temporary_password()
    locked.set_password(temp)
    locked.must_change_password = True
    locked.save(update_fields=["password", "must_change_password"])
    _revoke_tokens(locked, now)
    # Earlier confirmed resets not yet completed are superseded by this one.
    PasswordResetRequest.objects.filter(
        user=locked, confirmed_at__isnull=False, completed_at__isnull=True, cancelled_at__isnull=True
    ).update(cancelled_at=now)
    locked_reset.confirmed_by = actor
    locked_reset.confirmed_at = now
    locked_reset.expires_at = now + reset_ttl()
    locked_reset.save(update_fields=["confirmed_by", "confirmed_at", "expires_at"])
    audit_account(
        EventType.PASSWORD_RESET_CONFIRMED,
        actor=actor,
        user=locked,
        role=role,
        summary=f"确认重置 {locked.username} 的密码（{reset.requested_by.username} 申请；一次性临时密码）",
        after={
            "reset_request": locked_reset.pk,
            "requested_by": reset.requested_by.username,
            "expires_at": locked_reset.expires_at.isoformat(),
        },
    )
    return locked_reset, temp


def _open_reset(user: User) -> PasswordResetRequest | None:
    """The confirmed reset whose temporary credential the account holds now (not completed nor superseded)."""
    return (
        PasswordResetRequest.objects.select_for_update()
        .filter(user=user, confirmed_at__isnull=False, completed_at__isnull=True, cancelled_at__isnull=True)
        .order_by("-confirmed_at")
        .first()
    )


TEMPORARY_CREDENTIAL_SPENT = "一次性临时密码已使用或已失效"


@transaction.atomic
def temporary_login(*, user: User) -> PasswordResetRequest | None:
    """Spend the one-time password of a confirmed reset at login (issue #6 §3.4: single use).

    Called after the password was verified. Returns the reset being used (the login proceeds, the holder may
    only set a password), None when the account holds no temporary credential. Raises
    ``temporary_password_spent`` when the credential was already used once or has expired: that login fails.
    """
    if not user.must_change_password:
        return None
    reset = _open_reset(user)
    if reset is None:
        return None
    now = timezone.now()
    if reset.used_at is not None or (reset.expires_at is not None and reset.expires_at <= now):
        raise Forbidden(
            "temporary_password_spent", f"{TEMPORARY_CREDENTIAL_SPENT}，请联系系统管理员重新申请重置"
        )
    reset.used_at = now
    reset.save(update_fields=["used_at"])
    audit_account(
        EventType.PASSWORD_RESET_USED,
        actor=user,
        user=user,
        summary=f"{user.username} 使用一次性临时密码登录（须立即设置新密码）",
        after={"reset_request": reset.pk},
    )
    return reset


def current_reset(user: User) -> PasswordResetRequest | None:
    """The reset the account is in the middle of (for the password-change page: who reset it and when)."""
    return (
        PasswordResetRequest.objects.select_related("requested_by", "confirmed_by")
        .filter(user=user, confirmed_at__isnull=False, completed_at__isnull=True, cancelled_at__isnull=True)
        .order_by("-confirmed_at")
        .first()
    )


@transaction.atomic
def reset_notices_take(*, user: User) -> list[PasswordResetRequest]:
    """Completed resets the holder has not been told about yet, marked as told (shown once at login)."""
    rows = list(
        PasswordResetRequest.objects.select_for_update(of=("self",))
        .select_related("requested_by", "confirmed_by")
        .filter(user=user, completed_at__isnull=False, notified_at__isnull=True)
        .order_by("confirmed_at")
    )
    if rows:
        PasswordResetRequest.objects.filter(pk__in=[r.pk for r in rows]).update(notified_at=timezone.now())
    return rows


@transaction.atomic
def password_change(*, actor: Actor, user: User, old: str, new: str) -> User:
    """The holder changes their own password (第24条 定期更改密码).

    Checks the old password, runs every configured validator (profile length/composition, common-password
    list, attribute similarity, history), clears ``must_change_password`` and revokes the holder's API
    tokens. Other browser sessions end because the session hash changes with the password; the caller keeps
    the current one with ``update_session_auth_hash``.
    """
    if actor is not None and actor.pk != user.pk:
        raise Forbidden("self_only", "只能修改自己的密码；管理员请使用“重置密码”")
    if not user.check_password(old or ""):
        raise FieldError("old_password", "wrong_password", "原密码：不正确")
    if new == old:
        # Under nist the history check is off; a forced change must still produce a new password.
        raise FieldError("new_password", "password_unchanged", "新密码：不能与原密码相同")
    try:
        password_validation.validate_password(new or "", user)
    except ValidationError as exc:
        raise _password_error("new_password", exc) from exc
    locked = _lock(user)
    locked.set_password(new)
    locked.must_change_password = False
    locked.save(update_fields=["password", "must_change_password"])
    now = timezone.now()
    _revoke_tokens(locked, now)
    # A reset in progress is completed: the temporary credential is gone (issue #6 §3.4).
    PasswordResetRequest.objects.filter(
        user=locked, confirmed_at__isnull=False, completed_at__isnull=True, cancelled_at__isnull=True
    ).update(completed_at=now)
    audit_account(EventType.PASSWORD_CHANGED, actor=actor, user=locked, summary=f"{locked.username} 修改密码")
    user.password = locked.password
    user.must_change_password = False
    user.password_changed_at = locked.password_changed_at
    return user


# ---------------------------------------------------------------------------------------------------------------
# sealing (第24条)


@transaction.atomic
def account_seal(*, actor: Actor, user: User, reason: str) -> User:
    """Seal an account: it cannot log in or use tokens until a security admin unseals it (第24条).

    System and security admins may seal accounts in their subtree, except other admin-role accounts (a
    dormant admin account is sealed by the scheduled job). API tokens are revoked; open sessions end at the
    next request (AccountPolicyMiddleware).
    """
    role = ""
    if actor is not None:
        role, paths = _acting_role(
            actor, {Role.SYSTEM_ADMIN, Role.SECURITY_ADMIN}, message="只有系统管理员或安全管理员可以封存账号"
        )
        _require_target(actor, paths, user)
        _not_self(actor, user)
        if _holds_admin_role(user):
            raise Forbidden("admin_target_forbidden", "不能封存其他管理员的账号（三权分立）")
    reason = (reason or "").strip()
    if not reason:
        raise FieldError("reason", "required", "封存原因：必填")
    if len(reason) > 200:
        raise FieldError("reason", "too_long", "封存原因：不能超过 200 个字符")
    locked = _lock(user)
    if locked.sealed_at is not None:
        raise Conflict("already_sealed", "该账号已封存")
    now = timezone.now()
    locked.sealed_at = now
    locked.sealed_reason = reason
    locked.save(update_fields=["sealed_at", "sealed_reason"])
    _revoke_tokens(locked, now)
    audit_account(
        EventType.ACCOUNT_SEALED,
        actor=actor,
        user=locked,
        role=role,
        summary=f"封存账号 {locked.username}：{reason}",
        after={"sealed_reason": reason},
    )
    user.sealed_at, user.sealed_reason = locked.sealed_at, locked.sealed_reason
    return user


@transaction.atomic
def account_unseal(*, actor: Actor, user: User) -> User:
    """第24条: only a security admin (in whose subtree the account lies) unseals; audited.

    ``last_login`` is set to now so the dormancy clock restarts (otherwise the next scheduled run would seal
    the account again at once).
    """
    if actor is None:
        raise Forbidden("security_admin_required", "解封账号须由安全管理员办理")
    role, paths = _acting_role(
        actor, {Role.SECURITY_ADMIN}, message="只有安全管理员可以解封账号（第二十四条）"
    )
    _require_target(actor, paths, user)
    _not_self(actor, user)
    locked = _lock(user)
    if locked.sealed_at is None:
        raise Conflict("not_sealed", "该账号未封存")
    before = {"sealed_at": locked.sealed_at.isoformat(), "sealed_reason": locked.sealed_reason}
    now = timezone.now()
    locked.sealed_at = None
    locked.sealed_reason = ""
    locked.last_login = now
    locked.save(update_fields=["sealed_at", "sealed_reason", "last_login"])
    audit_account(
        EventType.ACCOUNT_UNSEALED,
        actor=actor,
        user=locked,
        role=role,
        summary=f"解封账号 {locked.username}",
        before=before,
        after={"last_login": now.isoformat()},
    )
    user.sealed_at, user.sealed_reason, user.last_login = None, "", now
    return user


DORMANT_REASON = "半年以上未登录，自动封存（第二十四条）"


def dormant_accounts(now: datetime) -> Any:
    """Active, unsealed accounts whose last login (or creation, if never) is more than
    ACCOUNT_DORMANCY_DAYS before ``now``."""
    cutoff = now - timedelta(days=settings.ACCOUNT_DORMANCY_DAYS)
    return (
        User.objects.filter(is_active=True, sealed_at__isnull=True)
        .annotate(last_activity=Coalesce(F("last_login"), F("date_joined")))
        .filter(last_activity__lt=cutoff)
    )


@transaction.atomic
def seal_dormant(*, actor: Actor | None = None, now: datetime) -> int:
    """第24条: seal every account unused for more than ``ACCOUNT_DORMANCY_DAYS`` (default 180) days.

    Set-based: one UPDATE, one token revocation, and one ``ACCOUNT_SEALED`` audit event per account.
    Returns how many were sealed. Run daily by ``manage.py seal_dormant_accounts``.
    """
    # Lock the candidate rows (PostgreSQL), then seal exactly those still dormant.
    ids = list(dormant_accounts(now).select_for_update().values_list("id", flat=True))
    if not ids:
        return 0
    rows = list(
        dormant_accounts(now)
        .filter(pk__in=ids)
        .values_list("id", "username", "last_activity", "org_unit_id", "org_unit__province_code")
    )
    sealed_ids = [r[0] for r in rows]
    User.objects.filter(pk__in=sealed_ids).update(sealed_at=now, sealed_reason=DORMANT_REASON)
    ApiToken.objects.filter(user_id__in=sealed_ids, revoked_at__isnull=True).update(revoked_at=now)
    # Accounts without a home unit are filed in the audit trail under their first grant's unit.
    first_unit: dict[int, tuple[int, str]] = {}
    for uid, unit_id, prov in (
        RoleGrant.objects.filter(user_id__in=[r[0] for r in rows if r[3] is None])
        .order_by("id")
        .values_list("user_id", "org_unit_id", "org_unit__province_code")
    ):
        first_unit.setdefault(uid, (unit_id, prov))
    events = []
    for uid, username, last_activity, home_unit_id, home_province in rows:
        unit_id, prov = (home_unit_id, home_province)
        if unit_id is None and uid in first_unit:
            unit_id, prov = first_unit[uid]
        events.append(
            {
                "subject_type": "user",
                "subject_id": uid,
                "org_unit_id": unit_id,
                "province_code": prov or "",
                "summary": f"封存账号 {username}：{DORMANT_REASON}",
                "after": {"sealed_reason": DORMANT_REASON, "last_activity": last_activity.isoformat()},
            }
        )
    record_many(events, event_type=EventType.ACCOUNT_SEALED, actor=actor)
    return len(events)


# ---------------------------------------------------------------------------------------------------------------
# authorisation (role grants)


def _check_role_unit(role: str, org_unit: OrgUnit) -> None:
    if role == Role.SCHOOL_REGISTRAR and org_unit.level != OrgLevel.SCHOOL:
        raise FieldError("org_unit", "role_level_mismatch", "机构：学校学籍管理员须授权在学校")
    if role == Role.DEPT_REGISTRAR and org_unit.level == OrgLevel.SCHOOL:
        raise FieldError(
            "org_unit", "role_level_mismatch", "机构：教育行政部门学籍管理员须授权在教育行政部门"
        )


def check_role_combination(held: Iterable[str], role: str) -> None:
    """三权分立: at most one admin role per account, and never an admin role beside a business role."""
    held = set(held)
    if role in ADMIN_ROLES:
        others = (held & ADMIN_ROLES) - {role}
        if others:
            raise Conflict(
                "admin_roles_exclusive",
                "系统管理员、安全管理员、审计管理员三种角色不能由同一账号兼任（三权分立）",
            )
        if held - ADMIN_ROLES:
            raise Conflict("admin_business_mix", "管理员角色不能与学籍业务角色兼任（三权分立）")
    elif held & ADMIN_ROLES:
        raise Conflict("admin_business_mix", "管理员角色不能与学籍业务角色兼任（三权分立）")


@transaction.atomic
def role_grant(*, actor: Actor | None, user: User, role: str, org_unit: OrgUnit) -> RoleGrant:
    """Grant ``role`` at ``org_unit`` (its subtree becomes the holder's jurisdiction, 第5、23条).

    Only a security admin (授权, 等保 8.1.5.3) whose subtree holds both the unit and the account; never to
    themselves; role combinations per :func:`check_role_combination`. A student-data role opens data only
    after filing and training (第22条, see :func:`filing_record`).
    """
    if role not in Role.values:
        raise FieldError("role", "role_unknown", "角色：无效")
    acting = ""
    if actor is not None:
        acting, paths = _acting_role(actor, {Role.SECURITY_ADMIN}, message="只有安全管理员可以授予角色")
        _require_target(actor, paths, user)
        _not_self(actor, user)
        if not _covers(paths, org_unit):
            raise FieldError("org_unit", "org_unit_out_of_scope", "机构：不在您的管辖范围内")
    if not org_unit.is_active:
        raise FieldError("org_unit", "org_unit_inactive", "机构：该机构已撤销")
    _check_role_unit(role, org_unit)
    locked = _lock(user)
    held = list(RoleGrant.objects.filter(user=locked).values_list("role", flat=True))
    check_role_combination(held, role)
    if RoleGrant.objects.filter(user=locked, role=role, org_unit=org_unit).exists():
        raise Conflict("grant_exists", "该账号已在此机构拥有该角色")
    grant = RoleGrant.objects.create(user=locked, role=role, org_unit=org_unit, granted_by=actor)
    record(
        event_type=EventType.ROLE_GRANTED,
        actor=actor,
        actor_role=acting,
        subject_type="user",
        subject_id=locked.pk,
        org_unit_id=org_unit.pk,
        province_code=org_unit.province_code,
        summary=f"授予 {locked.username} {Role(role).label}（{org_unit.name}）",
        after={"role": role, "org_unit_id": org_unit.pk},
    )
    _forget_grants(user)
    return grant


@transaction.atomic
def role_revoke(*, actor: Actor, grant: RoleGrant) -> None:
    """Withdraw a grant (security admin of a unit above it; not their own)."""
    acting = ""
    grant = RoleGrant.objects.select_related("user", "org_unit").get(pk=grant.pk)
    if actor is not None:
        acting, paths = _acting_role(actor, {Role.SECURITY_ADMIN}, message="只有安全管理员可以撤销角色")
        if not _covers(paths, grant.org_unit):
            raise NotFound()
        _not_self(actor, grant.user)
    _lock(grant.user)
    unit = grant.org_unit
    record(
        event_type=EventType.ROLE_REVOKED,
        actor=actor,
        actor_role=acting,
        subject_type="user",
        subject_id=grant.user_id,
        org_unit_id=unit.pk,
        province_code=unit.province_code,
        summary=f"撤销 {grant.user.username} 的{Role(grant.role).label}（{unit.name}）",
        before={"role": grant.role, "org_unit_id": unit.pk},
    )
    grant.delete()


# ---------------------------------------------------------------------------------------------------------------
# filing and training (第22条)


def _registrar_units(user: User) -> list[OrgUnit]:
    return [
        g.org_unit
        for g in RoleGrant.objects.filter(user=user, role__in=STUDENT_DATA_ROLES).select_related("org_unit")
    ]


def _is_above(dept: OrgUnit, unit: OrgUnit) -> bool:
    """``dept`` is a department strictly above ``unit`` (the ministry also files its own registrars)."""
    if unit.level == OrgLevel.NATIONAL:
        return dept.pk == unit.pk
    return dept.pk != unit.pk and unit.path.startswith(dept.path)


@transaction.atomic
def filing_record(
    *,
    actor: Actor | None,
    user: User,
    filed_with: OrgUnit,
    filed_on: date,
    filing_reference: str = "",
    trained_on: date | None = None,
    training_course: str = "",
    today: date | None = None,
) -> RegistrarFiling:
    """第22条: record a registrar's filing (备案) with the department above, and their training date.

    A registrar (学校/部门学籍管理员 or 审核人) acts only once both are recorded and the training date has passed
    (先培训后上岗, enforced by ``jurisdiction.data_grants``). ``filed_with`` must be an education department
    above every unit where the account holds a student-data role. Recorded by a filed department registrar
    of ``filed_with`` itself, or by a system admin over the account. Re-recording updates the record.
    """
    today = today or timezone.localdate()
    acting = ""
    if actor is not None:
        _not_self(actor, user)
        dept_units = {g.org_unit_id for g in all_grants(actor) if g.role == Role.DEPT_REGISTRAR}
        if filed_with.pk in dept_units and is_filed_and_trained(actor, today):
            acting = Role.DEPT_REGISTRAR
        else:
            acting, paths = _acting_role(
                actor,
                {Role.SYSTEM_ADMIN},
                message="只有备案机关的学籍管理员或系统管理员可以登记备案（第二十二条）",
            )
            _require_target(actor, paths, user)
    units = _registrar_units(user)
    if not units:
        raise ApplicationError("not_registrar", "该账号没有学籍管理员或审核人角色，无需备案")
    if filed_with.level == OrgLevel.SCHOOL:
        raise FieldError("filed_with", "filed_with_not_department", "备案机关：须为教育行政部门")
    if not all(_is_above(filed_with, u) for u in units):
        raise FieldError(
            "filed_with",
            "filed_with_not_above",
            "备案机关：须为该学籍管理员所在单位的上级教育行政部门（第二十二条）",
        )
    if filed_on is None:
        raise FieldError("filed_on", "required", "备案日期：必填")
    if filed_on > today:
        raise FieldError("filed_on", "date_in_future", "备案日期：不能晚于今天")
    if trained_on is not None and trained_on > today:
        raise FieldError("trained_on", "date_in_future", "培训日期：不能晚于今天（先培训后上岗）")
    filing_reference = (filing_reference or "").strip()
    training_course = (training_course or "").strip()
    if len(filing_reference) > 60:
        raise FieldError("filing_reference", "too_long", "备案编号：不能超过 60 个字符")
    if len(training_course) > 120:
        raise FieldError("training_course", "too_long", "培训内容：不能超过 120 个字符")
    existing = RegistrarFiling.objects.select_for_update().filter(user=user).first()
    before = None
    if existing is not None:
        before = {
            "filed_with_id": existing.filed_with_id,
            "filed_on": existing.filed_on.isoformat(),
            "filing_reference": existing.filing_reference,
            "trained_on": existing.trained_on.isoformat() if existing.trained_on else None,
            "training_course": existing.training_course,
        }
    filing, _ = RegistrarFiling.objects.update_or_create(
        user=user,
        defaults={
            "filed_with": filed_with,
            "filed_by": actor,
            "filed_on": filed_on,
            "filing_reference": filing_reference,
            "trained_on": trained_on,
            "training_course": training_course,
        },
    )
    record(
        event_type=EventType.FILING_RECORDED,
        actor=actor,
        actor_role=acting,
        subject_type="user",
        subject_id=user.pk,
        org_unit_id=filed_with.pk,
        province_code=filed_with.province_code,
        summary=f"登记 {user.username} 备案（{filed_with.name}）"
        + (f"，培训 {trained_on.isoformat()}" if trained_on else "，尚未培训"),
        before=before,
        after={
            "filed_with_id": filed_with.pk,
            "filed_on": filed_on.isoformat(),
            "filing_reference": filing_reference,
            "trained_on": trained_on.isoformat() if trained_on else None,
            "training_course": training_course,
        },
    )
    # A cached reverse one-to-one on the instance would hide the new row.
    user._state.fields_cache.pop("filing", None)
    return filing


# ---------------------------------------------------------------------------------------------------------------
# login bookkeeping (called by views and the token endpoint)


def login_recorded(*, user: User, channel: str) -> None:
    """Audit a successful login (``channel`` = web/api)."""
    audit_account(EventType.LOGIN, actor=user, user=user, summary=f"{user.username} 登录（{channel}）")


def login_failed_recorded(*, username: str, reason: str, user: User | None = None) -> None:
    """Audit a refused login. The attempted username is kept (truncated) so stuffing shows in the trail."""
    name = (username or "")[:64]
    if user is not None:
        audit_account(
            EventType.LOGIN_FAILED, actor=None, user=user, summary=f"{name} 登录失败：{reason}", success=False
        )
        return
    record(
        event_type=EventType.LOGIN_FAILED,
        actor=None,
        subject_type="username",
        subject_id=name,
        summary=f"{name} 登录失败：{reason}",
        success=False,
    )


def logout_recorded(*, user: User, reason: str = "") -> None:
    audit_account(
        EventType.LOGOUT,
        actor=user,
        user=user,
        summary=f"{user.username} 退出" + (f"（{reason}）" if reason else ""),
    )


@transaction.atomic
def password_change_demand(*, actor: Actor | None, usernames: list[str], reason: str) -> int:
    """Require each holder to change the password at next login (第24条; security.md §1): e.g. the demo
    logins seeded on a production-mode installation, whose shared password is printed and documented.
    ``actor=None`` is the system (manage.py seed). Returns the number of accounts changed."""
    changed = 0
    for user in (
        User.objects.select_for_update(of=("self",))
        .select_related("org_unit")
        .filter(username__in=usernames, must_change_password=False)
    ):
        user.must_change_password = True
        user.save(update_fields=["must_change_password"])
        audit_account(
            EventType.PASSWORD_CHANGED,
            actor=actor,
            user=user,
            summary=f"{user.username} 须在下次登录时修改密码（{reason}）",
            after={"must_change_password": True},
        )
        changed += 1
    return changed
