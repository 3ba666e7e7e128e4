"""The second-factor pages (issue 11 §1; 等保 8.1.4.1): verify after the password (a code, or a passkey), enrol an
authenticator, a national-algorithm SM3 token or a passkey with recovery codes, list and remove one's devices,
renew recovery codes, and the security administrator's reset of a lost factor (every device, audited)."""

from __future__ import annotations

import base64
import json
from typing import Any

import segno
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop as N_
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_otp import devices_for_user
from django_otp import login as otp_login

from xueji.audit.enums import EventType
from xueji.core.errors import Forbidden, NotFound
from xueji.core.ratelimit import ratelimit_hit
from xueji.core.web import ui_errors

from . import factors
from .auth import actor_of, issue_token
from .enums import Role
from .jurisdiction import roles
from .models import User
from .services import audit_account


def _next(request: HttpRequest) -> str:
    from .views import _safe_next  # noqa: PLC0415 - one definition of a safe redirect target

    return _safe_next(request)


@login_required
@never_cache
@ui_errors
@require_http_methods(["GET", "POST"])
def mfa_verify(request: HttpRequest) -> HttpResponse:
    """Enter a code from the authenticator (or a recovery code) after the password."""
    user = actor_of(request)
    if not factors.has_factor(user):
        return redirect("accounts:mfa_setup")
    error = ""
    if request.method == "POST":
        ratelimit_hit(user, "mfa")
        device = factors.match(user, request.POST.get("token", ""))
        if device is None:
            audit_account(
                EventType.MFA_FAILED,
                actor=user,
                user=user,
                summary=f"{user.username} 第二因子验证失败",
                success=False,
            )
            error = _("验证码错误或已使用过，请输入身份验证器上的新验证码或一个未用过的恢复码")
        else:
            otp_login(request, device)
            audit_account(
                EventType.MFA_VERIFIED,
                actor=user,
                user=user,
                summary=f"{user.username} 第二因子验证通过",
                after={"kind": factors.kind_of(device)},
            )
            if not factors.has_primary_factor(user):
                # Only recovery codes are left (the devices were removed, or no longer allowed): enrol one now.
                messages.warning(request, _("请绑定新的第二因子设备：恢复码只供设备丢失时使用"))
                return redirect("accounts:mfa_factors")
            return HttpResponseRedirect(_next(request))
    passkeys = factors.can_use(user, factors.WEBAUTHN) and any(
        factors.kind_of(d) == factors.WEBAUTHN for d in factors.devices(user)
    )
    return render(
        request,
        "accounts/mfa_verify.html",
        {
            "error": error,
            "next": _next(request),
            "passkeys": passkeys,
            "codes": any(factors.kind_of(d) in (factors.TOTP, factors.SM3) for d in factors.devices(user)),
            "webauthn_config": _webauthn_config(request) if passkeys else None,
        },
    )


def _enrolled(
    request: HttpRequest, user: Any, device: Any, *, kind: str, action: str, done: str
) -> HttpResponse:
    """A device just confirmed: the session counts as verified with it, the enrolment is audited, and the
    account's first factor comes with ten recovery codes, shown once."""
    first = not factors.has_recovery_codes(user)
    if not factors.is_verified(request):
        otp_login(request, device)
    audit_account(
        EventType.MFA_ENROLLED,
        actor=user,
        user=user,
        summary=f"{user.username} {action}",
        after={"kind": kind},
    )
    if first:
        codes = factors.new_recovery_codes(user)
        return render(request, "accounts/mfa_recovery.html", {"codes": codes, "next": _next(request)})
    messages.success(request, done)
    return redirect("accounts:mfa_factors")


@login_required
@never_cache
@ui_errors
@require_http_methods(["GET", "POST"])
def mfa_setup(request: HttpRequest) -> HttpResponse:
    """Enrol an authenticator: scan the QR code (or type the key), confirm with one code; ten recovery codes are
    shown once. An account that already has a factor must verify it first (enrolling another is not a bypass)."""
    user = actor_of(request)
    if factors.has_factor(user) and not factors.is_verified(request):
        return redirect("accounts:mfa_verify")
    if not factors.can_use(user, factors.TOTP):
        return redirect(f"{reverse('accounts:mfa_setup_sm3')}?{request.GET.urlencode()}")
    device = factors.pending_totp(user)
    error = ""
    if request.method == "POST":
        ratelimit_hit(user, "mfa")
        if factors.confirm_totp(device, request.POST.get("token", "")):
            return _enrolled(
                request, user, device, kind=factors.TOTP, action="绑定身份验证器", done=_("身份验证器已绑定")
            )
        error = _("验证码不正确，请输入身份验证器上当前显示的 6 位数字")
    qr = segno.make(device.config_url, error="m").svg_inline(scale=4, dark="#1d2733", omitsize=False)
    key = device.bin_key
    secret = base64.b32encode(key).decode().rstrip("=")
    return render(
        request,
        "accounts/mfa_setup.html",
        {
            "qr": mark_safe(qr),  # noqa: S308 - segno's SVG of our own otpauth URL
            "secret": " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
            "error": error,
            "next": _next(request),
            "other_kinds": _other_kinds(user),
        },
    )


@login_required
@never_cache
@ui_errors
@require_POST
def mfa_recovery_renew(request: HttpRequest) -> HttpResponse:
    user = actor_of(request)
    if not factors.is_verified(request):
        return redirect("accounts:mfa_verify")
    codes = factors.new_recovery_codes(user)
    audit_account(
        EventType.MFA_RECOVERY_RENEWED, actor=user, user=user, summary=f"{user.username} 重新生成恢复码"
    )
    return render(request, "accounts/mfa_recovery.html", {"codes": codes, "next": "/"})


@login_required
@ui_errors
@require_POST
def mfa_reset(request: HttpRequest, pk: int) -> HttpResponse:
    """The security administrator removes a lost factor (audited); the account enrols again at its next login.
    Not for one's own account (三权分立: another security administrator does it)."""
    actor = actor_of(request)
    if Role.SECURITY_ADMIN not in roles(actor):
        raise Forbidden()
    target = User.objects.filter(pk=pk).first()
    if target is None:
        raise NotFound()
    if target.pk == actor.pk:
        raise Forbidden("own_account", "不能重置自己的第二因子")
    removed = factors.remove_all(target)
    audit_account(
        EventType.MFA_RESET,
        actor=actor,
        user=target,
        summary=f"重置 {target.username} 的第二因子（全部设备：身份验证器、国密令牌、通行密钥、恢复码）",
        after={"counts": removed},
    )
    return redirect("accounts:user_detail", pk=pk)


def _group(digits: str, size: int = 4) -> str:
    return " ".join(digits[i : i + size] for i in range(0, len(digits), size))


def _other_kinds(user: User) -> list[dict[str, str]]:
    """Links to the other ways of enrolling this account may use (the enrolment pages' "或者…")."""
    links = [
        (factors.TOTP, "accounts:mfa_setup", _("手机身份验证器")),
        (factors.SM3, "accounts:mfa_setup_sm3", _("国密动态令牌（SM3）")),
        (factors.WEBAUTHN, "accounts:mfa_factors", _("通行密钥或安全密钥")),
    ]
    return [
        {"kind": k, "url": reverse(name), "label": label}
        for k, name, label in links
        if factors.can_use(user, k)
    ]


def _webauthn_config(request: HttpRequest) -> dict[str, Any]:
    """The configuration django-otp-webauthn's scripts read (``#otp_webauthn_config``), with our endpoints."""
    return {
        "autocompleteLoginFieldSelector": None,
        "nextFieldSelector": "#mfa-next",  # not the language switcher's "next" (base.html)
        "csrfToken": get_token(request),
        "beginAuthenticationUrl": reverse("accounts:webauthn_auth_begin"),
        "completeAuthenticationUrl": reverse("accounts:webauthn_auth_complete"),
        "beginRegistrationUrl": reverse("accounts:webauthn_register_begin"),
        "completeRegistrationUrl": reverse("accounts:webauthn_register_complete"),
    }


@login_required
@never_cache
@ui_errors
@require_http_methods(["GET", "POST"])
def mfa_setup_sm3(request: HttpRequest) -> HttpResponse:
    """Provision a national-algorithm dynamic password token (GM/T 0021-2012, SM3, 60-second steps): the seed is
    shown once as hex and base32 for a hardware or software token (no QR-code standard exists for SM3 tokens);
    confirm with one code. Recovery codes are issued with the account's first factor."""
    user = actor_of(request)
    if factors.has_factor(user) and not factors.is_verified(request):
        return redirect("accounts:mfa_verify")
    device = factors.pending_sm3(user)
    error = ""
    if request.method == "POST":
        ratelimit_hit(user, "mfa")
        if factors.confirm_sm3(device, request.POST.get("token", "")):
            return _enrolled(
                request,
                user,
                device,
                kind=factors.SM3,
                action="绑定国密动态令牌",
                done=_("国密动态令牌已绑定"),
            )
        error = _("动态口令不正确，请输入令牌上当前显示的 6 位数字")
    key = device.bin_key
    return render(
        request,
        "accounts/mfa_setup_sm3.html",
        {
            "seed_hex": _group(key.hex().upper(), 8),
            "seed_base32": _group(base64.b32encode(key).decode().rstrip("=")),
            "step": device.step,
            "digits": device.digits,
            "error": error,
            "next": _next(request),
            "other_kinds": _other_kinds(user),
        },
    )


_KIND_LABELS = {
    factors.TOTP: N_("手机身份验证器"),
    factors.SM3: N_("国密动态令牌（SM3）"),
    factors.WEBAUTHN: N_("通行密钥"),
    factors.RECOVERY: N_("恢复码"),
}


@login_required
@never_cache
@ui_errors
@require_GET
def mfa_factors(request: HttpRequest) -> HttpResponse:
    """My second factors: the devices of the kinds this account may use, each removable; a passkey registered
    here; links to enrol an authenticator or an SM3 token; renewal of the recovery codes. An account with no
    factor yet chooses here how to enrol; one with a factor must have verified it in this session."""
    user = actor_of(request)
    if factors.has_factor(user) and not factors.is_verified(request):
        return redirect(f"{reverse('accounts:mfa_verify')}?next={reverse('accounts:mfa_factors')}")
    rows = []
    recovery_left = 0
    for device in factors.devices(user):
        kind = factors.kind_of(device)
        if kind == factors.RECOVERY:
            recovery_left += device.token_set.count()
            continue
        rows.append(
            {
                "kind": kind,
                "label": _(_KIND_LABELS[kind]),
                "pk": device.pk,
                "created_at": getattr(device, "created_at", None),
                "last_used_at": getattr(device, "last_used_at", None),
                "current": getattr(user, "otp_device", None) == device,
            }
        )
    passkeys = factors.can_use(user, factors.WEBAUTHN)
    return render(
        request,
        "accounts/mfa_factors.html",
        {
            "rows": rows,
            "recovery_left": recovery_left,
            "has_recovery": factors.has_recovery_codes(user),
            "verified": factors.is_verified(request),
            "other_kinds": [k for k in _other_kinds(user) if k["kind"] != factors.WEBAUTHN],
            "passkeys": passkeys,
            "webauthn_config": _webauthn_config(request) if passkeys else None,
            "national": factors.national_only(user),
            "next": _next(request) if request.GET.get("next") else reverse("accounts:mfa_factors"),
        },
    )


@login_required
@never_cache
@ui_errors
@require_POST
def mfa_device_remove(request: HttpRequest, kind: str, pk: int) -> HttpResponse:
    """Remove one of my own devices (verified session only). An account the policy names keeps at least one device
    besides its recovery codes: the last one is removed by the security administrator's reset, not here."""
    user = actor_of(request)
    if not factors.is_verified(request):
        return redirect("accounts:mfa_verify")
    device = next(
        (
            d
            for d in devices_for_user(user, confirmed=None)
            if factors.kind_of(d) == kind and kind != factors.RECOVERY and d.pk == pk
        ),
        None,
    )
    if device is None:
        raise NotFound()
    others = [d for d in factors.devices(user) if factors.kind_of(d) != factors.RECOVERY and d != device]
    if factors.required_for(user) and not others:
        messages.error(request, _("您的账号必须保留至少一个第二因子：请先添加另一个，再删除这一个"))
        return redirect("accounts:mfa_factors")
    device.delete()
    audit_account(
        EventType.MFA_DEVICE_REMOVED,
        actor=user,
        user=user,
        summary=f"{user.username} 删除第二因子设备（{_KIND_LABELS[kind]}）",
        before={"kind": kind},
    )
    messages.success(request, _("已删除"))
    return redirect("accounts:mfa_factors")


@login_required
@never_cache
@ui_errors
@require_POST
def mfa_passkey_registered(request: HttpRequest) -> HttpResponse:
    """Where the page goes after a passkey was registered (static/js/passkeys.js posts here): the account's first
    factor gets its ten recovery codes (shown once); otherwise back to the list."""
    user = actor_of(request)
    if not factors.is_verified(request):
        return redirect("accounts:mfa_verify")
    if not factors.has_recovery_codes(user):
        codes = factors.new_recovery_codes(user)
        return render(request, "accounts/mfa_recovery.html", {"codes": codes, "next": _next(request)})
    messages.success(request, _("通行密钥已添加"))
    return redirect("accounts:mfa_factors")


# The messages of django-otp-webauthn's scripts (it ships no Chinese catalogue): English → our msgid.
_WEBAUTHN_MESSAGES = {
    "Register a Passkey": N_("添加通行密钥"),
    "Registering...": N_("正在添加……"),
    "Registration failed. Unable to fetch registration options from server.": N_(
        "添加失败：无法从服务器获取参数"
    ),
    "Registration aborted.": N_("已取消添加"),
    "Registration failed. You most likely already have a Passkey registered for this site.": (
        N_("添加失败：这个设备上可能已有本系统的通行密钥")
    ),
    "Registration aborted or not allowed.": N_("已取消或不允许添加"),
    "Registration failed. A technical problem occurred that prevents you from registering a Passkey for this site.": (
        N_("添加失败：浏览器不允许为本网站添加通行密钥")
    ),
    "Registration failed. An unknown error occurred.": N_("添加失败：未知错误"),
    "Finishing registration...": N_("正在完成……"),
    "Registration failed. The server was unable to verify this passkey.": N_(
        "添加失败：服务器无法验证这个通行密钥"
    ),
    "Registration failed. A server error occurred.": N_("添加失败：服务器错误"),
    "Registration successful!": N_("通行密钥已添加"),
    "An error occurred during registration.": N_("添加时出错"),
    "Verify with Passkey": N_("使用通行密钥验证"),
    "Verifying...": N_("正在验证……"),
    "Verification failed. Could not retrieve parameters from the server.": N_(
        "验证失败：无法从服务器获取参数"
    ),
    "Verification aborted.": N_("已取消验证"),
    "Verification canceled or not allowed.": N_("已取消或不允许验证"),
    "Verification failed. An unknown error occurred.": N_("验证失败：未知错误"),
    "Finishing verification...": N_("正在完成验证……"),
    "Verification failed. An unknown server error occurred.": N_("验证失败：服务器错误"),
    "Verification failed. A server error occurred.": N_("验证失败：服务器错误"),
    "Verification successful!": N_("验证通过"),
    "An error occurred during verification.": N_("验证时出错"),
}


@login_required
@require_GET
def webauthn_catalog(request: HttpRequest) -> HttpResponse:
    """The ``gettext`` django-otp-webauthn's scripts call, in the UI language: a script file (CSP: no inline
    script), loaded before them."""
    catalog = {english: _(msgid) for english, msgid in _WEBAUTHN_MESSAGES.items()}
    body = (
        "(function(){var c=" + json.dumps(catalog, ensure_ascii=False) + ";"
        "window.gettext=function(s){return Object.prototype.hasOwnProperty.call(c,s)?c[s]:s;};})();"
    )
    return HttpResponse(body, content_type="text/javascript; charset=utf-8")


@login_required
@never_cache
@ui_errors
@require_POST
def mfa_api_token(request: HttpRequest) -> HttpResponse:
    """An API token issued to this browser session (issue 11 §1): ``POST /api/v1/auth/token`` takes a code in
    ``otp``, which a passkey cannot give; an account whose session verified its second factor (any kind, a passkey
    included) gets its token here instead, shown once. Audited like the API's issuance (``auth.token_issued``)."""
    user = actor_of(request)
    if factors.required_for(user) and not factors.is_verified(request):
        return redirect("accounts:mfa_verify")
    with transaction.atomic():
        raw, row = issue_token(user)
        audit_account(
            EventType.TOKEN_ISSUED,
            actor=user,
            user=user,
            summary=f"{user.username} 在网页上获取 API 令牌（有效至 {row.expires_at:%Y-%m-%d %H:%M}）",
            after={"token_id": row.pk, "expires_at": row.expires_at.isoformat(), "channel": "web"},
        )
    return render(request, "accounts/mfa_api_token.html", {"token": raw, "expires_at": row.expires_at})
