"""Checks API (/api/v1/checks/): the problem-record worklists (第9、25条) — list (scoped to the viewer's queue),
detail with history, and the actions explain / correct / resolve / return / escalate / reopen, plus the check
rules in force for a province.

Every endpoint reads through the viewer-scoped queries: a record outside the jurisdiction is 404 and nothing is
written; an action that is another party's is 403 (:func:`xueji.students.records.problem_act`).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.http import HttpRequest
from django.utils import timezone
from ninja import Query, Router, Status

from xueji.accounts.auth import actor_of
from xueji.accounts.jurisdiction import data_grants, require_student_data_reader
from xueji.accounts.types import Actor
from xueji.core.errors import FieldError, NotFound
from xueji.core.pagination import page_of
from xueji.policies.services import check_rules_file
from xueji.regions.enums import OrgLevel
from xueji.students.models import ProblemEvent, ProblemRecord
from xueji.students.queries import check_rules_for, problem_events
from xueji.students.records import problem_act, problem_allowed

from .queries import QueueFilters, problem_queue, queue_problem
from .schemas import (
    CheckedProblemDetailOut,
    CheckedProblemPageOut,
    CheckRulesFiledOut,
    CheckRulesFileIn,
    CheckRulesOut,
    ErrorOut,
    ProblemNoteIn,
    ProblemQueueIn,
    ProblemResolveCheckIn,
)

router = Router(tags=["问题学籍"])
READ_ERRORS: dict[int, Any] = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut}
WRITE_ERRORS: dict[int, Any] = {400: ErrorOut, 409: ErrorOut, **READ_ERRORS}
Action = ProblemEvent.Action


def _reader(request: HttpRequest) -> Actor:
    return require_student_data_reader(actor_of(request))


def _problem(p: ProblemRecord) -> dict[str, Any]:
    today = timezone.localdate()
    return {
        "id": p.pk,
        "kind": p.kind,
        "kind_label": p.get_kind_display(),
        "article": p.article,
        "state": p.state,
        "owner": p.owner,
        "escalated": p.escalated,
        "source": p.source,
        "person_id": p.person_id,
        "person_name": p.person.name,
        "other_person_id": p.other_person_id,
        "school_code": p.school.school_code if p.school else "",
        "school_name": p.school.name if p.school else "",
        "detail": p.detail,
        "explanation": p.explanation,
        "due_on": p.due_on,
        "overdue": p.is_overdue(today),
        "created_at": p.created_at,
        "resolved_at": p.resolved_at,
        "resolution_note": p.resolution_note,
    }


def _detail(viewer: Actor, p: ProblemRecord) -> dict[str, Any]:
    return {
        **_problem(p),
        "events": [
            {
                "action": e.action,
                "action_label": e.get_action_display(),
                "actor": e.actor.get_username() if e.actor else "system",
                "at": e.at,
                "owner_after": e.owner_after,
                "note": e.note,
            }
            for e in problem_events(p)
        ],
        "actions": [a for a in Action.values if a != Action.OPEN and problem_allowed(viewer, p, a)],
    }


@router.get(
    "/problems",
    response={200: CheckedProblemPageOut, **READ_ERRORS},
    summary="问题学籍工作列表（第九、二十五条）",
)
def list_problems(request: HttpRequest, filters: Query[ProblemQueueIn]) -> Any:
    viewer = _reader(request)
    if filters.kind and filters.kind not in ProblemRecord.Kind.values:
        raise FieldError("kind", "invalid_kind", "问题类型无效")
    if filters.owner and filters.owner not in ProblemRecord.Owner.values:
        raise FieldError("owner", "invalid_owner", "处理方无效")
    qs = problem_queue(
        viewer=viewer,
        filters=QueueFilters(filters.kind, filters.owner, filters.overdue, filters.closed, filters.all),
        today=timezone.localdate(),
    )
    rows, count = page_of(qs, filters.page, filters.page_size)
    return {
        "items": [_problem(p) for p in rows],
        "count": count,
        "page": filters.page,
        "page_size": filters.page_size,
    }


@router.get(
    "/problems/{problem_id}",
    response={200: CheckedProblemDetailOut, **READ_ERRORS},
    summary="问题学籍详情与处理记录",
)
def get_problem(request: HttpRequest, problem_id: UUID) -> Any:
    viewer = _reader(request)
    return _detail(viewer, queue_problem(viewer=viewer, problem_id=problem_id))


def _act(request: HttpRequest, problem_id: UUID, action: str, note: str, outcome: str = "") -> Any:
    viewer = _reader(request)
    problem = queue_problem(viewer=viewer, problem_id=problem_id)
    done = problem_act(actor=viewer, problem=problem, action=action, note=note, outcome=outcome)
    return _detail(viewer, queue_problem(viewer=viewer, problem_id=done.pk))


@router.post(
    "/problems/{problem_id}/explain",
    response={200: CheckedProblemDetailOut, **WRITE_ERRORS},
    summary="学校说明情况",
)
def explain_problem(request: HttpRequest, problem_id: UUID, payload: ProblemNoteIn) -> Any:
    return _act(request, problem_id, Action.EXPLAIN, payload.note)


@router.post(
    "/problems/{problem_id}/correct",
    response={200: CheckedProblemDetailOut, **WRITE_ERRORS},
    summary="学校已更正，提交县级确认",
)
def correct_problem(request: HttpRequest, problem_id: UUID, payload: ProblemNoteIn) -> Any:
    return _act(request, problem_id, Action.CORRECT, payload.note)


@router.post(
    "/problems/{problem_id}/resolve",
    response={200: CheckedProblemDetailOut, **WRITE_ERRORS},
    summary="处理问题学籍（上级部门）",
)
def resolve_problem(request: HttpRequest, problem_id: UUID, payload: ProblemResolveCheckIn) -> Any:
    return _act(request, problem_id, Action.RESOLVE, payload.note, payload.outcome)


@router.post(
    "/problems/{problem_id}/return",
    response={200: CheckedProblemDetailOut, **WRITE_ERRORS},
    summary="退回下级处理",
)
def return_problem(request: HttpRequest, problem_id: UUID, payload: ProblemNoteIn) -> Any:
    return _act(request, problem_id, Action.RETURN, payload.note)


@router.post(
    "/problems/{problem_id}/escalate",
    response={200: CheckedProblemDetailOut, **WRITE_ERRORS},
    summary="提交上级教育行政部门",
)
def escalate_problem(request: HttpRequest, problem_id: UUID, payload: ProblemNoteIn) -> Any:
    return _act(request, problem_id, Action.ESCALATE, payload.note)


@router.post(
    "/problems/{problem_id}/reopen",
    response={200: CheckedProblemDetailOut, **WRITE_ERRORS},
    summary="重新打开",
)
def reopen_problem(request: HttpRequest, problem_id: UUID, payload: ProblemNoteIn) -> Any:
    return _act(request, problem_id, Action.REOPEN, payload.note)


@router.get(
    "/rules/{province_code}",
    response={200: CheckRulesOut, **READ_ERRORS},
    summary="省份现行的问题学籍检查规则",
)
def get_rules(request: HttpRequest, province_code: str) -> Any:
    """The check rules in force for a province within the viewer's jurisdiction (national defaults + the
    province's ``checks`` override; filed like every province rule, :mod:`xueji.policies`)."""
    viewer = _reader(request)
    if not any(
        g.org_unit.level == OrgLevel.NATIONAL or g.org_unit.province_code == province_code
        for g in data_grants(viewer)
    ):
        raise NotFound()
    rules = check_rules_for(province_code, timezone.localdate())
    return {
        "province_code": province_code,
        "version": rules.version,
        "rules": {k: dict(v) for k, v in rules.rules.items()},
    }


@router.post(
    "/rules/{province_code}",
    response={201: CheckRulesFiledOut, **WRITE_ERRORS},
    summary="备案本省问题学籍检查规则（省级学籍管理员，第五条）",
)
def file_rules(request: HttpRequest, province_code: str, payload: CheckRulesFileIn) -> Any:
    viewer = _reader(request)
    rule_set = check_rules_file(
        actor=viewer,
        province_code=province_code,
        checks=payload.checks,
        effective_from=payload.effective_from,
        filed_on=payload.filed_on,
        filing_reference=payload.filing_reference,
    )
    return Status(
        201,
        {
            "province_code": rule_set.province_code,
            "version": rule_set.version,
            "effective_from": rule_set.effective_from,
            "checks": rule_set.rules["checks"],
        },
    )
