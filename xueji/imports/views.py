"""Web pages for bulk registration (第6条): upload, dry-run results (preview, problems workbook), commit,
the students created, the template, and roster export (issue 8 items 8, 9).

Only a registrar of the school uploads and commits (``require_registrar_for_school`` inside the services);
department registrars see the batches of their subtree. Anything outside the viewer's jurisdiction is 404.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from uuid import UUID

from django.contrib.auth.decorators import login_required
from django.contrib.humanize.templatetags.humanize import intcomma
from django.core.paginator import Page
from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from xueji.accounts.auth import actor_of
from xueji.accounts.jurisdiction import require_student_roles
from xueji.core.errors import ApplicationError, Forbidden, NotFound
from xueji.core.htmx import is_htmx
from xueji.core.ratelimit import ratelimit_hit
from xueji.core.web import paginate, ui_errors
from xueji.schools.grades import grade_label
from xueji.students.queries import listed_person

from . import problems, queries, services, tasks
from .export import COLUMNS_BY_KEY, cell_value, roster_columns
from .forms import UploadForm
from .models import ImportBatch, RosterExport
from .template import TEMPLATE_FILE_NAME, build_template

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _refusal(exc: ApplicationError) -> bool:
    """Jurisdiction refusals propagate (→ 404/403); other domain errors are shown on the page."""
    return isinstance(exc, (NotFound, Forbidden))


@login_required
@ui_errors
@require_GET
def batch_list(request: HttpRequest) -> HttpResponse:
    user = actor_of(request)
    require_student_roles(user)
    page = paginate(request, queries.batch_list(viewer=user))
    schools = list(queries.registrar_schools(viewer=user))
    context = {"page": page, "schools": schools, "can_export": bool(queries.roster_units(user))}
    return render(request, "imports/list.html", context)


@login_required
@ui_errors
def batch_new(request: HttpRequest) -> HttpResponse:
    user = actor_of(request)
    schools = queries.registrar_schools(viewer=user)
    if not schools.exists():
        raise NotFound()
    form = UploadForm(request.POST or None, request.FILES or None, schools=schools)
    if request.method == "POST" and form.is_valid():
        try:
            batch = services.import_upload(
                actor=user, school=form.cleaned_data["school"], uploaded=form.cleaned_data["file"]
            )
            tasks.start_check(actor=user, batch=batch)
        except ApplicationError as exc:
            if _refusal(exc):
                raise
            form.add_error("file", exc.message)
        else:
            return redirect("imports:detail", batch_id=batch.pk)
    return render(
        request, "imports/new.html", {"form": form, "max_mb": services.readers.max_bytes() // 1048576}
    )


def _notice(
    batch: ImportBatch, progress: queries.Progress, *, running: bool, stale: bool, action_error: str
) -> dict[str, str]:
    """The ONE status message of the batch panel (issue 8 item 8: never "校验中" beside "已完成"): a refused
    action, else an interrupted run, else the progress of a running step, else the outcome of the last step."""
    status = ImportBatch.Status
    if action_error:
        return {"level": "bad", "text": action_error}
    if stale:
        return {"level": "bad", "text": _("后台处理进程已中断，未写入任何数据。可以重试。")}
    if running:
        if not progress.known:
            text = _("正在导入 %(total)s 行……整个文件在一个事务中写入，完成前不显示百分比，请稍候。") % {
                "total": intcomma(progress.total)
            }
        else:
            doing = _("正在导入……") if progress.phase == "commit" else _("正在校验……")
            text = doing + _("已处理 %(done)s / %(total)s 行（%(pct)s%%）") % {
                "done": intcomma(progress.done),
                "total": intcomma(progress.total),
                "pct": progress.percent,
            }
        return {"level": "", "text": text}
    if batch.message:
        bad = batch.status in {status.INVALID, status.FAILED}
        return {"level": "bad" if bad else "ok", "text": batch.message}
    if batch.status == status.UPLOADED:
        return {"level": "", "text": _("文件已上传，等待校验。")}
    return {"level": "", "text": ""}


def _created_rows(page: Page, full: frozenset[int]) -> list[dict[str, Any]]:
    """The created list's page as the viewer may see it: 学籍号 in full for the school's own registrar."""
    rows = []
    for enrollment in page.object_list:
        person = listed_person(enrollment)
        full_number = enrollment.school_id in full
        rows.append(
            {
                "number": cell_value(
                    COLUMNS_BY_KEY["student_number"], person.student_number, full_number=full_number
                ),
                "name": person.name,
                "gender": cell_value(COLUMNS_BY_KEY["gender"], person.gender, full_number=False),
                "grade": grade_label(enrollment.grade),
                "class_name": enrollment.class_name,
                "status": cell_value(COLUMNS_BY_KEY["status"], enrollment.status, full_number=False),
            }
        )
    return rows


def _detail_context(request: HttpRequest, batch: ImportBatch, action_error: str = "") -> dict[str, object]:
    user = actor_of(request)
    progress = queries.live_progress(batch)
    status = ImportBatch.Status
    stale = queries.batch_is_stale(batch)
    running = batch.status in queries.RUNNING and not stale
    notice = _notice(batch, progress, running=running, stale=stale, action_error=action_error)
    # The problem list never repeats the status message (a file-level problem is both).
    errors = (
        []
        if running
        else [e for e in batch.errors if not (e.get("row") == 0 and e["message"] == notice["text"])]
    )
    preview = None
    if not running and batch.status != status.COMMITTED and batch.file_purged_at is None:
        preview = problems.preview(services.stored_path(batch), batch.errors)
    created_page = created = None
    if batch.status == status.COMMITTED:
        ratelimit_hit(user, "list")  # a list of students (issue #6 §3.10)
        created_page = paginate(request, queries.created_list(viewer=user, batch=batch))
        created = _created_rows(created_page, queries.full_number_schools(user))
    return {
        "batch": batch,
        "progress": progress,
        "running": running,
        "stale": stale,
        "notice": notice,
        "can_commit": batch.status == status.CHECKED and batch.error_count == 0 and not action_error,
        "can_retry": stale or (batch.status == status.FAILED and batch.retryable),
        "can_recheck": batch.status in {status.INVALID, status.FAILED},
        "can_download_problems": batch.status not in queries.RUNNING and batch.error_count > 0,
        "errors": errors,
        "more_errors": max(batch.error_count - len(batch.errors), 0),
        "preview": preview,
        "page": created_page,
        "created": created,
    }


@login_required
@ui_errors
@require_GET
def batch_detail(request: HttpRequest, batch_id: UUID) -> HttpResponse:
    user = actor_of(request)
    batch = queries.batch_get(viewer=user, batch_id=batch_id)
    context = _detail_context(request, batch)
    if is_htmx(request):
        return render(request, "imports/_batch.html", context)
    return render(request, "imports/detail.html", context)


def _refused(request: HttpRequest, batch: ImportBatch, exc: ApplicationError) -> HttpResponse:
    """A business refusal of a batch action: the batch page with the refusal as its one message."""
    batch = queries.batch_get(viewer=actor_of(request), batch_id=batch.pk)  # as it is now
    context = _detail_context(request, batch, action_error=exc.message)
    return render(request, "imports/detail.html", context, status=exc.status)


def _start(request: HttpRequest, batch_id: UUID, start: Callable[..., bool]) -> HttpResponse:
    """Run an import step (check, commit, or retry of the failed one) now or queue it; the batch page then
    shows the state — its progress while it runs, its outcome when done — as its one message. A refusal for
    the viewer (not found, not allowed) propagates; a business refusal is shown on the batch page."""
    user = actor_of(request)
    batch = queries.batch_get(viewer=user, batch_id=batch_id)
    try:
        start(actor=user, batch=batch)
    except ApplicationError as exc:
        if _refusal(exc):
            raise
        return _refused(request, batch, exc)
    return redirect("imports:detail", batch_id=batch.pk)


@login_required
@ui_errors
@require_POST
def batch_commit(request: HttpRequest, batch_id: UUID) -> HttpResponse:
    return _start(request, batch_id, tasks.start_commit)


@login_required
@ui_errors
@require_POST
def batch_retry(request: HttpRequest, batch_id: UUID) -> HttpResponse:
    """重试: run the failed step again with the same stored file (a crash or a killed worker wrote nothing)."""
    return _start(request, batch_id, tasks.start_retry)


@login_required
@ui_errors
@require_POST
def batch_check(request: HttpRequest, batch_id: UUID) -> HttpResponse:
    return _start(request, batch_id, tasks.start_check)


def _temporary() -> Path:
    handle = tempfile.NamedTemporaryFile(prefix="xueji-", suffix=".xlsx", delete=False)  # noqa: SIM115
    handle.close()
    return Path(handle.name)


def _xlsx(write: Callable[[Path], object], name: str) -> FileResponse:
    """Write a workbook into a private temporary file and stream it; the file is unlinked at once (the open
    handle keeps the data until the response is sent: nothing of it stays on disk)."""
    path = _temporary()
    try:
        write(path)
        stream = path.open("rb")
    finally:
        path.unlink(missing_ok=True)
    return FileResponse(stream, as_attachment=True, filename=name, content_type=XLSX)


def _stem(batch: ImportBatch) -> str:
    return Path(batch.file_name).stem or "import"


@login_required
@ui_errors
@require_POST
def problems_download(request: HttpRequest, batch_id: UUID) -> HttpResponseBase:
    """The dry run's problems as .xlsx (issue 8 item 8): one row per problem and, for the school's own
    registrar, the upload with the bad cells marked. Audited; anyone outside the batch's jurisdiction: 404."""
    user = actor_of(request)
    batch = queries.batch_get(viewer=user, batch_id=batch_id)
    try:
        return _xlsx(
            lambda path: services.problems_export(actor=user, batch=batch, target=path),
            _("%(name)s-问题清单.xlsx") % {"name": _stem(batch)},
        )
    except ApplicationError as exc:
        if _refusal(exc):
            raise
        return _refused(request, batch, exc)


@login_required
@ui_errors
@require_POST
def created_download(request: HttpRequest, batch_id: UUID) -> HttpResponseBase:
    """The students a committed batch created, as .xlsx (issue 8 item 8): audited and rate-limited like every
    roster export; 学籍号 in full only for the school's own registrar."""
    user = actor_of(request)
    batch = queries.batch_get(viewer=user, batch_id=batch_id)
    if batch.status != ImportBatch.Status.COMMITTED:
        raise NotFound()
    ratelimit_hit(user, "export")  # issue #6 §3.10: a Chinese 429 above the account's daily limit
    return _xlsx(
        lambda path: services.created_export(actor=user, batch=batch, target=path),
        _("%(name)s-导入学生名单.xlsx") % {"name": _stem(batch)},
    )


@login_required
@ui_errors
@require_GET
def template_download(request: HttpRequest) -> HttpResponse:
    """The import template (no personal data), for the student-data roles only (三权分立: not the admins)."""
    require_student_roles(actor_of(request))
    response = HttpResponse(build_template(), content_type=XLSX)
    response["Content-Disposition"] = content_disposition_header(True, TEMPLATE_FILE_NAME) or "attachment"
    return response


# ------------------------------------------------------------------------------------------ roster export
def _to_export_request(params: list[tuple[str, str]]) -> HttpResponseBase:
    """第24条 (issue 11 §4): rosters leave the system only through an approved, de-identified export request;
    the old direct download sends the roster's filters to the request form (xueji.exports)."""
    query = urlencode([("source", "roster"), *((k, v) for k, v in params if v)])
    return redirect(f"{reverse('exports:new')}?{query}")


@login_required
@ui_errors
def roster(request: HttpRequest) -> HttpResponseBase:
    """导出学生名册 (issue 8 item 9) now goes through an approved export request (第24条; issue 11 §4): the
    range, filters and columns chosen here prefill the request form. Nobody without a roster range has it
    (404), and a unit outside the viewer's region is 404 (第23条)."""
    user = actor_of(request)
    units = queries.roster_units(user)
    if not units:
        raise NotFound()
    data = request.POST if request.method == "POST" else request.GET
    posted = data.get("unit")
    if posted is not None and posted not in {str(u.pk) for u in units}:
        raise NotFound()  # a unit outside the viewer's region is as good as unknown (第23条)
    params = [(k, data.get(k, "")) for k in ("unit", "school", "grade", "class_name")]
    params += [("columns", c) for c in data.getlist("columns")]
    return _to_export_request(params)


@login_required
@ui_errors
@require_POST
def export_roster(request: HttpRequest) -> HttpResponseBase:
    """One school's roster (the list page's buttons; the school's registrar only): to the export request form
    for that school (第24条)."""
    user = actor_of(request)
    code = request.POST.get("school", "")
    school = queries.registrar_schools(viewer=user).filter(school_code=code).first()
    if school is None:
        raise NotFound()
    return _to_export_request([("unit", str(school.org.pk))])


@login_required
@ui_errors
@require_GET
def export_detail(request: HttpRequest, export_id: UUID) -> HttpResponse:
    """A background roster export: its progress while it runs (htmx polling), its file when done."""
    user = actor_of(request)
    export = queries.export_get(viewer=user, export_id=export_id)
    stale = queries.export_is_stale(export)
    running = export.status in {RosterExport.Status.QUEUED, RosterExport.Status.RUNNING} and not stale
    context = {
        "export": export,
        "stale": stale,
        "running": running,
        "ready": queries.export_ready(export),
        "filters": export.filters or {},
        "grade": grade_label((export.filters or {}).get("grade")),
        "columns": [str(c.header) for c in roster_columns(export.columns)],
    }
    if is_htmx(request):
        return render(request, "imports/_export.html", context)
    return render(request, "imports/export_detail.html", context)


@login_required
@ui_errors
@require_GET
def export_download(request: HttpRequest, export_id: UUID) -> HttpResponseBase:
    """Files of the former direct roster exports are no longer handed out (第24条: every roster goes through an
    approved export request); the requester is sent to their export requests. Anyone else: 404."""
    queries.export_get(viewer=actor_of(request), export_id=export_id)
    return redirect("exports:list")
