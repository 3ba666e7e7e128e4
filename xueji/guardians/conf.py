"""Settings of the guardian end with their defaults (config/settings.py may override each; docs/guardians.md)."""

from __future__ import annotations

from django.conf import settings

DEFAULT_RATE_LIMITS: dict[str, tuple[int, int]] = {
    "sms_phone": (5, 3600),  # SMS codes per phone number per hour
    "sms_ip": (20, 3600),  # SMS codes per client address per hour
    "sms_day": (10, 86400),  # SMS codes per phone number per day
    "login_ip": (30, 3600),  # code checks per client address per hour
    "bind": (10, 3600),  # binding attempts per account and per client address per hour
    "request": (20, 86400),  # guardian requests per account per day
    "captcha_ip": (120, 3600),  # captcha pictures drawn per client address per hour
}

CODE_TTL_SECONDS = 5 * 60  # SMS codes and captchas live 5 minutes
CODE_MAX_ATTEMPTS = 5  # tries per SMS code
BINDING_MAX_ATTEMPTS = 5  # wrong child names per binding code, then it is void (the school issues a new one)
CONSENT_VERSION = "2026-12"  # version of templates/guardians/m/privacy.html the guardian agreed to


def cookie_name() -> str:
    return str(getattr(settings, "XUEJI_GUARDIAN_COOKIE_NAME", "xj_m"))


def idle_seconds() -> int:
    return int(getattr(settings, "XUEJI_GUARDIAN_SESSION_IDLE_SECONDS", 30 * 60))


def absolute_seconds() -> int:
    return int(getattr(settings, "XUEJI_GUARDIAN_SESSION_ABSOLUTE_SECONDS", 12 * 3600))


def guardians_per_child() -> int:
    return int(getattr(settings, "XUEJI_GUARDIANS_PER_CHILD", 4))


def binding_code_days() -> int:
    return int(getattr(settings, "XUEJI_BINDING_CODE_DAYS", 30))


def review_working_days() -> int:
    """Working days the school has to answer a guardian's request (shown to the guardian as the deadline)."""
    return int(getattr(settings, "XUEJI_GUARDIAN_REVIEW_WORKING_DAYS", 5))


def sign_name() -> str:
    return str(getattr(settings, "XUEJI_SMS_SIGN_NAME", "学籍系统"))


def rate_limit(bucket: str) -> tuple[int, int]:
    configured = getattr(settings, "XUEJI_GUARDIAN_RATE_LIMITS", {}) or {}
    if bucket in configured:
        count, seconds = configured[bucket]
        return int(count), int(seconds)
    return DEFAULT_RATE_LIMITS[bucket]
