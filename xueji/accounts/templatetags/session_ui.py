"""``{% session_clock_of request as clock %}``: the session's clock for the page (templates/accounts/_session.html)."""

from __future__ import annotations

from django import template
from django.http import HttpRequest

from xueji.accounts.session_clock import SessionClock, session_clock

register = template.Library()


@register.simple_tag
def session_clock_of(request: HttpRequest) -> SessionClock:
    return session_clock(request)
