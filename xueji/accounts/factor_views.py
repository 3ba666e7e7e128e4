"""The second-factor pages (issue 11 §1; 等保 8.1.4.1): verify after the password, enrol an authenticator with
recovery codes, renew recovery codes, and the security administrator's reset of a lost factor."""

from __future__ import annotations

import base64

import segno
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST
from django_otp import login as otp_login

from xueji.audit.enums import EventType
from xueji.core.errors import Forbidden, NotFound
from xueji.core.ratelimit import ratelimit_hit
from xueji.core.web import ui_errors

from . import factors
from .auth import actor_of
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
                after={"device": device.__class__.__name__},
            )
            return HttpResponseRedirect(_next(request))
    return render(request, "accounts/mfa_verify.html", {"error": error, "next": _next(request)})


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
    device = factors.pending_totp(user)
    error = ""
    if request.method == "POST":
        ratelimit_hit(user, "mfa")
        if factors.confirm_totp(device, request.POST.get("token", "")):
            codes = factors.new_recovery_codes(user)
            otp_login(request, device)
            audit_account(
                EventType.MFA_ENROLLED, actor=user, user=user, summary=f"{user.username} 绑定身份验证器"
            )
            return render(request, "accounts/mfa_recovery.html", {"codes": codes, "next": _next(request)})
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
        summary=f"重置 {target.username} 的第二因子",
        after={"devices": removed},
    )
    return redirect("accounts:user_detail", pk=pk)
