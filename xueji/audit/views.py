"""The audit log page — for audit administrators only (三权分立; 第23条 supervision). Everyone else: 404."""

from __future__ import annotations

from datetime import date

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from xueji.accounts.auth import actor_of
from xueji.core.ratelimit import ratelimit_hit
from xueji.core.web import paginate, ui_errors

from .enums import EventType
from .queries import AuditFilters, event_list


def _date(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value or "")
    except ValueError:
        return None


@login_required
@ui_errors
def audit_list(request: HttpRequest) -> HttpResponse:
    user = actor_of(request)
    ratelimit_hit(user, "list")  # issue #6 §3.10: a Chinese 429 above the account's limit
    get = request.GET
    event_type = get.get("type", "")
    filters = AuditFilters(
        event_type=event_type if event_type in EventType.values else "",
        actor=get.get("actor", "").strip()[:150],
        date_from=_date(get.get("from")),
        date_to=_date(get.get("to")),
        subject=get.get("subject", "").strip()[:64],
    )
    page = paginate(request, event_list(viewer=user, filters=filters))
    return render(request, "audit/list.html", {"page": page, "f": filters, "types": EventType.choices})
