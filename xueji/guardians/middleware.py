"""The guardian session: pages under ``/m/`` (家长端) authenticate with their own cookie only.

- ``request.guardian`` (the :class:`~.models.GuardianAccount`) and ``request.guardian_session`` come from the
  cookie ``XUEJI_GUARDIAN_COOKIE_NAME`` (``__Host-xj_m`` in production, ``xj_m`` otherwise): a signed 256-bit
  token whose keyed hash names a server-side :class:`~.models.GuardianSession` (idle and absolute limits,
  ended by logout or when the account is disabled; :func:`.services.session_resume`).
- Under ``/m/`` the staff session authenticates nothing: ``request.user`` is anonymous there, whatever staff
  cookie the browser sends. Elsewhere the guardian cookie is never read, so it authenticates no staff page.
- Every ``/m/`` response is ``Cache-Control: no-store`` (minors' data; the service worker caches static files
  only), and the cookie is set or deleted as the views asked (login, logout, an ended session).

Place directly after ``AccountPolicyMiddleware`` (config/settings.py): that middleware ends a staff session
whose user looks anonymous, so it must still see the staff user on ``/m/`` — a staff member who opens the guardian
end stays signed in to the staff pages, and is simply not signed in here.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest, HttpResponse

from . import conf
from .services import session_resume

PREFIX = "/m/"
#: ``request.guardian_cookie`` values the views set: a new cookie value, or :data:`END` to delete it.
END = ""


def _secure() -> bool:
    return conf.cookie_name().startswith("__Host-") or bool(getattr(settings, "SESSION_COOKIE_SECURE", False))


class GuardianSessionMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path_info.startswith(PREFIX):
            return self.get_response(request)
        request.user = AnonymousUser()  # staff sessions never authenticate the guardian end
        name = conf.cookie_name()
        raw = request.COOKIES.get(name, "")
        session = session_resume(raw) if raw else None
        request.guardian_session = session  # type: ignore[attr-defined]
        request.guardian = session.account if session else None  # type: ignore[attr-defined]
        request.guardian_cookie = None  # type: ignore[attr-defined]
        response = self.get_response(request)
        new = getattr(request, "guardian_cookie", None)
        if new:
            response.set_cookie(
                name,
                new,
                max_age=conf.absolute_seconds(),
                path="/",
                secure=_secure(),
                httponly=True,
                samesite="Lax",
            )
        elif new == END or (raw and session is None):
            response.delete_cookie(name, path="/", samesite="Lax")
        response["Cache-Control"] = "no-store"
        return response
