"""Attachments of a change request: the evidence a party adds (证明材料, 第13、16、21条 and the others).

Who may add one: a registrar or approver acting for one of the request's units (the initiating unit or any
step's unit), while the request is open — the evidence goes with an application or a decision. The type is
decided by the file's content (PDF, JPEG, PNG — the same sniffing as the electronic archive, 第6条), the size
by ``ARCHIVE_MAX_BYTES``. Adding one is audited (ARCHIVE_ATTACHED, subject the student); opening one is an
audited read (ARCHIVE_DOWNLOADED) for anyone who can see the request.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction

from xueji.accounts.jurisdiction import in_scope
from xueji.accounts.types import Actor
from xueji.audit.enums import EventType
from xueji.audit.services import record
from xueji.core.errors import ApplicationError, FieldError, Forbidden, NotFound
from xueji.students.records import sniff_content_type

from .models import ApprovalStep, ChangeAttachment, ChangeRequest
from .queries import change_get
from .services import acts_for, is_initiator

REQUEST_CLOSED = ApplicationError("request_closed", "申请已办结或已撤销，不能再添加附件")


def acting_position(actor: Actor, req: ChangeRequest) -> int | None:
    """The step the actor acts for on this request (the current one first), or None if none.

    The initiating unit's own step is position 0 (approved by the submission)."""
    steps = list(ApprovalStep.objects.filter(request=req).select_related("org_unit").order_by("position"))
    current = [s for s in steps if s.position == req.current_position]
    for step in current + steps:
        if acts_for(actor, step.org_unit, step.party):
            return step.position
    if is_initiator(actor, req):
        return 0
    return None


def can_attach(actor: Actor, req: ChangeRequest) -> bool:
    return req.is_open and acting_position(actor, req) is not None


@transaction.atomic
def attachment_add(*, actor: Actor, request: ChangeRequest, title: str, data: bytes) -> ChangeAttachment:
    """Add one evidence file to an open request. Raises NotFound outside the actor's reach, ``not_a_party``
    (403) for a viewer who is no party of it, ``request_closed`` once it is closed, and field errors for
    the title, a file too large or of another type."""
    req = ChangeRequest.objects.select_for_update().select_related("initiator_org").get(pk=request.pk)
    position = acting_position(actor, req)
    if position is None:
        if in_scope(actor, req.source_path) or (req.target_path and in_scope(actor, req.target_path)):
            raise Forbidden("not_a_party", "只有办理该申请的单位可以添加附件")
        raise NotFound()
    if not req.is_open:
        raise REQUEST_CLOSED
    title = title.strip()
    if not title:
        raise FieldError("title", "required", "附件名称为必填项")
    if len(data) > settings.ARCHIVE_MAX_BYTES:
        raise FieldError(
            "file", "file_too_large", f"文件不能超过 {settings.ARCHIVE_MAX_BYTES // (1024 * 1024)} MB"
        )
    if not data:
        raise FieldError("file", "required", "请选择文件")
    ctype = sniff_content_type(data[:16])
    if ctype is None:
        raise FieldError("file", "file_type", "只接受 PDF、JPEG、PNG 文件（按文件内容识别）")
    attachment = ChangeAttachment(
        request=req,
        step_position=position,
        title=title[:100],
        content_type=ctype,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        uploaded_by=actor,
    )
    attachment.file.save(str(attachment.id), ContentFile(data), save=False)
    attachment.save()
    record(
        event_type=EventType.ARCHIVE_ATTACHED,
        actor=actor,
        subject_type="student",
        subject_id=req.person_id or req.pk,
        province_code=req.province_code,
        summary=f"{req.get_kind_display()}申请添加附件：{attachment.title}",
        after={
            "request": str(req.pk),
            "attachment": str(attachment.pk),
            "sha256": attachment.sha256,
            "size": attachment.size,
        },
    )
    return attachment


def attachment_open(*, actor: Actor, request_id: Any, attachment_id: Any) -> ChangeAttachment:
    """Open one attachment for download — visible to whoever sees the request; an audited read."""
    req = change_get(viewer=actor, request_id=request_id)
    try:
        uuid.UUID(str(attachment_id))
    except ValueError:
        raise NotFound() from None
    attachment = ChangeAttachment.objects.filter(request=req, pk=attachment_id).first()
    if attachment is None:
        raise NotFound()
    record(
        event_type=EventType.ARCHIVE_DOWNLOADED,
        actor=actor,
        subject_type="student",
        subject_id=req.person_id or req.pk,
        province_code=req.province_code,
        summary=f"下载{req.get_kind_display()}申请附件：{attachment.title}",
        after={"request": str(req.pk), "attachment": str(attachment.pk)},
    )
    return attachment
