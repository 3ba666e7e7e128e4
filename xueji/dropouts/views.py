"""Pages of the dropout ledger 控辍保学台账 (第17条): the ledger, a case with its follow-ups, opening and closing.

Every page reads through the viewer-scoped queries: a case or pupil outside the jurisdiction is a 404 and nothing
is written.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from xueji.accounts.auth import actor_of
from xueji.accounts.jurisdiction import require_student_roles
from xueji.core.errors import ApplicationError, Forbidden, NotFound
from xueji.core.pagination import CappedPaginator
from xueji.core.ratelimit import ratelimit_hit
from xueji.core.web import paginate, ui_errors
from xueji.regions.enums import OrgLevel
from xueji.students.queries import enrollment_get

from .enums import Source, State
from .forms import CloseCaseForm, FollowUpForm, LeadForm, LeadImportForm, LedgerFilterForm, OpenCaseForm
from .models import DropoutCase
from .queries import (
    can_approve_other,
    can_handle,
    case_escalations,
    case_follow_ups,
    case_get,
    case_list,
    enters_leads,
    handles_school,
    ledger_by_unit,
    ledger_counts,
    ledger_parent,
    ledger_unit,
    month_starts,
    returns_by_month,
)
from .services import (
    case_close,
    case_open,
    follow_up_add,
    lead_open,
    leads_import,
    leads_template,
    ledger_export,
)

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
#: Units per page of the roll-up (its own pager, ``unit_page``, beside the cases' ``page``).
UNITS_PER_PAGE = 20


def _refused(form: forms.Form, exc: ApplicationError) -> None:
    """Attach a refused write's field messages to the form (the whole message when no field is named)."""
    if not exc.fields:
        form.add_error(None, exc.message)
    for field, message in exc.fields.items():
        form.add_error(field if field in form.fields else None, message)


def _filters(form: LedgerFilterForm) -> tuple[str, bool, str]:
    if not form.is_valid():
        return "", False, ""
    data = form.cleaned_data
    return data["state"] or "", bool(data["overdue"]), data["escalation"] or ""


def _unit(request: HttpRequest, user: Any) -> Any:
    """The unit of the ``unit`` parameter (404 outside the jurisdiction), or the viewer's own."""
    return ledger_unit(viewer=user, org_id=request.GET.get("unit") or None)


@login_required
@ui_errors
def ledger_view(request: HttpRequest) -> HttpResponse:
    user = actor_of(request)
    require_student_roles(user)
    today = timezone.localdate()
    filters = LedgerFilterForm(request.GET or None)
    state, overdue, escalation = _filters(filters)
    unit = _unit(request, user)
    chosen = unit if request.GET.get("unit") else None  # the viewer's own unit is no filter
    cases = case_list(
        viewer=user, state=state, overdue=overdue, escalation=escalation, today=today, unit=chosen
    )
    page = paginate(request, cases)
    rollup = (
        ledger_by_unit(viewer=user, unit=unit, today=today)
        if unit is not None and unit.level != OrgLevel.SCHOOL
        else []
    )
    units_page = CappedPaginator(rollup, UNITS_PER_PAGE).get_page(request.GET.get("unit_page"))
    keep = request.GET.copy()
    keep.pop("unit_page", None)
    return render(
        request,
        "dropouts/ledger.html",
        {
            "page": page,
            "rows": [(c, c.days_open(today), c.is_overdue(today)) for c in page.object_list],
            "counts": ledger_counts(viewer=user, today=today, unit=chosen),
            "unit": unit,
            "chosen": chosen,
            "parent": ledger_parent(viewer=user, unit=unit) if chosen is not None else None,
            "units_page": units_page,
            "months": month_starts(today, ROLLUP_MONTHS),
            "returns": returns_by_month(viewer=user, today=today, unit=chosen),
            "enters_leads": enters_leads(user),
            "filters": filters if filters.is_bound else LedgerFilterForm(),
            "query": request.GET.urlencode(),
            "unit_query": keep.urlencode(),
        },
    )


#: Months of returns shown per unit on the page (the export has the ledger's 12).
ROLLUP_MONTHS = 3


@login_required
@ui_errors
def export_view(request: HttpRequest) -> HttpResponse:
    user = actor_of(request)
    require_student_roles(user)
    today = timezone.localdate()
    unit = _unit(request, user)  # out of scope: 404 before the rate limit counts or anything is written
    ratelimit_hit(user, "export")  # issue 10 §5: exports are rate-limited
    chosen = unit if request.GET.get("unit") else None
    state, overdue, escalation = _filters(LedgerFilterForm(request.GET or None))
    content = ledger_export(
        actor=user,
        cases=case_list(
            viewer=user, state=state, overdue=overdue, escalation=escalation, today=today, unit=chosen
        ).iterator(),
        today=today,
        units=ledger_by_unit(viewer=user, unit=unit, today=today)
        if unit is not None and unit.level != OrgLevel.SCHOOL
        else [],
        returns=returns_by_month(viewer=user, today=today, unit=chosen),
    )
    response = HttpResponse(content, content_type=XLSX)
    name = _("控辍保学台账%(day)s.xlsx") % {"day": f"{today:%Y%m%d}"}
    response["Content-Disposition"] = f"attachment; filename*=UTF-8''{_quote(name)}"
    return response


def _quote(name: str) -> str:
    from urllib.parse import quote  # noqa: PLC0415

    return quote(name)


@login_required
@ui_errors
def open_view(request: HttpRequest, person_id: Any) -> HttpResponse:
    user = actor_of(request)
    require_student_roles(user)
    enrollment = enrollment_get(viewer=user, person_id=person_id)  # out of scope → 404, nothing created
    default_source = Source.SCHOOL if handles_school(user, enrollment.school) else Source.LEAD
    form = OpenCaseForm(request.POST or None, initial={"source": default_source})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            case = case_open(
                actor=user,
                enrollment=enrollment,
                source=data["source"],
                days_absent=data["days_absent"],
                last_seen=data["last_seen"],
                reason=data["reason"],
                lead_from=data["lead_from"],
            )
        except NotFound:
            raise
        except ApplicationError as exc:
            _refused(form, exc)
        else:
            messages.success(request, _("已建立控辍保学案件"))
            return redirect("dropouts:case", case.pk)
    return render(
        request,
        "dropouts/open.html",
        {"form": form, "enrollment": enrollment, "person": enrollment.person},
        status=400 if form.errors else 200,
    )


def _case_page(
    request: HttpRequest,
    case: DropoutCase,
    *,
    follow_form: FollowUpForm | None = None,
    close_form: CloseCaseForm | None = None,
    status: int = 200,
) -> HttpResponse:
    user = actor_of(request)
    today = timezone.localdate()
    handler = case.state == State.OPEN and can_handle(user, case)
    return render(
        request,
        "dropouts/case.html",
        {
            "case": case,
            "follow_ups": case_follow_ups(case),
            "escalations": case_escalations(case),
            "days_open": case.days_open(today),
            "overdue": case.is_overdue(today),
            "can_handle": handler,
            "can_close_other": handler and can_approve_other(user, case.scope_path),
            "follow_form": follow_form or FollowUpForm(initial={"date": today}),
            "close_form": close_form or CloseCaseForm(),
        },
        status=status,
    )


@login_required
@ui_errors
def case_view(request: HttpRequest, case_id: Any) -> HttpResponse:
    user = actor_of(request)
    require_student_roles(user)
    return _case_page(request, case_get(viewer=user, case_id=case_id))


@login_required
@require_POST
@ui_errors
def follow_up_view(request: HttpRequest, case_id: Any) -> HttpResponse:
    user = actor_of(request)
    case = case_get(viewer=user, case_id=case_id)
    form = FollowUpForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            follow_up_add(
                actor=user,
                case=case,
                on=data["date"],
                kind=data["kind"],
                people=data["people"],
                result=data["result"],
                next_in_working_days=data["next_in_working_days"],
            )
        except Forbidden:
            raise
        except ApplicationError as exc:
            _refused(form, exc)
        else:
            messages.success(request, _("已记录跟踪情况"))
            return redirect("dropouts:case", case.pk)
    return _case_page(request, case, follow_form=form, status=400)


@login_required
@require_POST
@ui_errors
def close_view(request: HttpRequest, case_id: Any) -> HttpResponse:
    user = actor_of(request)
    case = case_get(viewer=user, case_id=case_id)
    form = CloseCaseForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            case_close(
                actor=user,
                case=case,
                outcome=data["outcome"],
                returned_class=data["returned_class"],
                returned_on=data["returned_on"],
                note=data["note"],
            )
        except ApplicationError as exc:
            if isinstance(exc, Forbidden) and exc.code != "county_approval_required":
                raise
            _refused(form, exc)
        else:
            messages.success(request, _("案件已结案"))
            return redirect("dropouts:case", case.pk)
    return _case_page(request, case, close_form=form, status=400)


def _require_lead_entry(user: Any) -> None:
    """Only department registrars enter leads; for anyone else the lead pages do not exist (404)."""
    require_student_roles(user)
    if not enters_leads(user):
        raise NotFound()


@login_required
@ui_errors
def lead_view(request: HttpRequest) -> HttpResponse:
    """A lead from another department (第17条), entered by a county registrar: the pupil named by 学籍号 or
    identity number and name; a pupil outside the county is "not found" on the form and nothing is created."""
    user = actor_of(request)
    _require_lead_entry(user)
    form = LeadForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            case = lead_open(actor=user, **data)
        except NotFound as exc:
            form.add_error("number", exc.message)
        except ApplicationError as exc:
            _refused(form, exc)
        else:
            messages.success(request, _("已登记线索并建立控辍保学案件"))
            return redirect("dropouts:case", case.pk)
    return render(request, "dropouts/lead.html", {"form": form}, status=400 if form.errors else 200)


@login_required
@ui_errors
def leads_import_view(request: HttpRequest) -> HttpResponse:
    """Leads imported from an .xlsx file (第17条): all or nothing, each bad row named with its column."""
    user = actor_of(request)
    _require_lead_entry(user)
    form = LeadImportForm(request.POST or None, request.FILES or None)
    row_errors: list[str] = []
    if request.method == "POST" and form.is_valid():
        try:
            result = leads_import(actor=user, content=form.cleaned_data["file"].read())
        except ApplicationError as exc:
            form.add_error("file", exc.message)
        else:
            if not result.errors:
                messages.success(request, _("已导入 %(n)s 条线索") % {"n": result.opened})
                return redirect("dropouts:ledger")
            row_errors = [str(e) for e in result.errors]
    status = 400 if form.errors or row_errors else 200
    return render(
        request, "dropouts/leads_import.html", {"form": form, "row_errors": row_errors}, status=status
    )


@login_required
@ui_errors
def leads_template_view(request: HttpRequest) -> HttpResponse:
    _require_lead_entry(actor_of(request))
    response = HttpResponse(leads_template(), content_type=XLSX)
    response["Content-Disposition"] = f"attachment; filename*=UTF-8''{_quote(_('相关部门线索模板.xlsx'))}"
    return response
