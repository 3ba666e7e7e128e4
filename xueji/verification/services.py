"""Writing the semester verification 学籍核查.

第25条: 学校应当至少每学期核准一次学生学籍，确保人籍一致、学籍变动手续完备、学生基础学籍信息和学籍变动信息准确。
严肃、及时处理检查中发现的人籍分离、空挂学籍等问题。 第5条: 省级统筹 (the province opens the round), 县级教育行政
部门具体负责 (the county reviews), 学校负责……校验、上报 (the school confirms its roster).

Every write is atomic and audited; the audit names the round, the return or the pupil's id, never a name or the
text of a finding (第24条). Notices go to the units through the changes app's notices.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone, translation

from xueji.accounts.jurisdiction import in_scope
from xueji.accounts.types import Actor
from xueji.audit.services import record
from xueji.changes.models import Notification
from xueji.changes.services import notify
from xueji.checks.queries import unexplained_open_problems
from xueji.core.errors import Conflict, FieldError, Forbidden, NotFound
from xueji.regions.models import OrgUnit
from xueji.schools.enums import SchoolState
from xueji.schools.models import School
from xueji.students.models import ProblemEvent, ProblemRecord
from xueji.students.records import problem_due_on

from . import workflow
from .enums import (
    EVENT_ACCEPTED,
    EVENT_FINDING_REMOVED,
    EVENT_FINDING_SAVED,
    EVENT_RETURNED,
    EVENT_ROUND_CLOSED,
    EVENT_ROUND_OPENED,
    EVENT_SUBMITTED,
    NOTICE_ACCEPTED,
    NOTICE_OPEN,
    NOTICE_RETURNED,
    NOTICE_SUBMITTED,
    CorrectionField,
    FindingKind,
    ReturnState,
    RoundState,
    Semester,
    Whereabouts,
)
from .models import Finding, SchoolReturn, VerificationRound
from .queries import can_review, is_school_registrar, opening_units, roster_count, roster_enrollment

BATCH = 2000
MAX_TITLE = 100
MAX_TEXT = 300


def _submitted_notice_done(ret: SchoolReturn) -> None:
    """The county reviewed this school's return: its "submitted" notice of the round is finished — only this
    school's (the notice names the school in ``school``), the other schools' submissions still wait."""
    Notification.objects.filter(
        org_unit_id=ret.reviewer_id,
        notice=NOTICE_SUBMITTED,
        params__round=ret.round_id,
        params__school=ret.school_id,
        needs_action=True,
        done_at__isnull=True,
    ).update(done_at=timezone.now())


def _school_notices_done(ret: SchoolReturn, keys: Iterable[str]) -> None:
    """The school's work notices of the round are finished (it submitted): its own, and for a teaching point
    the copies at its central school (第22条) — not the central school's notices of its own return."""
    central = ret.school.central_school_id
    mine = Q(org_unit_id=ret.school_id) & ~Q(params__has_key="school")
    if central:
        mine |= Q(org_unit_id=central, params__school=ret.school_id)
    Notification.objects.filter(
        mine,
        notice__in=list(keys),
        params__round=ret.round_id,
        needs_action=True,
        done_at__isnull=True,
    ).update(done_at=timezone.now())


# ---------------------------------------------------------------------------------------------------- rounds


@transaction.atomic
def round_open(
    *,
    actor: Actor,
    unit: OrgUnit,
    title: str,
    school_year: int,
    semester: str,
    deadline: date,
    today: date | None = None,
) -> VerificationRound:
    """Open a verification round over ``unit``'s region (第25条 每学期核准; 第5条 省级统筹): only a department
    user of a province or of the ministry, the deadline in the future. Every active school under the unit gets
    its return at once — a few bulk INSERTs whatever the number of schools — and a work notice.

    Raises NotFound when ``unit`` is outside the actor's jurisdiction, ``not_round_opener`` (403) for anyone
    else, ``round_already_open`` when the unit has an open round, field errors for bad input.
    """
    today = today or timezone.localdate()
    if not in_scope(actor, unit.path):
        raise NotFound()
    if all(u.pk != unit.pk for u in opening_units(actor)):
        raise Forbidden("not_round_opener", "只有省级或国家教育行政部门可以发起学籍核查（第五条：省级统筹）")
    title = (title or "").strip()
    if not title:
        raise FieldError("title", "required", "请填写核查名称")
    if len(title) > MAX_TITLE:
        raise FieldError("title", "too_long", f"核查名称不能超过{MAX_TITLE}个字")
    if semester not in Semester.values:
        raise FieldError("semester", "invalid_semester", "请选择学期")
    if not isinstance(school_year, int) or not 2000 <= school_year <= today.year + 1:
        raise FieldError("school_year", "invalid_year", f"学年须在2000～{today.year + 1}之间")
    if deadline <= today:
        raise FieldError("deadline", "deadline_not_future", "截止日期须晚于今天")
    if VerificationRound.objects.filter(org_unit=unit, state=RoundState.OPEN).exists():
        raise Conflict("round_already_open", "本单位已有进行中的学籍核查，请先结束后再发起")
    try:
        with transaction.atomic():
            rnd = VerificationRound.objects.create(
                org_unit=unit,
                scope_path=unit.path,
                title=title,
                school_year=school_year,
                semester=semester,
                opened_on=today,
                deadline=deadline,
                opened_by=actor,
            )
    except IntegrityError as exc:  # a concurrent opening by the same unit
        raise Conflict("round_already_open", "本单位已有进行中的学籍核查，请先结束后再发起") from exc
    n_schools = _returns_and_notices(rnd, unit, title, deadline)
    record(
        event_type=EVENT_ROUND_OPENED,
        actor=actor,
        subject_type="verification_round",
        subject_id=rnd.pk,
        org_unit_id=unit.pk,
        province_code=unit.province_code,
        summary=f"发起学籍核查 {rnd.pk}",
        after={"deadline": deadline.isoformat(), "schools": n_schools, "semester": semester},
    )
    return rnd


def _returns_and_notices(rnd: VerificationRound, unit: OrgUnit, title: str, deadline: date) -> int:
    """Give every active school under ``unit`` its return and a work notice, ``BATCH`` schools at a time (a
    province's 20 000 schools are never held in memory at once); a teaching point's notice goes to its
    central school too (第22条: 教学点的学籍管理可由中心校承担). Runs in the caller's transaction. Returns the
    number of schools."""
    schools = (
        School.objects.filter(org__path__startswith=unit.path, org__is_active=True, state=SchoolState.ACTIVE)
        .values_list("org_id", "org__path", "supervising_dept_id", "central_school_id", "name")
        .order_by("org_id")
    )
    params = {"round": rnd.pk, "reason": title, "date": deadline.isoformat()}
    with translation.override("zh-hans"):
        message = Notification(notice=NOTICE_OPEN, params=params).text[:300]
    total = 0
    chunk: list[tuple[Any, ...]] = []

    def flush() -> None:
        SchoolReturn.objects.bulk_create(
            [
                SchoolReturn(round=rnd, school_id=sid, scope_path=path, reviewer_id=reviewer)
                for sid, path, reviewer, _central, _name in chunk
            ]
        )
        notices = []
        for sid, _path, _reviewer, central, name in chunk:
            notices.append(
                Notification(
                    org_unit_id=sid, notice=NOTICE_OPEN, params=params, message=message, needs_action=True
                )
            )
            if central:
                notices.append(
                    _central_notice(
                        rnd.pk, central, sid, name, NOTICE_OPEN, reason=title, date=deadline.isoformat()
                    )
                )
        Notification.objects.bulk_create(notices)
        chunk.clear()

    for row in schools.iterator(chunk_size=BATCH):
        chunk.append(row)
        total += 1
        if len(chunk) >= BATCH:
            flush()
    if chunk:
        flush()
    return total


def _central_notice(
    rnd_id: int, central_id: int, point_id: int, point_name: str, notice: str, *, reason: str, **extra: Any
) -> Notification:
    """The copy of a teaching point's notice for its central school, which manages the point's records
    (第22条: 教学点的学籍管理可由中心校承担): the reason names the teaching point, ``school`` tells it apart
    from the central school's own notice of the round."""
    n = Notification(
        org_unit_id=central_id,
        notice=notice,
        params={"round": rnd_id, "school": point_id, "reason": f"{reason}（{point_name}）", **extra},
        needs_action=notice in (NOTICE_OPEN, NOTICE_RETURNED),
    )
    with translation.override("zh-hans"):
        n.message = n.text[:300]
    return n


@transaction.atomic
def round_close(*, actor: Actor, rnd: VerificationRound) -> VerificationRound:
    """End a round (its opening unit): afterwards schools can no longer change or submit, nor counties review;
    the results stay as they are. Outstanding work notices of the round are marked done."""
    rnd = VerificationRound.objects.select_for_update().get(pk=rnd.pk)
    if all(u.pk != rnd.org_unit_id for u in opening_units(actor)):
        raise Forbidden("not_round_opener", "只有发起单位可以结束学籍核查")
    if rnd.state != RoundState.OPEN:
        raise Conflict("round_closed", "该学籍核查已结束")
    rnd.state = RoundState.CLOSED
    rnd.closed_at = timezone.now()
    rnd.closed_by = actor
    rnd.save(update_fields=["state", "closed_at", "closed_by"])
    Notification.objects.filter(
        notice__in=[NOTICE_OPEN, NOTICE_SUBMITTED, NOTICE_RETURNED],
        params__round=rnd.pk,
        needs_action=True,
        done_at__isnull=True,
    ).update(done_at=timezone.now())
    record(
        event_type=EVENT_ROUND_CLOSED,
        actor=actor,
        subject_type="verification_round",
        subject_id=rnd.pk,
        org_unit_id=rnd.org_unit_id,
        summary=f"结束学籍核查 {rnd.pk}",
        after={"state": rnd.state},
    )
    return rnd


# ------------------------------------------------------------------------------------------ the school's work


def _lock(ret: SchoolReturn) -> SchoolReturn:
    """Lock the return for a write and read the round's state under a share lock on the round row.

    :func:`round_close` takes the round row ``FOR UPDATE``; a submit, finding or review holds ``FOR SHARE`` on
    it until it commits, so it either finishes before the close or waits for it and then reads the round as
    closed (the return is re-read, with its round, in a statement after the lock). Without it a write that had
    read "open" could commit after the close (第25条: after the round ends the results stay as they are).
    SQLite serialises writers, so nothing is needed there."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT 1 FROM {VerificationRound._meta.db_table} WHERE id = %s FOR SHARE",  # noqa: S608
                [ret.round_id],
            )
    return (
        SchoolReturn.objects.select_for_update(of=("self",))
        .select_related("round", "school", "school__org", "reviewer")
        .get(pk=ret.pk)
    )


def _require_school_editing(actor: Actor, ret: SchoolReturn) -> None:
    if not is_school_registrar(actor, ret):
        raise Forbidden("not_school_registrar", "只有本校学籍管理员可以填报学籍核查")
    if ret.round.state != RoundState.OPEN:
        raise Conflict("round_closed", "该学籍核查已结束，不能再修改或提交")
    if ret.state not in workflow.EDITABLE:
        raise Conflict(
            "return_not_editable",
            "本校核查结果已提交或已通过，不能再修改（如需修改，请联系县级教育行政部门退回）",
        )


def _clean_finding(
    kind: str, whereabouts: str, correction_fields: Iterable[str], detail: str
) -> tuple[str, list[str], str]:
    detail = (detail or "").strip()
    if len(detail) > MAX_TEXT:
        raise FieldError("detail", "too_long", f"情况说明不能超过{MAX_TEXT}个字")
    fields = sorted(set(correction_fields or ()))
    if kind == FindingKind.ABSENT:
        if whereabouts not in Whereabouts.values:
            raise FieldError("whereabouts", "whereabouts_required", "人籍分离须选择学生去向")
        if not detail:
            raise FieldError("detail", "required", "人籍分离须填写情况说明：学生现在何处、未到校的原因")
        return whereabouts, [], detail
    if kind == FindingKind.PHANTOM:
        if not detail:
            raise FieldError("detail", "required", "空挂学籍须填写情况说明（如查无此人、已离校未办手续）")
        return "", [], detail
    if kind == FindingKind.CORRECTION:
        if not fields or any(x not in CorrectionField.values for x in fields):
            raise FieldError("correction_fields", "fields_required", "需更正须选择要更正的信息")
        if CorrectionField.OTHER in fields and not detail:
            raise FieldError("detail", "required", "选择“其他”时须在情况说明中写明需更正的信息")
        return "", fields, detail
    raise FieldError("kind", "invalid_kind", "请选择异常类型")


@transaction.atomic
def finding_save(
    *,
    actor: Actor,
    ret: SchoolReturn,
    enrollment_id: Any,
    kind: str,
    whereabouts: str = "",
    correction_fields: Iterable[str] = (),
    detail: str = "",
) -> Finding:
    """Mark (or re-mark) one pupil of the school's roster as an exception (第25条: 人籍分离 with where the child is
    and why, 空挂学籍, 需更正 with which data). Only the school's registrar, while the round is open and the
    return is a draft or was returned. The pupil must be on the school's active roster, else NotFound."""
    ret = _lock(ret)
    _require_school_editing(actor, ret)
    enrollment = roster_enrollment(ret=ret, enrollment_id=enrollment_id)
    whereabouts, fields, detail = _clean_finding(kind, whereabouts, correction_fields, detail)
    finding, created = Finding.objects.update_or_create(
        school_return=ret,
        enrollment=enrollment,
        defaults={
            "scope_path": ret.scope_path,
            "kind": kind,
            "whereabouts": whereabouts,
            "correction_fields": fields,
            "detail": detail,
            "created_by": actor,
        },
    )
    record(
        event_type=EVENT_FINDING_SAVED,
        actor=actor,
        subject_type="student",
        subject_id=enrollment.person_id,
        org_unit_id=ret.school_id,
        province_code=enrollment.province_code,
        summary=f"学籍核查异常 {ret.pk}",
        after={"return_id": ret.pk, "round_id": ret.round_id, "kind": kind, "created": created},
    )
    return finding


@transaction.atomic
def finding_remove(*, actor: Actor, ret: SchoolReturn, enrollment_id: Any) -> None:
    """Withdraw a finding: the pupil counts as present again. Same rights as :func:`finding_save`; a pupil
    without a finding (or not on the roster) is NotFound."""
    ret = _lock(ret)
    _require_school_editing(actor, ret)
    enrollment = roster_enrollment(ret=ret, enrollment_id=enrollment_id)
    deleted, _ = Finding.objects.filter(school_return=ret, enrollment=enrollment).delete()
    if not deleted:
        raise NotFound("该学生没有核查异常记录")
    record(
        event_type=EVENT_FINDING_REMOVED,
        actor=actor,
        subject_type="student",
        subject_id=enrollment.person_id,
        org_unit_id=ret.school_id,
        province_code=enrollment.province_code,
        summary=f"撤销学籍核查异常 {ret.pk}",
        after={"return_id": ret.pk, "round_id": ret.round_id},
    )


def problems_block_message(n: int) -> str:
    return (
        f"本校还有 {n} 条问题学籍既未处理也未填写情况说明，不能提交核查结果。"
        "请先到问题学籍工作台逐条处理或填写情况说明（第二十五条）。"
    )


class ProblemsUnexplained(Conflict):
    """Submitting refused while ``count`` open problem records have no explanation (the count is in the
    message and on ``count``; ``fields`` stays field → message)."""

    def __init__(self, count: int) -> None:
        super().__init__("problems_unexplained", problems_block_message(count))
        self.count = count


@transaction.atomic
def return_submit(*, actor: Actor, ret: SchoolReturn) -> SchoolReturn:
    """The school confirms its roster (第25条 核准): every active pupil without a finding counts as present; the
    roster count is kept. Refused while the school has open problem records (第9条) without an explanation
    (``problems_unexplained``, with their number), after the round closed (``round_closed``), or when the
    return is already submitted or accepted. Late submissions are accepted while the round is open."""
    ret = _lock(ret)
    _require_school_editing(actor, ret)
    unexplained = unexplained_open_problems(ret.school).count()
    if unexplained:
        raise ProblemsUnexplained(unexplained)
    target = workflow.next_state(ret.state, workflow.SUBMIT)
    if target is None:  # pragma: no cover - EDITABLE states all submit
        raise Conflict("invalid_transition", "当前状态不能提交")
    before = ret.state
    ret.state = target
    ret.roster_count = roster_count(ret)
    ret.submitted_at = timezone.now()
    ret.submitted_by = actor
    ret.save(update_fields=["state", "roster_count", "submitted_at", "submitted_by"])
    _school_notices_done(ret, [NOTICE_OPEN, NOTICE_RETURNED])
    notify(
        ret.reviewer,
        None,
        NOTICE_SUBMITTED,
        needs_action=True,
        round=ret.round_id,
        school=ret.school_id,
        reason=f"{ret.school.name}（{ret.round.title}）",
    )
    record(
        event_type=EVENT_SUBMITTED,
        actor=actor,
        subject_type="verification_return",
        subject_id=ret.pk,
        org_unit_id=ret.school_id,
        province_code=ret.school.province_code,
        summary=f"提交学籍核查 {ret.pk}",
        before={"state": before},
        after={"state": ret.state, "roster_count": ret.roster_count, "findings": ret.findings.count()},
    )
    return ret


# -------------------------------------------------------------------------------------------- county review


def _require_reviewing(actor: Actor, ret: SchoolReturn, action: str) -> str:
    if not can_review(actor, ret):
        raise Forbidden("not_reviewer", "只有学校的主管教育行政部门（县级）可以审核学籍核查结果")
    if ret.round.state != RoundState.OPEN:
        raise Conflict("round_closed", "该学籍核查已结束，不能再审核")
    target = workflow.next_state(ret.state, action)
    if target is None:
        raise Conflict("not_submitted", "学校尚未提交核查结果（或已审核），不能审核")
    return target


@transaction.atomic
def return_accept(*, actor: Actor, ret: SchoolReturn, note: str = "") -> SchoolReturn:
    """The county accepts a submitted return (第5条: 县级教育行政部门具体负责; 第25条)."""
    ret = _lock(ret)
    target = _require_reviewing(actor, ret, workflow.ACCEPT)
    note = (note or "").strip()
    if len(note) > MAX_TEXT:
        raise FieldError("note", "too_long", f"审核意见不能超过{MAX_TEXT}个字")
    opened = _open_finding_problems(actor, ret)
    return _review(
        actor=actor,
        ret=ret,
        target=target,
        note=note,
        event=EVENT_ACCEPTED,
        notice=NOTICE_ACCEPTED,
        audit_extra={"problems": opened},
    )


#: The problem record each kind of finding opens when the county accepts the return (第25条).
FINDING_PROBLEM_KINDS = {
    FindingKind.ABSENT: ProblemRecord.Kind.VERIFY_ABSENT,
    FindingKind.PHANTOM: ProblemRecord.Kind.VERIFY_PHANTOM,
    FindingKind.CORRECTION: ProblemRecord.Kind.VERIFY_CORRECTION,
}


def _finding_detail(finding: Finding, title: str) -> str:
    """What the new record says: the round and what the school reported (the kind and the coded whereabouts or
    fields — the school's free text stays on the finding)."""
    text = f"学籍核查“{title}”学校报告：{FindingKind(finding.kind).label}"
    if finding.kind == FindingKind.ABSENT and finding.whereabouts in Whereabouts.values:
        text += f"（去向：{Whereabouts(finding.whereabouts).label}）"
    elif finding.kind == FindingKind.CORRECTION:
        text += f"（需更正：{'、'.join(finding.correction_labels())}）"
    return text[:300]


def _open_finding_problems(actor: Actor, ret: SchoolReturn) -> dict[str, int]:
    """第25条 (严肃、及时处理检查中发现的人籍分离、空挂学籍等问题): the county accepted what the school reported, so
    each 人籍分离 / 空挂学籍 / 需更正 finding of a pupil still on the school's register opens a problem record
    (``verify_*``) owned by the school, due in working days (:func:`~xueji.students.records.problem_due_on`),
    with its ``open`` history row. At most one open record per pupil and reason: a pupil who already has one
    (an earlier round's, not yet handled) gets none — accepting is idempotent. Set-based: a few statements
    whatever the number of findings. Returns the number opened per finding kind."""
    today = timezone.localdate()
    now = timezone.now()
    findings = list(
        Finding.objects.filter(
            school_return=ret, kind__in=list(FINDING_PROBLEM_KINDS), enrollment__is_active=True
        )
        .select_related("enrollment")
        .order_by("pk")
    )
    counts = dict.fromkeys((str(k) for k in FINDING_PROBLEM_KINDS), 0)
    if not findings:
        return counts
    existing = set(
        ProblemRecord.objects.filter(
            person_id__in={x.enrollment.person_id for x in findings},
            kind__in=list(FINDING_PROBLEM_KINDS.values()),
            state=ProblemRecord.State.OPEN,
        ).values_list("person_id", "kind")
    )
    due: dict[str, date] = {}
    new: list[ProblemRecord] = []
    for finding in findings:
        e = finding.enrollment
        kind = FINDING_PROBLEM_KINDS[FindingKind(finding.kind)]
        if (e.person_id, kind.value) in existing:
            continue
        existing.add((e.person_id, kind.value))
        if kind not in due:
            due[kind] = problem_due_on(e.province_code, kind, today)
        new.append(
            ProblemRecord(
                kind=kind,
                person_id=e.person_id,
                province_code=e.province_code,
                scope_path=e.scope_path,
                school_id=e.school_id,
                owner=ProblemRecord.Owner.SCHOOL,
                source=ProblemRecord.Source.VERIFICATION,
                due_on=due[kind],
                detail=_finding_detail(finding, ret.round.title),
            )
        )
    # A concurrent accept of the same pupil elsewhere loses quietly to the partial unique index.
    ProblemRecord.objects.bulk_create(new, ignore_conflicts=True)
    created = list(
        ProblemRecord.objects.filter(pk__in=[r.pk for r in new]).values_list("pk", "kind", "owner")
    )
    ProblemEvent.objects.bulk_create(
        [
            ProblemEvent(
                problem_id=pk, action=ProblemEvent.Action.OPEN, actor=actor, at=now, owner_after=owner
            )
            for pk, _kind, owner in created
        ]
    )
    by_kind = {v.value: k for k, v in FINDING_PROBLEM_KINDS.items()}
    for _pk, opened_kind, _owner in created:
        counts[str(by_kind[opened_kind])] += 1
    return counts


@transaction.atomic
def return_send_back(*, actor: Actor, ret: SchoolReturn, note: str) -> SchoolReturn:
    """The county returns a submitted return to the school with a note saying what to put right (第25条: 严肃、
    及时处理检查中发现的问题); the school may change its findings and submit again."""
    ret = _lock(ret)
    target = _require_reviewing(actor, ret, workflow.RETURN)
    note = (note or "").strip()
    if not note:
        raise FieldError("note", "required", "退回须填写审核意见，说明需要学校处理的问题")
    return _review(
        actor=actor, ret=ret, target=target, note=note, event=EVENT_RETURNED, notice=NOTICE_RETURNED
    )


def _review(
    *,
    actor: Actor,
    ret: SchoolReturn,
    target: str,
    note: str,
    event: str,
    notice: str,
    audit_extra: dict[str, Any] | None = None,
) -> SchoolReturn:
    if len(note) > MAX_TEXT:
        raise FieldError("note", "too_long", f"审核意见不能超过{MAX_TEXT}个字")
    before = ret.state
    ret.state = target
    ret.review_note = note
    ret.reviewed_at = timezone.now()
    ret.reviewed_by = actor
    ret.save(update_fields=["state", "review_note", "reviewed_at", "reviewed_by"])
    _submitted_notice_done(ret)
    reason = note if target == ReturnState.RETURNED else ret.round.title
    notify(
        ret.school.org,
        None,
        notice,
        needs_action=target == ReturnState.RETURNED,
        round=ret.round_id,
        reason=reason,
    )
    if ret.school.central_school_id:  # the central school manages the teaching point's records (第22条)
        _central_notice(
            ret.round_id, ret.school.central_school_id, ret.school_id, ret.school.name, notice, reason=reason
        ).save()
    record(
        event_type=event,
        actor=actor,
        subject_type="verification_return",
        subject_id=ret.pk,
        org_unit_id=ret.reviewer_id,
        province_code=ret.school.province_code,
        summary=f"审核学籍核查 {ret.pk}",
        before={"state": before},
        after={"state": ret.state, **(audit_extra or {})},
    )
    return ret
