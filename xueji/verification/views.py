"""Pages of the semester verification 学籍核查 (第25条): the rounds, opening one (province/ministry), the progress
per unit with drill-down (city, province, ministry), a county's review queue, and a school's return — its roster
with search, the exceptions it marks, and submitting.

Every page reads through the viewer-scoped queries: a round, unit, school or pupil outside the jurisdiction is a
404 and nothing is written.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from xueji.accounts.auth import actor_of
from xueji.accounts.jurisdiction import require_student_roles
from xueji.core.errors import ApplicationError, Conflict, FieldError, NotFound
from xueji.core.htmx import is_htmx
from xueji.core.web import paginate, ui_errors
from xueji.regions.enums import OrgLevel

from .enums import ReturnState
from .forms import FindingForm, OpenRoundForm, ReviewForm
from .models import SchoolReturn
from .queries import (
    absent_to_report,
    can_close,
    can_review,
    finding_counts,
    finding_get,
    findings_by_enrollment,
    findings_of,
    is_department_viewer,
    is_school_registrar,
    my_returns,
    my_returns_in,
    opening_units,
    progress,
    progress_unit,
    return_get,
    returns_under,
    review_queue,
    review_waiting,
    reviewed_rounds,
    roster,
    roster_count,
    roster_enrollment,
    round_get,
    rounds_visible,
    trail,
    unexplained_count,
)
from .services import (
    finding_remove,
    finding_save,
    return_accept,
    return_send_back,
    return_submit,
    round_close,
    round_open,
)
from .workflow import EDITABLE

CHECKS_URL = "/checks/"


def _refused(form: forms.Form, exc: ApplicationError) -> None:
    if not exc.fields:
        form.add_error(None, exc.message)
    for field, message in exc.fields.items():
        form.add_error(field if field in form.fields else None, message)


@login_required
@ui_errors
def index_view(request: HttpRequest) -> HttpResponse:
    user = actor_of(request)
    require_student_roles(user)
    today = timezone.localdate()
    rounds = list(rounds_visible(user).order_by("-opened_on", "-id")[:50])
    mine = list(my_returns(viewer=user)[:50])
    reviewing = reviewed_rounds(viewer=user, rounds=rounds)
    return render(
        request,
        "verification/index.html",
        {
            "rounds": [(r, r.is_past_deadline(today), r.pk in reviewing) for r in rounds],
            "mine": [(ret, ret.is_overdue(today)) for ret in mine],
            "department": is_department_viewer(user),
            "can_open": bool(opening_units(user)),
        },
    )


@login_required
@ui_errors
def open_view(request: HttpRequest) -> HttpResponse:
    user = actor_of(request)
    require_student_roles(user)
    units = opening_units(user)
    if not units:
        raise NotFound()
    today = timezone.localdate()
    semester = "1" if today.month >= 8 or today.month == 1 else "2"
    year = today.year if today.month >= 8 else today.year - 1
    form = OpenRoundForm(
        request.POST or None,
        units=[(u.pk, u.name) for u in units],
        initial={"school_year": year, "semester": semester},
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        unit = next(u for u in units if u.pk == data["unit"])
        try:
            rnd = round_open(
                actor=user,
                unit=unit,
                title=data["title"],
                school_year=data["school_year"],
                semester=data["semester"],
                deadline=data["deadline"],
            )
        except (FieldError, Conflict) as exc:
            _refused(form, exc)
        else:
            messages.success(request, _("已发起学籍核查，已通知范围内各学校"))
            return redirect("verification:round", rnd.pk)
    return render(request, "verification/open.html", {"form": form}, status=400 if form.errors else 200)


@login_required
@ui_errors
def round_view(request: HttpRequest, round_id: int) -> HttpResponse:
    user = actor_of(request)
    require_student_roles(user)
    rnd = round_get(viewer=user, round_id=round_id)
    today = timezone.localdate()
    if not is_department_viewer(user):
        # A school registrar's returns in the round: their school and the teaching points it manages (第22条).
        mine = my_returns_in(viewer=user, rnd=rnd)
        if len(mine) == 1:
            return redirect("verification:return", rnd.pk, mine[0].school_id)
        return render(
            request,
            "verification/index.html",
            {"rounds": [], "mine": [(r, r.is_overdue(today)) for r in mine], "department": False},
        )
    unit = progress_unit(viewer=user, rnd=rnd, unit_id=request.GET.get("unit"))
    if unit.level == OrgLevel.SCHOOL:
        return redirect("verification:return", rnd.pk, unit.pk)
    table = progress(rnd=rnd, unit=unit, today=today)
    schools = None
    if unit.level == OrgLevel.COUNTY:  # a county's children are its schools: list them with their state
        schools = [(r, r.is_overdue(today)) for r in returns_under(rnd=rnd, unit=unit)]
    return render(
        request,
        "verification/round.html",
        {
            "round": rnd,
            "table": table,
            "trail": trail(viewer=user, unit=unit, rnd=rnd),
            "late": rnd.is_past_deadline(today),
            "can_close": can_close(user, rnd),
            "reviewing": bool(reviewed_rounds(viewer=user, rounds=[rnd])),
            "schools": schools,
        },
    )


@login_required
@require_POST
@ui_errors
def close_view(request: HttpRequest, round_id: int) -> HttpResponse:
    user = actor_of(request)
    rnd = round_get(viewer=user, round_id=round_id)
    try:
        round_close(actor=user, rnd=rnd)
    except Conflict as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("学籍核查已结束"))
    return redirect("verification:round", rnd.pk)


@login_required
@ui_errors
def review_view(request: HttpRequest, round_id: int) -> HttpResponse:
    user = actor_of(request)
    require_student_roles(user)
    rnd = round_get(viewer=user, round_id=round_id)
    if not reviewed_rounds(viewer=user, rounds=[rnd]):
        raise NotFound()
    state = request.GET.get("state", "")
    today = timezone.localdate()
    page = paginate(request, review_queue(viewer=user, rnd=rnd, state=state))
    return render(
        request,
        "verification/review.html",
        {
            "round": rnd,
            "page": page,
            "rows": [(r, r.is_overdue(today)) for r in page.object_list],
            "state": state,
            "states": ReturnState.choices,
            "waiting": review_waiting(viewer=user, rnd=rnd),
        },
    )


def _roster_context(request: HttpRequest, ret: SchoolReturn, editable: bool) -> dict[str, Any]:
    q = request.GET.get("q", "")[:60]
    class_name = request.GET.get("class_name", "")[:30]
    only = request.GET.get("only") == "1"
    page = paginate(request, roster(ret=ret, q=q, class_name=class_name, only_findings=only))
    found = findings_by_enrollment(ret, [e.pk for e in page.object_list])
    back = request.get_full_path()  # the roster partial is fetched at the page's own path with its query
    return {
        "ret": ret,
        "page": page,
        "rows": [(e, found.get(e.pk)) for e in page.object_list],
        "q": q,
        "class_name": class_name,
        "only": only,
        "editable": editable,
        "hx_target": "#roster",
        "back": back,
    }


@login_required
@ui_errors
def return_view(request: HttpRequest, round_id: int, school_id: int) -> HttpResponse:
    user = actor_of(request)
    require_student_roles(user)
    rnd = round_get(viewer=user, round_id=round_id)
    ret = return_get(viewer=user, rnd=rnd, school_id=school_id)
    return _return_page(request, ret)


def _return_page(
    request: HttpRequest, ret: SchoolReturn, *, review_form: ReviewForm | None = None, status: int = 200
) -> HttpResponse:
    user = actor_of(request)
    today = timezone.localdate()
    registrar = is_school_registrar(user, ret)
    editable = registrar and ret.round.is_open and ret.state in EDITABLE
    context = _roster_context(request, ret, editable)
    if is_htmx(request) and request.headers.get("HX-Target") == "roster":
        return render(request, "verification/_roster.html", context)
    counts = finding_counts(ret)
    context.update(
        {
            "round": ret.round,
            "registrar": registrar,
            "counts": counts,
            "on_roster": roster_count(ret),
            "findings": findings_of(ret)[:200],
            "to_report": list(absent_to_report(ret)[:50]) if registrar or can_review(user, ret) else [],
            "unexplained": unexplained_count(ret) if editable else 0,
            "checks_url": CHECKS_URL,
            "overdue": ret.is_overdue(today),
            "can_review": ret.round.is_open and ret.state == ReturnState.SUBMITTED and can_review(user, ret),
            "review_form": review_form or ReviewForm(),
        }
    )
    return render(request, "verification/return.html", context, status=status)


def _back(request: HttpRequest, ret: SchoolReturn) -> str:
    """Back to the return page the form came from (same search and page), never to another site."""
    default = reverse("verification:return", args=[ret.round_id, ret.school_id])
    nxt = request.POST.get("next") or request.GET.get("next") or ""
    return nxt if nxt.startswith(default) else default


@login_required
@ui_errors
def mark_view(request: HttpRequest, round_id: int, school_id: int, enrollment_id: Any) -> HttpResponse:
    user = actor_of(request)
    require_student_roles(user)
    rnd = round_get(viewer=user, round_id=round_id)
    ret = return_get(viewer=user, rnd=rnd, school_id=school_id)
    enrollment = roster_enrollment(ret=ret, enrollment_id=enrollment_id)
    existing = finding_get(ret=ret, enrollment_id=enrollment.pk)
    initial = (
        {
            "kind": existing.kind,
            "whereabouts": existing.whereabouts,
            "correction_fields": existing.correction_fields,
            "detail": existing.detail,
        }
        if existing
        else {}
    )
    form = FindingForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            finding_save(
                actor=user,
                ret=ret,
                enrollment_id=enrollment.pk,
                kind=data["kind"],
                whereabouts=data["whereabouts"],
                correction_fields=data["correction_fields"],
                detail=data["detail"],
            )
        except FieldError as exc:
            _refused(form, exc)
        except Conflict as exc:
            messages.error(request, exc.message)
            return redirect(_back(request, ret))
        else:
            messages.success(request, _("已标记：%(name)s") % {"name": enrollment.person.name})
            return redirect(_back(request, ret))
    return render(
        request,
        "verification/mark.html",
        {
            "ret": ret,
            "round": rnd,
            "enrollment": enrollment,
            "form": form,
            "existing": existing,
            "next": _back(request, ret),
        },
        status=400 if form.errors else 200,
    )


@login_required
@require_POST
@ui_errors
def unmark_view(request: HttpRequest, round_id: int, school_id: int, enrollment_id: Any) -> HttpResponse:
    user = actor_of(request)
    rnd = round_get(viewer=user, round_id=round_id)
    ret = return_get(viewer=user, rnd=rnd, school_id=school_id)
    try:
        finding_remove(actor=user, ret=ret, enrollment_id=enrollment_id)
    except Conflict as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("已撤销异常标记，该生计为在校"))
    return redirect(_back(request, ret))


@login_required
@require_POST
@ui_errors
def submit_view(request: HttpRequest, round_id: int, school_id: int) -> HttpResponse:
    user = actor_of(request)
    rnd = round_get(viewer=user, round_id=round_id)
    ret = return_get(viewer=user, rnd=rnd, school_id=school_id)
    try:
        ret = return_submit(actor=user, ret=ret)
    except Conflict as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            _("已提交核查结果：在籍 %(n)s 人，其余学生均确认在校") % {"n": ret.roster_count},
        )
    return redirect("verification:return", rnd.pk, ret.school_id)


@login_required
@require_POST
@ui_errors
def decide_view(request: HttpRequest, round_id: int, school_id: int) -> HttpResponse:
    user = actor_of(request)
    rnd = round_get(viewer=user, round_id=round_id)
    ret = return_get(viewer=user, rnd=rnd, school_id=school_id)
    form = ReviewForm(request.POST)
    decision = request.POST.get("decision")
    if form.is_valid() and decision in {"accept", "return"}:
        note = form.cleaned_data["note"]
        try:
            if decision == "accept":
                return_accept(actor=user, ret=ret, note=note)
                messages.success(request, _("已审核通过：%(school)s") % {"school": ret.school.name})
            else:
                return_send_back(actor=user, ret=ret, note=note)
                messages.success(request, _("已退回学校：%(school)s") % {"school": ret.school.name})
        except FieldError as exc:
            _refused(form, exc)
            return _return_page(request, ret, review_form=form, status=400)
        except Conflict as exc:
            messages.error(request, exc.message)
        return redirect(
            f"{reverse('verification:review', args=[rnd.pk])}?{urlencode({'state': 'submitted'})}"
        )
    if decision not in {"accept", "return"}:
        form.add_error(None, _("请选择通过或退回"))
    return _return_page(request, ret, review_form=form, status=400)
