"""How long a browser session has left, as the page needs to know it (issue #8 item 13).

The session ends at the first of two moments (xueji/accounts/middleware.py):

- idle: the last request plus the idle limit — ``SESSION_COOKIE_AGE`` (renewed by every request,
  ``SESSION_SAVE_EVERY_REQUEST``), or the admin roles' shorter ``ADMIN_SESSION_IDLE_SECONDS``;
- absolute: the login plus ``SESSION_ABSOLUTE_SECONDS`` (no request moves it).

The time of the last request is ``SESSION_SEEN_AT``, stamped by the middleware on every signed-in request
except the status read below, so the clock is the same whatever the session backend. The page learns the
clock when it is rendered (``templates/accounts/_session.html``) and asks ``session_status_view`` again
before it warns, because another tab may have renewed the session meanwhile: that read must not renew it
(``leave_unrenewed``), or a page left open would keep its session alive for ever.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase
from django.http import HttpRequest

from .middleware import SESSION_IDLE, SESSION_LOGIN_AT, SESSION_SEEN_AT, absolute_session_seconds

DEFAULT_WARNING_SECONDS = 120


def idle_seconds(session: SessionBase) -> int:
    """What one request buys: the idle limit of this session."""
    limit = int(settings.SESSION_COOKIE_AGE)
    admin_idle = session.get(SESSION_IDLE)
    if admin_idle:
        limit = min(limit, int(float(admin_idle)))
    return limit


def warning_seconds(idle: int) -> int:
    """How long before the end the page warns (``SESSION_WARNING_SECONDS``), at most half the idle limit,
    so that a page never opens with the warning already shown."""
    lead = int(getattr(settings, "SESSION_WARNING_SECONDS", DEFAULT_WARNING_SECONDS))
    return max(0, min(lead, idle // 2))


@dataclass(frozen=True)
class SessionClock:
    remaining: int  # whole seconds until the session ends if nothing happens (rounded down)
    idle: int  # seconds that a request (继续使用) buys
    warning: int  # seconds before the end that the page warns
    final: bool  # the end is the absolute limit: no request moves it

    def as_json(self) -> dict[str, Any]:
        return {
            "active": self.remaining > 0,
            "remaining": self.remaining,
            "idle": self.idle,
            "warning": self.warning,
            "final": self.final,
        }


def session_clock(request: HttpRequest, now: float | None = None) -> SessionClock:
    """The clock of ``request``'s signed-in session."""
    now = time.time() if now is None else now
    session = request.session
    idle = idle_seconds(session)
    seen = float(session.get(SESSION_SEEN_AT) or now)
    idle_end = seen + idle
    started = session.get(SESSION_LOGIN_AT)
    absolute_end = float(started) + absolute_session_seconds() if started is not None else math.inf
    end = min(idle_end, absolute_end)
    return SessionClock(
        remaining=max(0, math.floor(end - now)),
        idle=idle,
        warning=warning_seconds(idle),
        final=absolute_end <= idle_end,
    )


def _no_save(must_create: bool = False) -> None:
    return None


def leave_unrenewed(request: HttpRequest) -> None:
    """This response must not renew the session: ``SessionMiddleware`` saves it at every response
    (``SESSION_SAVE_EVERY_REQUEST``), and each save moves the idle expiry. Deleting it still works."""
    request.session.save = _no_save  # type: ignore[method-assign]
