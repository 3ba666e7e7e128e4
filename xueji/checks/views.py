"""Pages of the problem-record worklists (第9、25条): the queue (school, county; escalated records for the city
and province), one record with its history and the actions the viewer may take.

Every page reads through the viewer-scoped queries: a record outside the jurisdiction is a 404 and nothing is
written. The former ``/students/problems/`` page redirects here (one queue).
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from xueji.accounts.auth import actor_of
from xueji.accounts.jurisdiction import require_student_roles
from xueji.core.errors import ApplicationError, Forbidden, NotFound
from xueji.core.web import paginate, ui_errors
from xueji.students.enums import Stage
from xueji.students.models import Enrollment, ProblemEvent, ProblemRecord
from xueji.students.queries import problem_events
from xueji.students.records import problem_act, problem_allowed

from .queries import QueueFilters, problem_queue, queue_counts, queue_problem, viewer_level

Action = ProblemEvent.Action
#: The actions offered on a record page, in order (each shown only when it would be accepted).
ACTIONS = (Action.EXPLAIN, Action.CORRECT, Action.RESOLVE, Action.RETURN, Action.ESCALATE, Action.REOPEN)
ACTION_HINTS = {
    Action.EXPLAIN: gettext_lazy("说明情况（核查时可据此提交）"),
    Action.CORRECT: gettext_lazy("已通过相应业务更正，提交县级确认"),
    Action.RESOLVE: gettext_lazy("处理意见"),
    Action.RETURN: gettext_lazy("退回下级处理"),
    Action.ESCALATE: gettext_lazy("提交上级教育行政部门"),
    Action.REOPEN: gettext_lazy("重新打开"),
}


def _filters(request: HttpRequest) -> QueueFilters:
    kind = request.GET.get("kind", "")
    owner = request.GET.get("owner", "")
    return QueueFilters(
        kind=kind if kind in ProblemRecord.Kind.values else "",
        owner=owner if owner in ProblemRecord.Owner.values else "",
        overdue=request.GET.get("overdue") == "on",
        closed=request.GET.get("closed") == "on",
        everything=request.GET.get("all") == "on",
    )


def correction_link(problem: ProblemRecord) -> tuple[str, str]:
    """Where the school corrects what the reason says (the proper change or edit page), with its label."""
    person = problem.person_id
    kind = problem.kind
    if kind in {ProblemRecord.Kind.ID_INVALID, ProblemRecord.Kind.AGE_GRADE, ProblemRecord.Kind.ID_DUPLICATE}:
        # 第13条: identity number, birth date are key data: changed through an approved request.
        return f"{reverse('changes:new', args=['key_data_change'])}?student={person}", _("申请关键数据变更")
    if kind == ProblemRecord.Kind.SUSPENSION_OVERDUE:
        return f"{reverse('changes:new', args=['resumption'])}?student={person}", _("办理复学或重新申请休学")
    if kind == ProblemRecord.Kind.NO_CLASS:
        return reverse("students:class_move"), _("分班/调班")
    if kind in {ProblemRecord.Kind.VERIFY_ABSENT, ProblemRecord.Kind.VERIFY_PHANTOM}:
        compulsory = Enrollment.objects.filter(
            person_id=person, is_active=True, stage__in=(Stage.PRIMARY, Stage.JUNIOR)
        ).exists()
        if kind == ProblemRecord.Kind.VERIFY_ABSENT and compulsory:
            # 第17条: a compulsory-education pupil on the register but not attending is followed in the ledger.
            return reverse("dropouts:open", args=[person]), _("登记控辍保学台账")
        if kind == ProblemRecord.Kind.VERIFY_PHANTOM and not compulsory:
            # 第18条: a senior-high record without a real pupil may end by withdrawal.
            return f"{reverse('changes:new', args=['withdrawal'])}?student={person}", _(
                "办理学籍变动（注销空挂学籍）"
            )
        # 第18条 义务教育阶段不予退学, and no change ends a compulsory record without a real pupil (空挂学籍,
        # 第25条), nor is a senior-high pupil followed in the dropout ledger: the school explains on this record,
        # the county verifies and resolves it.
        return reverse("students:detail", args=[person]), _("查看学籍（说明情况后由县级核实处理）")
    if kind == ProblemRecord.Kind.VERIFY_CORRECTION:
        # Ordinary data on the edit page; key data (姓名、证件、性别、出生日期) only by a key-data change (第13条).
        return reverse("students:edit", args=[person]), _("更正学籍信息")
    if kind == ProblemRecord.Kind.ARCHIVE_OVERDUE:
        return f"{reverse('students:detail', args=[person])}#archive", _("完善学籍档案")
    return reverse("students:detail", args=[person]), _("查看学籍")


@login_required
@ui_errors
def queue_view(request: HttpRequest) -> HttpResponse:
    user = actor_of(request)
    require_student_roles(user)
    today = timezone.localdate()
    filters = _filters(request)
    page = paginate(request, problem_queue(viewer=user, filters=filters, today=today))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "checks/queue.html",
        {
            "page": page,
            "rows": [(p, p.is_overdue(today)) for p in page.object_list],
            "counts": queue_counts(viewer=user, today=today),
            "filters": filters,
            "level": viewer_level(user),
            "kinds": ProblemRecord.Kind.choices,
            "owners": ProblemRecord.Owner.choices,
            "query": query.urlencode(),
            "today": today,
        },
    )


@login_required
@ui_errors
def problem_view(request: HttpRequest, problem_id: Any) -> HttpResponse:
    user = actor_of(request)
    require_student_roles(user)
    problem = queue_problem(viewer=user, problem_id=problem_id)
    today = timezone.localdate()
    link, link_label = correction_link(problem)
    return render(
        request,
        "checks/problem.html",
        {
            "p": problem,
            "overdue": problem.is_overdue(today),
            "events": problem_events(problem),
            "actions": [(a, a.label, ACTION_HINTS[a]) for a in ACTIONS if problem_allowed(user, problem, a)],
            "outcomes": [
                (
                    ProblemRecord.State.CONFIRMED_DISTINCT,
                    outcome_label(problem, ProblemRecord.State.CONFIRMED_DISTINCT),
                ),
                (ProblemRecord.State.MERGED, outcome_label(problem, ProblemRecord.State.MERGED)),
            ],
            "correction_link": link,
            "correction_label": link_label,
        },
    )


def outcome_label(problem: ProblemRecord, state: str) -> str:
    """How a closing outcome reads for this reason: a duplicate pair is "two different pupils"; any other
    reason "checked, the record is right" (the rule then stays quiet for the pupil)."""
    if (
        state == ProblemRecord.State.CONFIRMED_DISTINCT
        and problem.kind != ProblemRecord.Kind.SUSPECTED_DUPLICATE
    ):
        return _("核实无误（情况属实，无需更正）")
    return str(ProblemRecord.State(state).label)


@login_required
@require_POST
@ui_errors
def act_view(request: HttpRequest, problem_id: Any, action: str) -> HttpResponse:
    user = actor_of(request)
    problem = queue_problem(viewer=user, problem_id=problem_id)
    if action not in ACTIONS:
        raise NotFound()
    try:
        problem_act(
            actor=user,
            problem=problem,
            action=action,
            note=request.POST.get("note", ""),
            outcome=request.POST.get("outcome", ""),
        )
    except (NotFound, Forbidden):
        raise
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("已办理：%(action)s") % {"action": Action(action).label})
    return redirect("checks:problem", problem_id=problem.pk)
