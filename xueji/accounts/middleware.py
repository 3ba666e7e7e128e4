"""Per-request account policy for browser sessions (API requests are judged by ``auth.usable``).

- A sealed (第24条) or deactivated account's session ends at its next request (ASVS 7.4.2), and the
  browser is sent to the login page with the reason.
- A session older than ``SESSION_ABSOLUTE_SECONDS`` (default 12 h) ends even while in use (ASVS 7.3.2);
  the idle timeout is the session's own expiry (``SESSION_COOKIE_AGE`` renewed on every request), and admin
  sessions carry a shorter idle limit (``ADMIN_SESSION_IDLE_SECONDS``, default 15 min, security.md §1.1).
- An expired session (idle timeout: the session row outlived ``SESSION_COOKIE_AGE``, or the admin idle
  limit) sends the browser to ``/login/?reason=timeout|idle&next=<where it was>`` ("登录超时，请重新登录");
  htmx requests get ``HX-Redirect`` to that page instead of a login form swapped into a fragment.
- Every signed-in request stamps ``SESSION_SEEN_AT`` (the idle clock the page shows, session_clock.py),
  except the page's own status read (``accounts:session_status``), which is not activity.
- A form posted without a session to a page that needs login (the session expired while the user was
  typing) goes to the login page with ``next=<the form page>`` before the CSRF check: the post cannot
  succeed anyway, and a stale CSRF token (rotated by a login in another tab) would otherwise answer a
  confusing 403 "页面已过期". The page keeps the typed values as a draft (static/js/session.js).
- An account that owes a password change (administrator's one-time password, or older than the dengbao
  maximum age, 第24条 定期更改密码) reaches only the password-change page, logout and static files.

Costs nothing for anonymous requests and static files; for a signed-in request it reads only the user row
already loaded by ``AuthenticationMiddleware`` and the session.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.contrib.auth import SESSION_KEY, logout
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import Resolver404, resolve, reverse

from xueji.core.htmx import is_htmx

from . import passwords
from .services import logout_recorded

log = logging.getLogger(__name__)

SESSION_LOGIN_AT = "xueji_login_at"
# Shorter idle limit for admin sessions (set at login): seconds, and the time of the last request.
SESSION_IDLE = "xueji_idle"
SESSION_SEEN_AT = "xueji_seen_at"
DEFAULT_ABSOLUTE_SECONDS = 12 * 3600


def absolute_session_seconds() -> int:
    return int(getattr(settings, "SESSION_ABSOLUTE_SECONDS", DEFAULT_ABSOLUTE_SECONDS))


def where_they_were(request: HttpRequest) -> str:
    """The page to return to after logging in again: the page itself for a GET, the page an htmx fragment
    or a form post came from otherwise. Same host only (the login view checks again, ``_safe_next``)."""
    if is_htmx(request):
        url = request.headers.get("HX-Current-URL", "")
    elif request.method in {"GET", "HEAD"}:
        return request.get_full_path()
    else:
        url = request.headers.get("Referer", "")
    parts = urlsplit(url)
    if not parts.path.startswith("/") or (parts.netloc and parts.netloc != request.get_host()):
        return ""
    return parts.path + (f"?{parts.query}" if parts.query else "")


def login_url_for(request: HttpRequest, reason: str) -> str:
    params = {"reason": reason} if reason else {}
    back = where_they_were(request)
    if back:
        params["next"] = back
    return f"{reverse('accounts:login')}?{urlencode(params)}"


def session_timed_out(request: HttpRequest) -> bool:
    """The browser sent a session cookie that names no live session: it expired (idle timeout,
    ``SESSION_COOKIE_AGE`` renewed on every request). A logout deletes the cookie, so this is not a logout.
    Call after the session was read (``AuthenticationMiddleware`` reads it)."""
    return settings.SESSION_COOKIE_NAME in request.COOKIES and request.session.session_key is None


def end_keeping_cookie(request: HttpRequest) -> None:
    """End the session (its row is deleted) but leave the browser's cookie naming it, so that the next
    request is recognised as a timeout ("登录超时", ``session_timed_out``), not as a visitor who never
    signed in. Only for the page's status read, whose response does not save the session
    (session_clock.leave_unrenewed): a save would bring the row back."""
    request.session.delete()
    request.user = AnonymousUser()


def needs_login(request: HttpRequest) -> bool:
    """The view at this path is behind ``login_required`` (which marks its wrapper with ``login_url``)."""
    try:
        match = resolve(request.path_info)
    except Resolver404:
        return False
    return hasattr(match.func, "login_url")


def _redirect(request: HttpRequest, url: str) -> HttpResponse:
    if is_htmx(request):
        response = HttpResponse(status=200)
        response["HX-Redirect"] = url
        return response
    return HttpResponseRedirect(url)


class AccountPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.static_prefix = settings.STATIC_URL or "/static/"
        # security.md §3: the nist profile departs from 办法第24条 (定期更改密码); say so at startup.
        if passwords.profile() == passwords.NIST:
            log.warning(
                "Password policy profile 'nist': policy deviation from 办法第24条 (no periodic change, "
                "no composition rules) — NIST SP 800-63B-4 §3.1.1.2"
            )

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path_info
        # /m/ is the guardian end: its own session (xueji.guardians.middleware); staff rules never apply there.
        if path.startswith(("/api/", self.static_prefix, "/i18n/", "/m/")):
            return self.get_response(request)
        user = getattr(request, "user", None)
        if user is None:
            return self.get_response(request)
        if not user.is_authenticated:
            # The backend no longer returns the session's user (deactivated or deleted): end the session too.
            if SESSION_KEY in request.session:
                request.session.flush()
                return self.get_response(request)
            timed_out = session_timed_out(request)
            if request.method == "POST" and needs_login(request):
                return _redirect(request, login_url_for(request, "timeout" if timed_out else ""))
            response = self.get_response(request)
            if response.status_code == 302 and response["Location"].startswith(f"{settings.LOGIN_URL}?"):
                # A page that needs login (``login_required``): say why, and come back here afterwards.
                if timed_out:
                    return _redirect(request, login_url_for(request, "timeout"))
                if is_htmx(request):
                    return _redirect(request, login_url_for(request, ""))
            return response

        login_url = reverse("accounts:login")
        reason = ""
        if not user.is_active:
            reason = "inactive"
        elif user.sealed_at is not None:
            reason = "sealed"
        else:
            started = request.session.get(SESSION_LOGIN_AT)
            if started is None:
                # A session opened without our login view (e.g. ``force_login``): its clock starts now.
                request.session[SESSION_LOGIN_AT] = time.time()
            elif time.time() - float(started) > absolute_session_seconds():
                reason = "expired"
            idle = request.session.get(SESSION_IDLE)
            now = time.time()
            seen = float(request.session.get(SESSION_SEEN_AT) or now)
            if not reason and idle and now - seen > float(idle):
                reason = "idle"
            elif not reason and path != reverse("accounts:session_status"):
                request.session[SESSION_SEEN_AT] = now
        if reason:
            logout_recorded(
                user=user,
                reason={
                    "inactive": "账号已停用",
                    "sealed": "账号已封存",
                    "expired": "会话超过最长时限",
                    "idle": "长时间未操作",
                }[reason],
            )
            if path == reverse("accounts:session_status"):
                end_keeping_cookie(request)
                return self.get_response(request)  # the page's status read answers {"active": false}
            logout(request)
            if reason == "idle":
                return _redirect(request, login_url_for(request, reason))
            return _redirect(request, f"{login_url}?{urlencode({'reason': reason})}")

        if passwords.change_required(user):
            allowed = (
                reverse("accounts:password_change"),
                reverse("accounts:logout"),
                login_url,
                reverse("accounts:session_status"),
                reverse("accounts:session_keepalive"),
            )
            # The second factor comes first (ASVS 6.4.3: a password change does not bypass it): its verification
            # and enrolment pages stay open, or the two middlewares would send the account back and forth.
            factor_pages = path.startswith(reverse("accounts:mfa_factors")) and path != reverse(
                "accounts:mfa_api_token"
            )
            if path not in allowed and not factor_pages:
                return _redirect(request, allowed[0])
        return self.get_response(request)


class SecondFactorMiddleware:
    """等保 8.1.4.1 (两种鉴别技术) / issue 11 §1: an account the policy names (``factors.required_for``) reaches
    only the second-factor pages, logout and the session clock until it has verified a factor in this session —
    enrolment first if it has none. Runs after django-otp's ``OTPMiddleware`` (``request.user.is_verified``)
    and before the account policy, so a one-time password from a reset never skips the second factor. API
    requests are judged when the token is issued (``accounts.api.token_issue``)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.static_prefix = settings.STATIC_URL or "/static/"

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path_info
        # /m/ is the guardian end: its own session (xueji.guardians.middleware); staff rules never apply there.
        if path.startswith(("/api/", self.static_prefix, "/i18n/", "/m/")):
            return self.get_response(request)
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return self.get_response(request)
        from . import factors  # noqa: PLC0415 - loads django-otp's models after the registry

        if factors.is_verified(request) or not factors.required_for(user):
            return self.get_response(request)
        allowed = {
            reverse("accounts:mfa_verify"),
            reverse("accounts:mfa_setup"),
            reverse("accounts:mfa_setup_sm3"),
            reverse("accounts:mfa_factors"),
            reverse("accounts:webauthn_catalog"),
            reverse("accounts:webauthn_register_begin"),
            reverse("accounts:webauthn_register_complete"),
            reverse("accounts:webauthn_auth_begin"),
            reverse("accounts:webauthn_auth_complete"),
            reverse("accounts:logout"),
            reverse("accounts:login"),
            reverse("accounts:session_status"),
            reverse("accounts:session_keepalive"),
        }
        if path in allowed:
            return self.get_response(request)
        target = "accounts:mfa_verify" if factors.has_factor(user) else "accounts:mfa_setup"
        here = where_they_were(request)
        return _redirect(request, f"{reverse(target)}?{urlencode({'next': here})}")
