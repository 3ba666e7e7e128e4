"""API authentication: bearer tokens for clients, the Django session (with CSRF) for the browser."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone
from ninja.errors import AuthenticationError
from ninja.security import APIKeyCookie, HttpBearer

from xueji.core.errors import Forbidden

from .models import ApiToken, User
from .types import Actor


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(user: User) -> tuple[str, ApiToken]:
    """A fresh 256-bit token; only its digest is stored."""
    raw = secrets.token_urlsafe(32)
    row = ApiToken.objects.create(
        user=user,
        digest=token_digest(raw),
        expires_at=timezone.now() + timedelta(hours=settings.API_TOKEN_TTL_HOURS),
    )
    return raw, row


def actor_of(request: HttpRequest) -> Actor:
    """The authenticated account behind ``request``. Views reach here through ``login_required`` and API
    handlers through the API's authentication (``TokenAuth``/``SessionAuth`` set ``request.user``), so an
    anonymous request never does; should one, it is refused as unauthenticated (the API answers 401)."""
    user = request.user
    if isinstance(user, User) and user.is_authenticated:
        return user
    raise AuthenticationError()


def usable(user: Actor) -> bool:
    """Active, not sealed (第24条), and not owing a password change."""
    return bool(user and user.is_active and user.sealed_at is None and not user.must_change_password)


def touch_token(row: ApiToken, now: datetime | None = None) -> bool:
    """Record a token's use at most once per ``API_TOKEN_TOUCH_SECONDS`` (default 60): a read-only API call
    then writes nothing. Returns whether the row was written. The UPDATE is conditional, so concurrent calls
    of one token write it once."""
    now = now or timezone.now()
    interval = timedelta(seconds=settings.API_TOKEN_TOUCH_SECONDS)
    if row.last_used_at is not None and now - row.last_used_at < interval:
        return False
    stale = Q(last_used_at__isnull=True) | Q(last_used_at__lte=now - interval)
    written = ApiToken.objects.filter(stale, pk=row.pk).update(last_used_at=now)
    row.last_used_at = now
    return bool(written)


def _is_provider_token(request: HttpRequest) -> bool:
    """Whether the bearer is a valid access token of the OpenID Connect provider (第24条, xueji.identity)."""
    from oauth2_provider.oauth2_backends import get_oauthlib_core  # noqa: PLC0415 - only for unknown bearers

    valid, _ = get_oauthlib_core().verify_request(request, scopes=[])
    return bool(valid)


class TokenAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> Any:
        # The account's filing (第22条) comes with it: every data read checks it (issue 7: one query, not three).
        row = (
            ApiToken.objects.select_related("user", "user__filing__filed_with")
            .filter(digest=token_digest(token), revoked_at__isnull=True, expires_at__gt=timezone.now())
            .first()
        )
        if row is None:
            if _is_provider_token(request):
                # Security test 23: a relying party's token identifies a person to that system and opens no
                # staff endpoint — refused outright (403), not merely unauthenticated.
                raise Forbidden("oidc_token", "接入系统的身份令牌不能访问本接口")
            return None
        if not usable(row.user):
            return None
        touch_token(row)
        request.user = row.user
        return row.user


class SessionAuth(APIKeyCookie):
    """The browser's session; ninja checks CSRF for unsafe methods (csrf=True)."""

    param_name = settings.SESSION_COOKIE_NAME

    def __init__(self) -> None:
        super().__init__(csrf=True)

    def _get_key(self, request: HttpRequest) -> str | None:
        # No session cookie → not this scheme at all: answer 401 (unauthenticated), not a CSRF 403.
        if self.param_name not in request.COOKIES:
            return None
        return super()._get_key(request)

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        if key is None:
            return None
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and usable(user):
            return user
        return None
