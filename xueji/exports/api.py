"""Export API (/api/v1/exports/, 第24条): the same services as the pages. A unit outside the caller's
jurisdiction, or someone else's request, is 404 and nothing is written; approving takes a verified second
factor (a session verified with the authenticator); the file goes to its requester only."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.http import FileResponse, HttpRequest
from ninja import Query, Router, Status

from xueji.accounts import factors
from xueji.accounts.auth import actor_of
from xueji.accounts.jurisdiction import require_student_data_reader
from xueji.core.pagination import page_of
from xueji.core.ratelimit import ratelimit_hit

from . import queries, services
from .models import ExportRequest
from .schemas import (
    ErrorOut,
    ExportDecisionIn,
    ExportListIn,
    ExportPageOut,
    ExportRequestIn,
    ExportRequestOut,
    ExportSignatureOut,
)

router = Router(tags=["数据导出审批"])

READ_ERRORS: dict[int, Any] = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut}
WRITE_ERRORS: dict[int, Any] = {400: ErrorOut, 409: ErrorOut, **READ_ERRORS}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _out(e: ExportRequest) -> dict[str, Any]:
    return {
        "id": e.pk,
        "source": e.source,
        "state": e.state,
        "state_label": e.get_state_display(),
        "unit_id": e.org_unit_id,
        "unit_name": e.org_unit.name,
        "fields": list(e.fields),
        "filters": dict(e.filters or {}),
        "purpose": e.purpose,
        "recipient": e.recipient,
        "legal_basis": e.legal_basis,
        "authority": e.authority,
        "authority_level": e.authority_level,
        "document_number": e.document_number,
        "period_start": e.period_start,
        "period_end": e.period_end,
        "identified": e.identified,
        "approved_identified": e.approved_identified,
        "requested_by": str(e.requested_by),
        "approver": str(e.approver) if e.approver_id else "",
        "decided_at": e.decided_at,
        "decision_note": e.decision_note,
        "row_count": e.row_count,
        "suppressed": e.suppressed,
        "built_at": e.built_at,
        "expires_at": e.expires_at,
        "download_count": e.download_count,
        "signature_kids": dict(e.signature_kids or {}),
        "message": e.message,
    }


def _page(qs: Any, params: ExportListIn) -> dict[str, Any]:
    rows, count = page_of(qs, params.page, params.page_size)
    return {
        "count": count,
        "page": params.page,
        "page_size": params.page_size,
        "results": [_out(e) for e in rows],
    }


@router.get("/", response={200: ExportPageOut, **READ_ERRORS}, summary="我的导出申请")
def list_exports(request: HttpRequest, params: Query[ExportListIn]) -> dict[str, Any]:
    user = require_student_data_reader(actor_of(request))
    return _page(queries.my_requests(viewer=user).select_related("requested_by"), params)


@router.post("/", response={201: ExportRequestOut, **WRITE_ERRORS}, summary="提出导出申请（第二十四条）")
def create_export(request: HttpRequest, body: ExportRequestIn) -> Status:
    user = actor_of(request)
    export = services.export_request_create(
        actor=user,
        source=body.source,
        unit_id=body.unit_id,
        fields=body.fields,
        filters=body.filters,
        purpose=body.purpose,
        recipient=body.recipient,
        legal_basis=body.legal_basis,
        authority=body.authority,
        authority_level=body.authority_level,
        document_number=body.document_number,
        period_start=body.period_start,
        period_end=body.period_end,
        identified=body.identified,
        generalise_school=body.generalise_school,
        submit=body.submit,
    )
    return Status(201, _out(queries.export_get(viewer=user, export_id=export.pk)))


@router.get("/approvals", response={200: ExportPageOut, **READ_ERRORS}, summary="待我审批的导出申请")
def list_approvals(request: HttpRequest, params: Query[ExportListIn]) -> dict[str, Any]:
    return _page(queries.worklist(viewer=require_student_data_reader(actor_of(request))), params)


@router.get("/{uuid:export_id}", response={200: ExportRequestOut, **READ_ERRORS}, summary="导出申请详情")
def get_export(request: HttpRequest, export_id: UUID) -> dict[str, Any]:
    return _out(queries.export_get(viewer=actor_of(request), export_id=export_id))


@router.post("/{uuid:export_id}/submit", response={200: ExportRequestOut, **WRITE_ERRORS}, summary="提交草稿")
def submit_export(request: HttpRequest, export_id: UUID) -> dict[str, Any]:
    user = actor_of(request)
    export = queries.own_export(viewer=user, export_id=export_id)
    services.export_submit(actor=user, export=export)
    return _out(queries.export_get(viewer=user, export_id=export_id))


@router.post(
    "/{uuid:export_id}/approve",
    response={200: ExportRequestOut, **WRITE_ERRORS},
    summary="批准（须第二因子）",
)
def approve_export(request: HttpRequest, export_id: UUID, body: ExportDecisionIn) -> dict[str, Any]:
    user = actor_of(request)
    services.export_approve(
        actor=user,
        export_id=export_id,
        second_factor=factors.is_verified(request),
        note=body.note,
        identified=body.identified,
    )
    return _out(queries.export_get(viewer=user, export_id=export_id))


@router.post(
    "/{uuid:export_id}/reject",
    response={200: ExportRequestOut, **WRITE_ERRORS},
    summary="不批准（须第二因子）",
)
def reject_export(request: HttpRequest, export_id: UUID, body: ExportDecisionIn) -> dict[str, Any]:
    user = actor_of(request)
    services.export_reject(
        actor=user, export_id=export_id, second_factor=factors.is_verified(request), note=body.note
    )
    return _out(queries.export_get(viewer=user, export_id=export_id))


@router.get(
    "/{uuid:export_id}/signature", response={200: ExportSignatureOut, **READ_ERRORS}, summary="审批签名核验"
)
def export_signature(request: HttpRequest, export_id: UUID) -> dict[str, Any]:
    export = queries.export_get(viewer=actor_of(request), export_id=export_id)
    return {
        "id": export.pk,
        "valid": services.approval_verify(export),
        "record": export.signed_record,
        "signature_ed25519": export.signature_ed25519,
        "signature_sm2": export.signature_sm2,
        "signature_kids": dict(export.signature_kids or {}),
    }


@router.get(
    "/{uuid:export_id}/file",
    response={200: None, 409: ErrorOut, 410: ErrorOut, 429: ErrorOut, **READ_ERRORS},
    summary="下载导出文件（仅申请人，有效期内，须第二因子）",
)
def download_export(request: HttpRequest, export_id: UUID) -> FileResponse:
    user = actor_of(request)
    export = queries.own_export(viewer=user, export_id=export_id)
    ratelimit_hit(user, "export")
    stream = services.export_download(actor=user, export=export, second_factor=factors.is_verified(request))
    return FileResponse(
        stream, as_attachment=True, filename=services.export_file_name(export), content_type=XLSX
    )
