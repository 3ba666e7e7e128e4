"""Writes on change requests — the one engine every kind goes through (architecture.md convention 4).

Each action locks the request row (``select_for_update``; SQLite serialises writers with IMMEDIATE
transactions), checks the transition in :mod:`xueji.changes.workflow` and the actor's right to act on the
current step, writes the step and the request, the audit event and the notifications — all in one
transaction. Only the final approval calls the kind's ``apply``; rejection and cancellation leave the student's
record exactly as it was, because nothing was written to it before.

A change with a start date later than its final approval (``KindSpec.effective_fact``: 休学 第16条 …) is
``scheduled``, not applied: :func:`scheduled_changes_apply` (the daily task) applies it on that date, each request
in its own transaction, audited as the system acting on the approval (ADR 0005). Work notices are marked done
as soon as the work they announce is finished.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db import DatabaseError, IntegrityError, connection, transaction
from django.utils import timezone, translation

from xueji.accounts.enums import Role
from xueji.accounts.jurisdiction import data_grants, in_scope
from xueji.accounts.types import Actor
from xueji.audit.enums import EventType
from xueji.audit.services import record
from xueji.core.errors import ApplicationError, Conflict, FieldError, Forbidden, NotFound
from xueji.core.signals import records_changed
from xueji.regions.enums import OrgLevel
from xueji.regions.models import OrgUnit
from xueji.schools.models import School
from xueji.students.models import Enrollment
from xueji.workdays.services import official_calendar

from . import kinds, parties
from .enums import GRADE_SETTING_KINDS, ChangeKind, Party
from .kinds.base import Context
from .models import ApprovalStep, ChangeRequest, Notification
from .policy import policy_for
from .queries import change_get
from .workflow import (
    FINAL_STATES,
    IN_FLIGHT_STATES,
    MODE_ACTIONS,
    Action,
    IllegalTransition,
    RequestState,
    StepMode,
    StepState,
    next_state,
    step_result,
)

log = logging.getLogger(__name__)

ONE_OPEN = Conflict(
    "request_in_flight", "该学生已有正在办理（或已批准待生效）的学籍业务，请待其办结或撤销后再申请"
)


def acts_for(actor: Actor, org_unit: OrgUnit, party: str) -> bool:
    """A filed registrar (or approver) holding a grant exactly at the step's unit acts for it."""
    school_party = party in {Party.SCHOOL, Party.TARGET_SCHOOL}
    allowed = {Role.SCHOOL_REGISTRAR} if school_party else {Role.DEPT_REGISTRAR, Role.APPROVER}
    return any(g.org_unit_id == org_unit.pk and g.role in allowed for g in data_grants(actor))


def initiator_party(req: ChangeRequest) -> str:
    """The party the initiating unit acts as: a school's registrar, or a department's registrar/approver."""
    return Party.SCHOOL if req.initiator_org.level == OrgLevel.SCHOOL else Party.SCHOOL_COUNTY


def is_initiator(actor: Actor, req: ChangeRequest) -> bool:
    """Whether ``actor`` acts for the initiating unit (resubmit and cancel are theirs)."""
    return acts_for(actor, req.initiator_org, initiator_party(req))


def can_start_on_record(actor: Actor, enrollment: Enrollment) -> bool:
    """The record's own school registrar starts every record-based change (第7条: the school keeps it)."""
    if not enrollment.is_active:
        return False
    unit = parties.resolve(Party.SCHOOL, school=enrollment.school, target_school=None)
    return acts_for(actor, unit, Party.SCHOOL)


def _snapshot(enrollment: Enrollment | None) -> dict[str, Any]:
    if enrollment is None:
        return {}
    return {
        "enrollment_id": str(enrollment.pk),
        "school_id": enrollment.school_id,
        "grade": enrollment.grade,
        "class_name": enrollment.class_name,
        "status": enrollment.status,
        "stage": enrollment.stage,
        "is_active": enrollment.is_active,
    }


def _start_step(step: ApprovalStep, today: date) -> None:
    step.state = StepState.PENDING
    step.started_on = today
    if step.clock_days:
        deadline = official_calendar().add_working_days(today, step.clock_days)
        step.due_on, step.due_provisional = deadline.due, deadline.provisional
    step.save()
    notify(
        step.org_unit,
        step.request,
        "work",
        needs_action=True,
        kind=step.request.kind,
        party=step.party,
        mode=step.mode,
    )


def notify(
    org_unit: Any, request: ChangeRequest | None, notice: str, *, needs_action: bool = False, **params: Any
) -> Notification:
    """Write one notice (:data:`~.models.NOTICE_TEXTS`): kept as a key and parameters, so each reader sees
    it in their language; ``message`` keeps the Chinese text for exports and older readers."""
    n = Notification(
        org_unit=org_unit, request=request, notice=notice, params=params, needs_action=needs_action
    )
    with translation.override("zh-hans"):
        n.message = n.text[:300]
    n.save()
    return n


def _notices_done(req: ChangeRequest) -> None:
    """The work the request's notices announced is finished (a step decided, a returned request resubmitted
    or withdrawn, the request ended or applied): mark them done for everyone who sees them."""
    Notification.objects.filter(request=req, needs_action=True, done_at__isnull=True).update(
        done_at=timezone.now()
    )


@transaction.atomic
def change_submit(
    *,
    actor: Actor,
    kind: str,
    enrollment: Enrollment | None = None,
    target_school: School | None = None,
    facts: dict[str, Any] | None = None,
    reason: str = "",
    note: str = "",
    idempotency_key: str = "",
    household_county: OrgUnit | None = None,
    today: date | None = None,
) -> ChangeRequest:
    """Start a change. The initiating party's own step is approved by the submission itself.

    Raises NotFound if the record or the actor's school is outside the actor's reach, ``request_in_flight``
    if the student already has an open request (also a database constraint), and whatever the kind refuses.
    Replaying the same ``idempotency_key`` returns the request created the first time.
    """
    if kind not in ChangeKind.values:
        raise FieldError("kind", "unknown_kind", "业务类型无效")
    if idempotency_key:
        existing = ChangeRequest.objects.filter(created_by=actor, idempotency_key=idempotency_key).first()
        if existing is not None:
            if existing.kind != kind:
                reused = ApplicationError("idempotency_key_reused", "同一幂等键已用于其他申请")
                reused.status = 422
                raise reused
            return existing
    spec = kinds.get(kind)
    today = today or timezone.localdate()
    school = None
    if spec.needs_enrollment:
        if enrollment is None:
            raise FieldError("enrollment", "required", "请指定学生学籍")
        enrollment = (
            Enrollment.objects.select_for_update()
            .select_related("school", "school__org", "school__supervising_dept")
            .get(pk=enrollment.pk)
        )
        if not enrollment.is_active and enrollment.status not in spec.closed_statuses:
            raise ApplicationError("record_inactive", "该学籍已不在读，不能办理此业务")
        if spec.from_statuses is not None and enrollment.status not in spec.from_statuses:
            raise ApplicationError(
                "status_not_allowed",
                f"学籍状态为“{enrollment.get_status_display()}”，不能办理{ChangeKind(kind).label}",
            )
        school = enrollment.school
    if spec.needs_target_school and target_school is None:
        raise FieldError("target_school", "required", "请指定学校")
    anchor = school or target_school
    fallback = household_county.province_code if household_county else ""
    province = anchor.province_code if anchor is not None else fallback
    policy = policy_for(province, today)
    ctx = Context(
        actor=actor,
        today=today,
        policy=policy,
        enrollment=enrollment,
        school=school,
        target_school=target_school,
        facts=dict(facts or {}),
        reason=reason,
        extra={"household_county": household_county},
    )
    initiator_org = parties.resolve(
        spec.initiator, school=school, target_school=target_school, household_county=household_county
    )
    if not acts_for(actor, initiator_org, spec.initiator):
        if in_scope(actor, initiator_org.path):
            raise Forbidden("not_initiator", f"{ChangeKind(kind).label}须由{Party(spec.initiator).label}发起")
        raise NotFound()
    clean_facts = spec.prepare(ctx)
    chain = policy.chain(kind, spec.variant(ctx))
    request = ChangeRequest(
        kind=kind,
        person_id=enrollment.person_id if enrollment else clean_facts.get("person_id"),
        enrollment=enrollment,
        province_code=province,
        scope=spec.scope(ctx),
        source_path=(school.org.path if school else initiator_org.path),
        target_path=target_school.org.path if target_school else "",
        target_school=target_school,
        facts=clean_facts,
        reason=reason,
        note=note[:500],
        before=_snapshot(enrollment),
        policy_version=policy.version,
        created_by=actor,
        initiator_org=initiator_org,
        idempotency_key=idempotency_key,
    )
    try:
        with transaction.atomic():
            request.save()
    except IntegrityError as exc:
        if idempotency_key:
            # A concurrent call with the same key won the insert: return its request.
            winner = ChangeRequest.objects.filter(created_by=actor, idempotency_key=idempotency_key).first()
            if winner is not None:
                return winner
        raise ONE_OPEN from exc
    clock = policy.clock_days(kind)
    steps = []
    for position, (party, mode) in enumerate(chain):
        org = parties.resolve(
            party, school=school, target_school=target_school, household_county=household_county
        )
        steps.append(
            ApprovalStep(
                request=request, position=position, party=party, org_unit=org, mode=mode, clock_days=clock
            )
        )
    ApprovalStep.objects.bulk_create(steps)
    first = steps[0]
    position = 0
    if first.party == spec.initiator and first.org_unit_id == initiator_org.pk:
        # The initiator's own step: the submission is its approval.
        first.state, first.started_on = StepState.APPROVED, today
        first.decided_by, first.decided_at, first.comment = actor, timezone.now(), "发起申请"
        first.save()
        position = 1
    record(
        event_type=EventType.CHANGE_SUBMITTED,
        actor=actor,
        subject_type="student",
        subject_id=request.person_id or request.pk,
        org_unit_id=initiator_org.pk,
        province_code=province,
        summary=f"发起{request.get_kind_display()}",
        after={"request": str(request.pk), "facts": _public(clean_facts)},
    )
    if position >= len(steps):
        return _complete(request, actor, today)
    request.current_position = position
    request.save(update_fields=["current_position", "updated_at"])
    _start_step(steps[position], today)
    return request


def _public(facts: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in facts.items() if k not in {"id_number"}}


def _locked(request: ChangeRequest) -> ChangeRequest:
    return ChangeRequest.objects.select_for_update().get(pk=request.pk)


def _transition(
    req: ChangeRequest,
    action: str,
    *,
    last_step: bool = False,
    deferred: bool = False,
    fields: tuple[str, ...] = (),
) -> None:
    """The one place a request's state is written: the state after ``action`` from the workflow table
    (raises :class:`IllegalTransition` for a pair the table does not hold). A request that ends is closed
    now; a refused or withdrawn one has its steps not yet decided cancelled (nothing was applied)."""
    req.state = next_state(req.state, action, last_step=last_step, deferred=deferred)
    update = ["state", "updated_at", *fields]
    if req.state in FINAL_STATES:
        req.closed_at = timezone.now()
        update.append("closed_at")
        if req.state != RequestState.APPROVED:
            ApprovalStep.objects.filter(request=req, state__in=[StepState.WAITING, StepState.PENDING]).update(
                state=StepState.CANCELLED
            )
    req.save(update_fields=update)


def starts_later(request: ChangeRequest, today: date) -> date | None:
    """The start date of the request's change when it lies after ``today`` (the approval then schedules it)."""
    effective = kinds.get(request.kind).effective_on(request.facts)
    return effective if effective is not None and effective > today else None


def _complete(request: ChangeRequest, actor: Actor, today: date) -> ChangeRequest:
    """The last approval: apply the change now, or — when it starts on a later date — schedule it for the
    daily task (第16条: a suspension runs from its start date; the record is untouched until then)."""
    _notices_done(request)
    later = starts_later(request, today)
    if later is not None:
        request.effective_on = later
        _transition(request, Action.APPROVE, last_step=True, deferred=True, fields=("effective_on",))
        notify(request.initiator_org, request, "scheduled", kind=request.kind, date=later.isoformat())
        return request
    return _apply(request, actor, today, Action.APPROVE)


def _apply(
    request: ChangeRequest, actor: Actor, today: date, action: str, *, system: bool = False
) -> ChangeRequest:
    """Write the change (the kind's ``apply``) and complete the request: at the last approval (``approve``,
    by its approver) or on the start date (``apply``, by the system on behalf of that approval)."""
    spec = kinds.get(request.kind)
    after = spec.apply(request, actor, today)
    request.effective_on = today
    _transition(request, action, last_step=True, fields=("facts", "effective_on"))
    summary = f"{request.get_kind_display()}办结生效"
    if system:
        summary = f"{request.get_kind_display()}到生效日期，按批准自动生效"
        after = {**after, "request": str(request.pk), "approved_by": getattr(actor, "pk", None)}
    record(
        event_type=EventType.CHANGE_APPLIED,
        actor=None if system else actor,
        actor_role="system" if system else "",
        subject_type="student",
        subject_id=request.person_id or request.pk,
        province_code=request.province_code,
        summary=summary,
        before=request.before,
        after=after,
        # Personal values (a key-data change's names and numbers) go to the record history, not the audit.
        history_scope=request.enrollment.scope_path if request.enrollment is not None else "",
    )
    records_changed.send(sender=ChangeRequest, reason="change_applied")  # statistics refresh (issue 10 §1)
    _notices_done(request)
    notify(request.initiator_org, request, "applied" if system else "completed", kind=request.kind)
    return request


def _is_replay(req: ChangeRequest, position: int, actor: Actor, action: str) -> bool:
    """The same actor's same decision on a step already decided: an idempotent replay."""
    done = ApprovalStep.objects.filter(request=req, position=position).first()
    if done is None or done.decided_by_id != getattr(actor, "pk", None):
        return False
    if action not in MODE_ACTIONS.get(done.mode, frozenset()):
        return False
    return done.state == step_result(done.mode, action)


@transaction.atomic
def change_decide(
    *,
    actor: Actor,
    request: ChangeRequest,
    action: str,
    comment: str = "",
    position: int | None = None,
    today: date | None = None,
) -> ChangeRequest:
    """Approve, reject or return the current step.

    ``position`` (the step the actor saw) makes the call idempotent: if that step was already decided with the
    same action by the same actor, the request is returned unchanged; if it was decided otherwise → Conflict.
    """
    today = today or timezone.localdate()
    req = _locked(request)
    if position is not None and position != req.current_position:
        if _is_replay(req, position, actor, action):
            return req
        raise Conflict("step_already_decided", "该环节已由他人办理，请刷新后查看")
    if req.state != RequestState.PENDING:
        if position is not None and _is_replay(req, position, actor, action):
            return req
        raise Conflict("request_not_pending", f"该申请当前状态为“{req.get_state_display()}”，不能办理")
    step = ApprovalStep.objects.select_for_update().get(request=req, position=req.current_position)
    if not acts_for(actor, step.org_unit, step.party):
        if in_scope(actor, req.source_path) or (req.target_path and in_scope(actor, req.target_path)):
            raise Forbidden("not_your_step", f"当前环节由{step.org_unit.name}办理")
        raise NotFound()
    if action in {Action.REJECT, Action.RETURN} and not comment.strip():
        raise FieldError("comment", "required", "不同意或退回时须填写意见")
    steps_total = ApprovalStep.objects.filter(request=req).count()
    try:
        result = step_result(step.mode, action)
        new_state = next_state(req.state, action, last_step=step.position == steps_total - 1)
    except IllegalTransition as exc:
        raise ApplicationError("illegal_action", f"当前环节不能执行“{Action(action).label}”") from exc
    step.state, step.decided_by, step.decided_at, step.comment = (
        result,
        actor,
        timezone.now(),
        comment.strip()[:500],
    )
    step.save()
    _notices_done(req)  # the step's work is done, whoever of its unit did it
    decided: dict[str, Any] = {"request": str(req.pk), "position": step.position, "action": action}
    later = starts_later(req, today) if new_state == RequestState.APPROVED else None
    if later is not None:
        decided["effective_on"] = later.isoformat()  # approved now, in effect on its start date
    record(
        event_type=EventType.CHANGE_DECIDED,
        actor=actor,
        subject_type="student",
        subject_id=req.person_id or req.pk,
        org_unit_id=step.org_unit_id,
        province_code=req.province_code,
        summary=f"{req.get_kind_display()}：{step.org_unit.name}{Action(action).label}",
        after=decided,
    )
    if new_state == RequestState.APPROVED:
        return _complete(req, actor, today)
    if new_state == RequestState.PENDING:
        req.current_position = step.position + 1
        _transition(req, action, fields=("current_position",))
        _start_step(ApprovalStep.objects.get(request=req, position=req.current_position), today)
    else:
        _transition(req, action)
        returned = new_state == RequestState.RETURNED
        notify(
            req.initiator_org,
            req,
            "returned" if returned else "rejected",
            needs_action=returned,  # the initiator resubmits or withdraws it
            kind=req.kind,
        )
    return req


@transaction.atomic
def change_resubmit(
    *, actor: Actor, request: ChangeRequest, comment: str = "", today: date | None = None
) -> ChangeRequest:
    """After a return, the initiator resubmits; the step that returned it acts again with a fresh clock."""
    today = today or timezone.localdate()
    req = _locked(request)
    if not is_initiator(actor, req):
        raise NotFound() if not in_scope(actor, req.source_path) else Forbidden()
    try:
        _transition(req, Action.RESUBMIT)
    except IllegalTransition as exc:
        raise ApplicationError("illegal_action", "只有被退回的申请可以重新提交") from exc
    step = ApprovalStep.objects.get(request=req, position=req.current_position)
    step.decided_by, step.decided_at, step.comment = None, None, ""
    _notices_done(req)  # the return's notice: the material is in
    _start_step(step, today)
    record(
        event_type=EventType.CHANGE_RESUBMITTED,
        actor=actor,
        subject_type="student",
        subject_id=req.person_id or req.pk,
        province_code=req.province_code,
        summary="重新提交",
        after={"comment": comment[:200]},
    )
    return req


@transaction.atomic
def change_cancel(*, actor: Actor, request: ChangeRequest, reason: str) -> ChangeRequest:
    """The initiator withdraws an open request, or an approved one before its start date (``scheduled``):
    the record stays exactly as it was (nothing was applied)."""
    req = _locked(request)
    if not is_initiator(actor, req):
        raise (
            NotFound()
            if not in_scope(actor, req.source_path)
            else Forbidden("not_initiator", "只有发起方可以撤销申请")
        )
    if not reason.strip():
        raise FieldError("reason", "required", "请填写撤销原因")
    try:
        _transition(req, Action.CANCEL)
    except IllegalTransition as exc:
        raise ApplicationError("illegal_action", f"申请已{req.get_state_display()}，不能撤销") from exc
    _notices_done(req)
    record(
        event_type=EventType.CHANGE_CANCELLED,
        actor=actor,
        subject_type="student",
        subject_id=req.person_id or req.pk,
        province_code=req.province_code,
        summary="撤销申请",
        after={"reason": reason.strip()[:200]},
    )
    return req


@transaction.atomic
def clear_pending_business(*, actor: Actor, enrollment: Enrollment, reason: str) -> int:
    """在办业务清理 (domain.md §3.1): a department cancels every request of a student in flight (open, or
    approved and waiting for its start date) so that graduation can proceed. Only a department registrar
    whose jurisdiction covers the record. Returns how many."""
    if not in_scope(actor, enrollment.scope_path):
        raise NotFound()
    if not any(g.role in {Role.DEPT_REGISTRAR, Role.APPROVER} for g in data_grants(actor)):
        raise Forbidden("not_department", "在办业务清理须由教育行政部门办理")
    if not reason.strip():
        raise FieldError("reason", "required", "请填写清理原因")
    open_requests = list(
        ChangeRequest.objects.select_for_update().filter(
            person_id=enrollment.person_id, state__in=list(IN_FLIGHT_STATES)
        )
    )
    for req in open_requests:
        _transition(req, Action.CANCEL)
        _notices_done(req)
        record(
            event_type=EventType.CHANGE_CANCELLED,
            actor=actor,
            subject_type="student",
            subject_id=req.person_id,
            province_code=req.province_code,
            summary="在办业务清理",
            after={"request": str(req.pk), "reason": reason.strip()[:200]},
        )
    return len(open_requests)


# --- changes that start on a later date (ADR 0005) -----------------------------------------------------------


def _last_approver(req: ChangeRequest) -> Actor | None:
    step = (
        ApprovalStep.objects.filter(request=req, decided_by__isnull=False)
        .select_related("decided_by")
        .order_by("-position")
        .first()
    )
    return step.decided_by if step is not None else None


def _still_applies(req: ChangeRequest) -> ApplicationError | None:
    """The record must still be one the kind starts from (it cannot change through another request while this
    one is in flight, but a merger or the annual promotion may have touched it): else the change is void."""
    spec = kinds.get(req.kind)
    enrollment = req.enrollment
    if not spec.needs_enrollment or enrollment is None:
        return None
    if not enrollment.is_active and enrollment.status not in spec.closed_statuses:
        return ApplicationError("record_inactive", "该学籍已不在读，已批准的变动未能生效")
    if spec.from_statuses is not None and enrollment.status not in spec.from_statuses:
        return ApplicationError(
            "status_not_allowed",
            f"学籍状态已变为“{enrollment.get_status_display()}”，已批准的{req.get_kind_display()}未能生效",
        )
    before = req.before or {}
    if (
        req.kind in GRADE_SETTING_KINDS
        and "class_name" in before
        and (
            enrollment.grade != before.get("grade", enrollment.grade)
            or enrollment.class_name != before["class_name"]
        )
    ):
        # The kind writes the grade and class it was given at submission: a 调班 or a promotion since then
        # would be undone silently. The school applies again with the record as it is now.
        return ApplicationError(
            "record_changed",
            f"该生的年级或班级在申请后已调整，已批准的{req.get_kind_display()}未能生效，请按现在的班级重新申请",
        )
    return None


@transaction.atomic
def scheduled_change_apply(*, actor: None, request_id: Any, today: date) -> str:
    """Apply one scheduled change whose start date has come, as the system on behalf of its last approval.

    Idempotent: the row is locked and anything but a ``scheduled`` request due by ``today`` is left alone
    (``"skipped"``), so a second run — or two workers — apply it once. A record that no longer fits the kind,
    or a refusal of the kind's ``apply``, voids the request (``"voided"``: cancelled, the record untouched,
    the initiator told). Returns ``"applied"``, ``"voided"`` or ``"skipped"``."""
    req = ChangeRequest.objects.select_for_update().filter(pk=request_id).first()
    if req is None or req.state != RequestState.SCHEDULED or req.effective_on is None:
        return "skipped"
    if req.effective_on > today:
        return "skipped"
    approver = _last_approver(req)
    refusal = _still_applies(req)
    if approver is None:
        refusal = ApplicationError("no_approval", "没有找到批准记录，变动未能生效")
    if refusal is None and approver is not None:
        try:
            with transaction.atomic():
                # On its start date — also when a missed day is caught up: the change took effect then.
                _apply(req, approver, req.effective_on, Action.APPLY, system=True)
        except ApplicationError as exc:
            refusal = exc
            req.refresh_from_db()
        else:
            return "applied"
    assert refusal is not None
    _transition(req, Action.CANCEL)
    _notices_done(req)
    record(
        event_type=EventType.CHANGE_CANCELLED,
        actor=None,
        actor_role="system",
        subject_type="student",
        subject_id=req.person_id or req.pk,
        province_code=req.province_code,
        summary=f"{req.get_kind_display()}到生效日期未能生效",
        after={"request": str(req.pk), "code": refusal.code},
    )
    notify(req.initiator_org, req, "voided", kind=req.kind, reason=refusal.message[:200])
    return "voided"


@dataclass(frozen=True)
class ScheduledApplyReport:
    applied: int = 0
    voided: int = 0
    failed: int = 0


def scheduled_changes_apply(*, actor: None, today: date) -> ScheduledApplyReport:
    """The daily task: every scheduled change whose start date is ``today`` or earlier (a missed day is
    caught up), oldest first, each in its own transaction — one that fails is logged, left scheduled and
    retried on the next run; the others go on."""
    due = list(
        ChangeRequest.objects.filter(state=RequestState.SCHEDULED, effective_on__lte=today)
        .order_by("effective_on", "created_at")
        .values_list("pk", flat=True)
    )
    counts = {"applied": 0, "voided": 0, "skipped": 0, "failed": 0}
    for pk in due:
        try:
            counts[scheduled_change_apply(actor=None, request_id=pk, today=today)] += 1
        except Exception:  # one bad row must not stop the others; it stays scheduled and is retried
            log.exception("scheduled change %s could not be applied", pk)
            counts["failed"] += 1
    if due:
        log.info("scheduled changes: %s", counts)
    return ScheduledApplyReport(applied=counts["applied"], voided=counts["voided"], failed=counts["failed"])


# --- batch approval -----------------------------------------------------------------------------------------

BATCH_LIMIT = 100


@dataclass(frozen=True)
class BatchItem:
    """One item of a batch approval: what the viewer asked for and what came of it."""

    request_id: str
    position: int
    ok: bool
    code: str = ""
    message: str = ""
    request: ChangeRequest | None = None  # visible to the viewer (None: not found or out of scope)


def batch_items_parse(values: list[str]) -> list[tuple[str, int]]:
    """``"<request id>:<position>"`` values (the worklist's checkboxes) → (id, position), duplicates dropped;
    a malformed value, none at all, or more than :data:`BATCH_LIMIT` → FieldError on ``items``."""
    items: list[tuple[str, int]] = []
    for value in values:
        request_id, _sep, position = str(value).strip().partition(":")
        try:
            request_id = str(uuid.UUID(request_id))
        except ValueError:
            request_id = ""
        if not request_id or not position.isdigit():
            raise FieldError("items", "invalid", "所选事项无效，请刷新待办列表后重新选择")
        if (request_id, int(position)) not in items:
            items.append((request_id, int(position)))
    if not items:
        raise FieldError("items", "required", "请至少选择一项待办")
    if len(items) > BATCH_LIMIT:
        raise FieldError("items", "too_many", f"一次最多批量办理 {BATCH_LIMIT} 项")
    return items


def change_approve_batch(
    *, actor: Actor, items: list[tuple[str, int]], comment: str = "", today: date | None = None
) -> list[BatchItem]:
    """批量通过: approve (or, on a 备案 step, file) each ``(request id, position)`` exactly as the single path
    would — each in its own transaction, with the same checks (:func:`change_decide`). An item the viewer
    may not see answers as one that does not exist; one they may see but not decide (another unit's step,
    decided meanwhile, no longer pending) gets its refusal; neither is decided, and the other items go on."""
    if len(items) > BATCH_LIMIT:
        raise FieldError("items", "too_many", f"一次最多批量办理 {BATCH_LIMIT} 项")
    results: list[BatchItem] = []
    for request_id, position in items:
        req: ChangeRequest | None = None
        try:
            req = change_get(viewer=actor, request_id=request_id)  # scoped: 404 exactly as the single path
            req = change_decide(
                actor=actor,
                request=req,
                action=Action.APPROVE,
                comment=comment,
                position=position,
                today=today,
            )
        except NotFound as exc:
            results.append(BatchItem(request_id, position, False, exc.code, exc.message))
        except ApplicationError as exc:
            results.append(BatchItem(request_id, position, False, exc.code, exc.message, req))
        except DatabaseError:
            # This item's transaction is rolled back (change_decide is atomic); the others go on and the user
            # sees which one failed instead of a 500 after earlier items were decided.
            log.exception("batch approval: request %s position %s failed", request_id, position)
            results.append(
                BatchItem(request_id, position, False, "error", "办理时出错，请稍后单独办理此项", req)
            )
        else:
            results.append(BatchItem(request_id, position, True, request=req))
    return results


# --- idempotency (the API's Idempotency-Key; see the module docstring of xueji.changes.api) --------------------

IDEMPOTENCY_HEADER = "Idempotency-Key"
_KEY_PATTERN = re.compile(r"[A-Za-z0-9._:~+/=-]{1,59}", re.ASCII)


class IdempotencyMisuse(ApplicationError):
    """The same idempotency key (or the same decision) sent again with a different body."""

    status = 422

    def __init__(self, message: str = "同一幂等键已用于内容不同的请求，请为新的请求使用新的幂等键") -> None:
        super().__init__("idempotency_key_reused", message, {IDEMPOTENCY_HEADER: message})


def idempotency_key_check(value: str | None) -> str:
    """The key of the ``Idempotency-Key`` header, or ``idempotency_key_required`` / ``_invalid`` (400)."""
    key = (value or "").strip()
    if not key:
        message = f"请在请求头 {IDEMPOTENCY_HEADER} 中提供幂等键（如 UUID），重试时使用同一个键"
        raise ApplicationError("idempotency_key_required", message, {IDEMPOTENCY_HEADER: message})
    if not _KEY_PATTERN.fullmatch(key):
        message = f"{IDEMPOTENCY_HEADER} 须为 1–59 个字母、数字或 . _ : ~ + / = - 字符"
        raise ApplicationError("idempotency_key_invalid", message, {IDEMPOTENCY_HEADER: message})
    return key


def body_fingerprint(body: dict[str, Any]) -> str:
    """20 hex digits of the SHA-256 of the canonical JSON of a request body."""
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:20]


def key_lock_id(user: Actor, operation: str, key: str) -> int:
    """The 64-bit advisory lock id of (operation, user, key)."""
    digest = hashlib.sha256(f"xueji.changes.{operation}:{user.pk}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _key_lock(user: Actor, operation: str, key: str) -> None:
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


@transaction.atomic
def change_submit_once(
    *, actor: Actor, key: str, fingerprint: str, submission: Callable[[], dict[str, Any]]
) -> tuple[ChangeRequest, bool]:
    """:func:`change_submit` under an idempotency key: ``(request, replayed)``.

    The key is stored with the request as ``"<key>|<fingerprint>"`` (unique per creator): the same key with
    the same body returns the request made first (``replayed``), with another body → 422
    ``idempotency_key_reused``; a duplicate still in flight → 409. ``submission`` resolves the engine's
    arguments (only when nothing was made yet)."""
    _key_lock(actor, "submit", key)
    stored = f"{key}|{fingerprint}"
    existing = (
        ChangeRequest.objects.filter(created_by=actor, idempotency_key__startswith=f"{key}|")
        .only("idempotency_key")
        .first()
    )
    if existing is not None:
        if existing.idempotency_key != stored:
            raise IdempotencyMisuse()
        return existing, True
    return change_submit(actor=actor, idempotency_key=stored, **submission()), False


@transaction.atomic
def change_decide_once(
    *, actor: Actor, request: ChangeRequest, key: str, action: str, comment: str, position: int
) -> ApprovalStep:
    """:func:`change_decide` of the step at ``position`` under an idempotency key; returns the decided step.

    A step is decided once: the caller's same decision again is a replay (nothing written); the caller's
    decision with another action or comment → 422 ``idempotency_key_reused``; someone else's → 409."""
    _key_lock(actor, "decide", key)
    try:
        change_decide(actor=actor, request=request, action=action, comment=comment, position=position)
    except IllegalTransition as exc:  # an action the step's mode does not admit (e.g. reject on 备案)
        raise ApplicationError("illegal_action", f"该环节不能执行“{Action(action).label}”") from exc
    except Conflict as exc:
        if exc.code in {"step_already_decided", "request_not_pending"}:
            done = ApprovalStep.objects.filter(request_id=request.pk, position=position).first()
            if done is not None and done.decided_by_id == actor.pk and done.decided_at is not None:
                raise IdempotencyMisuse("您已办理过该环节，不能以不同的操作或意见重复提交") from exc
        raise
    step = ApprovalStep.objects.get(request_id=request.pk, position=position)
    if step.decided_by_id != actor.pk or step.state != step_result(step.mode, action):
        raise Conflict("step_already_decided", "该环节已由他人办理，请刷新后查看")
    if step.comment != comment.strip()[:500]:
        raise IdempotencyMisuse("您已办理过该环节，不能以不同的操作或意见重复提交")
    return step


__all__ = [
    "IDEMPOTENCY_HEADER",
    "StepMode",
    "change_approve_batch",
    "change_cancel",
    "change_decide",
    "change_resubmit",
    "change_submit",
    "clear_pending_business",
    "scheduled_changes_apply",
]
