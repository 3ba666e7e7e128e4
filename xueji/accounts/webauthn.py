"""Passkeys and security keys (WebAuthn) as a second factor (issue 11 §1; 等保 8.1.4.1), on django-otp-webauthn.

Its four JSON endpoints are subclassed here, under our URLs (``/mfa/webauthn/…``), so that:

- a passkey is only ever a SECOND factor: the ceremonies need a session that passed the password
  (``OTP_WEBAUTHN_ALLOW_PASSWORDLESS_LOGIN = False``, and an anonymous request is refused here again);
- registering one while the account has another factor needs a verified session (the library's own check), and
  an account limited to national algorithms (``XUEJI_MFA_NATIONAL_ALGORITHMS``) can neither register nor use one;
- every registration (``auth.mfa_enrolled``), verification (``auth.mfa_verified``) and failed verification
  (``auth.mfa_failed``) is audited, and attempts count against the ``mfa`` rate limit like codes do;
- errors reach the page in Chinese (the library ships no Chinese catalogue) and the page's ``next`` is honoured
  only on our host.

A verified ceremony calls django-otp's ``login``: the session's ``user.is_verified()`` is then true exactly as
after a TOTP or SM3 code.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, JsonResponse
from django.utils.translation import gettext as _
from django_otp_webauthn import exceptions
from django_otp_webauthn.views import (
    BeginCredentialAuthenticationView,
    BeginCredentialRegistrationView,
    CompleteCredentialAuthenticationView,
    CompleteCredentialRegistrationView,
)

from xueji.audit.enums import EventType
from xueji.core.ratelimit import RateLimited, ratelimit_hit

from . import factors
from .auth import actor_of
from .services import audit_account


class NationalAlgorithmsOnly(exceptions.OTPWebAuthnApiError):
    status_code = 403
    default_code = "national_algorithms_only"


def _messages() -> dict[str, str]:
    return {
        "not_authenticated": _("请先用用户名和密码登录"),
        "user_not_verified": _("请先用已有的第二因子完成验证，再添加通行密钥"),
        "national_algorithms_only": _("本系统要求使用国密算法的第二因子，不能使用通行密钥"),
        "credential_not_found": _("未找到这个通行密钥，可能已被删除"),
        "credential_user_mismatch": _("这个通行密钥不属于当前账号"),
        "credential_disabled": _("这个通行密钥已停用"),
        "user_disabled": _("账号已停用"),
        "invalid_state": _("验证已过期，请重新开始"),
        "rate_limited": _("尝试次数过多，请稍后再试"),
    }


class _Chinese:
    """Errors as JSON in the library's shape ``{"detail", "code"}``, the detail in the UI language."""

    def handle_exception(self, exc: Exception) -> JsonResponse:
        if isinstance(exc, RateLimited):
            return JsonResponse({"detail": exc.message, "code": exc.code}, status=429)
        if isinstance(exc, exceptions.OTPWebAuthnApiError):
            detail = _messages().get(exc.code) or _("通行密钥验证失败，请重试或改用验证码")
            return JsonResponse({"detail": detail, "code": exc.code}, status=exc.status_code)
        raise exc


def _allowed(request: HttpRequest) -> None:
    user = request.user
    if not user.is_authenticated:
        raise exceptions.NotAuthenticated()
    if not factors.can_use(user, factors.WEBAUTHN):
        raise NationalAlgorithmsOnly()


class _Registration:
    request: HttpRequest

    def user_is_mfa_enrolled(self, user: Any) -> bool:
        """Enrolled = has a factor of a kind it may use (our policy's view, not every django-otp device)."""
        return factors.has_factor(user)

    def check_can_register(self) -> None:
        _allowed(self.request)


class RegisterBegin(_Chinese, _Registration, BeginCredentialRegistrationView):
    pass


class RegisterComplete(_Chinese, _Registration, CompleteCredentialRegistrationView):
    def post(self, *args: Any, **kwargs: Any) -> JsonResponse:
        response = super().post(*args, **kwargs)
        user = actor_of(self.request)
        audit_account(
            EventType.MFA_ENROLLED,
            actor=user,
            user=user,
            summary=f"{user.username} 添加通行密钥",
            after={"kind": factors.WEBAUTHN},
        )
        return response


class AuthenticateBegin(_Chinese, BeginCredentialAuthenticationView):
    def check_can_authenticate(self) -> None:
        _allowed(self.request)
        ratelimit_hit(self.request.user, "mfa")


class AuthenticateComplete(_Chinese, CompleteCredentialAuthenticationView):
    def check_can_authenticate(self) -> None:
        _allowed(self.request)

    def get_success_url(self) -> str:
        from .factor_views import _next  # noqa: PLC0415 - one definition of a safe redirect target

        return _next(self.request)

    def post(self, *args: Any, **kwargs: Any) -> JsonResponse:
        user = actor_of(self.request)
        try:
            response = super().post(*args, **kwargs)
        except exceptions.OTPWebAuthnApiError:
            audit_account(
                EventType.MFA_FAILED,
                actor=user,
                user=user,
                summary=f"{user.username} 第二因子验证失败（通行密钥）",
                success=False,
            )
            raise
        audit_account(
            EventType.MFA_VERIFIED,
            actor=user,
            user=user,
            summary=f"{user.username} 第二因子验证通过",
            after={"kind": factors.WEBAUTHN},
        )
        return response
