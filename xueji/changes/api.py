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

Submission (``POST /changes/``). The key is stored in ``ChangeRequest.idempotency_key`` (unique per
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

Statuses: 201 created, 200 ok, 400 ApplicationError, 401, 403 Forbidden, 404 not found or out of scope,
409 Conflict, 422 schema error or idempotency misuse.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any
from uuid import UUID

from django.conf import settings
from django.db import connection, transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from ninja import File, Form, Header, Query, Router, Status, UploadedFile

from xueji.accounts.jurisdiction import (
    data_grants,
    in_scope,
    require_student_data_reader,
    scope_q,
)
from xueji.core.errors import ApplicationError, Conflict, FieldError, NotFound
from xueji.core.masking import mask_id_number
from xueji.core.pagination import page_of
from xueji.regions.enums import OrgLevel
from xueji.regions.models import OrgUnit
from xueji.schools.models import School
from xueji.schools.queries import school_get
from xueji.students.models import Enrollment, Person

from .enums import ChangeKind, Party
from .lookups import LOOKUP_KINDS, national_lookup
from .models import ApprovalStep, ChangeRequest
from .queries import (
    notification_mark_read,
    notifications_for,
    request_get,
    requests_visible,
    timeline,
    worklist,
)
from .schemas import (
    AttachmentOut,
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
    TimelineOut,
    WorklistFiltersIn,
    WorklistOut,
)
from .services import acts_for, change_cancel, change_decide, change_resubmit, change_submit
from .workflow import MODE_ACTIONS, Action, IllegalTransition, RequestState, StepState, step_result

router = Router(tags=["学籍变动"])

READ_ERRORS: dict[int, Any] = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut}
WRITE_ERRORS: dict[int, Any] = {400: ErrorOut, 409: ErrorOut, **READ_ERRORS}

IDEMPOTENCY_HEADER = "Idempotency-Key"
_KEY_PATTERN = re.compile(r"[A-Za-z0-9._:~+/=-]{1,59}", re.ASCII)
_ACTION_ORDER = (Action.APPROVE, Action.REJECT, Action.RETURN)
# Fact keys holding direct identifiers (security.md §0): shown masked; ``child_key`` is a hash of an identity
# number (a small search space) and is not shown at all.
_MASKED_FACTS = frozenset({"id_number", "student_number", "document_number"})
_HIDDEN_FACTS = frozenset({"child_key"})


class IdempotencyMisuse(ApplicationError):
    """The same idempotency key (or the same decision) sent again with a different body."""

    status = 422

    def __init__(self, message: str = "同一幂等键已用于内容不同的请求，请为新的请求使用新的幂等键") -> None:
        super().__init__("idempotency_key_reused", message, {IDEMPOTENCY_HEADER: message})


def _reader(request: HttpRequest) -> Any:
    return require_student_data_reader(request.auth)  # type: ignore[attr-defined]


_page = page_of


# --- idempotency ---------------------------------------------------------------------------------------------


def _require_key(value: str | None) -> str:
    key = (value or "").strip()
    if not key:
        message = f"请在请求头 {IDEMPOTENCY_HEADER} 中提供幂等键（如 UUID），重试时使用同一个键"
        raise ApplicationError("idempotency_key_required", message, {IDEMPOTENCY_HEADER: message})
    if not _KEY_PATTERN.fullmatch(key):
        message = f"{IDEMPOTENCY_HEADER} 须为 1–59 个字母、数字或 . _ : ~ + / = - 字符"
        raise ApplicationError("idempotency_key_invalid", message, {IDEMPOTENCY_HEADER: message})
    return key


def key_lock_id(user: Any, operation: str, key: str) -> int:
    """The 64-bit advisory lock id of (operation, user, key)."""
    digest = hashlib.sha256(f"xueji.changes.{operation}:{user.pk}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _key_lock(user: Any, operation: str, key: str) -> None:
    """Claim (user, operation, key) for this transaction, or refuse a duplicate still in flight (409).

    PostgreSQL: ``pg_try_advisory_xact_lock`` (released at commit or rollback). SQLite needs nothing: its
    writers are serialised (IMMEDIATE transactions), so a duplicate waits for the first and then replays."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [key_lock_id(user, operation, key)])
        (acquired,) = cursor.fetchone()
    if not acquired:
        raise Conflict("idempotency_key_in_flight", "相同幂等键的请求正在处理中，请稍后用同一幂等键重试")


def _fingerprint(payload: ChangeSubmitIn) -> str:
    body = json.dumps(
        payload.model_dump(mode="json"), sort_keys=True, ensure_ascii=False, separators=(",", ":")
    )
    return hashlib.sha256(body.encode()).hexdigest()[:20]


# --- output builders -----------------------------------------------------------------------------------------


def _mask_facts(value: Any) -> Any:
    """Facts and snapshots with direct identifiers masked, at any depth."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if k in _HIDDEN_FACTS:
                continue
            if k in _MASKED_FACTS and isinstance(v, str):
                out[f"{k}_masked"] = mask_id_number(v) if v else ""
            else:
                out[k] = _mask_facts(v)
        return out
    if isinstance(value, list):
        return [_mask_facts(v) for v in value]
    return value


def _student(req: ChangeRequest) -> tuple[str, str]:
    """(name, masked 学籍号). A deferred child has no record (第11条): the name in the facts, no number."""
    person: Person | None = req.person if req.person_id else None
    if person is not None:
        return person.name, mask_id_number(person.student_number) if person.student_number else ""
    return str(req.facts.get("name", "")), ""


def _summary(req: ChangeRequest) -> dict[str, Any]:
    name, number = _student(req)
    enrollment = req.enrollment if req.enrollment_id else None
    school = enrollment.school if enrollment is not None else None
    return {
        "id": req.pk,
        "kind": req.kind,
        "kind_label": str(req.get_kind_display()),
        "state": req.state,
        "state_label": str(req.get_state_display()),
        "scope": req.scope,
        "person_id": req.person_id,
        "student_name": name,
        "student_number_masked": number,
        "school_id": school.pk if school else None,
        "school_name": school.name if school else "",
        "target_school_id": req.target_school_id,
        "target_school_name": req.target_school.name if req.target_school is not None else "",
        "initiator_org_id": req.initiator_org_id,
        "initiator_org_name": req.initiator_org.name,
        "current_position": req.current_position,
        "created_at": req.created_at,
        "updated_at": req.updated_at,
        "closed_at": req.closed_at,
    }


def _step(s: ApprovalStep) -> dict[str, Any]:
    return {
        "position": s.position,
        "party": s.party,
        "party_label": str(s.get_party_display()),
        "org_unit_id": s.org_unit_id,
        "org_name": s.org_unit.name,
        "mode": s.mode,
        "mode_label": str(s.get_mode_display()),
        "state": s.state,
        "state_label": str(s.get_state_display()),
        "started_on": s.started_on,
        "due_on": s.due_on,
        "due_provisional": s.due_provisional,
        "decided_by": s.decided_by.get_username() if s.decided_by is not None else "",
        "decided_at": s.decided_at,
        "comment": s.comment,
    }


def _is_initiator(viewer: Any, req: ChangeRequest) -> bool:
    """As the engine checks it for resubmit and cancel."""
    party = Party.SCHOOL if req.initiator_org.level == OrgLevel.SCHOOL else "dept"
    return acts_for(viewer, req.initiator_org, party)


def _step_actions(viewer: Any, step: ApprovalStep) -> list[str]:
    if not acts_for(viewer, step.org_unit, step.party):
        return []
    allowed = MODE_ACTIONS.get(step.mode, frozenset())
    return [str(a) for a in _ACTION_ORDER if a in allowed]


def _actions(viewer: Any, req: ChangeRequest, steps: list[ApprovalStep]) -> list[str]:
    out: list[str] = []
    if req.state == RequestState.PENDING:
        current = next((s for s in steps if s.position == req.current_position), None)
        if current is not None and current.state == StepState.PENDING:
            out += _step_actions(viewer, current)
    if req.is_open and _is_initiator(viewer, req):
        if req.state == RequestState.RETURNED:
            out.append(str(Action.RESUBMIT))
        out.append(str(Action.CANCEL))
    return out


def _detail(viewer: Any, req: ChangeRequest) -> dict[str, Any]:
    steps = list(
        ApprovalStep.objects.filter(request=req).select_related("org_unit", "decided_by").order_by("position")
    )
    attachments = req.attachments.order_by("uploaded_at", "id")
    return {
        **_summary(req),
        "reason": req.reason,
        "note": req.note,
        "policy_version": req.policy_version,
        "facts": _mask_facts(req.facts or {}),
        "before": _mask_facts(req.before or {}),
        "steps": [_step(s) for s in steps],
        "attachments": [_attachment(a) for a in attachments],
        "actions": _actions(viewer, req, steps),
    }


def _attachment(a: Any) -> dict[str, Any]:
    return {
        "id": a.pk,
        "step_position": a.step_position,
        "title": a.title,
        "content_type": a.content_type,
        "size": a.size,
        "sha256": a.sha256,
        "uploaded_at": a.uploaded_at,
    }


def _receipt(req: ChangeRequest) -> dict[str, Any]:
    """Only what never changes after the submission (see the module docstring)."""
    return {
        "id": req.pk,
        "kind": req.kind,
        "kind_label": str(req.get_kind_display()),
        "person_id": req.person_id,
        "target_school_id": req.target_school_id,
        "steps_total": ApprovalStep.objects.filter(request_id=req.pk).count(),
        "created_at": req.created_at,
    }


def _decision_receipt(req_id: Any, step: ApprovalStep, action: str) -> dict[str, Any]:
    """Built from the decided step only, so that a replay returns the same bytes."""
    total = ApprovalStep.objects.filter(request_id=req_id).count()
    if action == Action.APPROVE:
        after = RequestState.APPROVED if step.position == total - 1 else RequestState.PENDING
    else:
        after = RequestState.REJECTED if action == Action.REJECT else RequestState.RETURNED
    return {
        "request_id": req_id,
        "position": step.position,
        "action": action,
        "step_state": step.state,
        "step_state_label": str(step.get_state_display()),
        "request_state_after": str(after),
        "decided_at": step.decided_at,
        "comment": step.comment,
    }


def _visible(viewer: Any) -> QuerySet[ChangeRequest]:
    return requests_visible(viewer).select_related(
        "person", "enrollment__school", "target_school", "initiator_org"
    )


# --- reads (literal paths before /{request_id}) --------------------------------------------------------------


@router.get("/worklist", response={200: WorklistOut, **READ_ERRORS}, summary="待办（按办理期限；含上级督办）")
def get_worklist(request: HttpRequest, filters: Query[WorklistFiltersIn]) -> Any:
    """Steps waiting for the caller's units, soonest deadline first (第15条: 10 working days per party), then
    overdue steps of units below (escalated, 第5、26条). ``actions`` lists what the caller may do on the step
    right from the list (approve / reject / return); an escalated item is for supervision only."""
    viewer = _reader(request)
    items = []
    for item in worklist(viewer=viewer):
        step, req = item.step, item.step.request
        if filters.kind and req.kind != filters.kind:
            continue
        name, number = _student(req)
        items.append(
            {
                "request_id": req.pk,
                "kind": req.kind,
                "kind_label": str(req.get_kind_display()),
                "person_id": req.person_id,
                "student_name": name,
                "student_number_masked": number,
                "position": step.position,
                "party": step.party,
                "party_label": str(step.get_party_display()),
                "mode": step.mode,
                "org_unit_id": step.org_unit_id,
                "org_name": step.org_unit.name,
                "started_on": step.started_on,
                "due_on": step.due_on,
                "provisional": step.due_provisional,
                "days_left": item.days_left,
                "overdue": item.overdue,
                "escalated": item.escalated,
                "actions": [] if item.escalated else _step_actions(viewer, step),
            }
        )
    return {"items": items, "count": len(items)}


@router.get("/notifications", response={200: NotificationPageOut, **READ_ERRORS}, summary="站内通知")
def list_notifications(request: HttpRequest, filters: Query[NotificationFiltersIn]) -> Any:
    viewer = _reader(request)
    rows, count = _page(
        notifications_for(viewer=viewer, unread_only=filters.unread_only), filters.page, filters.page_size
    )
    read: set[int] = set()
    if not filters.unread_only and rows:
        through = rows[0].read_by.through
        read = set(
            through.objects.filter(user_id=viewer.pk, notification_id__in=[n.pk for n in rows]).values_list(
                "notification_id", flat=True
            )
        )
    items = [
        {
            "id": n.pk,
            "request_id": n.request_id,
            "org_unit_id": n.org_unit_id,
            "message": n.message,
            "created_at": n.created_at,
            "read": n.pk in read,
        }
        for n in rows
    ]
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
    if not rows and not Enrollment.objects.filter(scope_q(viewer), person_id=person_id).exists():
        raise NotFound()
    items = []
    for req in rows:
        steps = sorted(req.steps.all(), key=lambda s: s.position)
        items.append({**_summary(req), "steps": [_step(s) for s in steps]})
    return {"person_id": person_id, "items": items}


@router.get("/", response={200: ChangePageOut, **READ_ERRORS}, summary="学籍变动申请列表（管辖范围内）")
def list_changes(request: HttpRequest, filters: Query[ChangeFiltersIn]) -> Any:
    viewer = _reader(request)
    qs = _visible(viewer)
    if filters.kind:
        qs = qs.filter(kind=filters.kind)
    if filters.state:
        qs = qs.filter(state=filters.state)
    if filters.person_id:
        qs = qs.filter(person_id=filters.person_id)
    if filters.initiated:
        qs = qs.filter(initiator_org_id__in=sorted({g.org_unit_id for g in data_grants(viewer)}))
    rows, count = _page(qs.order_by("-created_at", "-id"), filters.page, filters.page_size)
    return {
        "items": [_summary(r) for r in rows],
        "count": count,
        "page": filters.page,
        "page_size": filters.page_size,
    }


# --- submission ----------------------------------------------------------------------------------------------


def _national_lookup(viewer: Any, payload: ChangeSubmitIn) -> Enrollment | None:
    """The national 学籍号+姓名 lookup a receiving school's body asks for (``lookup``, or a 境外返回 naming the
    student in its facts): rate-limited and audited (issue #6 §3 leaks 2, 10). Run before the submission's
    transaction, so that a refused or failed lookup still counts and stays in the audit."""
    kind = payload.kind
    if kind not in LOOKUP_KINDS or payload.enrollment_id is not None:
        return None
    if payload.lookup is not None:
        number, name = payload.lookup.student_number, payload.lookup.name
    elif kind == ChangeKind.RETURN_FROM_ABROAD:
        number, name = str(payload.facts.get("student_number") or ""), str(payload.facts.get("name") or "")
        if not number.strip() or not name.strip():
            return None  # nothing to look up: the engine refuses the missing field
    else:
        return None
    return national_lookup(viewer=viewer, kind=kind, student_number=number, name=name)


def _submission(viewer: Any, payload: ChangeSubmitIn, found: Enrollment | None = None) -> dict[str, Any]:
    """The engine's arguments from the body, each object resolved within the caller's reach (``found``: the
    result of :func:`_national_lookup`)."""
    kind = payload.kind
    if kind not in ChangeKind.values:
        raise FieldError("kind", "unknown_kind", "业务类型无效")
    facts = dict(payload.facts)
    enrollment: Enrollment | None = None
    if payload.lookup is not None and payload.enrollment_id is not None:
        raise FieldError("lookup", "ambiguous_student", "学籍ID与学籍号查找只能填写其中一项")
    if payload.lookup is not None:
        number, name = payload.lookup.student_number, payload.lookup.name
        if kind not in LOOKUP_KINDS:
            raise FieldError(
                "lookup", "lookup_not_allowed", "只有转学、升学、境外返回可以按学籍号和姓名查找学生"
            )
        if kind == ChangeKind.RETURN_FROM_ABROAD:
            facts.update(student_number=number, name=name)  # the engine finds the person again (第20条)
        else:
            enrollment = found
    elif payload.enrollment_id is not None:
        enrollment = (
            Enrollment.objects.filter(scope_q(viewer), pk=payload.enrollment_id)
            .select_related("school", "school__org")
            .first()
        )
        if enrollment is None:
            raise NotFound()
    target_school = (
        school_get(viewer=viewer, school_id=payload.target_school_id)
        if payload.target_school_id is not None
        else None
    )
    household_county = None
    if payload.household_county_code:
        household_county = OrgUnit.objects.filter(
            level=OrgLevel.COUNTY, code=payload.household_county_code.strip()
        ).first()
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
        "reason": payload.reason,
        "note": payload.note,
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
    """Start a change (第11–21条; who may start which is the engine's rule). ``Idempotency-Key`` required:
    a replay with the same body returns the same receipt (201, ``Idempotent-Replayed: true``); with another
    body → 422 ``idempotency_key_reused``; a duplicate still in flight → 409 ``idempotency_key_in_flight``."""
    viewer = _reader(request)
    key = _require_key(idempotency_key)
    stored = f"{key}|{_fingerprint(payload)}"
    # Outside the transaction: the lookup's count and audit event survive a refusal.
    found = _national_lookup(viewer, payload)
    with transaction.atomic():
        _key_lock(viewer, "submit", key)
        existing = (
            ChangeRequest.objects.filter(created_by=viewer, idempotency_key__startswith=f"{key}|")
            .only("idempotency_key")
            .first()
        )
        if existing is not None:
            if existing.idempotency_key != stored:
                raise IdempotencyMisuse()
            response["Idempotent-Replayed"] = "true"
            return Status(201, _receipt(ChangeRequest.objects.get(pk=existing.pk)))
        created = change_submit(actor=viewer, idempotency_key=stored, **_submission(viewer, payload, found))
    return Status(201, _receipt(ChangeRequest.objects.get(pk=created.pk)))


# --- cohorts and promotion -----------------------------------------------------------------------------------


def _cohort(result: Any, *, reveal_names: bool) -> dict[str, Any]:
    def name(n: str) -> str:
        return n if reveal_names else (n[:1] + "*" * (len(n) - 1))

    return {
        "submitted": [r.pk for r in result.submitted],
        "submitted_count": len(result.submitted),
        "skipped": [
            {"enrollment_id": s.enrollment_id, "name": name(s.name), "code": s.code, "message": s.message}
            for s in result.skipped
        ],
    }


@router.post(
    "/cohorts/graduation", response={200: CohortOut, **WRITE_ERRORS}, summary="整体毕业/结业（第十九条）"
)
def graduate_cohort(request: HttpRequest, payload: GraduationCohortIn) -> Any:
    """One request per student of the school's graduating grade; students the kind refuses (business in
    flight, open 问题学籍…) are skipped and listed. The school's registrar only."""
    from .kinds.graduation import graduate_cohort as run

    viewer = _reader(request)
    school = school_get(viewer=viewer, school_id=payload.school_id)
    result = run(actor=viewer, school=school, grade=payload.grade, kind=payload.kind)
    return _cohort(result, reveal_names=True)


@router.post(
    "/cohorts/progression", response={200: CohortOut, **WRITE_ERRORS}, summary="整体升学（第十四条）"
)
def progress_cohort(request: HttpRequest, payload: ProgressionCohortIn) -> Any:
    """The admitting school's registrar progresses a whole graduating grade (6 or 9) of ``from_school``, which
    must lie under the department supervising the admitting school: any other graduating school is 404 and
    nothing is created (第14条; issue #6 §3.1 — across departments, one by one by 学籍号 + 姓名). Names of
    skipped students of a school outside the caller's jurisdiction are masked."""
    from .kinds.progression import progress_cohort as run

    viewer = _reader(request)
    to_school = school_get(viewer=viewer, school_id=payload.to_school_id)
    from_school = (
        School.objects.select_related("org", "supervising_dept").filter(pk=payload.from_school_id).first()
    )
    if from_school is None:
        raise FieldError("from_school_id", "unknown_school", "毕业学校不存在")
    result = run(
        actor=viewer,
        from_school=from_school,
        to_school=to_school,
        grade=payload.grade,
        class_name=payload.class_name,
        admission_ref=payload.admission_ref,
    )
    return _cohort(result, reveal_names=in_scope(viewer, from_school.org.path))


def _promotion(report: Any) -> dict[str, Any]:
    out = dict(report.as_dict())
    out["in_flight"] = [_mask_facts(row) for row in out["in_flight"]]
    return out


def _org(org_id: int) -> OrgUnit:
    org = OrgUnit.objects.filter(pk=org_id).first()
    if org is None:
        raise NotFound()
    return org


@router.get(
    "/promotion/preview", response={200: PromotionOut, **READ_ERRORS}, summary="年度升级预览（第七条）"
)
def promotion_preview(request: HttpRequest, params: Query[PromotionQueryIn]) -> Any:
    from .promotion import promotion_preview as preview

    viewer = _reader(request)
    return _promotion(preview(actor=viewer, org_unit=_org(params.org_id), school_year=params.school_year))


@router.post("/promotion/run", response={200: PromotionOut, **WRITE_ERRORS}, summary="年度升级（第七条）")
def promotion_run(request: HttpRequest, payload: PromotionIn) -> Any:
    """Re-runnable: a second run for the same school year promotes nobody again."""
    from .promotion import promotion_run as run

    viewer = _reader(request)
    return _promotion(run(actor=viewer, org_unit=_org(payload.org_id), school_year=payload.school_year))


# --- one request ---------------------------------------------------------------------------------------------


@router.get("/{request_id}", response={200: ChangeDetailOut, **READ_ERRORS}, summary="学籍变动申请详情")
def get_change(request: HttpRequest, request_id: UUID) -> Any:
    viewer = _reader(request)
    req = request_get(viewer=viewer, request_id=request_id)
    return _detail(viewer, req)


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
    key = _require_key(idempotency_key)
    req = request_get(viewer=viewer, request_id=request_id)
    comment = payload.comment.strip()[:500]
    with transaction.atomic():
        _key_lock(viewer, "decide", key)
        try:
            change_decide(
                actor=viewer,
                request=req,
                action=payload.action,
                comment=payload.comment,
                position=payload.position,
            )
        except IllegalTransition as exc:  # an action the step's mode does not admit (e.g. reject on 备案)
            raise ApplicationError(
                "illegal_action", f"该环节不能执行“{Action(payload.action).label}”"
            ) from exc
        except Conflict as exc:
            if exc.code in {"step_already_decided", "request_not_pending"}:
                done = ApprovalStep.objects.filter(request_id=req.pk, position=payload.position).first()
                if done is not None and done.decided_by_id == viewer.pk and done.decided_at is not None:
                    raise IdempotencyMisuse("您已办理过该环节，不能以不同的操作或意见重复提交") from exc
            raise
        step = ApprovalStep.objects.get(request_id=req.pk, position=payload.position)
        if step.decided_by_id != viewer.pk or step.state != step_result(step.mode, payload.action):
            raise Conflict("step_already_decided", "该环节已由他人办理，请刷新后查看")
        if step.comment != comment:
            raise IdempotencyMisuse("您已办理过该环节，不能以不同的操作或意见重复提交")
    return _decision_receipt(req.pk, step, payload.action)


@router.post(
    "/{request_id}/resubmit", response={200: ChangeDetailOut, **WRITE_ERRORS}, summary="补充材料后重新提交"
)
def resubmit(request: HttpRequest, request_id: UUID, payload: ResubmitIn) -> Any:
    viewer = _reader(request)
    req = request_get(viewer=viewer, request_id=request_id)
    change_resubmit(actor=viewer, request=req, comment=payload.comment)
    return _detail(viewer, request_get(viewer=viewer, request_id=request_id))


@router.post("/{request_id}/cancel", response={200: ChangeDetailOut, **WRITE_ERRORS}, summary="撤销申请")
def cancel(request: HttpRequest, request_id: UUID, payload: CancelIn) -> Any:
    viewer = _reader(request)
    req = request_get(viewer=viewer, request_id=request_id)
    change_cancel(actor=viewer, request=req, reason=payload.reason)
    return _detail(viewer, request_get(viewer=viewer, request_id=request_id))


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
    from .attachments import attachment_add

    viewer = _reader(request)
    req = request_get(viewer=viewer, request_id=request_id)
    data = file.read(settings.ARCHIVE_MAX_BYTES + 1)
    return Status(201, _attachment(attachment_add(actor=viewer, request=req, title=title, data=data)))
