"""The audit of printed documents: who printed or downloaded which record's 学籍卡 or change form, and when.

第24条 (strict data use) and 第23条 (full operation logging): a printed 学籍卡 carries the identifiers the
record page shows only through an audited reveal (学籍号, 身份证件号, 联系电话), so each print view and each
PDF is one ``document.printed`` event, like a reveal (``student.revealed``). The event names the document,
the channel (``html`` print view or ``pdf`` download) and which fields were shown in full — field names only:
the redaction of :func:`xueji.audit.services.record` keeps personal values out whatever is passed.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from xueji.accounts.types import Actor
from xueji.audit.enums import EventType
from xueji.audit.services import record
from xueji.changes.models import ChangeRequest
from xueji.students.models import Enrollment

Channel = Literal["html", "pdf"]
CHANNELS: frozenset[str] = frozenset({"html", "pdf"})

_SUMMARY = {"html": "打印{document}", "pdf": "下载{document} PDF"}


def card_print(*, actor: Actor, enrollment: Enrollment, channel: Channel, full_fields: Iterable[str]) -> None:
    """Record that ``actor`` printed (``html``) or downloaded (``pdf``) the 学籍卡 of ``enrollment``'s student,
    with the identifiers shown in full (第24条)."""
    assert channel in CHANNELS
    record(
        event_type=EventType.DOCUMENT_PRINTED,
        actor=actor,
        subject_type="student",
        subject_id=enrollment.person_id,
        org_unit_id=enrollment.school_id,
        province_code=enrollment.province_code,
        summary=_SUMMARY[channel].format(document="学籍卡"),
        after={"document": "card", "channel": channel, "keys": sorted(full_fields)},
    )


def change_form_print(*, actor: Actor, request: ChangeRequest, channel: Channel) -> None:
    """Record that ``actor`` printed or downloaded the form of change request ``request`` (第24条; its student
    is the subject, the request is named by id)."""
    assert channel in CHANNELS
    enrollment = request.enrollment if request.enrollment_id else None
    school_id = enrollment.school_id if enrollment is not None else None
    record(
        event_type=EventType.DOCUMENT_PRINTED,
        actor=actor,
        subject_type="student",
        subject_id=request.person_id or request.pk,
        org_unit_id=school_id,
        province_code=request.province_code,
        summary=_SUMMARY[channel].format(document=f"{request.get_kind_display()}申请表"),
        after={
            "document": "change_form",
            "channel": channel,
            "request": str(request.pk),
            "kind": request.kind,
        },
    )
