"""Writing the dropout ledger 控辍保学台账.

第17条: 县级教育行政部门和学校须按照控辍保学工作要求，根据国家学籍系统标记或相关部门反馈的问题线索开展问题排查与
辍学劝返复学工作，动态跟踪处理控辍保学台账。 Every write is atomic and audited; the audit names the case and the
student id, never the reason or anyone's name (第24条).
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext as _

from xueji.accounts.types import Actor
from xueji.audit.enums import EventType
from xueji.audit.services import record
from xueji.core.errors import ApplicationError, Conflict, FieldError, Forbidden
from xueji.core.spreadsheets import safe_cell
from xueji.students.enums import StudentStatus
from xueji.students.models import Enrollment
from xueji.workdays.services import official_calendar

from .enums import (
    COMPULSORY_STAGES,
    ESCALATE_PROVINCE_WORKING_DAYS,
    ESCALATE_UP_WORKING_DAYS,
    ESCALATION_RANK,
    EVENT_ESCALATED,
    FIRST_FOLLOW_UP_WORKING_DAYS,
    Escalation,
    FollowUpKind,
    Outcome,
    Reason,
    Source,
    State,
)
from .models import CaseEscalation, DropoutCase, FollowUp
from .queries import (
    UnitLedger,
    can_approve_other,
    can_handle,
    enters_leads,
    handles_school,
    is_dept_registrar_over,
    lead_pupil,
    overdue_q,
)
from .signals import case_escalated, case_followed_up

MAX_FOLLOW_UP_WORKING_DAYS = 20
LEAD_FROM_MAX = 60


def _audit(event: EventType | str, *, actor: Actor | None, case: DropoutCase, **after: Any) -> None:
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


def _compulsory_enrollment(person_id: Any) -> Enrollment | None:
    """The pupil's active enrollment if it is in compulsory education (小学、初中), else None: the ledger follows
    only 义务教育 pupils (第17条); a pupil now at a senior high school is for the county to close by hand."""
    return (
        Enrollment.objects.filter(person_id=person_id, is_active=True, stage__in=COMPULSORY_STAGES)
        .select_related("school")
        .first()
    )


@transaction.atomic
def _follow_pupil(case: DropoutCase) -> DropoutCase:
    """A locked open case moves with the pupil: after a promotion to another school, a school merger or any move
    of the record it belongs to the pupil's active enrollment (school and region), so the school now responsible
    follows it up (第17条). Also when the enrollment itself moved (a merger rewrites its school and region)."""
    current = _compulsory_enrollment(case.person_id)
    if (
        case.state == State.OPEN
        and current is not None
        and (
            current.pk != case.enrollment_id
            or current.school_id != case.school_id
            or current.scope_path != case.scope_path
        )
    ):
        case.enrollment, case.school, case.scope_path = current, current.school, current.scope_path
        case.save(update_fields=["enrollment", "school", "scope_path"])
    return case


#: 第17条 closing outcomes tied to the register: the status the register leaves on the case's enrollment when a
#: change is applied (death 第21条, transfer out 第15条, abroad 第19条) → the case's outcome. ``99`` 其他 is the
#: status the abroad change writes for a pupil who is not publicly funded. A transfer to another school in
#: compulsory education does not close the case: the case follows the pupil to the receiving school, which
#: follows up until the child attends (第17条, never closed silently). Withdrawal (第18条) is for senior high only,
#: where no case follows; "other" always needs the county (never given by the system).
REGISTER_OUTCOMES: dict[str, str] = {
    StudentStatus.DECEASED: Outcome.DEATH,
    StudentStatus.TRANSFERRED_OUT: Outcome.TRANSFERRED,
    StudentStatus.STUDYING_ABROAD_PUBLIC: Outcome.ABROAD,
    StudentStatus.OTHER: Outcome.ABROAD,
}
#: The outcomes that only the register may give (the change is applied, then the case closes by itself).
REGISTER_ONLY_OUTCOMES = frozenset({Outcome.DEATH, Outcome.TRANSFERRED, Outcome.ABROAD})
SYSTEM_CLOSE_NOTE = "系统依据学籍变动关闭"


@dataclass(frozen=True)
class RegisterReport:
    closed: int
    followed: int


def cases_follow_register(*, today: date | None = None) -> RegisterReport:
    """Keep the open cases in step with the register (第17条: the ledger is tracked dynamically; the 学籍 is the
    record): a case whose enrollment the register closed by an applied change — death, transfer out, abroad,
    (:data:`REGISTER_OUTCOMES`) — closes with the matching outcome and a history row
    "系统依据学籍变动关闭" by the system; any other open case whose pupil's record moved (promotion to another
    school, a merger) follows it (:func:`_follow_pupil`). Run after every applied change or import
    (``receivers.on_records_changed``) and by the daily task; re-running changes nothing. A record closed for
    another reason (graduation without a next school …) leaves the case open for the county to close."""
    today = today or timezone.localdate()
    stale = (
        Q(enrollment__is_active=False)
        | ~Q(enrollment__school_id=F("school_id"))
        | ~Q(enrollment__scope_path=F("scope_path"))
    )
    closed = followed = 0
    for pk in list(DropoutCase.objects.filter(stale, state=State.OPEN).values_list("pk", flat=True)):
        with transaction.atomic():
            case = (
                DropoutCase.objects.select_for_update()
                .select_related("school", "enrollment")
                .filter(pk=pk, state=State.OPEN)
                .first()
            )
            if case is None:
                continue
            outcome = None if case.enrollment.is_active else REGISTER_OUTCOMES.get(case.enrollment.status)
            if outcome == Outcome.TRANSFERRED and _compulsory_enrollment(case.person_id) is not None:
                outcome = None  # transferred within compulsory education: the case follows the pupil
            if outcome is not None:
                _close_from_register(case, outcome, today)
                closed += 1
                continue
            before = (case.enrollment_id, case.school_id, case.scope_path)
            _follow_pupil(case)
            followed += before != (case.enrollment_id, case.school_id, case.scope_path)
    return RegisterReport(closed=closed, followed=followed)


def _close_from_register(case: DropoutCase, outcome: str, today: date) -> None:
    """Close a locked open case because the register recorded the change (第17条): the outcome, a note and a
    history row naming the register's status, no person closing it; audited as the system (no personal data)."""
    label = StudentStatus(case.enrollment.status).label
    note = f"{SYSTEM_CLOSE_NOTE}：学籍状态为“{label}”"
    case.state = State.CLOSED
    case.outcome = outcome
    case.outcome_note = note
    case.next_follow_up = None
    case.closed_at = timezone.now()
    case.closed_by = None
    case.escalation = Escalation.NONE
    case.save()
    FollowUp.objects.create(
        case=case, date=today, kind=FollowUpKind.SYSTEM, people="系统", result=note, recorded_by=None
    )
    _audit(EventType.DROPOUT_CLOSED, actor=None, case=case, outcome=outcome, state=case.state, by="register")
    case_followed_up.send(sender=DropoutCase, case=case)


def case_open(
    *,
    actor: Actor,
    enrollment: Enrollment,
    source: str,
    days_absent: int,
    last_seen: date | None,
    reason: str,
    lead_from: str = "",
    today: date | None = None,
) -> DropoutCase:
    """Open a dropout case for a compulsory-education pupil (第17条; 第18条: 义务教育阶段不予退学, so the pupil's
    学籍 continues while the case is followed).

    A school report is opened by a registrar of the pupil's school; a lead from another department by a department
    registrar whose region holds the pupil, naming the department the lead came from (``lead_from``: 公安、民政、
    乡镇人民政府 …; 第17条 相关部门反馈的问题线索). ``enrollment`` must come from the viewer-scoped
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
        lead_from = ""
    elif source == Source.LEAD:
        if not is_dept_registrar_over(actor, enrollment.scope_path):
            raise Forbidden("not_dept_registrar", "相关部门线索须由县级教育行政部门学籍管理员登记")
        lead_from = " ".join(lead_from.split())
        if not lead_from:
            raise FieldError("lead_from", "required", "相关部门线索须填写线索来源部门")
        if len(lead_from) > LEAD_FROM_MAX:
            raise FieldError("lead_from", "too_long", f"线索来源部门不能超过{LEAD_FROM_MAX}个字")
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
                lead_from=lead_from,
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
    if kind not in FollowUpKind.values or kind == FollowUpKind.SYSTEM:  # system rows are the system's own
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
    # Followed up again: nobody above needs to chase it now (the escalations stay in the case's history).
    case.escalation = Escalation.NONE
    case.save(update_fields=["next_follow_up", "escalation"])
    _audit(EventType.DROPOUT_FOLLOWED_UP, actor=actor, case=case, kind=kind, state=case.state)
    case_followed_up.send(sender=DropoutCase, case=case)  # the escalation notices are done
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
    if outcome in REGISTER_ONLY_OUTCOMES and case.enrollment.is_active:
        # 第15、19、21条: death, transfer and going abroad are changes of the 学籍 — recorded by the change first;
        # once it is applied the case closes by itself (:func:`cases_follow_register`).
        raise FieldError(
            "outcome",
            "register_active",
            "该学生学籍仍为在读：死亡、转学、出境须先办理相应学籍变动，学籍变动生效后案件将自动结案",
        )
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
    case_followed_up.send(sender=DropoutCase, case=case)
    return case


LEDGER_HEADERS = (
    "学校", "姓名", "年级班级", "来源", "线索来源部门", "辍学原因", "连续缺课天数", "最后到校日期", "立案日期",
    "已立案天数", "状态", "下次跟踪日期", "跟踪逾期", "升级督办", "结案结果", "复学班级", "复学日期",
)  # fmt: skip
LEDGER_WIDTHS = (24, 10, 12, 14, 16, 14, 8, 12, 12, 8, 8, 12, 8, 20, 16, 12, 12)


#: The per-unit summary sheet: these columns, then one column of returns per month (newest first).
UNIT_HEADERS = ("单位", "跟踪中案件", "跟踪逾期", "升级督办中", "最长立案天数")


def ledger_export(
    *,
    actor: Actor,
    cases: Iterable[DropoutCase],
    today: date,
    units: Sequence[UnitLedger] = (),
    returns: Sequence[tuple[date, int]] = (),
) -> bytes:
    """The ledger as .xlsx for the monthly report (第17条), written with openpyxl's write-only mode: the cases,
    then the summary sheets — per child unit (open, overdue, escalated, the oldest open case's days, returns to
    school per month; ``queries.ledger_by_unit``) and returns per month over the whole ledger. Every text cell is
    formula-safe. Audited with the numbers of rows only (no names, no reasons)."""
    from openpyxl import Workbook  # noqa: PLC0415 - openpyxl loaded only when a file is written
    from openpyxl.utils import get_column_letter  # noqa: PLC0415

    wb = Workbook(write_only=True)
    ws = wb.create_sheet(str(_("控辍保学台账")))
    for index, width in enumerate(LEDGER_WIDTHS):
        ws.column_dimensions[get_column_letter(index + 1)].width = width
    ws.freeze_panes = "A2"
    ws.append(_header(ws, [str(_(text)) for text in LEDGER_HEADERS]))
    count = 0
    for case in cases:
        values = [
            case.school.name,
            case.person.name,
            f"{case.enrollment.grade}年级 {case.enrollment.class_name}",
            case.get_source_display(),
            case.lead_from,
            case.get_reason_display(),
            case.days_absent,
            case.last_seen,
            case.opened_on,
            case.days_open(today),
            case.get_state_display(),
            case.next_follow_up,
            _("是") if case.is_overdue(today) else "",
            case.get_escalation_display() if case.escalation != Escalation.NONE else "",
            case.get_outcome_display() if case.outcome else "",
            case.returned_class,
            case.returned_on,
        ]
        ws.append([_text_cell(ws, v) for v in values])
        count += 1
    ws.auto_filter.ref = f"A1:{get_column_letter(len(LEDGER_HEADERS))}{count + 1}"
    months = [m for m, _n in returns]
    if units:
        summary = wb.create_sheet(str(_("各单位汇总")))
        summary.freeze_panes = "B2"
        summary.column_dimensions["A"].width = 26
        month_headers = [str(_("%(month)s劝返复学")) % {"month": f"{m:%Y-%m}"} for m in months]
        summary.append(_header(summary, [str(_(h)) for h in UNIT_HEADERS] + month_headers))
        for row in units:
            per_month = list(row.returned[: len(months)])
            values = [row.unit.name, row.open, row.overdue, row.escalated, row.oldest_days, *per_month]
            summary.append([_text_cell(summary, v) for v in values])
        totals: list[Any] = [
            str(_("合计")),
            sum(r.open for r in units),
            sum(r.overdue for r in units),
            sum(r.escalated for r in units),
            max((r.oldest_days for r in units), default=0),
            *[sum(r.returned[i] for r in units) for i in range(len(months))],
        ]
        summary.append([_text_cell(summary, v) for v in totals])
    if returns:
        monthly = wb.create_sheet(str(_("每月劝返复学")))
        monthly.append(_header(monthly, [str(_("月份")), str(_("劝返复学人数"))]))
        for month, n in returns:
            monthly.append([_text_cell(monthly, f"{month:%Y-%m}"), n])
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


def _header(ws: Any, texts: Sequence[str]) -> list[Any]:
    from openpyxl.cell import WriteOnlyCell  # noqa: PLC0415
    from openpyxl.styles import Font  # noqa: PLC0415

    cells = []
    for text in texts:
        cell = WriteOnlyCell(ws, value=text)
        cell.font = Font(bold=True)
        cells.append(cell)
    return cells


def _text_cell(ws: Any, value: Any) -> Any:
    """Text that could be read as a formula (``=``, ``+``, ``-``, ``@``) is stored as a string cell."""
    if isinstance(value, Promise):
        value = str(value)
    return safe_cell(ws, value)


# --------------------------------------------------------------------------------------------- leads (第17条)


def lead_open(
    *,
    actor: Actor,
    number: str,
    name: str,
    lead_from: str,
    days_absent: int,
    last_seen: date | None,
    reason: str,
    today: date | None = None,
) -> DropoutCase:
    """A lead from another department (第17条 相关部门反馈的问题线索), entered by a county (or higher) registrar:
    the pupil is named by 学籍号 or identity number AND name (both must match) and must be an active pupil in the
    actor's region — otherwise "not found" and nothing is created, whether the pupil exists elsewhere or not."""
    if not enters_leads(actor):
        raise Forbidden("not_dept_registrar", "相关部门线索须由县级教育行政部门学籍管理员登记")
    enrollment = lead_pupil(viewer=actor, number=number, name=name)
    return case_open(
        actor=actor,
        enrollment=enrollment,
        source=Source.LEAD,
        lead_from=lead_from,
        days_absent=days_absent,
        last_seen=last_seen,
        reason=reason,
        today=today,
    )


#: The columns of a lead file, in order: (key, header). The header names the column in every row error.
LEAD_COLUMNS = (
    ("number", "学籍号或身份证件号"),
    ("name", "姓名"),
    ("lead_from", "线索来源部门"),
    ("days_absent", "连续缺课天数"),
    ("last_seen", "最后到校日期"),
    ("reason", "辍学原因"),
)
LEAD_MAX_ROWS = 500
LEAD_MAX_BYTES = 2 * 1024 * 1024
LEAD_MAX_UNCOMPRESSED = 50 * 1024 * 1024
_FIELD_COLUMN = {"person": "number", "source": "lead_from"}


@dataclass(frozen=True)
class RowError:
    row: int
    column: str
    message: str

    def __str__(self) -> str:
        return f"第{self.row}行「{self.column}」：{self.message}"


@dataclass(frozen=True)
class LeadImport:
    """All cases opened, or none and the errors of every bad row (all-or-nothing)."""

    opened: int
    errors: tuple[RowError, ...]


class _Rollback(Exception):
    pass


def _lead_rows(content: bytes) -> list[tuple[int, list[Any]]]:
    """The data rows of the first sheet (row number, cells), after a header row that must name the columns
    of :data:`LEAD_COLUMNS` in order. Bounded: file size, uncompressed size (zip bomb), row count."""
    import zipfile  # noqa: PLC0415

    from openpyxl import load_workbook  # noqa: PLC0415 - loaded only when a file is read

    if len(content) > LEAD_MAX_BYTES:
        raise FieldError("file", "too_large", f"文件不能超过{LEAD_MAX_BYTES // 1024 // 1024}MB")
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as zf:
            if sum(i.file_size for i in zf.infolist()) > LEAD_MAX_UNCOMPRESSED:
                raise FieldError("file", "too_large", "文件解压后过大，请检查文件")
        wb = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except FieldError:
        raise
    except Exception as exc:  # any unreadable file is the same refusal
        raise FieldError("file", "not_xlsx", "文件不是有效的 Excel（.xlsx）文件") from exc
    try:
        ws = wb.worksheets[0]
        rows = ws.iter_rows(values_only=True)
        header = [str(v or "").strip() for v in next(rows, ())]
        expected = [h for _k, h in LEAD_COLUMNS]
        if header[: len(expected)] != expected:
            raise FieldError(
                "file", "bad_header", "第1行须为表头：" + "、".join(expected) + "（可下载模板填写）"
            )
        out: list[tuple[int, list[Any]]] = []
        for number, cells in enumerate(rows, start=2):
            values = list(cells[: len(expected)]) + [None] * (len(expected) - len(cells))
            if all(v is None or str(v).strip() == "" for v in values):
                continue
            if len(out) >= LEAD_MAX_ROWS:
                raise FieldError("file", "too_many_rows", f"一次最多导入{LEAD_MAX_ROWS}条线索")
            out.append((number, values))
    finally:
        wb.close()
    if not out:
        raise FieldError("file", "empty", "文件中没有线索数据")
    return out


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # a number typed into a general cell (学籍号 is text, but Excel may say 1.0)
    return str(value).strip()


def _parse_lead(values: list[Any]) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """One row's values, or (column key, message) errors; labels of 辍学原因 and codes are both accepted."""
    data: dict[str, Any] = {}
    errors: list[tuple[str, str]] = []
    number, name, lead_from, days, last_seen, reason = values
    data["number"], data["name"], data["lead_from"] = (
        _cell_text(number),
        _cell_text(name),
        _cell_text(lead_from),
    )
    if not data["number"]:
        errors.append(("number", "必填"))
    if not data["name"]:
        errors.append(("name", "必填"))
    if not data["lead_from"]:
        errors.append(("lead_from", "必填"))
    try:
        data["days_absent"] = int(_cell_text(days))
    except ValueError:
        errors.append(("days_absent", "须为0～366之间的整数"))
    if isinstance(last_seen, datetime):
        data["last_seen"] = last_seen.date()
    elif isinstance(last_seen, date):
        data["last_seen"] = last_seen
    elif _cell_text(last_seen):
        try:
            data["last_seen"] = date.fromisoformat(_cell_text(last_seen))
        except ValueError:
            errors.append(("last_seen", "日期格式须为 YYYY-MM-DD"))
    else:
        data["last_seen"] = None
    text = _cell_text(reason)
    by_label = {str(label): value for value, label in Reason.choices}
    data["reason"] = text if text in Reason.values else by_label.get(text, "")
    if not data["reason"]:
        errors.append(("reason", "须为：" + "、".join(str(label) for _v, label in Reason.choices)))
    return data, errors


def leads_import(*, actor: Actor, content: bytes, today: date | None = None) -> LeadImport:
    """Import leads from other departments (第17条) from an .xlsx file: every row opens a case through
    :func:`lead_open` (same checks as one entered by hand), all or nothing — one bad row and no case is
    opened; every bad row is reported with its row number and column header. A pupil outside the actor's
    region is "not found" like any unknown pupil (no oracle)."""
    today = today or timezone.localdate()
    if not enters_leads(actor):
        raise Forbidden("not_dept_registrar", "相关部门线索须由县级教育行政部门学籍管理员登记")
    header = dict(LEAD_COLUMNS)
    rows = _lead_rows(content)
    errors: list[RowError] = []
    seen: dict[str, int] = {}
    opened = 0
    try:
        with transaction.atomic():
            for row, values in rows:
                data, problems = _parse_lead(values)
                errors += [RowError(row, header[key], message) for key, message in problems]
                if problems:
                    continue
                key = f"{data['number'].upper()}|{data['name']}"
                if key in seen:
                    errors.append(RowError(row, header["number"], f"与第{seen[key]}行重复"))
                    continue
                seen[key] = row
                try:
                    with transaction.atomic():
                        lead_open(actor=actor, today=today, **data)
                except ApplicationError as exc:
                    named = [(f, m) for f, m in exc.fields.items() if f in header or f in _FIELD_COLUMN]
                    if exc.code == "not_found":
                        named = [("number", exc.message)]
                    for field, message in named or [(next(iter(exc.fields), "number"), exc.message)]:
                        column = header.get(_FIELD_COLUMN.get(field, field), header["number"])
                        errors.append(RowError(row, column, message))
                    continue
                opened += 1
            if errors:
                raise _Rollback
    except _Rollback:
        return LeadImport(0, tuple(errors))
    return LeadImport(opened, ())


def leads_template() -> bytes:
    """An empty lead file with the header row (the columns :func:`leads_import` reads)."""
    from openpyxl import Workbook  # noqa: PLC0415

    wb = Workbook()
    ws = wb.active
    ws.title = str(_("相关部门线索"))
    ws.append([header for _k, header in LEAD_COLUMNS])
    for index, width in enumerate((22, 10, 20, 14, 14, 16)):
        ws.column_dimensions[chr(ord("A") + index)].width = width
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


# --------------------------------------------------------------------------------------------- escalation


@dataclass(frozen=True)
class EscalationReport:
    county: int
    city: int
    province: int = 0


def escalate_up_after() -> int:
    return int(getattr(settings, "XUEJI_DROPOUT_ESCALATE_UP_WORKING_DAYS", ESCALATE_UP_WORKING_DAYS))


def escalate_province_after() -> int:
    return int(
        getattr(settings, "XUEJI_DROPOUT_ESCALATE_PROVINCE_WORKING_DAYS", ESCALATE_PROVINCE_WORKING_DAYS)
    )


#: The steps up, in order (第17条 逐级上报).
_STEPS = (Escalation.COUNTY, Escalation.CITY, Escalation.PROVINCE)


def _target_level(case: DropoutCase, working_days_overdue: int, up_after: int, province_after: int) -> str:
    """第17条 (the county and the school track the ledger; 逐级上报) and 第5条 (分级负责): a school's case whose
    follow-up date has passed goes to the county; any case overdue by more than ``up_after`` working days goes to
    the city, and by more than ``province_after`` to the province. A lead is the county's own case from the
    start, so it goes up to the city and then the province."""
    if working_days_overdue < 1:
        return Escalation.NONE  # overdue is counted in working days: a weekend or holiday is not yet late
    if working_days_overdue > max(province_after, up_after):
        return Escalation.PROVINCE
    if working_days_overdue > up_after:
        return Escalation.CITY
    if case.source == Source.SCHOOL:
        return Escalation.COUNTY
    return Escalation.NONE


def cases_escalate(
    *, today: date | None = None, up_after: int | None = None, province_after: int | None = None
) -> EscalationReport:
    """The daily escalation (``tasks.escalate_overdue``): every open case past its next follow-up date moves up
    to the level :func:`_target_level` gives, never down (a recorded follow-up brings it back, see
    :func:`follow_up_add`). 第17条 逐级上报: each step is a :class:`CaseEscalation` row, an audit event by the
    system and :data:`~.signals.case_escalated` — on which the department of that level (the pupil's current
    county, city, province) gets a needs-action notice (``oversight.receivers``). Re-running the same day
    changes nothing and tells nobody again."""
    today = today or timezone.localdate()
    up_after = escalate_up_after() if up_after is None else up_after
    province_after = escalate_province_after() if province_after is None else province_after
    calendar = official_calendar()
    counts = dict.fromkeys(_STEPS, 0)
    candidates = list(
        DropoutCase.objects.filter(overdue_q(today))
        .exclude(escalation=Escalation.PROVINCE)
        .values_list("pk", flat=True)
    )
    for pk in candidates:
        with transaction.atomic():
            case = (
                DropoutCase.objects.select_for_update()
                .select_related("school", "enrollment")
                .filter(overdue_q(today), pk=pk)
                .first()
            )
            if case is None or case.next_follow_up is None:
                continue  # followed up or closed meanwhile
            missed = case.next_follow_up
            case = _follow_pupil(case)  # the notice goes to the pupil's current county, city, province
            late = max(calendar.working_days_between(missed, today), 0)
            target = _target_level(case, late, up_after, province_after)
            current = ESCALATION_RANK[Escalation(case.escalation)]
            levels = [
                level
                for level in _STEPS
                if current < ESCALATION_RANK[level] <= ESCALATION_RANK[Escalation(target)]
                and not (level == Escalation.COUNTY and case.source == Source.LEAD)
            ]
            if not levels:
                continue
            for level in levels:
                _row, created = CaseEscalation.objects.get_or_create(
                    case=case,
                    level=level,
                    missed=missed,
                    defaults={"on": today, "working_days_overdue": min(late, 32767)},
                )
                _audit(EVENT_ESCALATED, actor=None, case=case, kind=level, overdue=late, state=case.state)
                counts[level] += 1
                if created:
                    case_escalated.send(
                        sender=DropoutCase, case=case, level=level, on=today, working_days_overdue=late
                    )
            case.escalation = target
            case.save(update_fields=["escalation"])
    return EscalationReport(
        county=counts[Escalation.COUNTY], city=counts[Escalation.CITY], province=counts[Escalation.PROVINCE]
    )
