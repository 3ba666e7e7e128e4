"""Writing audit events. Called explicitly by services (never by signals, which miss bulk writes).

Every payload passes through :mod:`xueji.audit.redaction` here, in the one place all events are written: the
audit trail keeps who/what/when/which record/which fields with personal values masked (issue #6 §3.3,
security.md §2), whatever the caller passed. The before/after values of a student's personal fields go to the
record history (:class:`~xueji.audit.models.FieldHistory`) when the caller names the record's scope
(``history_scope`` = the enrolment's ``scope_path``), readable only by those who may see the student.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.utils import timezone

from xueji.core import context
from xueji.core.bulk import insert_rows
from xueji.core.types import ActorLike

from . import redaction
from .enums import EventType
from .models import AuditEvent, FieldHistory

EVENT_COLUMNS = (
    "occurred_at",
    "event_type",
    "actor_id",
    "actor_username",
    "actor_role",
    "org_unit_id",
    "province_code",
    "subject_type",
    "subject_id",
    "summary",
    "before",
    "after",
    "success",
    "request_id",
    "ip",
)


def _actor_fields(actor: ActorLike | None) -> dict[str, Any]:
    if actor is None:
        return {"actor": None, "actor_username": "system"}
    return {"actor": actor, "actor_username": actor.get_username()}


def record(
    *,
    event_type: EventType | str,
    actor: ActorLike | None,
    subject_type: str = "",
    subject_id: object = "",
    org_unit_id: int | None = None,
    province_code: str = "",
    summary: str = "",
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    actor_role: str = "",
    success: bool = True,
    history_scope: str = "",
) -> AuditEvent:
    """Append one audit event in the caller's transaction. Side effect: one INSERT (plus one per changed
    personal field into the record history when ``history_scope`` is given).

    ``before``/``after`` and ``summary`` are sanitised (:func:`redaction.sanitise`): personal values are
    masked, field names stay. ``history_scope`` is the ``scope_path`` of the school holding the record; with
    it, the unmasked before/after of each personal field that changed is kept in :class:`FieldHistory`.
    """
    ctx = context.current()
    event = AuditEvent.objects.create(
        occurred_at=timezone.now(),
        event_type=str(event_type),
        actor_role=actor_role,
        org_unit_id=org_unit_id,
        province_code=province_code,
        subject_type=subject_type,
        subject_id=str(subject_id),
        summary=redaction.scrub_text(summary)[:200],
        before=redaction.sanitise(before, subject_type=subject_type),
        after=redaction.sanitise(after, subject_type=subject_type),
        success=success,
        request_id=ctx.request_id,
        ip=ctx.ip,
        **_actor_fields(actor),
    )
    if history_scope:
        changes = redaction.personal_changes(before, after, subject_type=subject_type)
        FieldHistory.objects.bulk_create(
            [
                FieldHistory(
                    event=event,
                    occurred_at=event.occurred_at,
                    subject_type=subject_type,
                    subject_id=event.subject_id,
                    scope_path=history_scope,
                    province_code=province_code,
                    field=field,
                    before=old,
                    after=new,
                    actor=event.actor,
                    actor_username=event.actor_username,
                    request_id=event.request_id,
                )
                for field, old, new in changes
            ]
        )
    return event


def record_many(
    rows: Iterable[Mapping[str, Any]], *, event_type: EventType | str, actor: ActorLike | None
) -> int:
    """Append one event per row for a set-based operation (import, promotion): ``COPY`` on PostgreSQL,
    ``executemany`` on SQLite (:func:`xueji.core.bulk.insert_rows`; issue 7).

    Each row mapping carries subject_type, subject_id, org_unit_id, province_code, summary and after;
    ``after`` and ``summary`` are sanitised like :func:`record`'s.
    """
    ctx = context.current()
    now = timezone.now()
    actor_id = getattr(actor, "pk", None)
    username = actor.get_username() if actor is not None else "system"
    kind = str(event_type)
    events = [
        {
            "occurred_at": now,
            "event_type": kind,
            "actor_id": actor_id,
            "actor_username": username,
            "actor_role": "",
            "org_unit_id": row.get("org_unit_id"),
            "province_code": row.get("province_code", ""),
            "subject_type": row.get("subject_type", ""),
            "subject_id": str(row.get("subject_id", "")),
            "summary": redaction.scrub_text(str(row.get("summary", "")))[:200],
            "before": None,
            "after": redaction.sanitise(row["after"], subject_type=str(row.get("subject_type", "")))
            if row.get("after") is not None
            else None,
            "success": True,
            "request_id": ctx.request_id,
            "ip": ctx.ip,
        }
        for row in rows
    ]
    return insert_rows(AuditEvent, events, EVENT_COLUMNS)
