"""The dashboard (工作台): the viewer's level and unit, headline numbers and worklists in their jurisdiction.

Its own app at the top of the house: it reads from students, changes, audit and regions; nothing imports it.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from xueji.accounts.auth import actor_of
from xueji.accounts.enums import Role
from xueji.accounts.jurisdiction import (
    all_grants,
    can_resolve_problems,
    data_grants,
    has_student_roles,
    highest_level,
    is_admin_only,
    roles,
)
from xueji.accounts.types import Actor
from xueji.audit.queries import recent_for_actor, with_subjects
from xueji.changes.presenters import school_names, work_row
from xueji.changes.queries import notifications_for, worklist
from xueji.core.web import ui_errors, url_or_none
from xueji.regions.enums import OrgLevel
from xueji.regions.queries import org_roots
from xueji.schools.grades import grade_label
from xueji.students.counters import active_count
from xueji.students.queries import archives_due, problems_open


def days_left(due: date, today: date) -> int:
    return (due - today).days


@login_required
@ui_errors
def dashboard(request: HttpRequest) -> HttpResponse:
    """工作台: the viewer's level and unit, headline numbers and worklists within their jurisdiction."""
    user = actor_of(request)
    level = highest_level(user)
    context: dict[str, Any] = {
        "roots": org_roots(user),
        "level_label": OrgLevel(level).label if level else "",
        # each event names its student (masked) where the viewer may still see them
        "recent_events": with_subjects(user, recent_for_actor(viewer=user, limit=8)),
    }
    if is_admin_only(user) or not has_student_roles(user):
        context["is_audit_admin"] = Role.AUDIT_ADMIN in roles(user)
        return render(request, "dashboard/admin_dashboard.html", context)

    today = timezone.localdate()
    due = archives_due(viewer=user, within_days=14, today=today)
    overdue_count = archives_due(viewer=user, within_days=-1, today=today).count()
    due_count = due.count()
    worklist = [
        (e, days_left(e.archive_due, today), -days_left(e.archive_due, today), grade_label(e.grade))
        for e in due[:20]
    ]
    problems = problems_open(viewer=user)
    context.update(
        filed=bool(data_grants(user)),
        stats={
            # 在籍 (active enrollments, 休学 included) = the student list's default (unfiltered) count; the
            # maintained per-school counts (issue 7). 在读 is the status 01 of the list's status filter.
            "active": active_count(viewer=user),
            "overdue": overdue_count,
            "due_soon": due_count - overdue_count,
            "problems": problems.count(),
        },
        archive_worklist=worklist,
        archive_more=max(due_count - len(worklist), 0),
        problem_worklist=list(problems[:10]),
        can_resolve=can_resolve_problems(user),
        can_register=any(g.role == Role.SCHOOL_REGISTRAR for g in all_grants(user)),
        import_url=url_or_none("imports:new"),
        **_change_summary(user, today),
    )
    return render(request, "dashboard/dashboard.html", context)


def _change_summary(user: Actor, today: date) -> dict[str, Any]:
    """The change worklist in brief: steps waiting for the viewer's units (overdue in red), overdue steps
    escalated from the units below (第15条 clocks; 第5、26条), and unread in-system notifications."""
    if not data_grants(user):
        return {}

    items = worklist(viewer=user, today=today)
    mine = [i for i in items if not i.escalated]
    names = school_names([i.step.request for i in mine[:5]])
    top = [work_row(item, names) for item in mine[:5]]
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
