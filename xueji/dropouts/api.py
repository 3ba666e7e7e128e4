"""Dropout ledger API (/api/v1/dropouts/, 第17条): the same reads and writes as the pages, through the same
viewer-scoped queries and services — a case or pupil outside the caller's jurisdiction is 404 and nothing is
written; a lead naming a pupil outside it gets the same 404 as one naming nobody (no oracle)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.http import HttpRequest
from django.utils import timezone
from ninja import Query, Router, Status

from xueji.accounts.auth import actor_of
from xueji.accounts.jurisdiction import require_student_data_reader
from xueji.accounts.types import Actor
from xueji.core.pagination import page_of
from xueji.students.queries import enrollment_get

from .enums import State
from .models import DropoutCase
from .queries import can_handle, case_escalations, case_follow_ups, case_get, case_list
from .schemas import (
    CaseDetailOut,
    CaseFiltersIn,
    CaseOpenIn,
    CaseOut,
    CasePageOut,
    CloseIn,
    ErrorOut,
    FollowUpIn,
    LeadIn,
)
from .services import case_close, case_open, follow_up_add, lead_open

router = Router(tags=["控辍保学"])

READ_ERRORS: dict[int, Any] = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut}
WRITE_ERRORS: dict[int, Any] = {400: ErrorOut, 409: ErrorOut, **READ_ERRORS}


def _reader(request: HttpRequest) -> Actor:
    return require_student_data_reader(actor_of(request))


def _case_out(case: DropoutCase) -> dict[str, Any]:
    today = timezone.localdate()
    return {
        "id": case.pk,
        "person_id": case.person_id,
        "name": case.person.name,
        "school_id": case.school_id,
        "school_name": case.school.name,
        "class_name": case.enrollment.class_name,
        "source": case.source,
        "source_label": case.get_source_display(),
        "lead_from": case.lead_from,
        "reason": case.reason,
        "reason_label": case.get_reason_display(),
        "days_absent": case.days_absent,
        "last_seen": case.last_seen,
        "opened_on": case.opened_on,
        "days_open": case.days_open(today),
        "state": case.state,
        "state_label": case.get_state_display(),
        "next_follow_up": case.next_follow_up,
        "overdue": case.is_overdue(today),
        "escalation": case.escalation,
        "escalation_label": case.get_escalation_display(),
        "outcome": case.outcome,
        "outcome_label": case.get_outcome_display() if case.outcome else "",
        "returned_class": case.returned_class,
        "returned_on": case.returned_on,
        "closed_at": case.closed_at,
    }


def _detail(viewer: Actor, case_id: Any) -> dict[str, Any]:
    case = case_get(viewer=viewer, case_id=case_id)
    return {
        **_case_out(case),
        "outcome_note": case.outcome_note,
        "follow_ups": [
            {
                "id": f.pk,
                "date": f.date,
                "kind": f.kind,
                "kind_label": f.get_kind_display(),
                "people": f.people,
                "result": f.result,
                "next_date": f.next_date,
            }
            for f in case_follow_ups(case)
        ],
        "escalations": [
            {
                "level": e.level,
                "level_label": e.get_level_display(),
                "on": e.on,
                "missed": e.missed,
                "working_days_overdue": e.working_days_overdue,
            }
            for e in case_escalations(case)
        ],
        "can_handle": case.state == State.OPEN and can_handle(viewer, case),
    }


@router.get("/", response={200: CasePageOut, **READ_ERRORS}, summary="控辍保学案件列表（管辖范围内）")
def list_cases(request: HttpRequest, filters: Query[CaseFiltersIn]) -> Any:
    viewer = _reader(request)
    qs = case_list(
        viewer=viewer,
        state=filters.state,
        overdue=filters.overdue,
        escalation=filters.escalation,
        today=timezone.localdate(),
    )
    rows, count = page_of(qs, filters.page, filters.page_size)
    return {
        "items": [CaseOut(**_case_out(c)) for c in rows],
        "count": count,
        "page": filters.page,
        "page_size": filters.page_size,
    }


@router.post("/", response={201: CaseDetailOut, **WRITE_ERRORS}, summary="报告辍学（建立控辍保学案件）")
def open_case(request: HttpRequest, payload: CaseOpenIn) -> Any:
    """A school's report or a county's lead for a pupil the caller can see (第17条); 404 outside scope."""
    viewer = _reader(request)
    enrollment = enrollment_get(viewer=viewer, person_id=payload.person_id)
    case = case_open(
        actor=viewer,
        enrollment=enrollment,
        source=payload.source,
        days_absent=payload.days_absent,
        last_seen=payload.last_seen,
        reason=payload.reason,
        lead_from=payload.lead_from,
    )
    return Status(201, _detail(viewer, case.pk))


@router.post("/leads", response={201: CaseDetailOut, **WRITE_ERRORS}, summary="登记相关部门线索（第十七条）")
def open_lead(request: HttpRequest, payload: LeadIn) -> Any:
    """The pupil is named by 学籍号 or identity number AND name; outside the caller's region → 404."""
    viewer = _reader(request)
    case = lead_open(actor=viewer, **payload.model_dump())
    return Status(201, _detail(viewer, case.pk))


@router.get("/{case_id}", response={200: CaseDetailOut, **READ_ERRORS}, summary="控辍保学案件详情")
def get_case(request: HttpRequest, case_id: UUID) -> Any:
    return _detail(_reader(request), case_id)


@router.post(
    "/{case_id}/follow-ups", response={200: CaseDetailOut, **WRITE_ERRORS}, summary="记录跟踪情况（劝返）"
)
def add_follow_up(request: HttpRequest, case_id: UUID, payload: FollowUpIn) -> Any:
    viewer = _reader(request)
    case = case_get(viewer=viewer, case_id=case_id)
    follow_up_add(actor=viewer, case=case, on=payload.date, **payload.model_dump(exclude={"date"}))
    return _detail(viewer, case.pk)


@router.post("/{case_id}/close", response={200: CaseDetailOut, **WRITE_ERRORS}, summary="结案")
def close_case(request: HttpRequest, case_id: UUID, payload: CloseIn) -> Any:
    viewer = _reader(request)
    case = case_get(viewer=viewer, case_id=case_id)
    case_close(actor=viewer, case=case, **payload.model_dump())
    return _detail(viewer, case.pk)
