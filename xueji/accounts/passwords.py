"""Password policy: two switchable profiles (security.md §0, §3).

办法 第24条 asks for 定期更改密码 and 等保 2.0 L3 (8.1.4.1 a) asks for complexity and periodic change; NIST SP
800-63B-4 §3.1.1.2 and OWASP ASVS 5.0 (6.2.5, 6.2.10) forbid both. ``settings.PASSWORD_POLICY_PROFILE`` picks:

============  ====================  ==========================  ==================  ==========
profile       minimum length        composition                 history             max age
============  ====================  ==========================  ==================  ==========
``dengbao``   8                     3 of 4 classes              current + last N    90 days
``nist``      15                    none                        none                none
============  ====================  ==========================  ==================  ==========

Both profiles permit up to 128 characters (ASVS 6.2.9: at least 64), and both run Django's
``CommonPasswordValidator`` (configured beside these in AUTH_PASSWORD_VALIDATORS). N is
``settings.PASSWORD_HISTORY`` and the max age ``settings.PASSWORD_MAX_AGE_DAYS``. The profile is read at
validation time, so tests can switch it with ``settings``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.hashers import check_password
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from .models import PasswordHistory, User
from .types import Actor

DENGBAO = "dengbao"
NIST = "nist"
PROFILES = (DENGBAO, NIST)
MAX_LENGTH = 128
MIN_LENGTH = {DENGBAO: 8, NIST: 15}
REQUIRED_CLASSES = 3  # of upper, lower, digit, other (dengbao)


def profile() -> str:
    value = getattr(settings, "PASSWORD_POLICY_PROFILE", DENGBAO)
    if value not in PROFILES:
        raise ImproperlyConfigured(f"PASSWORD_POLICY_PROFILE must be one of {PROFILES}, not {value!r}")
    return value


def character_classes(password: str) -> int:
    """How many of the four classes occur: ASCII upper, ASCII lower, digit, anything else (symbols, CJK)."""
    upper = any("A" <= c <= "Z" for c in password)
    lower = any("a" <= c <= "z" for c in password)
    digit = any("0" <= c <= "9" for c in password)
    other = any(not ("A" <= c <= "Z" or "a" <= c <= "z" or "0" <= c <= "9") for c in password)
    return upper + lower + digit + other


def password_expired(user: Actor, now: datetime | None = None) -> bool:
    """第24条 定期更改密码 (dengbao only): older than PASSWORD_MAX_AGE_DAYS, or never recorded as changed.

    ``password_changed_at`` of None means the system has no record of when the holder set it (an account made
    outside the services, or one whose password an administrator set), so it counts as expired: the holder
    sets their own before doing anything else. The nist profile never expires passwords (SP 800-63B-4).
    """
    if profile() != DENGBAO:
        return False
    max_age = int(getattr(settings, "PASSWORD_MAX_AGE_DAYS", 90) or 0)
    if max_age <= 0:
        return False
    changed = getattr(user, "password_changed_at", None)
    if changed is None:
        return True
    now = now or timezone.now()
    return now - changed > timedelta(days=max_age)


def change_required(user: Actor, now: datetime | None = None) -> bool:
    """The holder must set a new password before anything else (flag set by an administrator, or expiry)."""
    return bool(getattr(user, "must_change_password", False)) or password_expired(user, now)


class ProfilePasswordValidator:
    """Length and composition by profile (dengbao: ≥8 and 3 of 4 classes; nist: ≥15, no composition)."""

    def validate(self, password: str, user: Actor | None = None) -> None:
        active = profile()
        minimum = MIN_LENGTH[active]
        if len(password) < minimum:
            raise ValidationError(
                ngettext("密码至少需要 %(min)d 个字符", "密码至少需要 %(min)d 个字符", minimum)
                % {"min": minimum},
                code="password_too_short",
                params={"min": minimum},
            )
        if len(password) > MAX_LENGTH:
            raise ValidationError(
                _("密码不能超过 %(max)d 个字符") % {"max": MAX_LENGTH},
                code="password_too_long",
                params={"max": MAX_LENGTH},
            )
        if active == DENGBAO and character_classes(password) < REQUIRED_CLASSES:
            raise ValidationError(
                _("密码须包含大写字母、小写字母、数字、符号中的至少三类"),
                code="password_too_simple",
            )

    def get_help_text(self) -> str:
        if profile() == DENGBAO:
            return _(
                "密码至少 8 个字符，包含大写字母、小写字母、数字、符号中的至少三类；每 %(days)d 天须更换。"
            ) % {"days": int(getattr(settings, "PASSWORD_MAX_AGE_DAYS", 90))}
        return _("密码至少 15 个字符，可以使用容易记住的长句；不要求字符类型，也不定期强制更换。")


class PasswordHistoryValidator:
    """dengbao: the new password may not be the current one or one of the last PASSWORD_HISTORY.

    ``password_changed()`` (called by Django after a password is saved) stamps ``password_changed_at`` in both
    profiles and, under dengbao, stores the new hash in :class:`PasswordHistory`, keeping the last N.
    """

    def _limit(self) -> int:
        if profile() != DENGBAO:
            return 0
        return max(int(getattr(settings, "PASSWORD_HISTORY", 5) or 0), 0)

    def validate(self, password: str, user: Actor | None = None) -> None:
        limit = self._limit()
        if limit == 0 or user is None or getattr(user, "pk", None) is None:
            return

        hashes = [user.password] if user.password else []
        hashes += list(
            PasswordHistory.objects.filter(user_id=user.pk)
            .order_by("-created_at", "-id")
            .values_list("password", flat=True)[:limit]
        )
        seen: set[str] = set()
        for encoded in hashes:
            if encoded in seen:
                continue
            seen.add(encoded)
            if check_password(password, encoded):
                raise ValidationError(
                    _("新密码不能与当前密码或最近 %(n)d 次使用过的密码相同") % {"n": limit},
                    code="password_reused",
                    params={"n": limit},
                )

    def password_changed(self, password: str, user: Actor | None = None) -> None:
        if user is None or getattr(user, "pk", None) is None:
            return

        now = timezone.now()
        user.password_changed_at = now
        User.objects.filter(pk=user.pk).update(password_changed_at=now)
        limit = self._limit()
        if limit == 0 or not user.password:
            return
        PasswordHistory.objects.create(user_id=user.pk, password=user.password)
        keep = list(
            PasswordHistory.objects.filter(user_id=user.pk)
            .order_by("-created_at", "-id")
            .values_list("id", flat=True)[:limit]
        )
        PasswordHistory.objects.filter(user_id=user.pk).exclude(id__in=keep).delete()

    def get_help_text(self) -> str:
        limit = self._limit()
        if limit == 0:
            return ""
        return _("不能重复使用当前密码或最近 %(n)d 次使用过的密码。") % {"n": limit}
