"""The second factor (等保 2.0 三级 8.1.4.1 身份鉴别: 两种或两种以上组合的鉴别技术; 第24条; issue 11 §1).

Who needs one is policy in settings: the three administrator roles (``XUEJI_MFA_ROLES``), registrars and
approvers holding a grant at a department of the levels in ``XUEJI_MFA_APPROVER_LEVELS`` (county and above by
default), and anyone exporting identified data (``XUEJI_MFA_FOR_EXPORTS``: roster exports). ``XUEJI_MFA_ENFORCED``
switches enforcement off for a development machine; production refuses to start without it.

Factors are django-otp devices: a TOTP authenticator app (RFC 6238, codes used once: django-otp keeps the last
time step), a national-algorithm dynamic password token (GM/T 0021-2012 with SM3, ``SM3Device``, ``sm3otp``),
passkeys and security keys (WebAuthn, django-otp-webauthn; a second factor after the password, never instead of
it) and ten single-use recovery codes. ``XUEJI_MFA_NATIONAL_ALGORITHMS`` limits the accounts the policy names
to the SM3 token (and recovery codes): TOTP uses HMAC-SHA1 and passkeys ECDSA/RSA, neither a 商用密码
algorithm. A user who lost every device uses a recovery code, or the security administrator resets the factor
(every device of every kind is removed, audited); the account enrols again at its next login.
"""

from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings
from django.db import transaction
from django_otp import devices_for_user
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp_webauthn.models import WebAuthnCredential

from xueji.accounts.enums import ADMIN_ROLES, Role
from xueji.accounts.jurisdiction import all_grants
from xueji.accounts.models import SM3Device

RECOVERY_CODES = 10
_APPROVING = frozenset({Role.DEPT_REGISTRAR, Role.APPROVER})

# Device kinds: the key each device class is known by (settings, templates, audit events).
TOTP, SM3, WEBAUTHN, RECOVERY = "totp", "sm3", "webauthn", "recovery"
KINDS: dict[type, str] = {
    TOTPDevice: TOTP,
    SM3Device: SM3,
    WebAuthnCredential: WEBAUTHN,
    StaticDevice: RECOVERY,
}
NATIONAL_KINDS = frozenset({SM3, RECOVERY})
ALL_KINDS = frozenset(KINDS.values())


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


def national_only(user: Any) -> bool:
    """``XUEJI_MFA_NATIONAL_ALGORITHMS``: this account (one the policy names) may use national algorithms only."""
    return bool(getattr(settings, "XUEJI_MFA_NATIONAL_ALGORITHMS", False)) and required_for(user)


def allowed_kinds(user: Any) -> frozenset[str]:
    return NATIONAL_KINDS if national_only(user) else ALL_KINDS


def kind_of(device: Any) -> str:
    return KINDS.get(type(device), "")


def is_verified(request: Any) -> bool:
    """The session verified a second factor, with a device of a kind this account may use."""
    user = getattr(request, "user", None)
    check = getattr(user, "is_verified", None)
    if not (callable(check) and check()):
        return False
    return kind_of(getattr(user, "otp_device", None)) in allowed_kinds(user)


def devices(user: Any, *, confirmed: bool | None = True) -> list[Any]:
    """The account's devices of the kinds it may use (``confirmed=None``: pending ones too)."""
    kinds = allowed_kinds(user)
    return [d for d in devices_for_user(user, confirmed=confirmed) if kind_of(d) in kinds]


def has_factor(user: Any) -> bool:
    return bool(devices(user))


def has_primary_factor(user: Any) -> bool:
    """A device other than the recovery codes (those are only for when the device is lost)."""
    return any(kind_of(d) != RECOVERY for d in devices(user))


def can_use(user: Any, kind: str) -> bool:
    return kind in allowed_kinds(user)


def pending_sm3(user: Any) -> SM3Device:
    """The SM3 token being provisioned (unconfirmed), created on first use with a fresh random 256-bit seed."""
    device = SM3Device.objects.filter(user=user, confirmed=False).first()
    if device is None:
        device = SM3Device.objects.create(user=user, name="国密动态令牌", confirmed=False)
    return device


def confirm_sm3(device: SM3Device, token: str) -> bool:
    if not device.verify_token("".join(token.split())):
        return False
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    return True


def has_recovery_codes(user: Any) -> bool:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).exists()


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
    kinds = allowed_kinds(user)
    with transaction.atomic():
        # django-otp's match_token, limited to the kinds this account may use (rows locked: one use per code).
        for device in devices_for_user(user, for_verify=True):
            if kind_of(device) in kinds and device.verify_token(token):
                return device
    return None


def remove_all(user: Any) -> dict[str, int]:
    """Every device of every kind, pending ones too (the security administrator's reset): kind → count."""
    removed: dict[str, int] = {}
    for device in list(devices_for_user(user, confirmed=None)):
        kind = kind_of(device) or type(device).__name__
        device.delete()
        removed[kind] = removed.get(kind, 0) + 1
    return removed
