"""Factories for account tests: admins, dormant and sealed accounts, and login helpers."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.test import Client
from django.utils import timezone

from tests.factories import core as f
from xueji.accounts.enums import Role
from xueji.accounts.models import User
from xueji.regions.models import OrgUnit

PASSWORD = f.PASSWORD
# 64-character passphrases (ASVS 6.2.9: at least 64 characters are permitted). The first has three
# character classes, so both profiles accept it; the second is lower case and spaces only (nist accepts it,
# dengbao's 3-of-4 rule does not).
PASSPHRASE_64 = "Correct horse battery staple, 2026, on the Pearl River under sky"
PLAIN_PASSPHRASE_64 = "correct horse battery staple on the pearl river under a wide sky"
assert len(PASSPHRASE_64) == 64
assert len(PLAIN_PASSPHRASE_64) == 64


def province() -> OrgUnit:
    return f.dept("440000")


def county() -> OrgUnit:
    return f.dept("440105")


def admin(role: str, org: OrgUnit | None = None, **kwargs: Any) -> User:
    """An admin-role account at ``org`` (Guangdong's department by default)."""
    return f.user(role, org or province(), **kwargs)


def system_admin(org: OrgUnit | None = None, **kwargs: Any) -> User:
    return admin(Role.SYSTEM_ADMIN, org, **kwargs)


def security_admin(org: OrgUnit | None = None, **kwargs: Any) -> User:
    return admin(Role.SECURITY_ADMIN, org, **kwargs)


def audit_admin(org: OrgUnit | None = None, **kwargs: Any) -> User:
    return admin(Role.AUDIT_ADMIN, org, **kwargs)


def last_seen(user: User, when: datetime) -> User:
    """Make ``when`` the account's last login (and creation), as if time had passed."""
    User.objects.filter(pk=user.pk).update(last_login=when, date_joined=when - timedelta(days=1))
    user.refresh_from_db()
    return user


def sealed(user: User, reason: str = "测试封存") -> User:
    User.objects.filter(pk=user.pk).update(sealed_at=timezone.now(), sealed_reason=reason)
    user.refresh_from_db()
    return user


def client(ip: str = "10.0.0.1") -> Client:
    return Client(REMOTE_ADDR=ip)


def web_login(c: Client, username: str, password: str = PASSWORD, **extra: Any) -> Any:
    return c.post("/login/", {"username": username, "password": password}, **extra)


def token(c: Client, username: str, password: str = PASSWORD) -> Any:
    return c.post(
        "/api/v1/auth/token", {"username": username, "password": password}, content_type="application/json"
    )
