"""The second factor (等保 2.0 三级 8.1.4.1 身份鉴别: 两种或两种以上组合的鉴别技术; 第24条; issue 11 §1).

Who needs one is policy in settings: the three administrator roles (``XUEJI_MFA_ROLES``), registrars and
approvers holding a grant at a department of the levels in ``XUEJI_MFA_APPROVER_LEVELS`` (county and above by
default), and anyone exporting identified data (``XUEJI_MFA_FOR_EXPORTS``: roster exports). ``XUEJI_MFA_ENFORCED``
switches enforcement off for a development machine; production refuses to start without it.

Factors are django-otp devices: a TOTP authenticator app (RFC 6238, codes used once: django-otp keeps the last
time step) and ten single-use recovery codes. The security administrator resets a lost factor (audited); the
account enrols again at its next login.
"""

from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings
from django_otp import devices_for_user, match_token, user_has_device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from xueji.accounts.enums import ADMIN_ROLES, Role
from xueji.accounts.jurisdiction import all_grants

RECOVERY_CODES = 10
_APPROVING = frozenset({Role.DEPT_REGISTRAR, Role.APPROVER})


def enforced() -> bool:
    return bool(getattr(settings, "XUEJI_MFA_ENFORCED", True))


def required_for(user: Any) -> bool:
    """Does this account need a second factor to use the site at all?"""
    if not enforced() or not getattr(user, "is_authenticated", False):
        return False
    admin_roles = set(getattr(settings, "XUEJI_MFA_ROLES", sorted(ADMIN_ROLES)))
    levels = set(getattr(settings, "XUEJI_MFA_APPROVER_LEVELS", ["county", "city", "province", "national"]))
    for grant in all_grants(user):
        if grant.role in admin_roles:
            return True
        if grant.role in _APPROVING and grant.org_unit.level in levels:
            return True
    return False


def required_for_export(user: Any) -> bool:
    """Exports of identified data need a verified second factor (issue 11 §1) for every role."""
    return enforced() and bool(getattr(settings, "XUEJI_MFA_FOR_EXPORTS", True))


def is_verified(request: Any) -> bool:
    user = getattr(request, "user", None)
    check = getattr(user, "is_verified", None)
    return bool(check()) if callable(check) else False


def has_factor(user: Any) -> bool:
    return bool(user_has_device(user, confirmed=True))


def pending_totp(user: Any) -> TOTPDevice:
    """The authenticator being enrolled (unconfirmed), created on first use with a fresh random key."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="身份验证器", confirmed=False)
    return device


def confirm_totp(device: TOTPDevice, token: str) -> bool:
    if not device.verify_token(token.strip()):
        return False
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    return True


def new_recovery_codes(user: Any) -> list[str]:
    """Replace the account's recovery codes with ten new single-use ones; returns them (shown once)."""
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name="恢复码", confirmed=True)
    codes = [f"{secrets.randbelow(10**8):08d}" for _ in range(RECOVERY_CODES)]
    StaticToken.objects.bulk_create([StaticToken(device=device, token=c) for c in codes])
    return codes


def match(user: Any, token: str) -> Any:
    """The confirmed device this code belongs to, consuming it (a TOTP step or a recovery code is used once)."""
    token = "".join(token.split())
    if not token.isdigit() or not 6 <= len(token) <= 8:
        return None
    return match_token(user, token)


def remove_all(user: Any) -> int:
    removed = 0
    for device in list(devices_for_user(user, confirmed=None)):
        device.delete()
        removed += 1
    return removed
