"""Bulk registration API (/api/v1/imports/, 第6条): upload a file, dry-run it, commit it, poll progress.

Same services as the web pages: only the school's registrar uploads, checks and commits; department registrars
read the batches of their subtree; anything outside the caller's jurisdiction is 404.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from django.http import HttpRequest, HttpResponse
from django.utils.http import content_disposition_header
from ninja import Field, File, Form, Query, Router, Schema, Status
from ninja.files import UploadedFile

from xueji.accounts.auth import actor_of
from xueji.accounts.jurisdiction import require_student_data_reader
from xueji.core.errors import NotFound
from xueji.core.pagination import MAX_PAGE, capped_page_of
from xueji.core.ratelimit import ratelimit_hit
from xueji.schools.grades import grade_label
from xueji.schools.models import School
from xueji.students.queries import listed_person

from . import queries, services, tasks
from .export import COLUMNS_BY_KEY, cell_value
from .models import ImportBatch
from .template import TEMPLATE_FILE_NAME, build_template

router = Router(tags=["批量导入"])
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class ErrorOut(Schema):
    code: str
    message: str
    fields: dict[str, str]


class ProblemOut(Schema):
    row: int
    column: str
    code: str
    message: str


class ProgressOut(Schema):
    phase: str
    done: int
    total: int
    percent: int
    known: bool


class BatchSummaryOut(Schema):
    id: UUID
    school_code: str
    school_name: str
    file_name: str
    status: str
    status_label: str
    total_rows: int
    error_count: int
    created_count: int
    created_at: datetime
    finished_at: datetime | None


class BatchOut(BatchSummaryOut):
    file_sha256: str
    valid_rows: int
    message: str
    progress: ProgressOut
    background: bool = False
    retryable: bool = False
    stale: bool = False
    errors: list[ProblemOut]


def _summary(batch: ImportBatch) -> dict[str, Any]:
    return {
        "id": batch.pk,
        "school_code": batch.school.school_code,
        "school_name": batch.school.name,
        "file_name": batch.file_name,
        "status": batch.status,
        "status_label": str(batch.get_status_display()),
        "total_rows": batch.total_rows,
        "error_count": batch.error_count,
        "created_count": batch.created_count,
        "created_at": batch.created_at,
        "finished_at": batch.finished_at,
    }


def _out(batch: ImportBatch, background: bool = False) -> dict[str, Any]:
    progress = queries.live_progress(batch)
    return {
        **_summary(batch),
        "file_sha256": batch.file_sha256,
        "valid_rows": batch.valid_rows,
        "message": batch.message,
        "background": background,
        "retryable": batch.status == ImportBatch.Status.FAILED and batch.retryable,
        "stale": queries.batch_is_stale(batch),
        "errors": batch.errors,
        "progress": {
            "phase": progress.phase,
            "done": progress.done,
            "total": progress.total,
            "percent": progress.percent,
            "known": progress.known,
        },
    }


class CreatedIn(Schema):
    page: int = Field(1, ge=1, le=MAX_PAGE, description="页码")
    page_size: int = Field(50, ge=1, le=200, description="每页条数（最多 200）")


class CreatedOut(Schema):
    student_number: str = Field(description="学籍号：本校学籍管理员看到完整号码，其他角色为脱敏号码")
    name: str
    gender: str
    grade: int
    grade_label: str
    class_name: str
    status: str
    status_label: str


class CreatedPageOut(Schema):
    items: list[CreatedOut]
    count: int
    count_exact: bool
    page: int
    page_size: int


ERRORS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut}


@router.get(
    "/", response={200: list[BatchSummaryOut], **ERRORS}, summary="导入批次列表（管辖范围内，最近100个）"
)
def list_batches(request: HttpRequest) -> list[dict[str, Any]]:
    user = require_student_data_reader(actor_of(request))
    return [_summary(b) for b in queries.batch_list(viewer=user)[:100]]


@router.post("/", response={201: BatchOut, **ERRORS}, summary="上传导入文件（.xlsx 或 .csv）")
def create_batch(request: HttpRequest, school: Form[str], file: File[UploadedFile]) -> Status:
    """Stores the file and refuses bad files at once (``not_a_spreadsheet``, ``file_too_large``,
    ``wrong_columns``, ``formula_not_allowed``, ``empty_file``, ``file_already_imported``). Then call
    ``POST /{id}/check``."""
    user = actor_of(request)
    target = School.objects.select_related("org").filter(school_code=school).first()
    if target is None:
        raise NotFound()
    batch = services.import_upload(actor=user, school=target, uploaded=file)
    return Status(201, _out(batch))


@router.get("/template", response={200: None, 403: ErrorOut}, summary="下载导入模板（.xlsx）")
def template(request: HttpRequest) -> HttpResponse:
    require_student_data_reader(actor_of(request))
    response = HttpResponse(build_template(), content_type=XLSX)
    response["Content-Disposition"] = content_disposition_header(True, TEMPLATE_FILE_NAME) or "attachment"
    return response


@router.get("/{uuid:batch_id}", response={200: BatchOut, **ERRORS}, summary="批次状态、进度和问题清单")
def get_batch(request: HttpRequest, batch_id: UUID) -> dict[str, Any]:
    user = actor_of(request)
    return _out(queries.batch_get(viewer=user, batch_id=batch_id))


@router.post(
    "/{uuid:batch_id}/check",
    response={200: BatchOut, 202: BatchOut, **ERRORS},
    summary="校验（试导入，不写入学生数据）",
)
def check_batch(request: HttpRequest, batch_id: UUID) -> Status:
    """Large files are checked in the background (202): poll ``GET /{id}``."""
    user = actor_of(request)
    batch = queries.batch_get(viewer=user, batch_id=batch_id)
    background = tasks.start_check(actor=user, batch=batch)
    return Status(202 if background else 200, _out(batch, background))


@router.post(
    "/{uuid:batch_id}/commit",
    response={200: BatchOut, 202: BatchOut, **ERRORS},
    summary="确认导入（整个文件一次导入，任一行出错则全部不导入）",
)
def commit_batch(request: HttpRequest, batch_id: UUID) -> Status:
    """Large files are committed in the background (202): poll ``GET /{id}``."""
    user = actor_of(request)
    batch = queries.batch_get(viewer=user, batch_id=batch_id)
    background = tasks.start_commit(actor=user, batch=batch)
    return Status(202 if background else 200, _out(batch, background))


@router.post(
    "/{uuid:batch_id}/retry",
    response={200: BatchOut, 202: BatchOut, **ERRORS},
    summary="重试（系统错误或处理进程中断后，用同一文件重新执行失败的步骤）",
)
def retry_batch(request: HttpRequest, batch_id: UUID) -> Status:
    """Allowed when ``retryable`` or ``stale`` is true (409 ``batch_not_retryable`` otherwise). Large files
    run in the background (202): poll ``GET /{id}``."""
    user = actor_of(request)
    batch = queries.batch_get(viewer=user, batch_id=batch_id)
    background = tasks.start_retry(actor=user, batch=batch)
    return Status(202 if background else 200, _out(batch, background))


@router.get(
    "/{uuid:batch_id}/students",
    response={200: CreatedPageOut, 429: ErrorOut, **ERRORS},
    summary="本批导入的学生（学籍号按角色脱敏）",
)
def created_students(request: HttpRequest, batch_id: UUID, params: Query[CreatedIn]) -> dict[str, Any]:
    """The students a committed batch created, by grade and class (issue 8 item 8). 学籍号 in full only for a
    registrar of the batch's school; masked for department registrars. Empty before the batch is committed."""
    user = actor_of(request)
    batch = queries.batch_get(viewer=user, batch_id=batch_id)
    ratelimit_hit(user, "list")  # issue #6 §3.10: 429 above the account's limit
    if batch.status != ImportBatch.Status.COMMITTED:
        return {
            "items": [],
            "count": 0,
            "count_exact": True,
            "page": params.page,
            "page_size": params.page_size,
        }
    rows, count, exact = capped_page_of(
        queries.created_list(viewer=user, batch=batch), params.page, params.page_size
    )
    full = queries.full_number_schools(user)
    items = []
    for enrollment in rows:
        person = listed_person(enrollment)
        items.append(
            {
                "student_number": cell_value(
                    COLUMNS_BY_KEY["student_number"],
                    person.student_number,
                    full_number=enrollment.school_id in full,
                ),
                "name": person.name,
                "gender": person.gender,
                "grade": enrollment.grade,
                "grade_label": grade_label(enrollment.grade),
                "class_name": enrollment.class_name,
                "status": enrollment.status,
                "status_label": cell_value(COLUMNS_BY_KEY["status"], enrollment.status, full_number=False),
            }
        )
    return {
        "items": items,
        "count": count,
        "count_exact": exact,
        "page": params.page,
        "page_size": params.page_size,
    }
