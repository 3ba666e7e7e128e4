"""API schemas of the certificates (/api/v1/certificates/)."""

from __future__ import annotations

import datetime as dt
from typing import Any
from uuid import UUID

from ninja import Schema

from xueji.students.schemas import ErrorOut

from .enums import Kind

__all__ = ["ErrorOut"]


class IssueIn(Schema):
    person_id: UUID
    kind: Kind


class RevokeIn(Schema):
    reason: str


class BatchIn(Schema):
    school_code: str
    kind: Kind


class CertificateOut(Schema):
    id: UUID
    kind: str
    person_id: UUID
    school_id: int
    kid: str
    valid_from: dt.datetime
    valid_until: dt.datetime | None
    revoked_at: dt.datetime | None
    verify_url: str
    credential: dict[str, Any]


class BatchOut(Schema):
    id: UUID
    kind: str
    state: str
    total: int
    done: int
    issued: int
    skipped: int
    percent: int


class VerifyOut(Schema):
    result: str
    detail: str
    status_checked: bool
    credential_id: str
