"""Change requests API (/api/v1/changes/): worklists, requests, decisions, timelines, notifications, cohorts.

Scope (第5、23条; architecture.md convention 3), exactly as in the UI:

- the caller must hold a filed and trained student-data role (第22条) — else 403 without data; the three
  admin roles (三权分立) never see change requests;
- a request is visible to the subtrees of its record's school and of its target school; anything else is 404,
  exactly as if it did not exist; lists simply leave it out;
- acting is for the unit of the current step (``not_your_step``, 403, for a reader who may see it), resubmit and
  cancel for the initiating unit — the engine (:mod:`xueji.changes.services`) decides, this router only maps.

Idempotency (issue #3; security.md §"Concurrency", draft-ietf-httpapi-idempotency-key-header) on the two
operations that create effects a client may retry, ``POST /changes/`` and ``POST /changes/{id}/decisions``:

- the ``Idempotency-Key`` header is required: missing → 400 ``idempotency_key_required``; a key that is not
  1–59 characters of ``A–Z a–z 0–9 . _ : ~ + / = -`` → 400 ``idempotency_key_invalid``. Keys are scoped by
  user (two users may use the same key);
- a key in flight (another request with the same user and key has not finished) → 409
  ``idempotency_key_in_flight`` (PostgreSQL: a transaction-scoped advisory lock on (user, key), tried without
  waiting; SQLite serialises writers, so there the duplicate waits and then replays).

Submission (``POST /changes/``). The body is one schema per kind (a union discriminated by ``kind``; the
``facts`` are the kind's, see :mod:`xueji.changes.schemas`). The key is stored in ``ChangeRequest.idempotency_key`` (unique per
``created_by``) as ``"<key>|<fingerprint>"``, the fingerprint being 20 hex digits of the SHA-256 of the
canonical JSON body, so no other table is needed:

- same key, same body → the same request: **201 both times**, byte-identical bodies (the receipt holds only
  what never changes after the submission; the live state is at ``GET /changes/{id}``); a replay carries the
  header ``Idempotent-Replayed: true``;
- same key, different body → 422 ``idempotency_key_reused`` (nothing written).

Decision (``POST /changes/{id}/decisions`` ``{position, action, comment}``). The decision's natural key is
(request, position, acting user): a step is decided once. The header is required as above and guards against
in-flight duplicates; what happens to a repeated decision does not depend on the key's value:

- the step at ``position`` is still open → decided now (200);
- it was decided by the caller with the same action and comment → idempotent replay: 200, byte-identical
  receipt, nothing written (the engine's ``position`` check);
- it was decided by the caller with another action or another comment → 422 ``idempotency_key_reused``
  (the same decision resent with a different body);
- it was decided by someone else → 409 ``step_already_decided`` (or ``request_not_pending`` once closed).

Batch approval (``POST /changes/decisions/batch`` ``{items: [{request_id, position}], comment}``): each item is
decided on its own, in its own transaction, exactly as ``POST /changes/{id}/decisions`` with ``approve`` would
decide it; the answer is 200 with one result per item. An item outside the caller's reach is ``not_found`` (as
the single path's 404: nothing revealed), one the caller may see but not decide gets the single path's error
(``not_your_step``, ``step_already_decided`` …); neither is decided and the others go on. A resent batch is
harmless: an item the caller already approved at that position is a replay (``ok``, nothing written).

Statuses: 201 created, 200 ok, 400 ApplicationError, 401, 403 Forbidden, 404 not found or out of scope,
409 Conflict, 422 schema error or idempotency misuse.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from ninja import File, Form, Header, Query, Router, Status, UploadedFile

from xueji.accounts.auth import actor_of
from xueji.accounts.jurisdiction import in_scope, require_student_data_reader
from xueji.accounts.types import Actor
from xueji.core.errors import FieldError, NotFound
from xueji.core.pagination import page_of
from xueji.schools.queries import school_get
from xueji.students.models import Enrollment

from . import kinds, promotion
from .attachments import attachment_add
from .enums import ChangeKind, Entry
from .kinds import graduation, progression
from .lookups import LOOKUP_KINDS, national_lookup
from .presenters import (
    attachment_out,
    batch_item_out,
    cohort_out,
    decision_receipt_out,
    detail_out,
    notification_out,
    promotion_out,
    receipt_out,
    returned_item_out,
    summary_out,
    timeline_item_out,
    work_item_out,
)
from .queries import (
    change_get,
    change_list,
    change_reload,
    county_by_code,
    enrollment_in_scope,
    notification_mark_read,
    notifications_for,
    notifications_read,
    org_unit_by_id,
    returned_to,
    school_named,
    student_in_scope,
    timeline,
    worklist,
)
from .schemas import (
    AttachmentOut,
    BatchApproveIn,
    BatchApproveOut,
    CancelIn,
    ChangeDetailOut,
    ChangeFiltersIn,
    ChangePageOut,
    ChangeReceiptOut,
    ChangeSubmitIn,
    CohortOut,
    DecisionIn,
    DecisionOut,
    ErrorOut,
    GraduationCohortIn,
    NotificationFiltersIn,
    NotificationPageOut,
    NotificationsReadIn,
    NotificationsReadOut,
    ProgressionCohortIn,
    PromotionIn,
    PromotionOut,
    PromotionQueryIn,
    ResubmitIn,
    SubmitBody,
    TimelineOut,
    WorklistFiltersIn,
    WorklistOut,
)
from .services import (
    IDEMPOTENCY_HEADER,
    body_fingerprint,
    change_approve_batch,
    change_cancel,
    change_decide_once,
    change_resubmit,
    change_submit_once,
    idempotency_key_check,
)

router = Router(tags=["学籍变动"])

READ_ERRORS: dict[int, Any] = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut}
WRITE_ERRORS: dict[int, Any] = {400: ErrorOut, 409: ErrorOut, **READ_ERRORS}


def _reader(request: HttpRequest) -> Actor:
    return require_student_data_reader(actor_of(request))


_page = page_of


# --- reads (literal paths before /{request_id}) --------------------------------------------------------------


@router.get("/worklist", response={200: WorklistOut, **READ_ERRORS}, summary="待办（按办理期限；含上级督办）")
def get_worklist(request: HttpRequest, filters: Query[WorklistFiltersIn]) -> Any:
    """Steps waiting for the caller's units, soonest deadline first (第15条: 10 working days per party), then
    overdue steps of units below (escalated, 第5、26条). ``actions`` lists what the caller may do on the step
    right from the list (approve / reject / return); an escalated item is for supervision only."""
    viewer = _reader(request)
    items = [
        work_item_out(viewer, item)
        for item in worklist(viewer=viewer)
        if not filters.kind or item.step.request.kind == filters.kind
    ]
    returned = [
        returned_item_out(r)
        for r in returned_to(viewer=viewer)
        if not filters.kind or r.request.kind == filters.kind
    ]
    return {"items": items, "count": len(items), "returned": returned}


@router.get("/notifications", response={200: NotificationPageOut, **READ_ERRORS}, summary="站内通知")
def list_notifications(request: HttpRequest, filters: Query[NotificationFiltersIn]) -> Any:
    viewer = _reader(request)
    rows, count = _page(
        notifications_for(viewer=viewer, unread_only=filters.unread_only), filters.page, filters.page_size
    )
    read = notifications_read(viewer, rows) if not filters.unread_only else set()
    items = [notification_out(n, read) for n in rows]
    return {"items": items, "count": count, "page": filters.page, "page_size": filters.page_size}


@router.post(
    "/notifications/read", response={200: NotificationsReadOut, **WRITE_ERRORS}, summary="通知标记为已读"
)
def read_notifications(request: HttpRequest, payload: NotificationsReadIn) -> Any:
    """Marks the caller's own unread notices among ``ids``; other ids are ignored (and counted out)."""
    viewer = _reader(request)
    return {"marked": notification_mark_read(viewer=viewer, notification_ids=payload.ids)}


@router.get(
    "/timeline/{person_id}", response={200: TimelineOut, **READ_ERRORS}, summary="学生的学籍变动时间线"
)
def get_timeline(request: HttpRequest, person_id: UUID) -> Any:
    """Every request of the student the caller may see, newest first, each with its steps. A student with
    no record and no request in the caller's jurisdiction is 404."""
    viewer = _reader(request)
    rows = timeline(viewer=viewer, person_id=person_id)
    if not rows and not student_in_scope(viewer, person_id):
        raise NotFound()
    items = [timeline_item_out(req) for req in rows]
    return {"person_id": person_id, "items": items}


@router.get("/", response={200: ChangePageOut, **READ_ERRORS}, summary="学籍变动申请列表（管辖范围内）")
def list_changes(request: HttpRequest, filters: Query[ChangeFiltersIn]) -> Any:
    viewer = _reader(request)
    qs = change_list(
        viewer=viewer,
        kind=filters.kind,
        state=filters.state,
        person_id=filters.person_id,
        initiated=filters.initiated,
    )
    rows, count = _page(qs, filters.page, filters.page_size)
    return {
        "items": [summary_out(r) for r in rows],
        "count": count,
        "page": filters.page,
        "page_size": filters.page_size,
    }


# --- submission ----------------------------------------------------------------------------------------------


def _national_lookup(viewer: Actor, body: SubmitBody) -> Enrollment | None:
    """The national 学籍号+姓名 lookup a receiving school's body asks for (``lookup``, or a kind whose facts
    name the student, e.g. 境外返回): rate-limited and audited (issue #6 §3 leaks 2, 10). Run before the
    submission's transaction, so that a refused or failed lookup still counts and stays in the audit."""
    kind = body.kind
    if kind not in LOOKUP_KINDS or body.enrollment_id is not None:
        return None
    facts = body.facts.given()
    if body.lookup is not None:
        number, name = body.lookup.student_number, body.lookup.name
    elif kinds.get(kind).entry == Entry.RECEIVING:
        number, name = str(facts.get("student_number") or ""), str(facts.get("name") or "")
        if not number.strip() or not name.strip():
            return None  # nothing to look up: the engine refuses the missing field
    else:
        return None
    return national_lookup(viewer=viewer, kind=kind, student_number=number, name=name)


def _submission(viewer: Actor, body: SubmitBody, found: Enrollment | None = None) -> dict[str, Any]:
    """The engine's arguments from the body, each object resolved within the caller's reach (``found``: the
    result of :func:`_national_lookup`)."""
    kind = body.kind
    if kind not in ChangeKind.values:
        raise FieldError("kind", "unknown_kind", "业务类型无效")
    facts = body.facts.given()
    enrollment: Enrollment | None = None
    if body.lookup is not None and body.enrollment_id is not None:
        raise FieldError("lookup", "ambiguous_student", "学籍ID与学籍号查找只能填写其中一项")
    if body.lookup is not None:
        number, name = body.lookup.student_number, body.lookup.name
        if kind not in LOOKUP_KINDS:
            raise FieldError(
                "lookup", "lookup_not_allowed", "只有转学、升学、境外返回可以按学籍号和姓名查找学生"
            )
        if kinds.get(kind).entry == Entry.RECEIVING:
            facts.update(student_number=number, name=name)  # the engine finds the person again (第20条)
        else:
            enrollment = found
    elif body.enrollment_id is not None:
        enrollment = enrollment_in_scope(viewer, body.enrollment_id)
    target_school = (
        school_get(viewer=viewer, school_id=body.target_school_id)
        if body.target_school_id is not None
        else None
    )
    household_county = None
    if body.household_county_code:
        household_county = county_by_code(body.household_county_code)
        if household_county is None:
            raise FieldError(
                "household_county_code",
                "unknown_county",
                "户籍所在地县级教育行政部门代码无效（6位行政区划代码）",
            )
    return {
        "kind": kind,
        "enrollment": enrollment,
        "target_school": target_school,
        "facts": facts,
        "reason": body.reason,
        "note": body.note,
        "household_county": household_county,
    }


@router.post(
    "/",
    response={201: ChangeReceiptOut, 429: ErrorOut, **WRITE_ERRORS},
    summary="发起学籍变动申请（需幂等键）",
)
def submit_change(
    request: HttpRequest,
    payload: ChangeSubmitIn,
    response: HttpResponse,
    idempotency_key: str | None = Header(None, alias=IDEMPOTENCY_HEADER),
) -> Any:
    """Start a change (第11–21条; who may start which is the engine's rule). The body's ``facts`` follow the
    kind's schema (one per ``kind``). ``Idempotency-Key`` required: a replay with the same body returns the
    same receipt (201, ``Idempotent-Replayed: true``); with another body → 422 ``idempotency_key_reused``; a
    duplicate still in flight → 409 ``idempotency_key_in_flight``."""
    viewer = _reader(request)
    body = payload.root
    key = idempotency_key_check(idempotency_key)
    fingerprint = body_fingerprint(
        {
            **body.model_dump(mode="json", exclude={"facts"}),
            "facts": body.facts.model_dump(mode="json", exclude_unset=True),
        }
    )
    # Outside the transaction: the lookup's count and audit event survive a refusal.
    found = _national_lookup(viewer, body)
    made, replayed = change_submit_once(
        actor=viewer, key=key, fingerprint=fingerprint, submission=lambda: _submission(viewer, body, found)
    )
    if replayed:
        response["Idempotent-Replayed"] = "true"
    return Status(201, receipt_out(change_reload(made.pk)))


# --- batch approval ------------------------------------------------------------------------------------------


@router.post(
    "/decisions/batch",
    response={200: BatchApproveOut, **WRITE_ERRORS},
    summary="批量通过待办（逐项办理，逐项返回结果）",
)
def approve_batch(request: HttpRequest, payload: BatchApproveIn) -> Any:
    """Approve (or, on a 备案 step, file) each item as the single decision would, each in its own transaction;
    one result per item (see the module docstring). At most 100 items."""
    viewer = _reader(request)
    items = [(str(i.request_id), i.position) for i in payload.items]
    unique = list(dict.fromkeys(items))
    results = change_approve_batch(actor=viewer, items=unique, comment=payload.comment)
    out = [batch_item_out(r) for r in results]
    approved = sum(1 for r in results if r.ok)
    return {"items": out, "approved": approved, "refused": len(results) - approved}


# --- cohorts and promotion -----------------------------------------------------------------------------------


@router.post(
    "/cohorts/graduation", response={200: CohortOut, **WRITE_ERRORS}, summary="整体毕业/结业（第十九条）"
)
def graduate_cohort(request: HttpRequest, payload: GraduationCohortIn) -> Any:
    """One request per student of the school's graduating grade; students the kind refuses (business in
    flight, open 问题学籍…) are skipped and listed. The school's registrar only."""
    viewer = _reader(request)
    school = school_get(viewer=viewer, school_id=payload.school_id)
    result = graduation.graduate_cohort(actor=viewer, school=school, grade=payload.grade, kind=payload.kind)
    return cohort_out(result, reveal_names=True)


@router.post(
    "/cohorts/progression", response={200: CohortOut, **WRITE_ERRORS}, summary="整体升学（第十四条）"
)
def progress_cohort(request: HttpRequest, payload: ProgressionCohortIn) -> Any:
    """The admitting school's registrar progresses a whole graduating grade (6 or 9) of ``from_school``, which
    must lie under the department supervising the admitting school: any other graduating school is 404 and
    nothing is created (第14条; issue #6 §3.1 — across departments, one by one by 学籍号 + 姓名). Names of
    skipped students of a school outside the caller's jurisdiction are masked."""
    viewer = _reader(request)
    to_school = school_get(viewer=viewer, school_id=payload.to_school_id)
    from_school = school_named(school_id=payload.from_school_id)
    if from_school is None:
        raise FieldError("from_school_id", "unknown_school", "毕业学校不存在")
    result = progression.progress_cohort(
        actor=viewer,
        from_school=from_school,
        to_school=to_school,
        grade=payload.grade,
        class_name=payload.class_name,
        admission_ref=payload.admission_ref,
    )
    return cohort_out(result, reveal_names=in_scope(viewer, from_school.org.path))


@router.get(
    "/promotion/preview", response={200: PromotionOut, **READ_ERRORS}, summary="年度升级预览（第七条）"
)
def promotion_preview(request: HttpRequest, params: Query[PromotionQueryIn]) -> Any:
    viewer = _reader(request)
    return promotion_out(
        promotion.promotion_preview(
            actor=viewer, org_unit=org_unit_by_id(params.org_id), school_year=params.school_year
        )
    )


@router.post("/promotion/run", response={200: PromotionOut, **WRITE_ERRORS}, summary="年度升级（第七条）")
def promotion_run(request: HttpRequest, payload: PromotionIn) -> Any:
    """Re-runnable: a second run for the same school year promotes nobody again."""
    viewer = _reader(request)
    return promotion_out(
        promotion.promotion_run(
            actor=viewer, org_unit=org_unit_by_id(payload.org_id), school_year=payload.school_year
        )
    )


# --- one request ---------------------------------------------------------------------------------------------


@router.get("/{request_id}", response={200: ChangeDetailOut, **READ_ERRORS}, summary="学籍变动申请详情")
def get_change(request: HttpRequest, request_id: UUID) -> Any:
    viewer = _reader(request)
    req = change_get(viewer=viewer, request_id=request_id)
    return detail_out(viewer, req)


@router.post(
    "/{request_id}/decisions",
    response={200: DecisionOut, **WRITE_ERRORS},
    summary="办理当前环节：同意 / 不同意 / 退回（需幂等键）",
)
def decide(
    request: HttpRequest,
    request_id: UUID,
    payload: DecisionIn,
    idempotency_key: str | None = Header(None, alias=IDEMPOTENCY_HEADER),
) -> Any:
    """Approve, reject or return the step at ``position`` (the current one). Reject and return need a
    comment (400 ``required`` on ``comment``). Replays and conflicts: see the module docstring."""
    viewer = _reader(request)
    key = idempotency_key_check(idempotency_key)
    req = change_get(viewer=viewer, request_id=request_id)
    step = change_decide_once(
        actor=viewer,
        request=req,
        key=key,
        action=payload.action,
        comment=payload.comment,
        position=payload.position,
    )
    return decision_receipt_out(req.pk, step, payload.action)


@router.post(
    "/{request_id}/resubmit", response={200: ChangeDetailOut, **WRITE_ERRORS}, summary="补充材料后重新提交"
)
def resubmit(request: HttpRequest, request_id: UUID, payload: ResubmitIn) -> Any:
    viewer = _reader(request)
    req = change_get(viewer=viewer, request_id=request_id)
    change_resubmit(actor=viewer, request=req, comment=payload.comment)
    return detail_out(viewer, change_get(viewer=viewer, request_id=request_id))


@router.post("/{request_id}/cancel", response={200: ChangeDetailOut, **WRITE_ERRORS}, summary="撤销申请")
def cancel(request: HttpRequest, request_id: UUID, payload: CancelIn) -> Any:
    viewer = _reader(request)
    req = change_get(viewer=viewer, request_id=request_id)
    change_cancel(actor=viewer, request=req, reason=payload.reason)
    return detail_out(viewer, change_get(viewer=viewer, request_id=request_id))


@router.post(
    "/{request_id}/attachments",
    response={201: AttachmentOut, **WRITE_ERRORS},
    summary="添加证明材料（PDF/JPEG/PNG）",
)
def add_attachment(
    request: HttpRequest, request_id: UUID, file: File[UploadedFile], title: Form[str] = ""
) -> Any:
    """Evidence for an application or a decision, by a unit acting on the request, while it is open. The
    file itself is never served through this API (metadata only, as for the electronic archive)."""
    viewer = _reader(request)
    req = change_get(viewer=viewer, request_id=request_id)
    data = file.read(settings.ARCHIVE_MAX_BYTES + 1)
    return Status(201, attachment_out(attachment_add(actor=viewer, request=req, title=title, data=data)))
