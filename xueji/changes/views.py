"""Change-request pages (学籍变动): the worklist, the requests, one request, starting a change, cohorts and the
annual promotion.

- Reads go through :mod:`xueji.changes.queries` (scoped to the viewer); writes through the engine
  (:mod:`xueji.changes.services`), the cohort services and :mod:`xueji.changes.attachments`. A request outside
  the viewer's jurisdiction is a 404 on every page (第5、23条); the admin roles have no change pages.
- The worklist decides in place: an htmx POST of approve / reject / return replaces the row with its new
  state; reject and return need a comment (the engine refuses without one and nothing changes). An approval
  is confirmed first: the card (or, without htmx, a page) shows what will change, before → after, and when.
- County and city departments approve in batch: the worklist's checkboxes, one confirmation listing every
  item, then one result per item (each decided alone, with the single path's checks).
- Requests returned to the viewer's unit (its initiator) sit on its worklist to resubmit or withdraw.
- 学籍号 and identity numbers are masked on every page (security.md §0); rows, sentences and masking are
  :mod:`xueji.changes.presenters`; what a kind's page asks and offers is its spec (:mod:`xueji.changes.kinds`).
- Views build no queryset: every read is a function of :mod:`xueji.changes.queries`.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from xueji.accounts.auth import actor_of
from xueji.accounts.jurisdiction import data_grants, require_student_roles
from xueji.accounts.types import Actor
from xueji.core.errors import ApplicationError, Forbidden, NotFound
from xueji.core.htmx import is_htmx
from xueji.core.pagination import batch_after, offset_param
from xueji.core.ratelimit import ratelimit_hit
from xueji.core.web import paginate, ui_errors
from xueji.regions.enums import OrgLevel
from xueji.students.models import Enrollment
from xueji.students.queries import enrollment_get

from . import kinds
from .attachments import attachment_add, attachment_open, can_attach
from .enums import ChangeKind, Entry
from .forms import (
    AttachmentForm,
    CancelForm,
    GraduationCohortForm,
    KindForm,
    LookupForm,
    ProgressionCohortForm,
    PromotionForm,
    RequestFilterForm,
    ResubmitForm,
)
from .kinds.abroad import overseas_marks
from .kinds.deferral import deferrals_ending
from .kinds.graduation import graduate_cohort
from .kinds.progression import cohort_preview, progress_cohort
from .lookups import national_lookup
from .models import ChangeRequest
from .presenters import (
    batch_preview,
    batch_rows,
    card_row,
    found_summary,
    grade_label,
    graduation_preview,
    list_rows,
    mask_number,
    outcome,
    progression_preview,
    promotion_page,
    request_page,
    returned_row,
    row_after_decision,
    school_names,
    skipped_rows,
    student_of,
    timeline_entries,
    with_students,
    work_row,
)
from .promotion import promotion_check, promotion_preview
from .queries import (
    change_get,
    change_list,
    change_reload,
    change_steps,
    county_units,
    days_left,
    graduating_students,
    my_open_requests,
    notification_inbox,
    notification_mark_read,
    open_request_of,
    persons_with_open_requests,
    promotion_units,
    registrar_schools,
    returned_to,
    school_named,
    step_at,
    timeline_requests,
    unread_notification_ids,
    worklist,
)
from .services import (
    ONE_OPEN,
    batch_items_parse,
    can_start_on_record,
    change_approve_batch,
    change_cancel,
    change_decide,
    change_resubmit,
    change_submit,
    starts_later,
)
from .tasks import promotion_enqueue, promotion_job
from .workflow import Action

DECISIONS = (Action.APPROVE, Action.REJECT, Action.RETURN)
NOTIFICATION_LIMIT = 20


def _require_roles(user: Actor) -> None:
    require_student_roles(user)


def _safe_next(request: HttpRequest, fallback: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return fallback


# --------------------------------------------------------------------------------------------------------
# Who may start what
# --------------------------------------------------------------------------------------------------------


def start_links(user: Actor) -> list[dict[str, str]]:
    """The changes the user may start other than from a student's record (each kind's ``start_label``)."""
    links = []
    if registrar_schools(user):
        links += [
            {"url": reverse("changes:new", args=[s.kind]), "label": _(s.start_label)}
            for s in kinds.specs()
            if s.entry in {Entry.LOOKUP, Entry.RECEIVING}
        ]
        links += [
            {"url": reverse("changes:cohort_progression"), "label": _("整体升学")},
            {"url": reverse("changes:cohort_graduation"), "label": _("年级毕业")},
        ]
    if county_units(user):
        links += [
            {"url": reverse("changes:new", args=[s.kind]), "label": _(s.start_label)}
            for s in kinds.specs(entry=Entry.HOUSEHOLD)
        ]
    if promotion_units(user):
        links.append({"url": reverse("changes:promotion"), "label": _("年度升级")})
    return links


def record_kinds(enrollment: Enrollment) -> list[dict[str, Any]]:
    """The changes that apply to a record's stage and status (each kind's ``offered_on``), for the
    "办理学籍变动" menu. A kind the regulation refuses outright for this record is listed disabled with the
    article (``refusal``, e.g. 退学 第18条)."""
    out: list[dict[str, Any]] = []
    for spec in kinds.specs(entry=Entry.RECORD):
        if not spec.offered_on(enrollment):
            continue
        refusal = spec.refusal(enrollment)
        out.append(
            {
                "kind": spec.kind,
                "label": ChangeKind(spec.kind).label,
                "url": f"{reverse('changes:new', args=[spec.kind])}?student={enrollment.person_id}",
                "why": refusal.message if refusal is not None else "",
            }
        )
    return out


#: The "学籍变动" tab shows the latest requests; earlier ones load on demand (issue 7).
TIMELINE_FIRST = 5


def _timeline_batch(viewer: Actor, person_id: Any, offset: int) -> dict[str, Any]:
    requests, more = batch_after(
        timeline_requests(viewer=viewer, person_id=person_id), offset, TIMELINE_FIRST
    )
    more_url = None
    if more is not None:
        more_url = f"{reverse('changes:timeline', args=[person_id])}?offset={more}"
    return {"change_timeline": timeline_entries(requests), "timeline_more_url": more_url}


def student_changes_context(viewer: Actor, enrollment: Enrollment) -> dict[str, Any]:
    """The "学籍变动" tab of a student's page: the latest visible requests with their steps (the rest on
    demand), the one in progress, and what may be started."""
    can_start = can_start_on_record(viewer, enrollment)
    open_req = open_request_of(viewer=viewer, person_id=enrollment.person_id)
    batch = _timeline_batch(viewer, enrollment.person_id, 0)
    count = len(batch["change_timeline"])
    if batch["timeline_more_url"] is not None:  # more than the page shows: count them (one indexed count)
        count = timeline_requests(viewer=viewer, person_id=enrollment.person_id).count()
    return {
        **batch,
        "change_count": count,
        "change_open": open_req,
        "change_kinds": record_kinds(enrollment) if can_start and open_req is None else [],
        "change_can_start": can_start,
        "today": timezone.localdate(),
        # 第20条 / issue 8 item 5: the overseas periods are marked on the record itself, not only in the history.
        "overseas_marks": overseas_marks(person_id=enrollment.person_id),
    }


@login_required
@ui_errors
def timeline_more_view(request: HttpRequest, person_id: Any) -> HttpResponse:
    """Earlier requests of a student's "学籍变动" tab (htmx), scoped like the record (404 outside it)."""
    user = actor_of(request)
    require_student_roles(user)
    ratelimit_hit(user, "list")
    enrollment = enrollment_get(viewer=user, person_id=person_id)
    offset = offset_param(request.GET.get("offset"))
    context = {**_timeline_batch(user, enrollment.person_id, offset), "today": timezone.localdate()}
    return render(request, "changes/_timeline_items.html", context)


# --------------------------------------------------------------------------------------------------------
# Worklist
# --------------------------------------------------------------------------------------------------------


@login_required
@ui_errors
def worklist_view(request: HttpRequest) -> HttpResponse:
    """待办审核: the steps waiting for the viewer's units (days left, overdue in red) and, read-only, the
    overdue steps of the units below (第15条 clocks; 第5、26条 supervision); the in-system notifications."""
    user = actor_of(request)
    _require_roles(user)
    today = timezone.localdate()
    items = worklist(viewer=user, today=today)
    returned = returned_to(viewer=user)
    names = school_names([i.step.request for i in items] + [r.request for r in returned])
    rows = [work_row(i, names) for i in items]
    mine = [r for r in rows if not r.escalated]
    context = {
        "rows": mine,
        "escalated": [r for r in rows if r.escalated],
        "returned": [returned_row(r, names) for r in returned],
        "overdue_count": sum(1 for r in rows if r.overdue and not r.escalated),
        # 批量通过: county and city (and province) departments, when something can be approved.
        "can_batch": can_batch(user) and any(r.can_approve for r in mine),
        "filed": bool(data_grants(user)),
        "starts": start_links(user),
        **_notifications_context(user),
    }
    if county_units(user):
        context["deferrals"] = deferrals_ending(viewer=user, today=today)
    return render(request, "changes/worklist.html", context)


def can_batch(user: Actor) -> bool:
    """Batch approval is offered to departments (county level and up), whose lists hold many schools' items."""
    return any(g.org_unit.level != OrgLevel.SCHOOL for g in data_grants(user))


def _notifications_context(user: Actor) -> dict[str, Any]:
    notes, count = notification_inbox(viewer=user, limit=NOTIFICATION_LIMIT)
    return {"notifications": with_students(notes), "notifications_count": count}


@login_required
@require_POST
@ui_errors
def notifications_read_view(request: HttpRequest) -> HttpResponse:
    """Mark one notification (``id``) or every unread one (``all=1``) as read."""
    user = actor_of(request)
    _require_roles(user)
    if request.POST.get("all") == "1":
        ids = unread_notification_ids(user)
    else:
        ids = [int(i) for i in request.POST.getlist("id") if str(i).isdigit()]
    notification_mark_read(viewer=user, notification_ids=ids)
    if is_htmx(request):
        return render(request, "changes/_notifications.html", _notifications_context(user))
    return redirect(_safe_next(request, reverse("changes:worklist")))


@login_required
@require_POST
@ui_errors
def decide_view(request: HttpRequest, request_id: Any) -> HttpResponse:
    """Approve / reject / return the current step (the engine checks the step, the actor and the comment).

    An approval without ``confirm=1`` decides nothing: it shows what will change, before → after, and asks
    for confirmation (htmx: on the card; otherwise a page). htmx: the worklist row is replaced by its new
    state (or re-rendered with the refusal, nothing changed). Otherwise: back to ``next`` (or the request's
    page) with a message."""
    user = actor_of(request)
    req = change_get(viewer=user, request_id=request_id)
    action = request.POST.get("action", "")
    comment = request.POST.get("comment", "")
    raw_position = request.POST.get("position", "")
    position = int(raw_position) if raw_position.isdigit() else None
    if action == Action.APPROVE and request.POST.get("confirm") != "1":
        confirmation = _confirm(request, req, position=position, comment=comment)
        if confirmation is not None:
            return confirmation
        # Not the viewer's step to decide (now): the engine answers as it always does (refusal or replay).
    error = ""
    try:
        if action not in DECISIONS:
            raise ApplicationError("illegal_action", _("请选择同意、不同意或退回"))
        req = change_decide(actor=user, request=req, action=action, comment=comment, position=position)
    except (NotFound, Forbidden):
        raise
    except ApplicationError as exc:
        error = exc.message
    if is_htmx(request):
        return _render_row_after(request, req, position=position, action=action, error=error, comment=comment)
    if error:
        messages.error(request, error)
    else:
        messages.success(request, outcome(change_reload(req.pk), action))
    return redirect(_safe_next(request, reverse("changes:detail", args=[req.pk])))


def _card_step(req: ChangeRequest, position: int | None) -> Any:
    step = step_at(req, position if position is not None else req.current_position)
    if step is None:
        raise NotFound()
    return step


def _confirm(
    request: HttpRequest, req: ChangeRequest, *, position: int | None, comment: str
) -> HttpResponse | None:
    """The approval's confirmation: the card with before → after (htmx) or the page; None when the viewer
    cannot decide the step now (the caller lets the engine answer)."""
    user = actor_of(request)
    step = step_at(req, position if position is not None else req.current_position)
    if step is None:
        return None
    row = card_row(user, req, step, days_left=days_left(step, timezone.localdate()), confirm=True)
    if not row.confirm:
        return None
    row.comment = comment
    if is_htmx(request):
        return render(request, "changes/_work_item.html", {"row": row})
    name, number = student_of(req)
    context = {
        "req": req,
        "row": row,
        "name": name,
        "number": number,
        "changes": row.changes,
        "starts_later": starts_later(req, timezone.localdate()),
        "next": _safe_next(request, reverse("changes:detail", args=[req.pk])),
    }
    return render(request, "changes/confirm.html", context)


@login_required
@ui_errors
def work_item_view(request: HttpRequest, request_id: Any) -> HttpResponse:
    """One work card (htmx: closing an approval's confirmation puts the card back as it was)."""
    user = actor_of(request)
    _require_roles(user)
    req = change_get(viewer=user, request_id=request_id)
    raw = request.GET.get("position", "")
    step = _card_step(req, int(raw) if raw.isdigit() else None)
    if not is_htmx(request):
        return redirect(reverse("changes:worklist") + f"#wi-{req.pk}-{step.position}")
    row = card_row(user, req, step, days_left=days_left(step, timezone.localdate()))
    return render(request, "changes/_work_item.html", {"row": row, "can_batch": can_batch(user)})


@login_required
@require_POST
@ui_errors
def batch_view(request: HttpRequest) -> HttpResponse:
    """批量通过: the selected cards (``item`` = ``<request id>:<position>``, or ``all=1`` for every card the
    viewer can approve) → one confirmation listing each with what it changes → one result per item, each
    decided on its own with the single path's checks (``services.change_approve_batch``)."""
    user = actor_of(request)
    _require_roles(user)
    values = request.POST.getlist("item")
    if request.POST.get("all") == "1":
        cards = [work_row(i, {}) for i in worklist(viewer=user) if not i.escalated]
        values = [card.batch_value for card in cards if card.can_approve]
    try:
        items = batch_items_parse(values)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("changes:worklist")
    comment = request.POST.get("comment", "")
    if request.POST.get("confirm") != "1":
        preview = batch_preview(user, items)
        context = {
            "preview": preview,
            "ready": sum(1 for p in preview if p["req"] is not None and not p["why"]),
            "comment": comment,
        }
        return render(request, "changes/batch.html", context)
    results = change_approve_batch(actor=user, items=items, comment=comment)
    context = {
        "results": batch_rows(results),
        "approved": sum(1 for r in results if r.ok),
        "refused": sum(1 for r in results if not r.ok),
    }
    return render(request, "changes/batch.html", context)


def _render_row_after(
    request: HttpRequest, req: ChangeRequest, *, position: int | None, action: str, error: str, comment: str
) -> HttpResponse:
    req = change_reload(req.pk)
    steps = {s.position: s for s in change_steps(req)}
    step = (steps.get(position) if position is not None else None) or steps[req.current_position]
    row = row_after_decision(
        req,
        step,
        days_left=days_left(step, timezone.localdate()),
        action=action,
        error=error,
        comment=comment,
    )
    return render(request, "changes/_work_item.html", {"row": row})


# --------------------------------------------------------------------------------------------------------
# Requests
# --------------------------------------------------------------------------------------------------------


@login_required
@ui_errors
def request_list_view(request: HttpRequest) -> HttpResponse:
    """学籍变动: every request touching the viewer's region (either side), filtered by kind and state; and
    the open requests the viewer's units started (resubmit after a return, or cancel)."""
    user = actor_of(request)
    _require_roles(user)
    form = RequestFilterForm(request.GET or None)
    kind = state = ""
    if form.is_bound and form.is_valid():
        kind, state = form.cleaned_data["kind"], form.cleaned_data["state"]
    page = paginate(request, change_list(viewer=user, kind=kind, state=state))
    mine = my_open_requests(viewer=user)
    context = {
        "form": form,
        "page": page,
        "rows": list_rows(list(page.object_list)),
        "mine": list_rows(mine),
        "starts": start_links(user),
        "filtered": bool(kind or state),
        "cancel_form": CancelForm(),
    }
    return render(request, "changes/list.html", context)


def _detail_context(request: HttpRequest, req: ChangeRequest) -> dict[str, Any]:
    user = actor_of(request)
    student_url = ""
    if req.person_id:
        try:
            enrollment_get(viewer=user, person_id=req.person_id)
        except NotFound:
            pass
        else:
            student_url = reverse("students:detail", args=[req.person_id])
    return {
        **request_page(user, req),
        "student_url": student_url,
        "can_attach": can_attach(user, req),
        "attachment_form": AttachmentForm(),
        "cancel_form": CancelForm(),
        "resubmit_form": ResubmitForm(),
        "today": timezone.localdate(),
        "max_mb": settings.ARCHIVE_MAX_BYTES // (1024 * 1024),
    }


@login_required
@ui_errors
def detail_view(request: HttpRequest, request_id: Any) -> HttpResponse:
    user = actor_of(request)
    _require_roles(user)
    req = change_get(viewer=user, request_id=request_id)
    return render(request, "changes/detail.html", _detail_context(request, req))


@login_required
@require_POST
@ui_errors
def resubmit_view(request: HttpRequest, request_id: Any) -> HttpResponse:
    user = actor_of(request)
    req = change_get(viewer=user, request_id=request_id)
    try:
        change_resubmit(actor=user, request=req, comment=request.POST.get("comment", ""))
    except (NotFound, Forbidden):
        raise
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("已重新提交"))
    return redirect(_safe_next(request, reverse("changes:detail", args=[req.pk])))


@login_required
@require_POST
@ui_errors
def cancel_view(request: HttpRequest, request_id: Any) -> HttpResponse:
    user = actor_of(request)
    req = change_get(viewer=user, request_id=request_id)
    try:
        change_cancel(actor=user, request=req, reason=request.POST.get("reason", ""))
    except (NotFound, Forbidden):
        raise
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("申请已撤销，学籍未作变动"))
    return redirect(_safe_next(request, reverse("changes:detail", args=[req.pk])))


@login_required
@require_POST
@ui_errors
def attachment_upload_view(request: HttpRequest, request_id: Any) -> HttpResponse:
    user = actor_of(request)
    req = change_get(viewer=user, request_id=request_id)
    form = AttachmentForm(request.POST, request.FILES)
    upload = request.FILES.get("att-file")
    data = upload.read(settings.ARCHIVE_MAX_BYTES + 1) if upload else b""
    try:
        attachment_add(actor=user, request=req, title=request.POST.get("att-title", ""), data=data)
    except (NotFound, Forbidden):
        raise
    except ApplicationError as exc:
        form.apply_errors(exc.fields, exc.message, exc.code)
        context = _detail_context(request, req)
        context["attachment_form"] = form
        return render(request, "changes/detail.html", context, status=400)
    messages.success(request, _("已添加附件"))
    return redirect(reverse("changes:detail", args=[req.pk]) + "#attachments")


@login_required
@ui_errors
def attachment_file_view(request: HttpRequest, request_id: Any, attachment_id: Any) -> FileResponse:
    user = actor_of(request)
    attachment = attachment_open(actor=user, request_id=request_id, attachment_id=attachment_id)
    ext = {"application/pdf": "pdf", "image/jpeg": "jpg", "image/png": "png"}.get(
        attachment.content_type, "bin"
    )
    response = FileResponse(
        attachment.file.open("rb"),
        as_attachment=True,
        filename=f"change-{attachment.pk}.{ext}",
        content_type=attachment.content_type,
    )
    response["X-Content-Type-Options"] = "nosniff"
    return response


# --------------------------------------------------------------------------------------------------------
# Starting a change
# --------------------------------------------------------------------------------------------------------


def _pick(options: list[Any], chosen: str) -> Any:
    return next((o for o in options if str(o.pk) == chosen), options[0])


@login_required
@ui_errors
def new_view(request: HttpRequest, kind: str) -> HttpResponse:
    """Start one change. Record-based kinds: the record's school registrar, from the student's page
    (``?student=<person id>``). Transfer / progression: the receiving school names the student by 学籍号 +
    姓名 and sees only the school and grade before submitting. Return from abroad: the receiving school.
    Deferral: the county of household registration (第11条)."""
    user = actor_of(request)
    _require_roles(user)
    if kind not in ChangeKind.values:
        raise Http404()
    spec = kinds.get(kind)
    data = request.POST if request.method == "POST" else None
    ctx: dict[str, Any] = {
        "kind": kind,
        "kind_label": ChangeKind(kind).label,
        "form_class": spec.form,
        # One key per rendered form: a double click or a replayed POST returns the request made first.
        "idempotency_key": (request.POST.get("idempotency_key") or uuid.uuid4().hex)[:80],
    }
    if spec.entry == Entry.RECORD:
        return _new_on_record(request, spec, data, ctx)
    if spec.entry in {Entry.LOOKUP, Entry.RECEIVING}:
        return _new_at_target(request, spec, data, ctx)
    return _new_deferral(request, spec, data, ctx)


def _submit(
    request: HttpRequest, form: KindForm, ctx: dict[str, Any], *, lookup_field: str = "", **kwargs: Any
) -> HttpResponse | None:
    """Call the engine; on success redirect to the new request, on refusal attach the errors to ``form``."""
    user = actor_of(request)
    try:
        req = change_submit(
            actor=user,
            kind=form.kind,
            facts=form.facts(),
            reason=form.request_reason(),
            idempotency_key=request.POST.get("idempotency_key", "")[:80],
            **kwargs,
        )
    except NotFound as exc:
        if not lookup_field:
            raise
        form.apply_errors({lookup_field: exc.message}, exc.message, exc.code)
    except Forbidden:
        raise
    except ApplicationError as exc:
        form.apply_errors(exc.fields, exc.message, exc.code)
    else:
        messages.success(request, _("已提交%(kind)s申请") % {"kind": req.get_kind_display()})
        return redirect("changes:detail", req.pk)
    return None


def _new_on_record(
    request: HttpRequest, spec: kinds.KindSpec, data: Any, ctx: dict[str, Any]
) -> HttpResponse:
    user, kind = actor_of(request), spec.kind
    person_id = (request.POST.get("student") if data is not None else None) or request.GET.get("student", "")
    enrollment = enrollment_get(viewer=user, person_id=person_id or None)
    if not can_start_on_record(user, enrollment):
        raise Forbidden(
            "not_initiator", _("%(kind)s须由学生所在学校的学籍管理员发起") % {"kind": ChangeKind(kind).label}
        )
    options = spec.form_options(enrollment=enrollment)
    form = spec.form(data, enrollment=enrollment, school=enrollment.school, **options)
    refusal = ""
    in_flight = open_request_of(user, enrollment.person_id)
    refused = spec.refusal(enrollment)  # e.g. 第18条: said up front; the engine refuses it anyway
    if refused is not None:
        refusal = refused.message
        ctx["refusal_code"] = refused.code
    elif in_flight is not None:
        refusal = ONE_OPEN.message  # one request in flight per student (the engine refuses it anyway)
        ctx.update(in_flight=in_flight, refusal_code=ONE_OPEN.code)
    if data is not None:
        response = _submit(request, form, ctx, enrollment=enrollment)
        if response is not None:
            return response
    person = enrollment.person
    ctx.update(
        form=form,
        enrollment=enrollment,
        person=person,
        number=mask_number(person.student_number),
        grade=grade_label(enrollment.grade),
        refusal=refusal,
        hidden={"student": str(person.pk)},
        current_key_data=spec.current_values(person),
    )
    return render(request, "changes/new.html", ctx, status=400 if form.errors else 200)


def _new_at_target(
    request: HttpRequest, spec: kinds.KindSpec, data: Any, ctx: dict[str, Any]
) -> HttpResponse:
    user = actor_of(request)
    kind = spec.kind
    schools = registrar_schools(user)
    if not schools:
        raise NotFound()
    school = _pick(schools, (data or request.GET).get("target", ""))
    ctx.update(schools=schools, school=school, hidden={"target": str(school.pk)} if len(schools) == 1 else {})
    if spec.entry == Entry.RECEIVING:  # the form names the student (学籍号 + 姓名 among its facts)
        form = spec.form(data, school=school)
        if data is not None:
            facts = form.facts()
            try:
                # A national lookup: rate-limited and audited (issue #6 §3 leaks 2, 10). Without both
                # values there is nothing to look up: the engine names the missing field.
                if facts.get("student_number") and facts.get("name"):
                    national_lookup(
                        viewer=user,
                        kind=kind,
                        student_number=facts["student_number"],
                        name=facts["name"],
                    )
            except NotFound as exc:
                form.apply_errors({"student_number": exc.message}, exc.message, exc.code)
            else:
                response = _submit(request, form, ctx, lookup_field="student_number", target_school=school)
                if response is not None:
                    return response
        ctx["form"] = form
        return render(request, "changes/new.html", ctx, status=400 if form.errors else 200)
    # Transfer / progression: step 1 names the student; step 2 (found) shows only the school and grade.
    lookup = LookupForm(data)
    ctx["lookup"] = lookup
    if data is None:
        return render(request, "changes/new.html", ctx)
    number, name = lookup.values()
    try:
        if not number or not name:
            raise NotFound(_("请填写学籍号和姓名"))
        # A national lookup: rate-limited and audited (issue #6 §3 leaks 2, 10).
        found = national_lookup(viewer=user, kind=kind, student_number=number, name=name)
    except NotFound as exc:
        lookup.apply_errors({"student_number": exc.message}, exc.message, exc.code)
        return render(request, "changes/new.html", ctx, status=400)
    form = spec.form(
        data if request.POST.get("step") == "submit" else None,
        school=school,
        initial={"student_number": number, "name": name},
        **spec.form_options(enrollment=found),
    )
    ctx.update(
        form=form,
        found=found_summary(found),
        hidden={"target": str(school.pk), "student_number": number, "name": name, "step": "submit"},
    )
    if request.POST.get("step") == "submit":
        response = _submit(request, form, ctx, enrollment=found, target_school=school)
        if response is not None:
            return response
        return render(request, "changes/new.html", ctx, status=400)
    return render(request, "changes/new.html", ctx)


def _new_deferral(request: HttpRequest, spec: kinds.KindSpec, data: Any, ctx: dict[str, Any]) -> HttpResponse:
    user = actor_of(request)
    counties = county_units(user)
    if not counties:
        raise NotFound()
    county = _pick(counties, (data or {}).get("county", "") if data is not None else "")
    form = spec.form(data, counties=counties)
    if data is not None:
        response = _submit(request, form, ctx, household_county=county)
        if response is not None:
            return response
    ctx.update(form=form, county=county, hidden={})
    return render(request, "changes/new.html", ctx, status=400 if form.errors else 200)


# --------------------------------------------------------------------------------------------------------
# Cohorts and the annual promotion
# --------------------------------------------------------------------------------------------------------


@login_required
@ui_errors
def cohort_graduation_view(request: HttpRequest) -> HttpResponse:
    """毕业 of a whole graduating grade (第19条): preview the students, then one request each in one go;
    students with business in flight or an open 问题学籍 are skipped and listed."""
    user = actor_of(request)
    _require_roles(user)
    schools = registrar_schools(user)
    if not schools:
        raise NotFound()
    data = request.POST if request.method == "POST" else (request.GET if "grade" in request.GET else None)
    form = GraduationCohortForm(data, schools=schools)
    ctx: dict[str, Any] = {"form": form, "schools": schools}
    if data is None:
        return render(request, "changes/cohort_graduation.html", ctx)
    school = _pick(schools, str(data.get("school", "")))
    kind = str(data.get("kind") or ChangeKind.GRADUATION)
    grade_raw = str(data.get("grade", ""))
    ctx.update(school=school, kind_label=ChangeKind(kind).label if kind in ChangeKind.values else "")
    if not grade_raw.isdigit() or int(grade_raw) not in (6, 9, 12):
        form.apply_errors({"grade": _("请选择毕业年级")})
        return render(request, "changes/cohort_graduation.html", ctx, status=400)
    grade = int(grade_raw)
    if request.method == "POST" and request.POST.get("confirm") == "1":
        try:
            result = graduate_cohort(actor=user, school=school, grade=grade, kind=kind)
        except (NotFound, Forbidden):
            raise
        except ApplicationError as exc:
            form.apply_errors(exc.fields, exc.message, exc.code)
            return render(request, "changes/cohort_graduation.html", ctx, status=400)
        ctx.update(result=result, skipped=skipped_rows(result), grade=grade)
        return render(request, "changes/cohort_graduation.html", ctx)
    enrollments = graduating_students(viewer=user, school_id=school.pk, grade=grade)
    busy = persons_with_open_requests(user, [e.person_id for e in enrollments])
    ctx.update(
        grade=grade,
        preview=graduation_preview(enrollments, busy),
        busy_count=len(busy),
        hidden={"school": str(school.pk), "kind": kind, "grade": str(grade), "confirm": "1"},
    )
    return render(request, "changes/cohort_graduation.html", ctx)


@login_required
@ui_errors
def cohort_progression_view(request: HttpRequest) -> HttpResponse:
    """升学 of a whole graduating grade into the viewer's school (第14条): the admitting school names the
    graduating school by its 学校标识码, previews the cohort, then starts one request each. A graduating school
    outside the admitting school's department is a 404 for the preview and the submission alike."""
    user = actor_of(request)
    _require_roles(user)
    schools = registrar_schools(user)
    if not schools:
        raise NotFound()
    data = request.POST if request.method == "POST" else None
    form = ProgressionCohortForm(data, schools=schools)
    ctx: dict[str, Any] = {"form": form, "schools": schools}
    if data is None:
        return render(request, "changes/cohort_progression.html", ctx)
    school = _pick(schools, str(data.get("school", "")))
    code = str(data.get("from_school_code", "")).strip()
    grade_raw = str(data.get("grade", ""))
    class_name = str(data.get("class_name", "")).strip()
    errors = {}
    # A school code is public (学校标识码), but a cohort lists a school's pupils: only a school under the
    # admitting school's department may be named (the services answer 404 for any other, 第14条).
    from_school = school_named(school_code=code)
    if from_school is None:
        errors["from_school_code"] = _("未找到该学校标识码对应的学校")
    if grade_raw not in ("6", "9"):
        errors["grade"] = _("请选择毕业年级")
    if not class_name:
        errors["class_name"] = _("请填写编入班级")
    if errors:
        form.apply_errors(errors)
        return render(request, "changes/cohort_progression.html", ctx, status=400)
    assert from_school is not None
    grade = int(grade_raw)
    ctx.update(school=school, from_school=from_school, grade=grade, class_name=class_name)
    if request.POST.get("confirm") == "1":
        try:
            result = progress_cohort(
                actor=user,
                from_school=from_school,
                to_school=school,
                grade=grade,
                class_name=class_name,
                admission_ref=str(data.get("admission_ref", "")),
            )
        except (NotFound, Forbidden):
            raise
        except ApplicationError as exc:
            form.apply_errors(exc.fields, exc.message, exc.code)
            return render(request, "changes/cohort_progression.html", ctx, status=400)
        ctx.update(result=result, skipped=skipped_rows(result, masked=True))
        return render(request, "changes/cohort_progression.html", ctx)
    # 404 unless the graduating school is under the admitting school's department (issue #6 §3.1).
    candidates = cohort_preview(
        actor=user, from_school=from_school, to_school=school, grade=grade, today=timezone.localdate()
    )
    ctx.update(
        preview=progression_preview(candidates),
        hidden={
            "school": str(school.pk),
            "from_school_code": code,
            "grade": str(grade),
            "class_name": class_name,
            "admission_ref": str(data.get("admission_ref", "")),
            "confirm": "1",
        },
    )
    return render(request, "changes/cohort_progression.html", ctx)


def current_school_year(today: date) -> int:
    return today.year if today.month >= 7 else today.year - 1


@login_required
@ui_errors
def promotion_view(request: HttpRequest) -> HttpResponse:
    """年度升级 (第7条): a county-or-above department registrar previews the promotion of a region (counts per
    school and grade, the exceptions), then runs it in one audited operation — on the task queue
    (``changes.tasks.run_promotion``): the page polls ``?job=<id>`` and shows the report when it is done."""
    user = actor_of(request)
    _require_roles(user)
    units = promotion_units(user)
    if not units:
        raise NotFound()
    today = timezone.localdate()
    job = None
    if request.method == "GET" and "job" in request.GET:
        job = promotion_job(viewer=user, task_id=request.GET["job"])
        if job is None:
            raise NotFound()
    data: Any = (
        request.POST if request.method == "POST" else (request.GET if "school_year" in request.GET else None)
    )
    if job is not None:
        data = {"org_unit": str(job.org_unit_id), "school_year": str(job.school_year)}
    form = PromotionForm(data, units=units, school_year=current_school_year(today))
    ctx: dict[str, Any] = {"form": form}
    if data is None:
        return render(request, "changes/promotion.html", ctx)
    unit = _pick(units, str(data.get("org_unit", "")))
    year_raw = str(data.get("school_year", "")).strip()
    ctx["unit"] = unit
    try:
        year = int(year_raw)
        if request.method == "POST" and request.POST.get("confirm") == "1":
            promotion_check(actor=user, org_unit=unit, school_year=year, today=today)
            task_id = promotion_enqueue(actor=user, org_unit=unit, school_year=year, today=today)
            return redirect(f"{reverse('changes:promotion')}?job={task_id}")
        if job is not None and job.running:
            ctx.update(job=job, year=year)
            template = "changes/_promotion_job.html" if is_htmx(request) else "changes/promotion.html"
            return render(request, template, ctx)
        if job is not None and is_htmx(request):  # the poll that sees the run finish reloads the page
            response = HttpResponse(status=200)
            response["HX-Redirect"] = request.get_full_path()
            return response
        if job is not None and job.error_code:
            raise ApplicationError(job.error_code, job.error_message)
        if job is not None and job.report is not None:
            report = job.report
            ctx["ran"] = True
        else:
            report = promotion_preview(actor=user, org_unit=unit, school_year=year, today=today)
    except ValueError:
        form.apply_errors({"school_year": _("学年须为四位年份，例如 2026")})
        return render(request, "changes/promotion.html", ctx, status=400)
    except (NotFound, Forbidden):
        raise
    except ApplicationError as exc:
        form.apply_errors(exc.fields, exc.message, exc.code)
        return render(request, "changes/promotion.html", ctx, status=400)
    ctx.update(
        report=report,
        year=year,
        **promotion_page(report),
        hidden={"org_unit": str(unit.pk), "school_year": str(year), "confirm": "1"},
    )
    return render(request, "changes/promotion.html", ctx)
