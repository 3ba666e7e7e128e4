"""Certificates API (/api/v1/certificates/, 第19条): issue, read, revoke, batches — through the same scoped
queries and services as the pages (out of jurisdiction → 404, nothing written) — and the public ``verify``
(no authentication), which answers one of valid / revoked / expired / bad-signature / unknown-issuer."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.http import HttpRequest
from ninja import Router, Status

from xueji.accounts.auth import actor_of
from xueji.accounts.jurisdiction import in_scope, require_student_data_reader
from xueji.accounts.types import Actor
from xueji.core.errors import NotFound
from xueji.schools.models import School

from . import conf, limits, services, tasks
from .models import Certificate, CertificateBatch
from .queries import batch_get, certificate_get
from .schemas import BatchIn, BatchOut, CertificateOut, ErrorOut, IssueIn, RevokeIn, VerifyOut
from .verifier import loads_untrusted

router = Router(tags=["电子学籍证明"])

READ_ERRORS: dict[int, Any] = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut}
WRITE_ERRORS: dict[int, Any] = {400: ErrorOut, 409: ErrorOut, **READ_ERRORS}


def _reader(request: HttpRequest) -> Actor:
    return require_student_data_reader(actor_of(request))


def _out(c: Certificate) -> dict[str, Any]:
    return {
        "id": c.pk,
        "kind": c.kind,
        "person_id": c.person_id,
        "school_id": c.school_id,
        "kid": c.kid,
        "valid_from": c.valid_from,
        "valid_until": c.valid_until,
        "revoked_at": c.revoked_at,
        "verify_url": conf.credential_url(c.pk),
        "credential": c.credential,
    }


def _batch_out(b: CertificateBatch) -> dict[str, Any]:
    return {
        "id": b.pk,
        "kind": b.kind,
        "state": b.state,
        "total": b.total,
        "done": b.done,
        "issued": b.issued,
        "skipped": b.skipped,
        "percent": b.percent,
    }


@router.post("/", response={201: CertificateOut, **WRITE_ERRORS}, summary="签发电子证书")
def issue(request: HttpRequest, payload: IssueIn) -> Status:
    user = _reader(request)
    certificate = services.certificate_issue(actor=user, person_id=payload.person_id, kind=payload.kind.value)
    return Status(201, _out(certificate))


@router.get("/{uuid:certificate_id}", response={200: CertificateOut, **READ_ERRORS}, summary="电子证书")
def detail(request: HttpRequest, certificate_id: UUID) -> dict[str, Any]:
    user = _reader(request)
    certificate = certificate_get(viewer=user, certificate_id=certificate_id)
    services.certificate_downloaded(actor=user, certificate=certificate, fmt="api")
    return _out(certificate)


@router.post(
    "/{uuid:certificate_id}/revoke", response={200: CertificateOut, **WRITE_ERRORS}, summary="撤销电子证书"
)
def revoke(request: HttpRequest, certificate_id: UUID, payload: RevokeIn) -> dict[str, Any]:
    user = _reader(request)
    certificate = certificate_get(viewer=user, certificate_id=certificate_id)
    return _out(services.certificate_revoke(actor=user, certificate=certificate, reason=payload.reason))


@router.post("/batches", response={202: BatchOut, **WRITE_ERRORS}, summary="批量签发（后台任务）")
def batch_create(request: HttpRequest, payload: BatchIn) -> Status:
    user = _reader(request)
    school = School.objects.select_related("org").filter(school_code=payload.school_code.strip()).first()
    if school is None or not in_scope(user, school.org.path):
        raise NotFound()
    return Status(202, _batch_out(tasks.start_batch(actor=user, school=school, kind=payload.kind.value)))


@router.get("/batches/{uuid:batch_id}", response={200: BatchOut, **READ_ERRORS}, summary="批量签发进度")
def batch_detail(request: HttpRequest, batch_id: UUID) -> dict[str, Any]:
    return _batch_out(batch_get(viewer=_reader(request), batch_id=batch_id))


@router.post(
    "/verify",
    auth=None,
    response={200: VerifyOut, 429: ErrorOut},
    summary="核验电子证书（公开）",
    openapi_extra={
        "requestBody": {
            "content": {"application/json": {"schema": {"type": "object", "description": "W3C VC 2.0 JSON"}}},
            "required": True,
        }
    },
)
def verify(request: HttpRequest) -> dict[str, Any]:
    """The body is the credential itself; anything that is not the issued document reads bad-signature."""
    limits.hit(request)  # per client address (no account): 429 rate_limited above the limit
    try:
        document = loads_untrusted(request.body) if len(request.body) <= 64 * 1024 else None
    except ValueError:  # not JSON, too deep, duplicate member names …: not the issued document
        document = None
    outcome = services.verify_online(document)
    return {
        "result": str(outcome.result),
        "detail": outcome.detail,
        "status_checked": outcome.status_checked,
        "credential_id": outcome.credential_id,
    }
