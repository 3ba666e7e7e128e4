"""Students API (/api/v1/students/): list, detail, register, edit, reveal, family, archive, problems, history.

Every operation is scoped like the UI (第5、23条; architecture.md convention 3):

- the caller must hold a student-data role (学籍管理员 or 审核人) that is filed and trained (第22条), else 403 —
  the three admin roles (三权分立) never see student data;
- a student outside the caller's subtree is 404, exactly as if it did not exist;
- writes on a record (edit, family, archive) are for the registrar of the student's school (第7条), so a
  department registrar who can read the record gets 403; problem records are resolved by the department
  (第9条), so a school registrar gets 403.

The 学籍号 is a direct identifier (security.md §0): masked in lists, full only in the audited detail view. The
identity number and phone numbers are masked everywhere; ``reveal`` shows one of them and is audited.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.conf import settings
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from ninja import File, Form, Query, Router, Status, UploadedFile

from xueji.accounts.auth import actor_of
from xueji.accounts.jurisdiction import (
    require_registrar_for_school,
    require_student_data_reader,
    scope_q,
)
from xueji.accounts.types import Actor
from xueji.audit.enums import EventType
from xueji.audit.models import AuditEvent
from xueji.core.errors import ApplicationError, FieldError
from xueji.core.masking import mask_phone
from xueji.core.pagination import capped_page_of, capped_total, page_of
from xueji.core.ratelimit import ratelimit_hit
from xueji.policies.queries import extra_validator_for, grade_age_rules_for
from xueji.regions.models import OrgUnit
from xueji.schools.queries import school_get

from . import enums
from .fields import PERSON_FIELDS
from .models import ArchiveDocument, Enrollment, Guardian, Person, ProblemRecord
from .queries import (
    StudentFilters,
    after_q,
    enrollment_get,
    enrollment_list,
    history_with_values,
    listed_person,
    masked,
    problem_get,
    problems_open,
    record_documents,
    record_guardians,
)
from .records import (
    archive_attach,
    archive_complete,
    guardian_add,
    problem_resolve,
    student_reveal,
    student_update,
    student_view,
)
from .schemas import (
    ArchiveCompletedOut,
    ArchiveDocumentOut,
    ErrorOut,
    GuardianIn,
    GuardianOut,
    HistoryFiltersIn,
    HistoryPageOut,
    ProblemFiltersIn,
    ProblemPageOut,
    ProblemResolvedOut,
    ProblemResolveIn,
    RevealIn,
    RevealOut,
    StudentDetailOut,
    StudentFiltersIn,
    StudentPageOut,
    StudentRegisteredOut,
    StudentRegisterIn,
    StudentUpdatedOut,
    StudentUpdateIn,
)
from .services import register_students
from .validation import choice_label, clean_registration

router = Router(tags=["学生学籍"])

READ_ERRORS: dict[int, Any] = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut}
WRITE_ERRORS: dict[int, Any] = {400: ErrorOut, **READ_ERRORS}

# Access events (查看/显示完整信息) are the audit administrator's business (/api/v1/audit/events); a record's
# history shows what happened to the record.
ACCESS_EVENTS = (EventType.STUDENT_VIEWED, EventType.STUDENT_REVEALED, EventType.DOCUMENT_PRINTED)
_PERSON_PLAIN = tuple(s.key for s in PERSON_FIELDS if s.key not in {"id_number", "phone"})


def _reader(request: HttpRequest) -> Actor:
    return require_student_data_reader(actor_of(request))


_page = page_of


# --- output builders ---------------------------------------------------------------------------------------


def _list_item(e: Enrollment) -> dict[str, Any]:
    p = listed_person(e)  # a former record that moved on: its snapshot (issue #6 §3.5)
    return {
        "person_id": p.pk,
        "enrollment_id": e.pk,
        "name": p.name,
        "gender": p.gender,
        "birth_date": p.birth_date,
        "student_number_masked": masked(p.student_number),
        "id_number_masked": masked(p.id_number),
        "school_id": e.school_id,
        "school_name": e.school.name,
        "grade": e.grade,
        "class_name": e.class_name,
        "class_number": e.class_number,
        "status": e.status,
        "status_label": choice_label(enums.StudentStatus, e.status),
        "is_active": e.is_active,
        "archive_due": e.archive_due,
        "archive_completed": e.archive_completed_at is not None,
    }


def _person(p: Person) -> dict[str, Any]:
    out = {k: getattr(p, k) for k in _PERSON_PLAIN}
    out["id_number_masked"] = masked(p.id_number)
    out["phone_masked"] = mask_phone(p.phone)
    return out


def _enrollment(e: Enrollment) -> dict[str, Any]:
    return {
        "enrollment_id": e.pk,
        "school_id": e.school_id,
        "school_code": e.school.school_code,
        "school_name": e.school.name,
        "stage": e.stage,
        "grade": e.grade,
        "class_name": e.class_name,
        "class_number": e.class_number,
        "aux_number": e.aux_number,
        "entry_ym": e.entry_ym,
        "entry_method": e.entry_method,
        "study_mode": e.study_mode,
        "student_source": e.student_source,
        "status": e.status,
        "status_label": choice_label(enums.StudentStatus, e.status),
        "is_active": e.is_active,
        "registered_at": e.registered_at,
        "archive_due": e.archive_due,
        "archive_completed_at": e.archive_completed_at,
    }


def _guardian(g: Guardian) -> dict[str, Any]:
    return {
        "id": g.pk,
        "name": g.name,
        "relation": g.relation,
        "relation_note": g.relation_note,
        "is_guardian": g.is_guardian,
        "household_code": g.household_code,
        "address": g.address,
        "phone_masked": mask_phone(g.phone),
        "ethnicity": g.ethnicity,
        "id_type": g.id_type,
        "id_number_masked": masked(g.id_number),
        "employer": g.employer,
        "position": g.position,
    }


def _document(d: ArchiveDocument) -> dict[str, Any]:
    return {
        "id": d.pk,
        "kind": d.kind,
        "kind_label": d.get_kind_display(),
        "title": d.title,
        "content_type": d.content_type,
        "size": d.size,
        "sha256": d.sha256,
        "uploaded_at": d.uploaded_at,
    }


def _problem(p: ProblemRecord) -> dict[str, Any]:
    return {
        "id": p.pk,
        "kind": p.kind,
        "kind_label": p.get_kind_display(),
        "state": p.state,
        "person_id": p.person_id,
        "person_name": p.person.name,
        "other_person_id": p.other_person_id,
        "detail": p.detail,
        "created_at": p.created_at,
    }


def _history_visible(viewer: Actor, enrollment: Enrollment) -> QuerySet[AuditEvent]:
    """Events about this student at org units the viewer may see (a record that moved here from another
    county shows only this subtree's part of its story), newest first; access events excluded."""
    visible_orgs = OrgUnit.objects.filter(scope_q(viewer, "path")).values("id")
    return (
        AuditEvent.objects.filter(subject_type="student", subject_id=str(enrollment.person_id))
        .filter(Q(org_unit_id__in=visible_orgs) | Q(org_unit_id__isnull=True))
        .exclude(event_type__in=ACCESS_EVENTS)
        .order_by("-occurred_at", "-id")
    )


# --- operations (literal paths before /{person_id}) ----------------------------------------------------------


@router.get(
    "/", response={200: StudentPageOut, 429: ErrorOut, **READ_ERRORS}, summary="学生列表（管辖范围内）"
)
def list_students(request: HttpRequest, filters: Query[StudentFiltersIn]) -> Any:
    viewer = _reader(request)
    ratelimit_hit(viewer, "list")  # issue #6 §3.10: 429 above the account's limit
    qs = enrollment_list(
        viewer=viewer,
        filters=StudentFilters(
            q=filters.q,
            school_id=filters.school_id,
            grade=filters.grade,
            class_name=filters.class_name,
            status=filters.status,
            include_inactive=filters.include_inactive,
        ),
    )
    if filters.after is not None:
        if filters.page != 1:
            raise FieldError("page", "invalid_input", "page：使用 after 分页时 page 须为 1")
        total, exact = capped_total(qs)
        rows = list(qs.filter(after_q(viewer=viewer, enrollment_id=filters.after))[: filters.page_size])
        count = total
    else:
        rows, count, exact = capped_page_of(qs, filters.page, filters.page_size)
    return {
        "items": [_list_item(e) for e in rows],
        "count": count,
        "count_exact": exact,
        "next_after": rows[-1].pk if len(rows) == filters.page_size else None,
        "page": filters.page,
        "page_size": filters.page_size,
    }


@router.post(
    "/",
    response={201: StudentRegisteredOut, 409: ErrorOut, 429: ErrorOut, **WRITE_ERRORS},
    summary="注册学籍",
)
def register_student(request: HttpRequest, payload: StudentRegisterIn) -> Any:
    """第6、8、9条: register one student from a valid identity document at the caller's school.

    400 ``registration_invalid`` with one Chinese message per bad field; 409 ``student_already_enrolled``
    (naming the school that holds the active record) when the identity document is already enrolled.
    """
    viewer = _reader(request)
    school = school_get(viewer=viewer, school_id=payload.school_id)
    require_registrar_for_school(viewer, school)
    version, validator = extra_validator_for(school.province_code)
    registration = clean_registration(
        payload.person.model_dump(),
        payload.raw_enrollment(),
        [g.model_dump() for g in payload.guardians],
        school_stages=list(school.stages),
        today=timezone.localdate(),
        extra_validator=validator,
        raw_extra=payload.extra,
        grade_age=grade_age_rules_for(school.province_code, timezone.localdate()),
    )
    [done] = register_students(
        actor=viewer,
        school=school,
        registrations=[registration],
        extra_version=version,
        disclose_holder=True,  # one student: the receiving school learns where to start the transfer
    )
    return Status(
        201,
        {
            "person_id": done.person_id,
            "student_number": done.student_number,
            "suspected_duplicate": done.suspected_duplicate,
        },
    )


@router.get("/problems", response={200: ProblemPageOut, **READ_ERRORS}, summary="待处理的问题学籍（第九条）")
def list_problems(request: HttpRequest, filters: Query[ProblemFiltersIn]) -> Any:
    viewer = _reader(request)
    rows, count = _page(problems_open(viewer=viewer), filters.page, filters.page_size)
    return {
        "items": [_problem(p) for p in rows],
        "count": count,
        "page": filters.page,
        "page_size": filters.page_size,
    }


@router.post(
    "/problems/{problem_id}/resolve",
    response={200: ProblemResolvedOut, **WRITE_ERRORS},
    summary="处理问题学籍（第九条，上级部门）",
)
def resolve_problem(request: HttpRequest, problem_id: UUID, payload: ProblemResolveIn) -> Any:
    viewer = _reader(request)
    problem = problem_get(viewer=viewer, problem_id=problem_id)
    done = problem_resolve(actor=viewer, problem=problem, outcome=payload.outcome, note=payload.note)
    return {
        "id": done.pk,
        "state": done.state,
        "resolution_note": done.resolution_note,
        "resolved_at": done.resolved_at,
    }


@router.get(
    "/{person_id}",
    response={200: StudentDetailOut, 429: ErrorOut, **READ_ERRORS},
    summary="学生完整信息（记录查看日志）",
)
def get_student(request: HttpRequest, person_id: UUID) -> Any:
    """The full record of one student; the view is an audited event (第24条), rate-limited (issue #6 §3.10)."""
    viewer = _reader(request)
    ratelimit_hit(viewer, "list")
    enrollment = enrollment_get(viewer=viewer, person_id=person_id)
    person = enrollment.person
    student_view(actor=viewer, enrollment=enrollment)
    return {
        "person_id": person.pk,
        "student_number": person.student_number,
        "person": _person(person),
        "enrollment": _enrollment(enrollment),
        # A former school's copy shows the family and archive as they were at the move (issue #6 §3.5).
        "guardians": [_guardian(g) for g in record_guardians(enrollment)],
        "archive": [_document(d) for d in record_documents(enrollment)],
        "extra": person.extra or {},
        "extra_version": person.extra_version,
    }


@router.patch(
    "/{person_id}", response={200: StudentUpdatedOut, **WRITE_ERRORS}, summary="修改基础信息（非关键字段）"
)
def update_student(request: HttpRequest, person_id: UUID, payload: StudentUpdateIn) -> Any:
    """第7条 ordinary edits by the school's registrar. Key fields → 400 ``key_field_change`` (第13条);
    anything not an editable basic field (学籍号, status, school, province…) → 400 ``unknown_fields``."""
    viewer = _reader(request)
    enrollment = enrollment_get(viewer=viewer, person_id=person_id)
    changes = payload.model_dump(exclude_unset=True)
    if not changes:
        raise ApplicationError("no_changes", "请至少填写一个要修改的字段")
    person = student_update(actor=viewer, enrollment=enrollment, changes=changes)
    return {"person_id": person.pk, "changed": sorted(changes), "person": _person(person)}


@router.post(
    "/{person_id}/reveal",
    response={200: RevealOut, 429: ErrorOut, **WRITE_ERRORS},
    summary="查看完整证件号或电话（记录日志）",
)
def reveal_identifier(request: HttpRequest, person_id: UUID, payload: RevealIn) -> Any:
    viewer = _reader(request)
    ratelimit_hit(viewer, "reveal")  # issue #6 §3.10: 429 above the account's limit
    enrollment = enrollment_get(viewer=viewer, person_id=person_id)
    value = student_reveal(actor=viewer, enrollment=enrollment, field=payload.field)
    return {"field": payload.field, "value": value}


@router.post("/{person_id}/guardians", response={201: GuardianOut, **WRITE_ERRORS}, summary="添加家庭成员")
def add_guardian(request: HttpRequest, person_id: UUID, payload: GuardianIn) -> Any:
    viewer = _reader(request)
    enrollment = enrollment_get(viewer=viewer, person_id=person_id)
    guardian = guardian_add(actor=viewer, enrollment=enrollment, data=payload.model_dump())
    return Status(201, _guardian(guardian))


@router.post(
    "/{person_id}/archive",
    response={201: ArchiveDocumentOut, **WRITE_ERRORS},
    summary="上传学籍档案材料（第六条；PDF/JPEG/PNG）",
)
def attach_archive_document(
    request: HttpRequest,
    person_id: UUID,
    file: File[UploadedFile],
    kind: Form[str] = "",
    title: Form[str] = "",
) -> Any:
    viewer = _reader(request)
    enrollment = enrollment_get(viewer=viewer, person_id=person_id)
    # One byte past the limit is enough for the service to refuse an oversized file.
    data = file.read(settings.ARCHIVE_MAX_BYTES + 1)
    document = archive_attach(actor=viewer, enrollment=enrollment, kind=kind, title=title, data=data)
    return Status(201, _document(document))


@router.post(
    "/{person_id}/archive/complete",
    response={200: ArchiveCompletedOut, **WRITE_ERRORS},
    summary="学籍档案建立完成（第六条）",
)
def complete_archive(request: HttpRequest, person_id: UUID) -> Any:
    viewer = _reader(request)
    enrollment = enrollment_get(viewer=viewer, person_id=person_id)
    done = archive_complete(actor=viewer, enrollment=enrollment)
    assert done.archive_completed_at is not None
    return {
        "archive_due": done.archive_due,
        "archive_completed_at": done.archive_completed_at,
        "overdue": timezone.localdate(done.archive_completed_at) > done.archive_due,
    }


@router.get("/{person_id}/history", response={200: HistoryPageOut, **READ_ERRORS}, summary="学籍记录变更历史")
def student_history(request: HttpRequest, person_id: UUID, filters: Query[HistoryFiltersIn]) -> Any:
    viewer = _reader(request)
    enrollment = enrollment_get(viewer=viewer, person_id=person_id)
    rows, count = _page(_history_visible(viewer, enrollment), filters.page, filters.page_size)
    # The audit keeps personal values masked; an authorised reader gets them from the record history
    # (issue #6 §3.3), scoped to what the reader may see.
    rows = list(rows)
    payloads = history_with_values(viewer=viewer, person_id=enrollment.person_id, events=rows)
    items = [
        {
            "id": ev.pk,
            "occurred_at": ev.occurred_at,
            "event_type": ev.event_type,
            "event_label": choice_label(EventType, ev.event_type),
            "actor_username": ev.actor_username,
            "summary": ev.summary,
            "before": before,
            "after": after,
        }
        for ev, (before, after) in zip(rows, payloads, strict=True)
    ]
    return {"items": items, "count": count, "page": filters.page, "page_size": filters.page_size}
