"""The school's side of the guardian end (``/guardian-requests/``): the worklist of guardian requests (第13、15、
16条: the school reviews and turns a request into the normal change or declines it with a reason) and the
binding codes of its pupils (第5条: the school helps guardians reach the record).

School registrars only; a request or pupil outside the registrar's school is a 404 and nothing is written.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from xueji.accounts.auth import actor_of
from xueji.accounts.enums import Role
from xueji.accounts.jurisdiction import roles
from xueji.core.errors import ApplicationError, NotFound
from xueji.core.masking import mask_phone, mask_student_number
from xueji.core.web import ui_errors

from . import conf, crypto, presenters, queries, services
from .enums import RequestKind, RequestState
from .forms import AcceptForm, DeclineForm, FindPupilForm, IssueForm, refused


def _registrar(request: HttpRequest) -> Any:
    user = actor_of(request)
    if Role.SCHOOL_REGISTRAR not in roles(user):
        raise NotFound()
    return user


@login_required
@ui_errors
@require_GET
def worklist_view(request: HttpRequest) -> HttpResponse:
    user = _registrar(request)
    context = {
        "open": list(queries.school_worklist(user)[:200]),
        "closed": list(queries.school_worklist(user, open_only=False)[:50]),
        "find": FindPupilForm(),
    }
    return render(request, "guardians/worklist.html", context)


def _request_context(user: Any, req: Any, **extra: Any) -> dict[str, Any]:
    own_pupil = req.kind != RequestKind.TRANSFER
    return {
        "req": req,
        "rows": presenters.payload_rows(req.kind, req.payload),
        "current": (
            presenters.current_value(req.person, req.payload.get("field", ""))
            if req.kind == RequestKind.CORRECTION
            else ""
        ),
        # The receiving school of a transfer sees no more of the pupil than a transfer look-up shows (第15条).
        "pupil_name": req.person.name,
        "pupil_number": mask_student_number(req.person.student_number),
        "from_school": req.enrollment.school.name,
        "own_pupil": own_pupil,
        "is_open": req.state == RequestState.SUBMITTED,
        "needs_evidence": req.kind == RequestKind.CORRECTION and req.payload.get("key"),
        "accept": extra.pop("accept", None) or AcceptForm(),
        "decline": extra.pop("decline", None) or DeclineForm(),
        "events": list(req.events.all()),
        **extra,
    }


@login_required
@ui_errors
@require_GET
def request_view(request: HttpRequest, request_id: Any) -> HttpResponse:
    user = _registrar(request)
    req = services.school_request_get(viewer=user, request_id=request_id)
    return render(request, "guardians/request.html", _request_context(user, req))


@login_required
@ui_errors
@require_POST
def accept_view(request: HttpRequest, request_id: Any) -> HttpResponse:
    user = _registrar(request)
    req = services.school_request_get(viewer=user, request_id=request_id)
    form = AcceptForm(request.POST)
    if form.is_valid():
        try:
            done = services.request_accept(actor=user, request_id=req.pk, facts=form.cleaned_data)
        except NotFound:
            raise
        except ApplicationError as exc:
            refused(form, exc)
        else:
            if done.change_request_id:
                messages.success(request, _("已受理，并已按规定发起学籍变动申请"))
                return redirect("changes:detail", done.change_request_id)
            messages.success(request, _("已审核通过，学籍信息已更正"))
            return redirect("guardians:request", req.pk)
    return render(request, "guardians/request.html", _request_context(user, req, accept=form), status=400)


@login_required
@ui_errors
@require_POST
def decline_view(request: HttpRequest, request_id: Any) -> HttpResponse:
    user = _registrar(request)
    req = services.school_request_get(viewer=user, request_id=request_id)
    form = DeclineForm(request.POST)
    if form.is_valid():
        try:
            services.request_decline(actor=user, request_id=req.pk, reason=form.cleaned_data["reason"])
        except NotFound:
            raise
        except ApplicationError as exc:
            refused(form, exc)
        else:
            messages.success(request, _("已不予受理，家长将收到通知"))
            return redirect("guardians:worklist")
    return render(request, "guardians/request.html", _request_context(user, req, decline=form), status=400)


@login_required
@ui_errors
@require_POST
def find_pupil_view(request: HttpRequest) -> HttpResponse:
    """Find a pupil of the registrar's school by 学籍号. POST, so that the number stays out of URLs, the
    browser history and access logs."""
    user = _registrar(request)
    form = FindPupilForm(request.POST)
    if form.is_valid():
        enrollment = queries.pupil_by_number(user, form.cleaned_data["student_number"])
        return redirect("guardians:binding", enrollment.person_id)
    return redirect("guardians:worklist")


def _binding_context(enrollment: Any) -> dict[str, Any]:
    slots = queries.slots_of(enrollment)
    return {
        "enrollment": enrollment,
        "pupil_number": mask_student_number(enrollment.person.student_number),
        "slots": [
            {
                "number": s.number,
                "link": s.link,
                "code": s.code,
                "phone": mask_phone(s.link.account.phone) if s.link else "",
            }
            for s in slots
        ],
        "cap": conf.guardians_per_child(),
        "days": conf.binding_code_days(),
    }


@login_required
@ui_errors
@require_GET
def binding_view(request: HttpRequest, person_id: Any) -> HttpResponse:
    user = _registrar(request)
    enrollment = queries.pupil_get(user, person_id)
    return render(request, "guardians/binding.html", _binding_context(enrollment))


@login_required
@ui_errors
@require_POST
def issue_view(request: HttpRequest, person_id: Any) -> HttpResponse:
    """Issue a binding code and answer with the printable slip (the only time the code is shown)."""
    user = _registrar(request)
    enrollment = queries.pupil_get(user, person_id)
    form = IssueForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("家长序号无效"))
        return redirect("guardians:binding", enrollment.person_id)
    try:
        issued = services.binding_code_issue(
            actor=user, enrollment=enrollment, slot=form.cleaned_data["slot"]
        )
    except NotFound:
        raise
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("guardians:binding", enrollment.person_id)
    bind_url = request.build_absolute_uri("/m/bind/")
    context = {
        "enrollment": enrollment,
        "masked_name": presenters.masked_name(enrollment.person.name),
        "binding": issued.binding,
        "code": crypto.format_binding_code(issued.code),
        "qr": presenters.qr_svg(f"{bind_url}#c={issued.code}"),
        "bind_url": bind_url,
    }
    return render(request, "guardians/slip.html", context)


@login_required
@ui_errors
@require_POST
def code_revoke_view(request: HttpRequest, binding_id: Any) -> HttpResponse:
    user = _registrar(request)
    try:
        binding = services.binding_code_revoke(actor=user, binding_id=binding_id)
    except NotFound:
        raise
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("guardians:worklist")
    messages.success(request, _("绑定码已作废"))
    return redirect("guardians:binding", binding.person_id)


@login_required
@ui_errors
@require_POST
def link_revoke_view(request: HttpRequest, link_id: Any) -> HttpResponse:
    user = _registrar(request)
    try:
        link = services.link_revoke(actor=user, link_id=link_id)
    except NotFound:
        raise
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("guardians:worklist")
    messages.success(request, _("已解除该家长的绑定"))
    return redirect("guardians:binding", link.person_id)
