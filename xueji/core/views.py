"""The dashboard (工作台) and the small helpers every server-rendered page shares.

Views call queries and services only; an out-of-jurisdiction object is a 404 (architecture.md §3).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import date
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Page, Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from xueji.accounts.enums import STUDENT_DATA_ROLES, Role
from xueji.accounts.jurisdiction import _grants, data_grants, highest_level, is_admin_only, roles
from xueji.core.errors import Forbidden, NotFound
from xueji.core.htmx import is_htmx
from xueji.core.ratelimit import RateLimited
from xueji.regions.enums import OrgLevel

PAGE_SIZE = 50


def ui_errors(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """Turn domain refusals into HTTP answers: NotFound → 404 (never a hint of the object), Forbidden → 403,
    RateLimited → a Chinese 429 page (an htmx fragment for htmx requests; issue #6 §3.10)."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        try:
            return view(request, *args, **kwargs)
        except NotFound as exc:
            raise Http404(exc.message) from exc
        except Forbidden as exc:
            raise PermissionDenied(exc.message) from exc
        except RateLimited as exc:
            return rate_limited_response(request, exc)

    return wrapper


def rate_limited_response(request: HttpRequest, exc: RateLimited) -> HttpResponse:
    """429 with the limit's Chinese message and a ``Retry-After`` header; htmx gets the fragment only."""
    template = "core/_rate_limited.html" if is_htmx(request) else "core/rate_limited.html"
    response = render(request, template, {"message": exc.message}, status=exc.status)
    response["Retry-After"] = str(exc.retry_after)
    return response


def paginate(request: HttpRequest, object_list: Any, per_page: int = PAGE_SIZE) -> Page:
    return Paginator(object_list, per_page).get_page(request.GET.get("page"))


def url_or_none(name: str, *args: Any) -> str | None:
    """Reverse a url name that another app may not have wired yet."""
    try:
        return reverse(name, args=args or None)
    except NoReverseMatch:
        return None


def has_student_roles(user: Any) -> bool:
    """The user holds a student-data role (whether or not the registrar is filed and trained yet)."""
    return bool(roles(user) & STUDENT_DATA_ROLES)


def require_student_roles(user: Any) -> None:
    """Pages about students exist only for student-data roles; the admin roles (三权分立) get a 404."""
    if not has_student_roles(user):
        raise NotFound()


def can_resolve_problems(user: Any) -> bool:
    """第9条: problem records are resolved by the department level (registrar or approver)."""
    return any(g.role in {Role.DEPT_REGISTRAR, Role.APPROVER} for g in data_grants(user))


def days_left(due: date, today: date) -> int:
    return (due - today).days


@login_required
@ui_errors
def dashboard(request: HttpRequest) -> HttpResponse:
    """工作台: the viewer's level and unit, headline numbers and worklists within their jurisdiction."""
    from xueji.audit.queries import recent_for_actor
    from xueji.regions.queries import org_roots

    user = request.user
    level = highest_level(user)
    context: dict[str, Any] = {
        "roots": org_roots(user),
        "level_label": OrgLevel(level).label if level else "",
        "recent_events": list(recent_for_actor(viewer=user, limit=8)),
    }
    if is_admin_only(user) or not has_student_roles(user):
        context["is_audit_admin"] = Role.AUDIT_ADMIN in roles(user)
        return render(request, "core/admin_dashboard.html", context)

    from xueji.students.queries import StudentFilters, archives_due, problems_open, student_list

    today = timezone.localdate()
    due = archives_due(viewer=user, within_days=14, today=today)
    overdue_count = archives_due(viewer=user, within_days=-1, today=today).count()
    due_count = due.count()
    worklist = [(e, days_left(e.archive_due, today), -days_left(e.archive_due, today)) for e in due[:20]]
    problems = problems_open(viewer=user)
    context.update(
        filed=bool(data_grants(user)),
        stats={
            "active": student_list(viewer=user, filters=StudentFilters()).count(),
            "overdue": overdue_count,
            "due_soon": due_count - overdue_count,
            "problems": problems.count(),
        },
        archive_worklist=worklist,
        archive_more=max(due_count - len(worklist), 0),
        problem_worklist=list(problems[:10]),
        can_resolve=can_resolve_problems(user),
        can_register=any(g.role == Role.SCHOOL_REGISTRAR for g in _grants(user)),
        import_url=url_or_none("imports:new"),
        **_change_summary(user, today),
    )
    return render(request, "core/dashboard.html", context)


def _change_summary(user: Any, today: date) -> dict[str, Any]:
    """The change worklist in brief: steps waiting for the viewer's units (overdue in red), overdue steps
    escalated from the units below (第15条 clocks; 第5、26条), and unread in-system notifications."""
    if not data_grants(user):
        return {}
    from xueji.changes.queries import notifications_for, worklist
    from xueji.changes.views import Row, from_to, school_names, student_of

    items = worklist(viewer=user, today=today)
    mine = [i for i in items if not i.escalated]
    names = school_names([i.step.request for i in mine[:5]])
    top = []
    for item in mine[:5]:
        req = item.step.request
        name, number = student_of(req)
        source, target = from_to(req, names)
        top.append(Row(req, item.step, name, number, source, target, item.days_left, item.overdue))
    unread = notifications_for(viewer=user)
    return {
        "change_stats": {
            "waiting": len(mine),
            "overdue": sum(1 for i in mine if i.overdue),
            "escalated": sum(1 for i in items if i.escalated),
            "notifications": unread.count(),
        },
        "change_top": top,
        "change_notes": list(unread[:5]),
    }
