"""Accounts, role grants (= jurisdiction), registrar filing and training (第22条), password history."""

from __future__ import annotations

import hmac
import secrets
from typing import ClassVar

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _
from django_otp.models import Device, DeviceManager, ThrottlingMixin, TimestampMixin

from xueji.regions.models import OrgUnit

from . import sm3otp
from .enums import Role


class User(AbstractUser):
    """An account. Never a superuser in normal use (security.md §1.4)."""

    display_name = models.CharField(_("姓名"), max_length=60, blank=True)
    phone = models.CharField(_("联系电话"), max_length=20, blank=True)
    # The unit the account belongs to (所属机构). Administrators find and manage accounts in their subtree by
    # it, including accounts that hold no grant yet (created by a system admin, not yet authorised by a
    # security admin). Null for accounts made outside the services (bootstrap, fixtures).
    org_unit = models.ForeignKey(
        OrgUnit, models.PROTECT, null=True, blank=True, related_name="members", verbose_name=_("所属机构")
    )
    password_changed_at = models.DateTimeField(_("密码修改时间"), null=True, blank=True)
    must_change_password = models.BooleanField(_("须修改密码"), default=False)
    # 第24条: accounts unused for more than six months are sealed; only a security admin unseals.
    sealed_at = models.DateTimeField(_("封存时间"), null=True, blank=True)
    sealed_reason = models.CharField(_("封存原因"), max_length=200, blank=True)

    # Not a field: the account's role grants, cached for the request by ``jurisdiction.all_grants``.
    _xueji_grants: list[RoleGrant]

    class Meta:
        verbose_name = _("账号")
        verbose_name_plural = _("账号")

    def __str__(self) -> str:
        return self.display_name or self.username

    @property
    def is_sealed(self) -> bool:
        return self.sealed_at is not None


class RoleGrant(models.Model):
    """A role held at an org unit. The unit's subtree is the holder's jurisdiction."""

    user = models.ForeignKey(User, models.CASCADE, related_name="grants")
    role = models.CharField(_("角色"), max_length=24, choices=Role.choices)
    org_unit = models.ForeignKey(OrgUnit, models.PROTECT, related_name="grants", verbose_name=_("机构"))
    granted_by = models.ForeignKey(User, models.PROTECT, null=True, blank=True, related_name="+")
    granted_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("角色授权")
        verbose_name_plural = _("角色授权")
        constraints = [
            models.UniqueConstraint(fields=["user", "role", "org_unit"], name="rolegrant_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.get_role_display()} · {self.org_unit}"


class RegistrarFiling(models.Model):
    """第22条: a registrar's basic information is filed (备案) with the department above, and the
    registrar is trained before taking up the post (先培训后上岗)."""

    user = models.OneToOneField(User, models.CASCADE, related_name="filing")
    filed_with = models.ForeignKey(OrgUnit, models.PROTECT, related_name="+", verbose_name=_("备案机关"))
    filed_by = models.ForeignKey(User, models.PROTECT, null=True, blank=True, related_name="+")
    filed_on = models.DateField(_("备案日期"))
    filing_reference = models.CharField(_("备案编号"), max_length=60, blank=True)
    trained_on = models.DateField(_("培训日期"), null=True, blank=True)
    training_course = models.CharField(_("培训内容"), max_length=120, blank=True)
    recorded_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("学籍管理员备案")
        verbose_name_plural = _("学籍管理员备案")

    def __str__(self) -> str:
        return f"{self.user} · {self.filed_with} · {self.filed_on}"


class PasswordHistory(models.Model):
    """Hashes of earlier passwords, for the dengbao profile's "no reuse of the last N"."""

    user = models.ForeignKey(User, models.CASCADE, related_name="password_history")
    password = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.user_id} · {self.created_at:%Y-%m-%d}"


class ApiToken(models.Model):
    """Bearer token for API clients. Only a SHA-256 digest of the token is stored."""

    user = models.ForeignKey(User, models.CASCADE, related_name="api_tokens")
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.user_id} · {self.expires_at:%Y-%m-%d %H:%M}"


class PasswordResetRequest(models.Model):
    """A password reset of an account that reads student data: two people (issue #6 §3.4; ASVS 2.3.5 / 6.4.6).

    A system admin requests it; a security admin confirms it, which sets a one-time password shown once to
    the confirming admin. The temporary credential is single-use (the first login with it spends it,
    ``used_at``), lets the holder only set a password (``User.must_change_password``: every other page
    redirects, API tokens are refused) and expires after ``PASSWORD_RESET_TTL_HOURS``. ``completed_at`` is
    set when the holder has set a new password; the holder is told at login who reset it and when
    (``notified_at``).
    """

    user = models.ForeignKey(User, models.CASCADE, related_name="password_resets")
    requested_by = models.ForeignKey(User, models.PROTECT, related_name="+", verbose_name=_("申请人"))
    requested_at = models.DateTimeField(_("申请时间"), auto_now_add=True)
    confirmed_by = models.ForeignKey(
        User, models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("确认人")
    )
    confirmed_at = models.DateTimeField(_("确认时间"), null=True, blank=True)
    expires_at = models.DateTimeField(_("临时密码失效时间"), null=True, blank=True)
    used_at = models.DateTimeField(_("临时密码使用时间"), null=True, blank=True)
    completed_at = models.DateTimeField(_("设置新密码时间"), null=True, blank=True)
    cancelled_at = models.DateTimeField(_("撤销时间"), null=True, blank=True)
    notified_at = models.DateTimeField(_("告知本人时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("密码重置申请")
        verbose_name_plural = _("密码重置申请")
        ordering = ["-requested_at", "-id"]
        constraints = [
            # One open (unconfirmed, not cancelled) request per account.
            models.UniqueConstraint(
                fields=["user"],
                condition=models.Q(confirmed_at__isnull=True, cancelled_at__isnull=True),
                name="passwordreset_one_open_per_user",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} · {self.requested_at:%Y-%m-%d %H:%M}"

    @property
    def is_pending(self) -> bool:
        return self.confirmed_at is None and self.cancelled_at is None


def _sm3_seed() -> str:
    return secrets.token_hex(32)


class SM3Device(TimestampMixin, ThrottlingMixin, Device):
    """A national-algorithm dynamic password token (GM/T 0021-2012, SM3, time-based; ``sm3otp`` has the
    construction and its source). The seed is stored hex-encoded as django-otp stores TOTP keys; a code is
    accepted once (``last_t``: only a later time step verifies next), within ±``tolerance`` steps of our clock
    (plus the learnt ``drift``), and wrong codes slow the next try down (django-otp's ``ThrottlingMixin``,
    ``OTP_SM3_THROTTLE_FACTOR``)."""

    user: models.ForeignKey[User, User] = models.ForeignKey(User, models.CASCADE, related_name="+")
    objects: ClassVar[models.Manager[SM3Device]] = DeviceManager()
    key: models.CharField[str, str] = models.CharField(max_length=128, default=_sm3_seed)
    step: models.PositiveSmallIntegerField[int, int] = models.PositiveSmallIntegerField(default=60)
    t0: models.BigIntegerField[int, int] = models.BigIntegerField(default=0)
    digits: models.PositiveSmallIntegerField[int, int] = models.PositiveSmallIntegerField(default=6)
    tolerance: models.PositiveSmallIntegerField[int, int] = models.PositiveSmallIntegerField(default=1)
    drift: models.SmallIntegerField[int, int] = models.SmallIntegerField(default=0)
    last_t: models.BigIntegerField[int, int] = models.BigIntegerField(default=-1)

    class Meta(Device.Meta):
        verbose_name = _("国密动态令牌")
        verbose_name_plural = _("国密动态令牌")

    @property
    def bin_key(self) -> bytes:
        return bytes.fromhex(self.key)

    def get_throttle_factor(self) -> int:
        return int(getattr(settings, "OTP_SM3_THROTTLE_FACTOR", 1))

    def verify_token(self, token: object) -> bool:
        allowed, _detail = self.verify_is_allowed()
        if not allowed:
            return False
        code = str(token).strip()
        matched: int | None = None
        if code.isdigit() and len(code) == self.digits:
            current = sm3otp.time_factor(sm3otp.now(), self.step, self.t0) + self.drift
            for t in range(current - self.tolerance, current + self.tolerance + 1):
                if t > self.last_t and hmac.compare_digest(
                    sm3otp.generate(self.bin_key, t, self.digits), code
                ):
                    matched = t
                    break
        if matched is None:
            self.throttle_increment(commit=True)
            return False
        base = sm3otp.time_factor(sm3otp.now(), self.step, self.t0)
        self.last_t = matched
        self.drift = matched - base
        self.throttle_reset(commit=False)
        self.set_last_used_timestamp(commit=False)
        self.save()
        return True
