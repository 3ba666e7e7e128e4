"""Writing the dropout ledger 控辍保学台账.

第17条: 县级教育行政部门和学校须按照控辍保学工作要求，根据国家学籍系统标记或相关部门反馈的问题线索开展问题排查与
辍学劝返复学工作，动态跟踪处理控辍保学台账。 Every write is atomic and audited; the audit names the case and the
student id, never the reason or anyone's name (第24条).
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from datetime import date
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext as _

from xueji.accounts.types import Actor
from xueji.audit.enums import EventType
from xueji.audit.services import record
from xueji.core.errors import Conflict, FieldError, Forbidden
from xueji.core.spreadsheets import safe_cell
from xueji.students.enums import StudentStatus
from xueji.students.models import Enrollment
from xueji.workdays.services import official_calendar

from .enums import (
    COMPULSORY_STAGES,
    FIRST_FOLLOW_UP_WORKING_DAYS,
    FollowUpKind,
    Outcome,
    Reason,
    Source,
    State,
)
from .models import DropoutCase, FollowUp
from .queries import can_approve_other, can_handle, handles_school, is_dept_registrar_over

MAX_FOLLOW_UP_WORKING_DAYS = 20


def _audit(event: EventType, *, actor: Actor, case: DropoutCase, **after: Any) -> None:
    record(
        event_type=event,
        actor=actor,
        subject_type="student",
        subject_id=case.person_id,
        org_unit_id=case.school.org_id,
        province_code=case.enrollment.province_code,
        summary=f"控辍保学案件 {case.pk}",
        after={"enrollment_id": str(case.enrollment_id), "school_id": case.school_id, **after},
    )


@transaction.atomic
def _follow_pupil(case: DropoutCase) -> DropoutCase:
    """A locked open case moves with the pupil: after a transfer or a school merger it belongs to the pupil's
    active enrollment (school and region), so the school now responsible follows it up (第17条)."""
    current = (
        Enrollment.objects.filter(person_id=case.person_id, is_active=True).select_related("school").first()
    )
    if case.state == State.OPEN and current is not None and current.pk != case.enrollment_id:
        case.enrollment, case.school, case.scope_path = current, current.school, current.scope_path
        case.save(update_fields=["enrollment", "school", "scope_path"])
    return case


def case_open(
    *,
    actor: Actor,
    enrollment: Enrollment,
    source: str,
    days_absent: int,
    last_seen: date | None,
    reason: str,
    today: date | None = None,
) -> DropoutCase:
    """Open a dropout case for a compulsory-education pupil (第17条; 第18条: 义务教育阶段不予退学, so the pupil's
    学籍 continues while the case is followed).

    A school report is opened by a registrar of the pupil's school; a lead from another department by a department
    registrar whose region holds the pupil. ``enrollment`` must come from the viewer-scoped
    ``students.queries.enrollment_get`` (out of scope → NotFound before anything is written).
    """
    today = today or timezone.localdate()
    if not enrollment.is_active:
        raise FieldError("person", "not_active", "该学生没有在读学籍，不能建立控辍保学案件")
    if enrollment.status == StudentStatus.SUSPENDED:
        # 第16条: a pupil on approved 休学 keeps the 学籍 and is away with leave — not a dropout.
        raise FieldError(
            "person", "suspended", "该学生正在休学（第十六条），不属于辍学，不能建立控辍保学案件"
        )
    if enrollment.stage not in COMPULSORY_STAGES:
        raise FieldError("person", "not_compulsory", "控辍保学仅适用于义务教育阶段（小学、初中）学生")
    if source == Source.SCHOOL:
        if not handles_school(actor, enrollment.school):
            raise Forbidden("not_school_registrar", "学校报告须由该生所在学校的学籍管理员填报")
    elif source == Source.LEAD:
        if not is_dept_registrar_over(actor, enrollment.scope_path):
            raise Forbidden("not_dept_registrar", "相关部门线索须由县级教育行政部门学籍管理员登记")
    else:
        raise FieldError("source", "invalid_source", "来源无效")
    if reason not in Reason.values:
        raise FieldError("reason", "invalid_reason", "请选择辍学原因")
    if not isinstance(days_absent, int) or not 0 <= days_absent <= 366:
        raise FieldError("days_absent", "invalid_days", "连续缺课天数须为0～366之间的整数")
    if last_seen is not None and last_seen > today:
        raise FieldError("last_seen", "future_date", "最后到校日期不能晚于今天")
    if DropoutCase.objects.filter(person_id=enrollment.person_id, state=State.OPEN).exists():
        raise Conflict(
            "case_open", "该学生已有跟踪中的控辍保学案件", {"person": "该学生已有跟踪中的控辍保学案件"}
        )
    try:
        with transaction.atomic():
            case = DropoutCase.objects.create(
                enrollment=enrollment,
                person_id=enrollment.person_id,
                school=enrollment.school,
                scope_path=enrollment.scope_path,
                opened_on=today,
                opened_by=actor,
                source=source,
                days_absent=days_absent,
                last_seen=last_seen,
                reason=reason,
                next_follow_up=official_calendar().add_working_days(today, FIRST_FOLLOW_UP_WORKING_DAYS).due,
            )
    except IntegrityError as exc:  # a concurrent report of the same pupil
        raise Conflict("case_open", "该学生已有跟踪中的控辍保学案件") from exc
    _audit(EventType.DROPOUT_OPENED, actor=actor, case=case, source=source, state=case.state)
    return case


def _require_handler(actor: Actor, case: DropoutCase) -> None:
    if not can_handle(actor, case):
        raise Forbidden("not_case_handler", "只有该校学籍管理员或县级教育行政部门学籍管理员可以办理")


def _require_open(case: DropoutCase) -> None:
    if case.state != State.OPEN:
        raise Conflict("case_closed", "该案件已结案")


@transaction.atomic
def follow_up_add(
    *,
    actor: Actor,
    case: DropoutCase,
    on: date,
    kind: str,
    people: str,
    result: str,
    next_in_working_days: int,
    today: date | None = None,
) -> FollowUp:
    """Record a contact with the guardians or a home visit (劝返) and set the next follow-up on the official
    working-day calendar (第17条: 动态跟踪处理控辍保学台账)."""
    today = today or timezone.localdate()
    case = _follow_pupil(
        DropoutCase.objects.select_for_update().select_related("school", "enrollment").get(pk=case.pk)
    )
    _require_handler(actor, case)
    _require_open(case)
    if kind not in FollowUpKind.values:
        raise FieldError("kind", "invalid_kind", "请选择跟踪方式")
    if on > today:
        raise FieldError("date", "future_date", "跟踪日期不能晚于今天")
    if on < case.opened_on:
        raise FieldError("date", "before_opened", "跟踪日期不能早于立案日期")
    if not people.strip():
        raise FieldError("people", "required", "请填写参与人员")
    if not result.strip():
        raise FieldError("result", "required", "请填写跟踪结果")
    if not 1 <= next_in_working_days <= MAX_FOLLOW_UP_WORKING_DAYS:
        raise FieldError(
            "next_in_working_days", "invalid_days", f"下次跟踪须在1～{MAX_FOLLOW_UP_WORKING_DAYS}个工作日内"
        )
    next_date = official_calendar().add_working_days(max(on, today), next_in_working_days).due
    follow_up = FollowUp.objects.create(
        case=case,
        date=on,
        kind=kind,
        people=people.strip(),
        result=result.strip(),
        next_date=next_date,
        recorded_by=actor,
    )
    case.next_follow_up = next_date
    case.save(update_fields=["next_follow_up"])
    _audit(EventType.DROPOUT_FOLLOWED_UP, actor=actor, case=case, kind=kind, state=case.state)
    return follow_up


@transaction.atomic
def case_close(
    *,
    actor: Actor,
    case: DropoutCase,
    outcome: str,
    returned_class: str = "",
    returned_on: date | None = None,
    note: str = "",
    today: date | None = None,
) -> DropoutCase:
    """Close a case, only with an enumerated outcome, never silently (第17条): 劝返复学 records the class and the date
    the pupil returned (the 学籍 continues, 第18条); "other" needs the approval of a county (or higher) department
    user and a note."""
    today = today or timezone.localdate()
    case = _follow_pupil(
        DropoutCase.objects.select_for_update().select_related("school", "enrollment").get(pk=case.pk)
    )
    _require_handler(actor, case)
    _require_open(case)
    if outcome not in Outcome.values:
        raise FieldError("outcome", "outcome_required", "结案须选择结案结果")
    returned_class = returned_class.strip()
    if outcome == Outcome.RETURNED:
        errors = {}
        if not returned_class:
            errors["returned_class"] = "劝返复学须填写复学班级"
        if returned_on is None:
            errors["returned_on"] = "劝返复学须填写复学日期"
        elif returned_on > today or returned_on < case.opened_on:
            errors["returned_on"] = "复学日期须在立案日期与今天之间"
        if errors:
            raise Conflict("returned_incomplete", "劝返复学须填写复学班级和日期", errors)
    else:
        returned_class, returned_on = "", None
    if outcome == Outcome.OTHER:
        if not can_approve_other(actor, case.scope_path):
            raise Forbidden("county_approval_required", "以“其他”结案须经县级教育行政部门批准")
        if not note.strip():
            raise FieldError("note", "required", "以“其他”结案须填写结案说明")
    case.state = State.CLOSED
    case.outcome = outcome
    case.returned_class = returned_class
    case.returned_on = returned_on
    case.outcome_note = note.strip()[:300]
    case.next_follow_up = None
    case.closed_at = timezone.now()
    case.closed_by = actor
    case.save()
    _audit(EventType.DROPOUT_CLOSED, actor=actor, case=case, outcome=outcome, state=case.state)
    return case


LEDGER_HEADERS = (
    "学校", "姓名", "年级班级", "来源", "辍学原因", "连续缺课天数", "最后到校日期", "立案日期",
    "已立案天数", "状态", "下次跟踪日期", "跟踪逾期", "结案结果", "复学班级", "复学日期",
)  # fmt: skip
LEDGER_WIDTHS = (24, 10, 12, 14, 14, 8, 12, 12, 8, 8, 12, 8, 16, 12, 12)


def ledger_export(*, actor: Actor, cases: Iterable[DropoutCase], today: date) -> bytes:
    """The ledger as .xlsx for the monthly report (第17条), written with openpyxl's write-only mode; audited with
    the number of rows only (no names, no reasons)."""
    from openpyxl import Workbook  # noqa: PLC0415 - openpyxl loaded only when a file is written
    from openpyxl.cell import WriteOnlyCell  # noqa: PLC0415
    from openpyxl.styles import Font  # noqa: PLC0415

    wb = Workbook(write_only=True)
    ws = wb.create_sheet(str(_("控辍保学台账")))
    for index, width in enumerate(LEDGER_WIDTHS):
        ws.column_dimensions[chr(ord("A") + index)].width = width
    ws.freeze_panes = "A2"
    header = []
    for text in LEDGER_HEADERS:
        cell = WriteOnlyCell(ws, value=str(_(text)))
        cell.font = Font(bold=True)
        header.append(cell)
    ws.append(header)
    count = 0
    for case in cases:
        values = [
            case.school.name,
            case.person.name,
            f"{case.enrollment.grade}年级 {case.enrollment.class_name}",
            case.get_source_display(),
            case.get_reason_display(),
            case.days_absent,
            case.last_seen,
            case.opened_on,
            case.days_open(today),
            case.get_state_display(),
            case.next_follow_up,
            _("是") if case.is_overdue(today) else "",
            case.get_outcome_display() if case.outcome else "",
            case.returned_class,
            case.returned_on,
        ]
        ws.append([_text_cell(ws, v) for v in values])
        count += 1
    ws.auto_filter.ref = f"A1:{chr(ord('A') + len(LEDGER_HEADERS) - 1)}{count + 1}"
    buffer = io.BytesIO()
    wb.save(buffer)
    record(
        event_type=EventType.DROPOUT_EXPORTED,
        actor=actor,
        subject_type="dropout_ledger",
        summary="导出控辍保学台账",
        after={"rows": count},
    )
    return buffer.getvalue()


def _text_cell(ws: Any, value: Any) -> Any:
    """Text that could be read as a formula (``=``, ``+``, ``-``, ``@``) is stored as a string cell."""
    if isinstance(value, Promise):
        value = str(value)
    return safe_cell(ws, value)
