"""Services on an existing student record: viewing (audited), revealing identifiers, editing ordinary fields,
family members, the electronic archive (第6条) and problem records (第9条)."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from xueji.accounts.enums import Role
from xueji.accounts.jurisdiction import data_grants, in_scope, require_registrar_for_school
from xueji.accounts.types import Actor
from xueji.audit.enums import EventType
from xueji.audit.services import record
from xueji.core.errors import ApplicationError, FieldError, Forbidden, NotFound

from .fields import GUARDIAN_FIELDS, PERSON_FIELDS
from .models import ArchiveDocument, Enrollment, FrozenPerson, Guardian, Person, ProblemRecord
from .validation import clean_fields

# 第13条 / issue #3: these change only through the key-data change flow with evidence and approval.
KEY_FIELDS = frozenset({"name", "id_type", "id_number", "gender", "birth_date"})
EDITABLE_FIELDS = tuple(s for s in PERSON_FIELDS if s.key not in KEY_FIELDS)


def _audit_subject(enrollment: Enrollment) -> dict[str, Any]:
    return {
        "subject_type": "student",
        "subject_id": enrollment.person_id,
        "org_unit_id": enrollment.school_id,
        "province_code": enrollment.province_code,
    }


def _require_active(enrollment: Enrollment) -> None:
    """Former records are kept read-only (the sending school's copy, graduates): only the school where the
    student is enrolled now may change them."""
    if not enrollment.is_active:
        raise ApplicationError("record_inactive", "该学籍已不在本校在读，不能修改")


def student_view(*, actor: Actor, enrollment: Enrollment) -> None:
    """A full view of a record is an audited event (第24条 strict data use)."""
    record(
        event_type=EventType.STUDENT_VIEWED,
        actor=actor,
        summary="查看学生完整信息",
        **_audit_subject(enrollment),
    )


FROZEN_UNREVEALABLE = frozenset({"id_number", "phone", "guardian_phone"})


def student_reveal(*, actor: Actor, enrollment: Enrollment, field: str, guardian_id: Any = None) -> str:
    """Reveal one masked identifier — 身份证件号, 学籍号, 联系电话, or a family member's phone — audited; masked
    everywhere else (a 学籍号 or ID number reveals region, birth date and sex: security.md §0). On a former
    school's frozen copy (``FrozenPerson``, issue #6 §3.5) the ID number and phones are NotFound: they stay
    masked; only the 学籍号, which never changes (第8条), may be revealed."""
    labels = {
        "id_number": "身份证件号",
        "student_number": "学籍号",
        "phone": "联系电话",
        "guardian_phone": "家庭成员电话",
    }
    if field not in labels:
        raise FieldError("field", "not_revealable", "只能查看完整的身份证件号、学籍号或联系电话")
    if isinstance(enrollment.person, FrozenPerson) and field in FROZEN_UNREVEALABLE:
        # Issue #6 §3.5: a former school's copy is a snapshot; current identifiers are out of its scope.
        raise NotFound()
    if field == "guardian_phone":
        guardian = (
            Guardian.objects.filter(person_id=enrollment.person_id, pk=guardian_id).first()
            if guardian_id
            else None
        )
        if guardian is None:
            raise NotFound()
        value = guardian.phone
    else:
        value = getattr(enrollment.person, field)
    record(
        event_type=EventType.STUDENT_REVEALED,
        actor=actor,
        summary=f"查看完整{labels[field]}",
        after={"field": field},
        **_audit_subject(enrollment),
    )
    return str(value)


def archive_open(*, actor: Actor, enrollment: Enrollment, doc_id: Any) -> ArchiveDocument:
    """Open one archive document for download — an audited read (第24条)."""
    doc = (
        ArchiveDocument.objects.filter(person_id=enrollment.person_id, pk=doc_id).first()
        if _is_uuid(doc_id)
        else None
    )
    frozen = enrollment.person if isinstance(enrollment.person, FrozenPerson) else None
    if doc is None or (frozen is not None and doc.uploaded_at > frozen.frozen_at):
        raise NotFound()  # a former school's copy holds only what was filed before the move (issue #6 §3.5)
    record(
        event_type=EventType.ARCHIVE_DOWNLOADED,
        actor=actor,
        summary=f"下载档案材料：{doc.title}",
        after={"document": str(doc.pk)},
        **_audit_subject(enrollment),
    )
    return doc


def _is_uuid(value: Any) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


@transaction.atomic
def student_update(*, actor: Actor, enrollment: Enrollment, changes: dict[str, Any]) -> Person:
    """Edit ordinary basic fields (第7条: the school keeps the record current).

    Key fields (姓名, 证件, 性别, 出生日期) are refused here: they change only through the key-data change flow
    (第13条). The audit event names the changed fields with masked values; the before/after values go to the
    record history (issue #6 §3.3).
    """
    require_registrar_for_school(actor, enrollment.school)
    _require_active(enrollment)
    key_hits = sorted(set(changes) & KEY_FIELDS)
    if key_hits:
        raise ApplicationError(
            "key_field_change",
            "姓名、身份证件、性别、出生日期属于关键信息，须通过关键数据变更办理（第十三条）",
            dict.fromkeys(key_hits, "关键信息须走变更审核流程"),
        )
    specs = tuple(s for s in EDITABLE_FIELDS if s.key in changes)
    unknown = set(changes) - {s.key for s in specs}
    if unknown:
        raise ApplicationError(
            "unknown_fields", "包含无法修改的字段", dict.fromkeys(sorted(unknown), "未知字段")
        )
    errors: dict[str, str] = {}
    clean = clean_fields(specs, changes, errors)
    if errors:
        raise ApplicationError("invalid_input", next(iter(errors.values())), errors)
    person = Person.objects.select_for_update().get(pk=enrollment.person_id)
    before = {k: _jsonable(getattr(person, k)) for k in clean}
    for k, v in clean.items():
        setattr(person, k, v)
    person.save(update_fields=[*clean.keys(), "updated_at"])
    after = {k: _jsonable(v) for k, v in clean.items()}
    # The audit keeps which fields changed, values masked; the values go to the record history (issue #6 §3.3).
    record(
        event_type=EventType.STUDENT_UPDATED,
        actor=actor,
        summary="修改基础信息",
        before=before,
        after=after,
        history_scope=enrollment.scope_path,
        **_audit_subject(enrollment),
    )
    return person


def _jsonable(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


@transaction.atomic
def guardian_add(*, actor: Actor, enrollment: Enrollment, data: dict[str, Any]) -> Guardian:
    require_registrar_for_school(actor, enrollment.school)
    _require_active(enrollment)
    errors: dict[str, str] = {}
    clean = clean_fields(GUARDIAN_FIELDS, data, errors)
    if errors:
        raise ApplicationError("invalid_input", next(iter(errors.values())), errors)
    if Guardian.objects.filter(person_id=enrollment.person_id).count() >= 4:
        raise ApplicationError("too_many_guardians", "家庭成员最多登记 4 人")
    guardian = Guardian.objects.create(
        person_id=enrollment.person_id, province_code=enrollment.province_code, **clean
    )
    record(
        event_type=EventType.GUARDIAN_ADDED,
        actor=actor,
        summary="添加家庭成员",  # no name: the audit carries no personal data (issue #6 §3.3)
        **_audit_subject(enrollment),
    )
    return guardian


# Content sniffing: the file's first bytes decide its type, never its name (第6条 electronic archive).
_MAGIC = ((b"%PDF-", "application/pdf"), (b"\xff\xd8\xff", "image/jpeg"), (b"\x89PNG\r\n\x1a\n", "image/png"))


def sniff_content_type(head: bytes) -> str | None:
    for magic, ctype in _MAGIC:
        if head.startswith(magic):
            return ctype
    return None


@transaction.atomic
def archive_attach(
    *, actor: Actor, enrollment: Enrollment, kind: str, title: str, data: bytes
) -> ArchiveDocument:
    """Add a document to the electronic archive (第6条). PDF/JPEG/PNG only, by content; size-limited."""
    require_registrar_for_school(actor, enrollment.school)
    _require_active(enrollment)
    if kind not in ArchiveDocument.Kind.values:
        raise FieldError("kind", "invalid_kind", "材料类型无效")
    if not title.strip():
        raise FieldError("title", "required", "材料名称为必填项")
    if len(data) > settings.ARCHIVE_MAX_BYTES:
        raise FieldError(
            "file", "file_too_large", f"文件不能超过 {settings.ARCHIVE_MAX_BYTES // (1024 * 1024)} MB"
        )
    ctype = sniff_content_type(data[:16])
    if ctype is None:
        raise FieldError("file", "file_type", "只接受 PDF、JPEG、PNG 文件（按文件内容识别）")
    doc = ArchiveDocument(
        person_id=enrollment.person_id,
        province_code=enrollment.province_code,
        kind=kind,
        title=title.strip()[:100],
        content_type=ctype,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        uploaded_by=actor,
    )
    doc.file.save(str(doc.id), ContentFile(data), save=False)
    doc.save()
    record(
        event_type=EventType.ARCHIVE_ATTACHED,
        actor=actor,
        summary=f"上传档案材料：{doc.title}",
        after={"kind": kind, "sha256": doc.sha256, "size": doc.size},
        **_audit_subject(enrollment),
    )
    return doc


@transaction.atomic
def archive_complete(*, actor: Actor, enrollment: Enrollment) -> Enrollment:
    """Mark the electronic archive built (第6条: within two months of registration). Needs at least one
    identity or enrollment document in the archive."""
    require_registrar_for_school(actor, enrollment.school)
    locked = Enrollment.objects.select_for_update().get(pk=enrollment.pk)
    if locked.archive_completed_at is not None:
        raise ApplicationError("archive_already_complete", "学籍档案已建立")
    if not ArchiveDocument.objects.filter(person_id=locked.person_id).exists():
        raise ApplicationError("archive_empty", "请先上传至少一份档案材料（身份证件、户口簿或入学登记材料）")
    locked.archive_completed_at = timezone.now()
    locked.save(update_fields=["archive_completed_at"])
    overdue = timezone.localdate() > locked.archive_due
    record(
        event_type=EventType.ARCHIVE_COMPLETED,
        actor=actor,
        summary="学籍档案建立完成" + ("（已超期）" if overdue else ""),
        after={"archive_due": locked.archive_due.isoformat(), "overdue": overdue},
        **_audit_subject(locked),
    )
    return locked


@transaction.atomic
def problem_resolve(*, actor: Actor, problem: ProblemRecord, outcome: str, note: str) -> ProblemRecord:
    """第9条: the upper level resolves problem records. A suspected duplicate is confirmed as two different
    children (``distinct``) or marked handled after the school corrected/removed the record (``resolved``).
    Only department registrars or approvers whose jurisdiction covers the record may resolve."""
    if not in_scope(actor, problem.scope_path):
        raise NotFound()
    if not any(g.role in {Role.DEPT_REGISTRAR, Role.APPROVER} for g in data_grants(actor)):
        raise Forbidden("not_department", "问题学籍由上级学籍管理部门处理（第九条）")
    if outcome not in {ProblemRecord.State.CONFIRMED_DISTINCT, ProblemRecord.State.MERGED}:
        raise FieldError("outcome", "invalid_outcome", "处理结果无效")
    if not note.strip():
        raise FieldError("note", "required", "请填写处理意见")
    locked = ProblemRecord.objects.select_for_update().get(pk=problem.pk)
    if locked.state != ProblemRecord.State.OPEN:
        raise ApplicationError("problem_closed", "该问题学籍已处理")
    locked.state, locked.resolution_note = outcome, note.strip()[:300]
    locked.resolved_at, locked.resolved_by = timezone.now(), actor
    locked.save(update_fields=["state", "resolution_note", "resolved_at", "resolved_by"])
    record(
        event_type=EventType.PROBLEM_RESOLVED,
        actor=actor,
        subject_type="student",
        subject_id=locked.person_id,
        province_code=locked.province_code,
        summary=f"处理问题学籍：{locked.get_state_display()}",
        after={"outcome": outcome},
    )
    return locked
