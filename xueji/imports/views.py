"""Web pages for bulk registration (第6条): upload, dry-run results, commit, template and roster download.

Only a registrar of the school uploads and commits (``require_registrar_for_school`` inside the services);
department registrars see the batches of their subtree. Anything outside the viewer's jurisdiction is 404.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from xueji.accounts.auth import actor_of
from xueji.accounts.jurisdiction import require_student_roles
from xueji.core.errors import ApplicationError, Forbidden, NotFound
from xueji.core.htmx import is_htmx
from xueji.core.ratelimit import ratelimit_hit
from xueji.core.web import paginate, ui_errors

from . import queries, services, tasks
from .forms import UploadForm
from .models import ImportBatch
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
    return render(request, "imports/list.html", {"page": page, "schools": schools})


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


def _detail_context(request: HttpRequest, batch: ImportBatch) -> dict[str, object]:
    progress = queries.live_progress(batch)
    status = ImportBatch.Status
    stale = queries.batch_is_stale(batch)
    running = batch.status in queries.RUNNING and not stale
    return {
        "batch": batch,
        "progress": progress,
        "running": running,
        "stale": stale,
        "can_commit": batch.status == status.CHECKED and batch.error_count == 0,
        "can_retry": stale or (batch.status == status.FAILED and batch.retryable),
        "can_recheck": batch.status in {status.INVALID, status.FAILED},
        "errors": batch.errors,
        "more_errors": max(batch.error_count - len(batch.errors), 0),
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


def _start(request: HttpRequest, batch_id: UUID, start: Callable[..., bool], queued: str) -> HttpResponse:
    """Run an import step (commit, or retry of the failed one) now or queue it, and say which happened.
    A refusal for the viewer (not found, not allowed) propagates; a business refusal becomes a message."""
    user = actor_of(request)
    batch = queries.batch_get(viewer=user, batch_id=batch_id)
    try:
        background = start(actor=user, batch=batch)
    except ApplicationError as exc:
        if _refusal(exc):
            raise
        messages.error(request, exc.message)
    else:
        if background:
            messages.info(request, queued)
        elif batch.status == ImportBatch.Status.COMMITTED:
            messages.success(request, _("已导入 %(n)d 名学生") % {"n": batch.created_count})
    return redirect("imports:detail", batch_id=batch.pk)


@login_required
@ui_errors
@require_POST
def batch_commit(request: HttpRequest, batch_id: UUID) -> HttpResponse:
    return _start(request, batch_id, tasks.start_commit, _("文件较大，正在后台导入，请稍候"))


@login_required
@ui_errors
@require_POST
def batch_retry(request: HttpRequest, batch_id: UUID) -> HttpResponse:
    """重试: run the failed step again with the same stored file (a crash or a killed worker wrote nothing)."""
    return _start(request, batch_id, tasks.start_retry, _("已重新提交，正在后台处理，请稍候"))


@login_required
@ui_errors
@require_POST
def batch_check(request: HttpRequest, batch_id: UUID) -> HttpResponse:
    user = actor_of(request)
    batch = queries.batch_get(viewer=user, batch_id=batch_id)
    try:
        tasks.start_check(actor=user, batch=batch)
    except ApplicationError as exc:
        if _refusal(exc):
            raise
        messages.error(request, exc.message)
    return redirect("imports:detail", batch_id=batch.pk)


@login_required
@require_GET
def template_download(request: HttpRequest) -> HttpResponse:
    """The import template (no personal data)."""
    response = HttpResponse(build_template(), content_type=XLSX)
    response["Content-Disposition"] = content_disposition_header(True, TEMPLATE_FILE_NAME) or "attachment"
    return response


@login_required
@ui_errors
@require_POST
def export_roster(request: HttpRequest) -> FileResponse:
    """The school's roster of active students as .xlsx (masked identity numbers; audited)."""
    user = actor_of(request)
    code = request.POST.get("school", "")
    school = queries.registrar_schools(viewer=user).filter(school_code=code).first()
    if school is None:
        raise NotFound()
    ratelimit_hit(user, "export")  # issue #6 §3.10: a Chinese 429 above the account's daily limit
    handle = tempfile.NamedTemporaryFile(prefix="xueji-roster-", suffix=".xlsx", delete=False)  # noqa: SIM115
    handle.close()
    path = Path(handle.name)
    try:
        services.roster_export(actor=user, school=school, target=path)
        stream = path.open("rb")
    finally:
        path.unlink(missing_ok=True)  # the open handle keeps the data until the response is sent
    name = f"{school.name}学生名册{timezone.localdate():%Y%m%d}.xlsx"
    return FileResponse(stream, as_attachment=True, filename=name, content_type=XLSX)
