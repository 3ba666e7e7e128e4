"""Staff pages of the electronic certificates (第19条): list, issue, detail, PDF/JSON download, revoke, batches.

Scope: every object goes through the viewer-scoped queries (out of jurisdiction → 404, nothing written); the
services decide who may issue or revoke. Downloads are audited reads (第24条).
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from xueji.accounts.auth import actor_of
from xueji.accounts.jurisdiction import in_scope, require_student_roles
from xueji.core.errors import ApplicationError, Forbidden, NotFound
from xueji.core.ratelimit import ratelimit_hit
from xueji.core.web import paginate, ui_errors
from xueji.schools.models import School

from . import presenters, services, tasks
from .enums import Kind
from .forms import BatchForm, IssueForm, RevokeForm
from .queries import batch_get, batches_recent, certificate_get, certificate_list


def _errors(request: HttpRequest, exc: ApplicationError) -> None:
    messages.error(request, exc.message)


@login_required
@require_GET
@ui_errors
def index_view(request: HttpRequest) -> HttpResponse:
    user = actor_of(request)
    require_student_roles(user)
    kind = request.GET.get("kind", "")
    page = paginate(request, certificate_list(viewer=user, kind=kind if kind in Kind.values else ""))
    context = {
        "page": page,
        "kinds": Kind.choices,
        "kind": kind,
        "issue_form": IssueForm(initial={"person_id": request.GET.get("person", "")}),
        "batch_form": BatchForm(),
        "batches": batches_recent(viewer=user),
    }
    return render(request, "certificates/index.html", context)


@login_required
@require_POST
@ui_errors
def issue_view(request: HttpRequest) -> HttpResponse:
    user = actor_of(request)
    require_student_roles(user)
    form = IssueForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            messages.error(request, " ".join(str(e) for e in errors))
        return redirect("certificates:index")
    try:
        certificate = services.certificate_issue(
            actor=user, person_id=form.cleaned_data["person_id"], kind=form.cleaned_data["kind"]
        )
    except (NotFound, Forbidden):
        raise
    except ApplicationError as exc:
        _errors(request, exc)
        return redirect("certificates:index")
    messages.success(request, _("已签发电子证书"))
    return redirect("certificates:detail", certificate.pk)


@login_required
@require_GET
@ui_errors
def detail_view(request: HttpRequest, certificate_id: Any) -> HttpResponse:
    user = actor_of(request)
    require_student_roles(user)
    certificate = certificate_get(viewer=user, certificate_id=certificate_id)
    context = {
        **presenters.subject_context(certificate),
        "qr_svg": presenters.qr_svg(certificate, scale=3),
        "can_revoke": certificate.revoked_at is None
        and services.is_department_issuer(user, certificate.school),
        "revoke_form": RevokeForm(),
        "verification": services.verify_online(certificate.credential),
    }
    return render(request, "certificates/detail.html", context)


@login_required
@require_GET
@ui_errors
def pdf_view(request: HttpRequest, certificate_id: Any) -> HttpResponse:
    user = actor_of(request)
    require_student_roles(user)
    certificate = certificate_get(viewer=user, certificate_id=certificate_id)
    ratelimit_hit(user, "print")
    response = HttpResponse(presenters.certificate_pdf(certificate), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="xueji-certificate-{certificate.pk}.pdf"'
    response["X-Content-Type-Options"] = "nosniff"
    services.certificate_downloaded(actor=user, certificate=certificate, fmt="pdf")
    return response


@login_required
@require_GET
@ui_errors
def json_view(request: HttpRequest, certificate_id: Any) -> HttpResponse:
    user = actor_of(request)
    require_student_roles(user)
    certificate = certificate_get(viewer=user, certificate_id=certificate_id)
    body = json.dumps(certificate.credential, ensure_ascii=False, indent=2)
    response = HttpResponse(body, content_type="application/vc+json; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="xueji-certificate-{certificate.pk}.json"'
    response["X-Content-Type-Options"] = "nosniff"
    services.certificate_downloaded(actor=user, certificate=certificate, fmt="json")
    return response


@login_required
@require_POST
@ui_errors
def revoke_view(request: HttpRequest, certificate_id: Any) -> HttpResponse:
    user = actor_of(request)
    require_student_roles(user)
    certificate = certificate_get(viewer=user, certificate_id=certificate_id)
    form = RevokeForm(request.POST)
    try:
        services.certificate_revoke(
            actor=user, certificate=certificate, reason=form.data.get("reason", "") if form.is_bound else ""
        )
    except (NotFound, Forbidden):
        raise
    except ApplicationError as exc:
        _errors(request, exc)
    else:
        messages.success(request, _("证书已撤销"))
    return redirect("certificates:detail", certificate.pk)


@login_required
@require_POST
@ui_errors
def batch_create_view(request: HttpRequest) -> HttpResponse:
    user = actor_of(request)
    require_student_roles(user)
    form = BatchForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            messages.error(request, " ".join(str(e) for e in errors))
        return redirect("certificates:index")
    school = (
        School.objects.select_related("org")
        .filter(school_code=form.cleaned_data["school_code"].strip())
        .first()
    )
    if school is None or not in_scope(user, school.org.path):
        raise NotFound()
    try:
        batch = tasks.start_batch(actor=user, school=school, kind=form.cleaned_data["kind"])
    except (NotFound, Forbidden):
        raise
    except ApplicationError as exc:
        _errors(request, exc)
        return redirect("certificates:index")
    return redirect("certificates:batch", batch.pk)


@login_required
@require_GET
@ui_errors
def batch_view(request: HttpRequest, batch_id: Any) -> HttpResponse:
    user = actor_of(request)
    require_student_roles(user)
    batch = batch_get(viewer=user, batch_id=batch_id)
    template = (
        "certificates/_batch_progress.html"
        if request.headers.get("HX-Request")
        else "certificates/batch.html"
    )
    return render(request, template, {"batch": batch})
