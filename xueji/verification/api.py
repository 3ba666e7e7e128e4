"""Verification API (/api/v1/verification/): the rounds, the progress, a school's return, its findings, submitting
and the county's review (第25条) — the same services and scope checks as the pages: a round, unit, school or
pupil outside the caller's jurisdiction is 404 and nothing is written."""

from __future__ import annotations

from uuid import UUID

from django.http import HttpRequest
from django.utils import timezone
from ninja import Query, Router, Schema, Status

from xueji.accounts.auth import actor_of
from xueji.accounts.jurisdiction import require_student_data_reader
from xueji.core.errors import FieldError
from xueji.regions.queries import org_get

from .models import SchoolReturn, VerificationRound
from .queries import (
    findings_of,
    opening_units,
    progress,
    progress_unit,
    return_get,
    round_get,
    rounds_visible,
)
from .schemas import (
    ErrorOut,
    FindingIn,
    FindingOut,
    ProgressRowOut,
    ReturnOut,
    ReviewIn,
    RoundIn,
    RoundOut,
    RoundProgressOut,
)
from .services import (
    finding_remove,
    finding_save,
    return_accept,
    return_send_back,
    return_submit,
    round_close,
    round_open,
)

router = Router(tags=["学籍核查"])
ERRORS = {400: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut}


def _round_out(r: VerificationRound) -> RoundOut:
    return RoundOut(
        id=r.pk,
        unit_id=r.org_unit_id,
        unit_name=r.org_unit.name,
        title=r.title,
        school_year=r.school_year,
        semester=r.semester,
        opened_on=r.opened_on,
        deadline=r.deadline,
        state=r.state,
    )


def _return_out(ret: SchoolReturn) -> ReturnOut:
    return ReturnOut(
        round_id=ret.round_id,
        school_id=ret.school_id,
        school_name=ret.school.name,
        state=ret.state,
        roster_count=ret.roster_count,
        submitted_at=ret.submitted_at,
        reviewed_at=ret.reviewed_at,
        review_note=ret.review_note,
        findings=[
            FindingOut(
                enrollment_id=fd.enrollment_id,
                kind=fd.kind,
                whereabouts=fd.whereabouts,
                correction_fields=list(fd.correction_fields),
                detail=fd.detail,
            )
            for fd in findings_of(ret)
        ],
    )


def _return(request: HttpRequest, round_id: int, school_id: int) -> SchoolReturn:
    user = require_student_data_reader(actor_of(request))
    rnd = round_get(viewer=user, round_id=round_id)
    return return_get(viewer=user, rnd=rnd, school_id=school_id)


@router.get("/rounds", response={200: list[RoundOut], 403: ErrorOut})
def rounds(request: HttpRequest) -> list[RoundOut]:
    """调用者管辖范围内的学籍核查批次（最近 100 个）。"""
    user = require_student_data_reader(actor_of(request))
    return [_round_out(r) for r in rounds_visible(user).order_by("-opened_on", "-id")[:100]]


@router.post("/rounds", response={201: RoundOut, **ERRORS})
def round_create(request: HttpRequest, payload: RoundIn) -> Status:
    """发起学籍核查（仅省级或国家教育行政部门；截止日期须晚于今天）：范围内每所学校生成核查任务并收到通知。"""
    user = require_student_data_reader(actor_of(request))
    unit = next((u for u in opening_units(user) if u.pk == payload.unit), None)
    if unit is None:
        # Not an opening unit of the caller: 404 when outside their tree, else round_open refuses (403).
        unit = org_get(viewer=user, org_id=payload.unit)
    rnd = round_open(
        actor=user,
        unit=unit,
        title=payload.title,
        school_year=payload.school_year,
        semester=payload.semester,
        deadline=payload.deadline,
    )
    return Status(201, _round_out(rnd))


@router.post("/rounds/{round_id}/close", response={200: RoundOut, **ERRORS})
def round_end(request: HttpRequest, round_id: int) -> RoundOut:
    """结束学籍核查（发起单位）。"""
    user = require_student_data_reader(actor_of(request))
    return _round_out(round_close(actor=user, rnd=round_get(viewer=user, round_id=round_id)))


class ProgressIn(Schema):
    unit: int | None = None


@router.get("/rounds/{round_id}/progress", response={200: RoundProgressOut, 403: ErrorOut, 404: ErrorOut})
def round_progress(request: HttpRequest, round_id: int, query: Query[ProgressIn]) -> RoundProgressOut:
    """各下级单位（县级为各学校）的核查进度与合计：学校数、未提交、已提交、已退回、已通过、逾期。"""
    user = require_student_data_reader(actor_of(request))
    rnd = round_get(viewer=user, round_id=round_id)
    unit = progress_unit(viewer=user, rnd=rnd, unit_id=query.unit)
    table = progress(rnd=rnd, unit=unit, today=timezone.localdate())

    def row(r: object) -> ProgressRowOut:
        return ProgressRowOut.model_validate(r, from_attributes=True)

    return RoundProgressOut(
        round_id=rnd.pk,
        unit_id=unit.pk,
        unit_name=unit.name,
        rows=[row(r) for r in table.rows],
        totals=row(table.totals),
    )


@router.get("/rounds/{round_id}/schools/{school_id}", response={200: ReturnOut, 403: ErrorOut, 404: ErrorOut})
def return_detail(request: HttpRequest, round_id: int, school_id: int) -> ReturnOut:
    """一所学校的核查结果及其异常记录。"""
    return _return_out(_return(request, round_id, school_id))


@router.post("/rounds/{round_id}/schools/{school_id}/findings", response={200: ReturnOut, **ERRORS})
def finding_put(request: HttpRequest, round_id: int, school_id: int, payload: FindingIn) -> ReturnOut:
    """标记（或修改）一名在籍学生的核查异常（本校学籍管理员；学生须在本校在籍）。"""
    ret = _return(request, round_id, school_id)
    finding_save(
        actor=actor_of(request),
        ret=ret,
        enrollment_id=payload.enrollment_id,
        kind=payload.kind,
        whereabouts=payload.whereabouts,
        correction_fields=payload.correction_fields,
        detail=payload.detail,
    )
    return _return_out(ret)


@router.delete(
    "/rounds/{round_id}/schools/{school_id}/findings/{enrollment_id}", response={200: ReturnOut, **ERRORS}
)
def finding_delete(request: HttpRequest, round_id: int, school_id: int, enrollment_id: UUID) -> ReturnOut:
    """撤销一名学生的核查异常（该生计为在校）。"""
    ret = _return(request, round_id, school_id)
    finding_remove(actor=actor_of(request), ret=ret, enrollment_id=enrollment_id)
    return _return_out(ret)


@router.post("/rounds/{round_id}/schools/{school_id}/submit", response={200: ReturnOut, **ERRORS})
def submit(request: HttpRequest, round_id: int, school_id: int) -> ReturnOut:
    """学校核准并提交（有未处理且未说明的问题学籍时不能提交，code = problems_unexplained）。"""
    ret = _return(request, round_id, school_id)
    return _return_out(return_submit(actor=actor_of(request), ret=ret))


@router.post("/rounds/{round_id}/schools/{school_id}/review", response={200: ReturnOut, **ERRORS})
def review(request: HttpRequest, round_id: int, school_id: int, payload: ReviewIn) -> ReturnOut:
    """县级教育行政部门审核：accept 通过，return 退回（须填写意见）。"""
    ret = _return(request, round_id, school_id)
    user = actor_of(request)
    if payload.decision == "accept":
        return _return_out(return_accept(actor=user, ret=ret, note=payload.note))
    if payload.decision == "return":
        return _return_out(return_send_back(actor=user, ret=ret, note=payload.note))
    raise FieldError("decision", "invalid_decision", "审核结论须为 accept（通过）或 return（退回）")
