"""学校合并与撤销 — a school's records and archives move in one audited operation (第12条).

第12条: 学校合并的，学生学籍档案移交到合并后的学校管理。学校撤销的，学生学籍档案移交到主管教育行政部门或其指定的
单位管理. This is not a change request per student (no per-student approvals): a department registrar of the
supervising department (or above) whose jurisdiction contains the school — and the successor — does it once.

Decisions (documented for the lead, see the module functions):

- **Merger** (``school_merge``): every *active* enrollment moves to the merged-into school (``school_id`` and
  ``scope_path``); every *former* enrollment (graduated, transferred out, …) stays a record of the school it
  was at (``school_id`` unchanged — history is not rewritten) but its ``scope_path`` — who manages and finds
  it — becomes the successor's. Problem records and the visibility paths of the school's (closed) change
  requests move too. The successor must be an active school of the same province teaching every stage of the
  moving students.
- **Closure** (``school_close``): records cannot be "at" a department, so closure is refused while the school
  still has active students (``students_not_placed`` with the count — place them by transfer first). Former
  records move their ``scope_path`` to the supervising department (or a designee the actor names), where they
  stay findable.
- In both, the operation is **refused while any change request involving the school is open**
  (``requests_in_flight``, listing them): their chains name the school's org units and their facts its grades
  and classes; finish or cancel them (在办业务清理) first. Also refused while active teaching points hang
  under the school (``has_teaching_points``).
- The school gets ``state`` merged/closed and ``successor`` (the merged-into school's org / the custodian);
  its org unit is deactivated, so its registrars' grants stop opening student data.
- Both send ``records_changed`` (reasons ``school_merged`` / ``school_closed``) inside the transaction: the
  statistics snapshot refreshes after the commit (issue 10 §1).
- One audit event per moved record (set-based ``INSERT … SELECT`` — on PostgreSQL fed by the UPDATE's
  ``RETURNING``, so it covers exactly the rows moved) and one summary event on the school.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from xueji.accounts.enums import Role
from xueji.accounts.jurisdiction import in_scope
from xueji.accounts.types import Actor
from xueji.audit.enums import EventType
from xueji.audit.models import AuditEvent
from xueji.audit.services import record
from xueji.core import context
from xueji.core.errors import ApplicationError, Conflict, FieldError, NotFound
from xueji.core.signals import records_changed
from xueji.regions.enums import OrgLevel
from xueji.regions.models import OrgUnit
from xueji.schools.enums import SchoolState
from xueji.schools.models import School
from xueji.students.enums import Stage
from xueji.students.models import Enrollment, ProblemRecord

from .models import ChangeRequest, Notification
from .promotion import _hyphenated, require_department_registrar
from .workflow import RequestState

# Business in flight at the school: being approved, or approved and waiting for its start date (ADR 0005).
OPEN_STATES = (RequestState.PENDING, RequestState.RETURNED, RequestState.SCHEDULED)
LIST_LIMIT = 50


@dataclass(frozen=True)
class RecordsTransfer:
    """The outcome of a merger or closure."""

    school_id: int
    school_name: str
    state: str
    successor_org_id: int
    successor_name: str
    active_moved: int
    former_moved: int
    problems_moved: int
    requests_repathed: int


def _locked_school(school: School) -> School:
    return School.objects.select_for_update().select_related("org", "supervising_dept").get(pk=school.pk)


def _check_common(actor: Actor, school: School, reason: str, action: str) -> str:
    require_department_registrar(actor, school.org, action=action, also=school.supervising_dept)
    if not reason.strip():
        raise FieldError("reason", "required", f"请填写{action}依据（批准文件名称及文号）")
    if school.state != SchoolState.ACTIVE:
        raise Conflict(
            "school_not_active", f"{school.name}已{school.get_state_display()}，不能再办理{action}"
        )
    points = School.objects.filter(central_school=school, state=SchoolState.ACTIVE).count()
    if points:
        raise ApplicationError(
            "has_teaching_points", f"{school.name}下仍有 {points} 个教学点，请先调整其中心校后再办理{action}"
        )
    path = school.org.path
    open_requests = list(
        ChangeRequest.objects.filter(state__in=OPEN_STATES)
        .filter(
            Q(source_path=path)
            | Q(target_path=path)
            | Q(target_school=school)
            | Q(enrollment__school=school)
            | Q(initiator_org=school.org)
        )
        .order_by("created_at")
        .values_list("id", flat=True)[: LIST_LIMIT + 1]
    )
    if open_requests:
        total = (
            ChangeRequest.objects.filter(state__in=OPEN_STATES)
            .filter(
                Q(source_path=path)
                | Q(target_path=path)
                | Q(target_school=school)
                | Q(enrollment__school=school)
                | Q(initiator_org=school.org)
            )
            .count()
        )
        shown = "、".join(str(i) for i in open_requests[:LIST_LIMIT])
        raise Conflict(
            "requests_in_flight",
            f"{school.name}有 {total} 件正在办理的学籍业务，请办结或撤销（在办业务清理）后再办理{action}",
            {"requests": shown},
        )
    return reason.strip()[:200]


def _move(
    *, actor: Actor, school: School, new_path: str, new_school_id: int, summary: str, reason: str
) -> tuple[int, int]:
    """Move every enrollment managed at ``school`` (its own and those moved to it by an earlier merger):
    active ones to ``new_school_id``, all to ``new_path``; one audit event each. Returns (active, former)."""
    enrollment = Enrollment._meta.db_table
    audit = AuditEvent._meta.db_table
    managed = Enrollment.objects.filter(Q(scope_path=school.org.path) | Q(school_id=school.pk))
    active = managed.filter(is_active=True).count()
    former = managed.filter(is_active=False).count()
    ctx = context.current()
    now = timezone.now()
    params: dict[str, Any] = {
        "src": school.pk,
        "src_path": school.org.path,
        "new_path": new_path,
        "new_school": new_school_id,
        "now": now,
        "event": str(EventType.BULK_CHANGE),
        "actor_id": getattr(actor, "pk", None),
        "username": actor.get_username() if actor is not None else "system",
        "role": Role.DEPT_REGISTRAR.value,
        "summary": summary[:180],
        "reason": reason,
        "request_id": ctx.request_id,
        "ip": ctx.ip,
    }
    columns = (
        "occurred_at, event_type, actor_id, actor_username, actor_role, org_unit_id, province_code, "
        "subject_type, subject_id, summary, before, after, success, request_id, ip"
    )
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"""
                WITH moved AS (
                    UPDATE {enrollment} AS e
                    SET school_id = CASE WHEN e.is_active THEN %(new_school)s ELSE e.school_id END,
                        scope_path = %(new_path)s
                    FROM {enrollment} AS o
                    WHERE o.id = e.id AND (o.scope_path = %(src_path)s OR o.school_id = %(src)s)
                    RETURNING e.id, e.person_id, e.is_active, e.school_id, e.province_code,
                              o.school_id AS old_school, o.scope_path AS old_path
                )
                INSERT INTO {audit} ({columns})
                SELECT %(now)s::timestamptz, %(event)s, %(actor_id)s::bigint, %(username)s, %(role)s,
                       %(src)s, m.province_code, 'student', m.person_id::text,
                       %(summary)s || CASE WHEN m.is_active THEN '（在籍学生）' ELSE '（原学籍记录）' END,
                       jsonb_build_object('school_id', m.old_school, 'scope_path', m.old_path),
                       jsonb_build_object('school_id', m.school_id, 'scope_path', %(new_path)s,
                                          'enrollment_id', m.id::text, 'is_active', m.is_active,
                                          'reason', %(reason)s),
                       true, %(request_id)s, %(ip)s::inet
                FROM moved m
                """,  # noqa: S608 - constant identifiers
                params,
            )
            moved = cursor.rowcount
        else:
            cursor.execute(
                f"""
                INSERT INTO {audit} ({columns})
                SELECT %(now)s, %(event)s, %(actor_id)s, %(username)s, %(role)s, %(src)s, e.province_code,
                       'student', {_hyphenated("e.person_id")},
                       %(summary)s || CASE WHEN e.is_active THEN '（在籍学生）' ELSE '（原学籍记录）' END,
                       json_object('school_id', e.school_id, 'scope_path', e.scope_path),
                       json_object('school_id', CASE WHEN e.is_active THEN %(new_school)s ELSE e.school_id END,
                                   'scope_path', %(new_path)s, 'enrollment_id', {_hyphenated("e.id")},
                                   'is_active', json(CASE WHEN e.is_active THEN 'true' ELSE 'false' END),
                                   'reason', %(reason)s),
                       1, %(request_id)s, %(ip)s
                FROM {enrollment} AS e WHERE e.scope_path = %(src_path)s OR e.school_id = %(src)s
                """,  # noqa: S608
                {**params, "now": connection.ops.adapt_datetimefield_value(now)},
            )
            audited = cursor.rowcount
            cursor.execute(
                f"""
                UPDATE {enrollment} SET
                    school_id = CASE WHEN is_active THEN %(new_school)s ELSE school_id END,
                    scope_path = %(new_path)s
                WHERE scope_path = %(src_path)s OR school_id = %(src)s
                """,  # noqa: S608
                params,
            )
            moved = cursor.rowcount
            if moved != audited:  # cannot happen with serialised writers; never leave it half-audited
                raise Conflict("concurrent_change", f"{school.name}的学籍在办理期间发生变化，请重新办理")
    # Nothing may stay active at the old school, and every record counted before must have moved (a
    # registration racing the operation makes it roll back; run it again).
    if moved != active + former or Enrollment.objects.filter(school_id=school.pk, is_active=True).exists():
        raise Conflict("concurrent_change", f"{school.name}的学籍在办理期间发生变化，请重新办理")
    return active, former


def _finish(
    *,
    actor: Actor,
    school: School,
    state: str,
    successor: OrgUnit,
    new_path: str,
    active: int,
    former: int,
    reason: str,
    action: str,
) -> RecordsTransfer:
    src_path = school.org.path
    problems = ProblemRecord.objects.filter(scope_path=src_path).update(scope_path=new_path)
    repathed = ChangeRequest.objects.filter(source_path=src_path).update(source_path=new_path)
    repathed += ChangeRequest.objects.filter(target_path=src_path).update(target_path=new_path)
    before_state = school.state
    school.state, school.successor = state, successor
    school.save(update_fields=["state", "successor"])
    OrgUnit.objects.filter(pk=school.org_id).update(is_active=False)
    notice = f"{school.name}已{action}，其学籍档案（在籍 {active} 人、原学籍 {former} 条）已移交本单位管理"
    Notification.objects.create(org_unit=successor, message=notice[:300])
    record(
        event_type=EventType.BULK_CHANGE,
        actor=actor,
        actor_role=Role.DEPT_REGISTRAR.value,
        subject_type="school",
        subject_id=school.pk,
        org_unit_id=school.pk,
        province_code=school.province_code,
        summary=f"{school.name}{action}（第十二条）：学籍档案移交{successor.name}，在籍 {active} 人、原学籍 {former} 条",
        before={"state": before_state, "scope_path": src_path},
        after={
            "state": state,
            "successor_org_id": successor.pk,
            "scope_path": new_path,
            "active_moved": active,
            "former_moved": former,
            "problems_moved": problems,
            "requests_repathed": repathed,
            "reason": reason,
        },
    )
    # the statistics snapshot refreshes soon after the commit (issue 10 §1): the school's counts move
    records_changed.send(
        sender=School, reason="school_merged" if state == SchoolState.MERGED else "school_closed"
    )
    return RecordsTransfer(
        school_id=school.pk,
        school_name=school.name,
        state=state,
        successor_org_id=successor.pk,
        successor_name=successor.name,
        active_moved=active,
        former_moved=former,
        problems_moved=problems,
        requests_repathed=repathed,
    )


@transaction.atomic
def school_merge(*, actor: Actor, school: School, into: School, reason: str) -> RecordsTransfer:
    """学校合并 (第12条): the school's records and archives pass to the merged school, in one operation.

    Refuses: ``reason`` missing; a school already merged/closed; ``into`` the same school, not active, a
    teaching point, in another province, or lacking a stage of the moving students; open change requests
    involving the school (``requests_in_flight``); active teaching points. ``into`` outside the actor's
    jurisdiction → NotFound.
    """
    school = _locked_school(school)
    reason = _check_common(actor, school, reason, "学校合并")
    into = School.objects.select_related("org").get(pk=into.pk)
    require_department_registrar(actor, into.org, action="学校合并", also=school.org)
    if into.pk == school.pk:
        raise FieldError("into", "same_school", "合并后的学校不能是被合并学校本身")
    if into.state != SchoolState.ACTIVE:
        raise FieldError("into", "school_not_active", f"{into.name}已合并或撤销，不能接收学籍档案")
    if into.is_teaching_point:
        raise FieldError("into", "teaching_point", "合并后的学校不能是教学点")
    if into.province_code != school.province_code:
        raise FieldError("into", "other_province", "合并后的学校须与被合并学校在同一省份")
    stages = set(
        Enrollment.objects.filter(school_id=school.pk, is_active=True)
        .values_list("stage", flat=True)
        .distinct()
    )
    missing = sorted(s for s in stages if not into.teaches(s))
    if missing:
        labels = "、".join(str(Stage(s).label) for s in missing)
        raise FieldError("into", "stage_not_taught", f"{into.name}没有{labels}学段，不能接收该校在籍学生")
    active, former = _move(
        actor=actor,
        school=school,
        new_path=into.org.path,
        new_school_id=into.pk,
        summary=f"学校合并：{school.name}并入{into.name}",
        reason=reason,
    )
    return _finish(
        actor=actor,
        school=school,
        state=SchoolState.MERGED,
        successor=into.org,
        new_path=into.org.path,
        active=active,
        former=former,
        reason=reason,
        action="合并",
    )


@transaction.atomic
def school_close(
    *, actor: Actor, school: School, reason: str, custodian: OrgUnit | None = None
) -> RecordsTransfer:
    """学校撤销 (第12条): the former students' records and archives pass to the supervising department or the
    unit it designates (``custodian``), where they remain findable.

    Refuses while the school has active students (``students_not_placed``, with the count: place them by
    transfer first — an enrollment cannot be "at" a department), and as for a merger. A ``custodian`` outside
    the actor's jurisdiction → NotFound; inactive or inside the school → ``custodian`` field error.
    """
    school = _locked_school(school)
    reason = _check_common(actor, school, reason, "学校撤销")
    custodian = school.supervising_dept if custodian is None else OrgUnit.objects.get(pk=custodian.pk)
    if not in_scope(actor, custodian.path):
        raise NotFound()
    if not custodian.is_active:
        raise FieldError("custodian", "custodian_inactive", f"{custodian.name}已撤销，不能接收学籍档案")
    if custodian.path.startswith(school.org.path):
        raise FieldError("custodian", "custodian_inside", "接收单位不能是被撤销学校本身或其下属单位")
    if custodian.level == OrgLevel.SCHOOL:
        holder = School.objects.filter(pk=custodian.pk).first()
        if holder is None or holder.state != SchoolState.ACTIVE or holder.is_teaching_point:
            raise FieldError("custodian", "custodian_inactive", f"{custodian.name}不能接收学籍档案")
    remaining = Enrollment.objects.filter(school_id=school.pk, is_active=True).count()
    if remaining:
        raise ApplicationError(
            "students_not_placed",
            f"{school.name}仍有 {remaining} 名在籍学生（含休学），须先办理转学安置后才能撤销",
            {"active_students": str(remaining)},
        )
    active, former = _move(
        actor=actor,
        school=school,
        new_path=custodian.path,
        new_school_id=school.pk,
        summary=f"学校撤销：{school.name}学籍档案移交{custodian.name}",
        reason=reason,
    )
    return _finish(
        actor=actor,
        school=school,
        state=SchoolState.CLOSED,
        successor=custodian,
        new_path=custodian.path,
        active=active,
        former=former,
        reason=reason,
        action="撤销",
    )


__all__ = ["RecordsTransfer", "school_close", "school_merge"]
