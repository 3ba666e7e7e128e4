"""Services on an existing student record: viewing (audited), revealing identifiers, editing ordinary fields,
family members, the electronic archive (第6条) and problem records (第9条)."""

from __future__ import annotations

import hashlib
import re
import unicodedata
import uuid
from datetime import date
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone

from xueji.accounts.enums import Role
from xueji.accounts.jurisdiction import data_grants, in_scope, require_registrar_for_school
from xueji.accounts.types import Actor
from xueji.audit.enums import EventType
from xueji.audit.services import record, record_many
from xueji.core.errors import ApplicationError, Conflict, FieldError, Forbidden, NotFound
from xueji.core.signals import records_changed
from xueji.policies.queries import extra_validator_for
from xueji.policies.rules import CHECK_RULES
from xueji.regions.enums import LEVEL_RANK, OrgLevel
from xueji.schools.models import School
from xueji.workdays.services import add_working_days

from .fields import GUARDIAN_FIELDS, PERSON_FIELDS
from .models import (
    ArchiveDocument,
    Enrollment,
    FrozenPerson,
    Guardian,
    Person,
    ProblemEvent,
    ProblemRecord,
)
from .queries import check_rules_for
from .validation import FOREIGN_DOCUMENT_TYPES, check_guardian_identity, clean_fields

# 第13条 / issue #3: these change only through the key-data change flow with evidence and approval.
KEY_FIELDS = frozenset({"name", "id_type", "id_number", "gender", "birth_date"})
EDITABLE_FIELDS = tuple(s for s in PERSON_FIELDS if s.key not in KEY_FIELDS)

#: Person columns the statistics snapshot counts (issue 10 §1): an edit of one refreshes it.
STAT_FIELDS = frozenset({"ethnicity", "household_type", "migrant_child", "left_behind", "disability_type"})


def _audit_subject(enrollment: Enrollment) -> dict[str, Any]:
    return {
        "subject_type": "student",
        "subject_id": enrollment.person_id,
        "org_unit_id": enrollment.school_id,
        "province_code": enrollment.province_code,
    }


def _foreign(enrollment: Enrollment) -> bool:
    """The student holds a foreign identity document (their and their family's names may be Latin)."""
    return enrollment.person.id_type in FOREIGN_DOCUMENT_TYPES


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
def student_update(
    *, actor: Actor, enrollment: Enrollment, changes: dict[str, Any], extra: dict[str, Any] | None = None
) -> Person:
    """Edit ordinary basic fields and, with ``extra``, the province's non-basic fields (第3条; validated against
    the province's active field set) — 第7条: the school keeps the record current.

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
    # A foreign student's names may be Latin (issue 8 item 3): their document type is not part of this edit.
    clean = clean_fields(specs, changes, errors, latin_names=_foreign(enrollment) or None)
    new_extra: dict[str, Any] | None = None
    if extra is not None:
        extra_version, validator = extra_validator_for(enrollment.province_code)
        new_extra, extra_errors = validator(extra)
        errors.update({f"extra.{k}": v for k, v in extra_errors.items()})
    if errors:
        raise ApplicationError("invalid_input", next(iter(errors.values())), errors)
    person = Person.objects.select_for_update().get(pk=enrollment.person_id)
    # Only what changes is written and kept in the history: saving an unchanged form records nothing.
    clean = {k: v for k, v in clean.items() if getattr(person, k) != v}
    before = {k: _jsonable(getattr(person, k)) for k in clean}
    after = {k: _jsonable(v) for k, v in clean.items()}
    fields = list(clean)
    if new_extra is not None:
        old_extra = dict(person.extra or {})
        merged = {**old_extra, **new_extra}
        for key in set(extra or {}) - set(new_extra):  # a field left blank is removed
            merged.pop(key, None)
        for key in sorted(set(old_extra) | set(merged)):
            if old_extra.get(key) != merged.get(key):
                before[f"extra.{key}"], after[f"extra.{key}"] = old_extra.get(key), merged.get(key)
        if merged != old_extra:
            person.extra = merged
            # The values were validated against the province's active field set: they now carry its version.
            person.extra_version = extra_version
            fields += ["extra", "extra_version"]
    if not fields:
        return person
    for k, v in clean.items():
        setattr(person, k, v)
    person.save(update_fields=[*fields, "updated_at"])
    if STAT_FIELDS & set(clean):
        records_changed.send(sender=Person, reason="record_updated")  # statistics refresh (issue 10 §1)
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
    clean = clean_fields(GUARDIAN_FIELDS, data, errors, latin_names=_foreign(enrollment) or None)
    check_guardian_identity(clean, errors, today=timezone.localdate())
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


def _guardian_of(enrollment: Enrollment, guardian_id: Any) -> Guardian:
    guardian = (
        Guardian.objects.select_for_update().filter(person_id=enrollment.person_id, pk=guardian_id).first()
        if _is_uuid(guardian_id)
        else None
    )
    if guardian is None:
        raise NotFound()
    return guardian


@transaction.atomic
def guardian_update(
    *, actor: Actor, enrollment: Enrollment, guardian_id: Any, data: dict[str, Any]
) -> Guardian:
    """Edit one family member (第7条). The values before and after go to the record history (masked in the
    audit). At least one family member stays the guardian, as at registration."""
    require_registrar_for_school(actor, enrollment.school)
    _require_active(enrollment)
    guardian = _guardian_of(enrollment, guardian_id)
    errors: dict[str, str] = {}
    clean = clean_fields(GUARDIAN_FIELDS, data, errors, latin_names=_foreign(enrollment) or None)
    check_guardian_identity(clean, errors, today=timezone.localdate())
    if errors:
        raise ApplicationError("invalid_input", next(iter(errors.values())), errors)
    clean = {k: v for k, v in clean.items() if getattr(guardian, k) != v}
    if not clean:
        return guardian
    n = _guardian_number(enrollment, guardian)
    before = {f"guardians.{n}.{k}": _jsonable(getattr(guardian, k)) for k in clean}
    after = {f"guardians.{n}.{k}": _jsonable(v) for k, v in clean.items()}
    for k, v in clean.items():
        setattr(guardian, k, v)
    guardian.save(update_fields=list(clean))
    _require_a_guardian(enrollment)
    record(
        event_type=EventType.GUARDIAN_UPDATED,
        actor=actor,
        summary="修改家庭成员信息",
        before=before,
        after=after,
        history_scope=enrollment.scope_path,
        **_audit_subject(enrollment),
    )
    return guardian


@transaction.atomic
def guardian_remove(*, actor: Actor, enrollment: Enrollment, guardian_id: Any) -> None:
    """Remove one family member (第7条); the record keeps at least one."""
    require_registrar_for_school(actor, enrollment.school)
    _require_active(enrollment)
    guardian = _guardian_of(enrollment, guardian_id)
    if Guardian.objects.filter(person_id=enrollment.person_id).count() <= 1:
        raise ApplicationError("last_guardian", "至少保留一名家庭成员")
    n = _guardian_number(enrollment, guardian)
    before = {f"guardians.{n}.{s.key}": _jsonable(getattr(guardian, s.key)) for s in GUARDIAN_FIELDS}
    guardian.delete()
    _require_a_guardian(enrollment)
    record(
        event_type=EventType.GUARDIAN_REMOVED,
        actor=actor,
        summary="删除家庭成员",
        before=before,
        after=dict.fromkeys(before),
        history_scope=enrollment.scope_path,
        **_audit_subject(enrollment),
    )


def _require_a_guardian(enrollment: Enrollment) -> None:
    """Inside the caller's transaction: the change is refused (and rolled back) if no guardian would remain."""
    if not Guardian.objects.filter(person_id=enrollment.person_id, is_guardian=True).exists():
        raise FieldError("is_guardian", "no_guardian", "家庭成员中至少须有一名监护人")


def _guardian_number(enrollment: Enrollment, guardian: Guardian) -> int:
    """1-based position of the family member on the record (stable: ordered by id)."""
    ids = list(
        Guardian.objects.filter(person_id=enrollment.person_id).order_by("id").values_list("id", flat=True)
    )
    return ids.index(guardian.pk) + 1


#: A batch of 调班 is one form post; larger moves are several (a class is at most a few dozen pupils).
CLASS_MOVE_MAX = 500
_CONTROL = re.compile(r"[\x00-\x1f\x7f<>]")


def clean_class(class_name: Any, class_number: Any = None) -> tuple[str, str | None]:
    """A class name (required, ≤ 30 characters, no control characters or markup) and an optional 班内学号."""
    name = unicodedata.normalize("NFKC", str(class_name or "")).strip()
    if not name:
        raise FieldError("class_name", "required", "请填写班级")
    if len(name) > 30 or _CONTROL.search(name):
        raise FieldError("class_name", "invalid", "班级不能超过 30 个字符，且不能含控制字符或尖括号")
    number = None if class_number is None else unicodedata.normalize("NFKC", str(class_number)).strip()
    if number is not None and (len(number) > 10 or _CONTROL.search(number)):
        raise FieldError("class_number", "invalid", "班内学号不能超过 10 个字符")
    return name, number


@transaction.atomic
def class_assign(
    *, actor: Actor, enrollments: list[Enrollment], class_name: Any, class_number: Any = None
) -> int:
    """分班 / 调班 — put students (one, or a batch of the same school's) into a class (第7条: the school keeps
    the record current). All or nothing: every record must be active and of a school whose registrar the actor
    is, else nothing moves. ``class_number`` (班内学号) only for a single student. One audit event per student
    (which class before and after; no personal data). Returns how many students changed class."""
    if not enrollments:
        raise ApplicationError("no_students", "请选择学生")
    if len(enrollments) > CLASS_MOVE_MAX:
        raise ApplicationError("too_many", f"一次最多调整 {CLASS_MOVE_MAX} 名学生的班级")
    if class_number is not None and len(enrollments) != 1:
        raise FieldError("class_number", "single_only", "班内学号只能逐个学生填写")
    name, number = clean_class(class_name, class_number)
    for school in {e.school_id: e.school for e in enrollments}.values():
        require_registrar_for_school(actor, school)
    for e in enrollments:
        _require_active(e)
    locked = {
        e.pk: e
        for e in Enrollment.objects.select_for_update().filter(
            pk__in=[e.pk for e in enrollments], is_active=True
        )
    }
    if len(locked) != len({e.pk for e in enrollments}):  # one left the school since the page was shown
        raise ApplicationError("record_inactive", "所选学生中有人已不在本校在读，请刷新后重试")
    moved = []
    for e in locked.values():
        if e.class_name == name and (number is None or e.class_number == number):
            continue
        before = {
            "class_name": e.class_name,
            **({"class_number": e.class_number} if number is not None else {}),
        }
        e.class_name = name
        if number is not None:
            e.class_number = number
        moved.append((e, before))
    if not moved:
        return 0
    Enrollment.objects.bulk_update([e for e, _b in moved], ["class_name", "class_number"])
    records_changed.send(sender=Enrollment, reason="class_assigned")  # statistics refresh (issue 10 §1)
    record_many(
        (
            {
                **_audit_subject(e),
                "summary": f"调整班级：{before['class_name']} → {e.class_name}",
                "after": {"class_name": e.class_name},
            }
            for e, before in moved
        ),
        event_type=EventType.CLASS_ASSIGNED,
        actor=actor,
    )
    return len(moved)


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


# ------------------------------------------------------------------------------------------ problem records
# 第9条: 上级学籍管理部门与学校应及时核实学生学籍信息，处理与解决问题学籍; 第25条: 严肃、及时处理检查中发现的问题.
#
# Who may do what to an OPEN record (``owner`` = the level that must act now):
#   explain   the record's school, whoever owns it (a verification round needs every open record explained)
#   correct   the school while it owns the record: it has corrected through the proper change → the county
#   return    the department owning it: county → school, city → county, province → city
#   escalate  the department owning it (a county also while the school owns it): county → city → province
#   resolve   the department owning it (a county also while the school owns it): closed as distinct/resolved
# A department above the owning one may take any of these over; one below may not (an escalated record is no
# longer the county's).
# and to a CLOSED one:
#   reopen    a department whose jurisdiction covers it → open again, owned by the school
# Every hand-over (a change of owner, and reopen) restarts ``due_on`` for the new owner in working days
# (:func:`problem_due_on`); return and reopen clear the school's explanation (it must explain again, 第25条).
Owner = ProblemRecord.Owner
Action = ProblemEvent.Action
#: (action, owner before) → owner after; a pair not listed is refused. Pure data, tested pair by pair.
PROBLEM_TRANSITIONS: dict[tuple[str, str], str] = {
    (Action.EXPLAIN, Owner.SCHOOL): Owner.SCHOOL,
    (Action.EXPLAIN, Owner.COUNTY): Owner.COUNTY,
    (Action.EXPLAIN, Owner.CITY): Owner.CITY,
    (Action.EXPLAIN, Owner.PROVINCE): Owner.PROVINCE,
    (Action.CORRECT, Owner.SCHOOL): Owner.COUNTY,
    (Action.RETURN, Owner.COUNTY): Owner.SCHOOL,
    (Action.RETURN, Owner.CITY): Owner.COUNTY,
    (Action.RETURN, Owner.PROVINCE): Owner.CITY,
    (Action.ESCALATE, Owner.SCHOOL): Owner.CITY,
    (Action.ESCALATE, Owner.COUNTY): Owner.CITY,
    (Action.ESCALATE, Owner.CITY): Owner.PROVINCE,
    (Action.RESOLVE, Owner.SCHOOL): Owner.COUNTY,
    (Action.RESOLVE, Owner.COUNTY): Owner.COUNTY,
    (Action.RESOLVE, Owner.CITY): Owner.CITY,
    (Action.RESOLVE, Owner.PROVINCE): Owner.PROVINCE,
}
#: Which level acts for the owner in each department action (a school-owned record is the county's to overrule).
_ACTING_LEVEL = {Owner.SCHOOL: Owner.COUNTY, Owner.COUNTY: Owner.COUNTY, Owner.CITY: Owner.CITY}
_ACTING_LEVEL[Owner.PROVINCE] = Owner.PROVINCE
SCHOOL_ACTIONS = frozenset({Action.EXPLAIN, Action.CORRECT})
PROBLEM_EVENT_TYPES = {
    Action.EXPLAIN: "problem.explained",
    Action.CORRECT: "problem.corrected",
    Action.RETURN: "problem.returned",
    Action.ESCALATE: "problem.escalated",
    Action.RESOLVE: EventType.PROBLEM_RESOLVED,
    Action.REOPEN: "problem.reopened",
}
PROBLEM_CLOSED = "problem_closed"
MAX_PROBLEM_NOTE = 300


#: Working days the owner has for a reason that is no check rule (no province data for it): the checks' own
#: reasons take ``due_working_days`` from the province's check rules (:data:`xueji.policies.rules.CHECKS_DEFAULT`).
#: 第25条: what a verification round found (人籍分离、空挂学籍、需更正) is handled 严肃、及时 — ten working days.
DUE_WORKING_DAYS_OTHER: dict[str, int] = {
    ProblemRecord.Kind.ID_DUPLICATE: 20,
    ProblemRecord.Kind.VERIFY_ABSENT: 10,
    ProblemRecord.Kind.VERIFY_PHANTOM: 10,
    ProblemRecord.Kind.VERIFY_CORRECTION: 10,
}
DUE_WORKING_DAYS_FALLBACK = 20


def problem_due_on(province_code: str, kind: str, today: date) -> date:
    """The deadline of a problem record of ``kind`` whose owner changes (or which opens) ``today``: the working
    days of the province's check rule for the reason (the same rule and calendar as the checks, 第9条), else
    :data:`DUE_WORKING_DAYS_OTHER`, counted on the official working-day calendar."""
    if kind in CHECK_RULES:
        days = check_rules_for(province_code, today).due_working_days(kind)
    else:
        days = DUE_WORKING_DAYS_OTHER.get(kind, DUE_WORKING_DAYS_FALLBACK)
    return add_working_days(today, days).due


def problem_school(problem: ProblemRecord) -> School:
    """The school holding the record (records opened before the school was stored carry only its path)."""
    if problem.school_id is not None:
        return problem.school  # type: ignore[return-value]
    return School.objects.select_related("org").get(org__path=problem.scope_path)


def department_levels(actor: Actor, problem: ProblemRecord) -> set[str]:
    """The department levels (county, city, province) at which ``actor`` — a department registrar or approver
    whose jurisdiction covers the record — may act on it. The school's supervising department counts as its
    county (a school administered directly by a city, 第5条)."""
    levels: set[str] = set()
    school = problem_school(problem)
    for grant in data_grants(actor):
        unit = grant.org_unit
        if grant.role not in {Role.DEPT_REGISTRAR, Role.APPROVER} or not problem.scope_path.startswith(
            unit.path
        ):
            continue
        if unit.level == OrgLevel.COUNTY or unit.pk == school.supervising_dept_id:
            levels.add(Owner.COUNTY)
        if unit.level in {OrgLevel.CITY, OrgLevel.PROVINCE}:
            levels.add(str(unit.level))
    return levels


def problem_allowed(actor: Actor, problem: ProblemRecord, action: str) -> bool:
    """May ``actor`` take ``action`` on ``problem`` now (the pages show only the buttons that work)."""
    try:
        _check_problem_action(actor, problem, action)
    except (ApplicationError, NotFound):
        return False
    return True


def _check_problem_action(actor: Actor, problem: ProblemRecord, action: str) -> str:
    """The owner after ``action``; raises NotFound outside the actor's jurisdiction, ``problem_closed`` /
    ``problem_not_open`` for the wrong state, Forbidden when another party must act."""
    if not in_scope(actor, problem.scope_path):
        raise NotFound()
    if action == Action.REOPEN:
        if problem.state == ProblemRecord.State.OPEN:
            raise ApplicationError("problem_not_closed", "该问题学籍尚未处理，无需重新打开")
        if not department_levels(actor, problem):
            raise Forbidden("not_department", "问题学籍由上级学籍管理部门重新打开（第九条）")
        return Owner.SCHOOL
    if problem.state != ProblemRecord.State.OPEN:
        raise ApplicationError(PROBLEM_CLOSED, "该问题学籍已处理")
    after = PROBLEM_TRANSITIONS.get((action, problem.owner))
    if action in SCHOOL_ACTIONS:
        require_registrar_for_school(actor, problem_school(problem))
        if after is None:
            raise Forbidden("problem_not_school", "该问题学籍已交上级学籍管理部门处理")
        return after
    if after is None:
        raise Forbidden("problem_not_yours", f"该问题学籍当前由{problem.get_owner_display()}处理")
    acting = _ACTING_LEVEL[Owner(problem.owner)]
    # The owning level acts; a level above it may take the record over (第9条: 上级学籍管理部门), one below not.
    if not any(
        LEVEL_RANK[OrgLevel(lvl)] <= LEVEL_RANK[OrgLevel(acting)] for lvl in department_levels(actor, problem)
    ):
        raise Forbidden(
            "problem_not_yours",
            f"该问题学籍当前由{Owner(_ACTING_LEVEL[Owner(problem.owner)]).label}处理（第九条）",
        )
    return after


@transaction.atomic
def problem_act(
    *, actor: Actor, problem: ProblemRecord, action: str, note: str, outcome: str = ""
) -> ProblemRecord:
    """One step of a problem record's handling (see :data:`PROBLEM_TRANSITIONS`; 第9、25条). Locks the record,
    checks the actor's part, writes the record, one :class:`ProblemEvent` and one audit event (the action and
    the levels, no personal data). ``note`` is required (the explanation, the correction made, the reason to
    return or escalate, the decision); ``outcome`` (``distinct`` or ``resolved``) only for ``resolve``.
    Raises NotFound (out of jurisdiction, nothing written), Forbidden, FieldError or ``problem_closed``."""
    if action not in Action.values or action == Action.OPEN:
        raise FieldError("action", "invalid_action", "操作无效")
    locked = ProblemRecord.objects.select_for_update().get(pk=problem.pk)
    after = _check_problem_action(actor, locked, action)
    text = (note or "").strip()
    if not text:
        raise FieldError("note", "required", "请填写处理意见" if action == Action.RESOLVE else "请填写说明")
    if len(text) > MAX_PROBLEM_NOTE:
        raise FieldError("note", "too_long", f"说明不能超过 {MAX_PROBLEM_NOTE} 个字符")
    if action == Action.RESOLVE and outcome not in {
        ProblemRecord.State.CONFIRMED_DISTINCT,
        ProblemRecord.State.MERGED,
    }:
        raise FieldError("outcome", "invalid_outcome", "处理结果无效")
    now = timezone.now()
    before = {"state": locked.state}
    fields = ["owner"]
    if (after != locked.owner and action != Action.RESOLVE) or action == Action.REOPEN:
        # The deadline follows the owner: whoever must act now gets the rule's working days from today (a record
        # being closed keeps its deadline: whether it was handled in time stays readable).
        locked.due_on = problem_due_on(locked.province_code, locked.kind, timezone.localdate(now))
        fields.append("due_on")
    if action in {Action.RETURN, Action.REOPEN} and locked.explanation:
        # 第25条: a record sent back or reopened needs a new explanation — the old one was not accepted, and the
        # school may not submit a verification round on it.
        locked.explanation, locked.explained_at, locked.explained_by = "", None, None
        fields += ["explanation", "explained_at", "explained_by"]
    if action == Action.EXPLAIN:
        locked.explanation, locked.explained_at, locked.explained_by = text, now, actor
        fields += ["explanation", "explained_at", "explained_by"]
    elif action == Action.RESOLVE:
        locked.state, locked.resolution_note = outcome, text
        locked.resolved_at, locked.resolved_by = now, actor
        fields += ["state", "resolution_note", "resolved_at", "resolved_by"]
    elif action == Action.REOPEN:
        locked.state, locked.resolved_at, locked.resolved_by = ProblemRecord.State.OPEN, None, None
        fields += ["state", "resolved_at", "resolved_by"]
    locked.owner = after
    try:
        with transaction.atomic():
            locked.save(update_fields=fields)
    except IntegrityError as exc:  # reopen while another open record of the same reason exists
        raise Conflict("problem_already_open", "该学生已有同类待处理的问题学籍") from exc
    ProblemEvent.objects.create(
        problem=locked, action=action, actor=actor, at=now, owner_after=after, note=text
    )
    record(
        event_type=PROBLEM_EVENT_TYPES[Action(action)],
        actor=actor,
        subject_type="student",
        subject_id=locked.person_id,
        org_unit_id=locked.school_id,
        province_code=locked.province_code,
        summary=f"问题学籍（{locked.get_kind_display()}）：{Action(action).label}，"
        f"现由{locked.get_owner_display()}处理",
        before=before,
        after={"state": locked.state, "kind": locked.kind, "action": action},
    )
    return locked


def problem_resolve(*, actor: Actor, problem: ProblemRecord, outcome: str, note: str) -> ProblemRecord:
    """第9条: the upper level resolves problem records. A suspected duplicate is confirmed as two different
    children (``distinct``) or marked handled after the school corrected/removed the record (``resolved``).
    Only the department that owns the record now (the county for a record at the school or the county; the
    city or province once escalated) may resolve (:func:`problem_act`)."""
    return problem_act(actor=actor, problem=problem, action=Action.RESOLVE, note=note, outcome=outcome)


@transaction.atomic
def student_edit(
    *,
    actor: Actor,
    enrollment: Enrollment,
    changes: dict[str, Any],
    extra: dict[str, Any] | None,
    class_name: Any,
    class_number: Any,
) -> Person:
    """The record's edit page in one transaction (第7条): ordinary fields, non-basic fields and the class.
    A refusal of any part leaves the record as it was. Field errors of every part are reported together."""
    errors: dict[str, str] = {}
    try:
        clean_class(class_name, class_number)
    except FieldError as exc:
        errors.update(exc.fields)
    try:
        person = student_update(actor=actor, enrollment=enrollment, changes=changes, extra=extra)
    except ApplicationError as exc:
        if not exc.fields:
            raise
        errors = {**exc.fields, **errors}
    if errors:
        raise ApplicationError("invalid_input", next(iter(errors.values())), errors)
    class_assign(actor=actor, enrollments=[enrollment], class_name=class_name, class_number=class_number)
    return person
