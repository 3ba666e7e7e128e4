"""Pages of approved exports (第24条): my requests, a new request (prefilled from the roster or statistics page),
a request's page with its timeline and actions, the approver's worklist, and the audited download."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode
from uuid import UUID

from django.contrib.auth.decorators import login_required
from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from xueji.accounts import factors
from xueji.accounts.auth import actor_of
from xueji.accounts.jurisdiction import require_student_roles
from xueji.core.errors import ApplicationError, Forbidden, NotFound
from xueji.core.ratelimit import RateLimited, ratelimit_hit
from xueji.core.web import paginate, ui_errors
from xueji.regions.models import OrgUnit
from xueji.schools.grades import grade_label

from . import queries, services
from .enums import Source, State
from .forms import DecisionForm, ExportRequestForm
from .models import ExportRequest

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
#: Service field names → form field names.
FORM_FIELDS = {"fields": "fields_", "from": "period_from", "to": "period_to", "unit_id": "unit"}


def _mfa_redirect(request: HttpRequest, back: str) -> HttpResponseBase:
    user = actor_of(request)
    target = "accounts:mfa_verify" if factors.has_factor(user) else "accounts:mfa_setup"
    return redirect(f"{reverse(target)}?{urlencode({'next': back})}")


@login_required
@ui_errors
@require_GET
def export_list(request: HttpRequest) -> HttpResponse:
    user = actor_of(request)
    require_student_roles(user)
    page = paginate(request, queries.my_requests(viewer=user))
    context = {
        "page": page,
        "waiting": queries.worklist(viewer=user).count(),
        "approves": bool(queries.approver_paths(user)),
    }
    return render(request, "exports/list.html", context)


def _initial(request: HttpRequest, source: str) -> dict[str, Any]:
    """The form prefilled from the query string: the roster's unit, school, grade, class and columns, or the
    statistics page's unit, dimension, split, grade and date (``as_of``), or the flows' unit and months."""
    q = request.GET
    initial: dict[str, Any] = {"source": source, "authority_level": ""}
    for key in ("unit", "school", "grade", "class_name"):
        if q.get(key):
            initial[key] = q.get(key)
    if source == Source.ROSTER:
        initial["fields_"] = q.getlist("columns") or q.getlist("fields")
    elif source == Source.STATISTICS:
        initial["fields_"] = [v for v in (q.get("by"), q.get("split")) if v] or q.getlist("fields")
        initial["as_of"] = q.get("as_of", "")
    else:
        initial["fields_"] = q.getlist("fields") or list(services.allowed_fields(source))
        initial["period_from"], initial["period_to"] = q.get("from", ""), q.get("to", "")
    return initial


def _extra_unit(request: HttpRequest, source: str) -> OrgUnit | None:
    value = request.POST.get("unit") or request.GET.get("unit")
    if not value or not str(value).isdigit():
        return None
    unit = OrgUnit.objects.filter(pk=value).first()
    if unit is None:
        raise NotFound()
    services._unit_for(actor_of(request), source, unit.pk)  # outside the jurisdiction: 404 (第23条)
    return unit


@login_required
@ui_errors
def export_new(request: HttpRequest) -> HttpResponseBase:
    """新建导出申请 (第24条): purpose, recipient, legal basis, fields, scope and period."""
    user = actor_of(request)
    require_student_roles(user)
    source = request.POST.get("source") or request.GET.get("source") or Source.ROSTER
    if source not in Source.values:
        raise NotFound()
    extra = _extra_unit(request, source)
    form = ExportRequestForm(
        request.POST or None,
        initial=_initial(request, source) if request.method != "POST" else None,
        user=user,
        source=source,
        extra_unit=extra,
    )
    if request.method == "POST" and form.is_valid():
        try:
            export = services.export_request_create(
                actor=user, submit=request.POST.get("action") != "draft", **form.service_kwargs()
            )
        except ApplicationError as exc:
            if isinstance(exc, (NotFound, Forbidden, RateLimited)):
                raise
            placed = False
            for name, message in exc.fields.items():
                target = FORM_FIELDS.get(name, name)
                if target in form.fields:
                    form.add_error(target, message)
                    placed = True
            if not placed:
                form.add_error(None, exc.message)
        else:
            return redirect("exports:detail", export_id=export.pk)
    context = {"form": form, "source": source, "source_label": Source(source).label}
    return render(request, "exports/new.html", context, status=400 if form.errors else 200)


def _timeline(export: ExportRequest) -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = [
        {"at": export.created_at, "text": _("创建申请"), "who": export.requested_by}
    ]
    if export.submitted_at:
        steps.append({"at": export.submitted_at, "text": _("提交审批"), "who": export.requested_by})
    if export.decided_at:
        text = _("不批准") if export.state == State.REJECTED else _("批准")
        steps.append({"at": export.decided_at, "text": text, "who": export.approver})
    if export.built_at:
        steps.append(
            {
                "at": export.built_at,
                "text": _("文件已生成（%(n)s 行）") % {"n": export.row_count},
                "who": None,
            }
        )
    if export.state == State.FAILED:
        steps.append({"at": None, "text": export.message, "who": None})
    if export.state == State.EXPIRED:
        steps.append({"at": export.expires_at, "text": _("已过期，文件已删除"), "who": None})
    return steps


def _scope_lines(export: ExportRequest) -> list[tuple[str, str]]:
    """What the approver approves besides the fields: the grade of a statistics table, the months of flows —
    those asked for and, de-identified, the whole years the file covers (第24条: the approval names the scope)."""
    filters = export.filters or {}
    lines: list[tuple[str, str]] = []
    if filters.get("school"):
        lines.append((_("学校标识码"), str(filters["school"])))
    if filters.get("grade"):
        lines.append((_("年级"), grade_label(int(filters["grade"]))))
    if filters.get("as_of"):
        lines.append((_("统计日期"), str(filters["as_of"])))
    if filters.get("class_name"):
        lines.append((_("班级"), str(filters["class_name"])))
    if export.source == Source.FLOWS:
        if filters.get("exact_from"):
            lines.append(
                (
                    _("申请的统计期间"),
                    _("%(start)s 至 %(end)s（精确数字经批准时按此期间）")
                    % {"start": filters["exact_from"], "end": filters.get("exact_to", "")},
                )
            )
        lines.append(
            (
                _("去标识化统计期间"),
                _("%(start)s 至 %(end)s（按整年）")
                % {"start": filters.get("from", ""), "end": filters.get("to", "")},
            )
        )
    return lines


def _detail_context(request: HttpRequest, export: ExportRequest, form: DecisionForm | None = None) -> dict:
    user = actor_of(request)
    mine = export.requested_by_id == user.pk
    labels = services.allowed_fields(export.source)
    return {
        "export": export,
        "mine": mine,
        "can_decide": export.state == State.SUBMITTED and queries.can_approve(user, export),
        "can_download": mine and export.state == State.READY,
        "fields": [labels.get(f, f) for f in export.fields],
        "timeline": _timeline(export),
        "signature_ok": services.approval_verify(export) if export.signature_ed25519 else None,
        # identified (statistics: exact numbers) only by explicit opt-in
        "form": form or DecisionForm(initial={"identified": False}, source=export.source),
        "scope": _scope_lines(export),
        "verified": factors.is_verified(request),
    }


@login_required
@ui_errors
@require_GET
def export_detail(request: HttpRequest, export_id: UUID) -> HttpResponse:
    export = queries.export_get(viewer=actor_of(request), export_id=export_id)
    return render(request, "exports/detail.html", _detail_context(request, export))


@login_required
@ui_errors
@require_POST
def export_submit(request: HttpRequest, export_id: UUID) -> HttpResponseBase:
    user = actor_of(request)
    export = queries.own_export(viewer=user, export_id=export_id)
    try:
        services.export_submit(actor=user, export=export)
    except ApplicationError as exc:
        return _refused(request, export, exc)
    return redirect("exports:detail", export_id=export.pk)


def _refused(request: HttpRequest, export: Any, exc: ApplicationError) -> HttpResponse:
    """The request's page again with the refusal's message; a NotFound stays a 404 (nothing about the request)."""
    if isinstance(exc, NotFound):
        raise exc
    context = _detail_context(request, export)
    context["error"] = exc.message
    return render(request, "exports/detail.html", context, status=exc.status)


def _decide(request: HttpRequest, export_id: UUID, approve: bool) -> HttpResponseBase:
    user = actor_of(request)
    export = queries.export_get(viewer=user, export_id=export_id)
    back = reverse("exports:detail", args=[export.pk])
    if factors.enforced() and not factors.is_verified(request):
        return _mfa_redirect(request, back)
    form = DecisionForm(request.POST, source=export.source)
    form.is_valid()
    note = form.cleaned_data.get("note", "")
    try:
        if approve:
            services.export_approve(
                actor=user,
                export_id=export.pk,
                second_factor=factors.is_verified(request),
                note=note,
                identified=bool(form.cleaned_data.get("identified")),
            )
        else:
            services.export_reject(
                actor=user, export_id=export.pk, second_factor=factors.is_verified(request), note=note
            )
    except ApplicationError as exc:
        if isinstance(exc, NotFound):
            raise
        export = queries.export_get(viewer=user, export_id=export.pk)
        context = _detail_context(request, export, form)
        context["error"] = exc.message
        return render(request, "exports/detail.html", context, status=exc.status)
    return redirect("exports:detail", export_id=export.pk)


@login_required
@ui_errors
@require_POST
def export_approve(request: HttpRequest, export_id: UUID) -> HttpResponseBase:
    return _decide(request, export_id, approve=True)


@login_required
@ui_errors
@require_POST
def export_reject(request: HttpRequest, export_id: UUID) -> HttpResponseBase:
    return _decide(request, export_id, approve=False)


@login_required
@ui_errors
@require_GET
def approvals(request: HttpRequest) -> HttpResponse:
    """The approver's worklist: requests waiting at their units, and their recent decisions."""
    user = actor_of(request)
    if not queries.approver_paths(user):
        raise NotFound()
    context = {
        "page": paginate(request, queries.worklist(viewer=user)),
        "decided": queries.decided_by(viewer=user),
    }
    return render(request, "exports/approvals.html", context)


@login_required
@ui_errors
@require_GET
def export_download(request: HttpRequest, export_id: UUID) -> HttpResponseBase:
    """The file, decrypted for its requester only (anyone else: 404), within its expiry, after a verified second
    factor; every download audited and rate-limited."""
    user = actor_of(request)
    export = queries.own_export(viewer=user, export_id=export_id)
    if factors.required_for_export(user) and not factors.is_verified(request):
        return _mfa_redirect(request, reverse("exports:detail", args=[export.pk]))
    ratelimit_hit(user, "export")
    try:
        stream = services.export_download(
            actor=user, export=export, second_factor=factors.is_verified(request)
        )
    except ApplicationError as exc:
        return _refused(request, export, exc)
    return FileResponse(
        stream, as_attachment=True, filename=services.export_file_name(export), content_type=XLSX
    )
