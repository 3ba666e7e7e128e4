"""Writes on students. Every function here is a service (architecture.md convention 1): keyword-only,
``actor=`` without default, inside one transaction, audit event in the same transaction.
"""

from __future__ import annotations

import calendar
import hashlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from xueji.accounts.jurisdiction import require_registrar_for_school
from xueji.accounts.types import Actor
from xueji.audit.enums import EventType
from xueji.audit.services import record, record_many
from xueji.core.bulk import insert_rows
from xueji.core.errors import ApplicationError, Conflict, FieldError
from xueji.core.ids import uuid7
from xueji.core.masking import mask_id_number
from xueji.core.ratelimit import ratelimit_hit
from xueji.core.signals import records_changed
from xueji.policies.services import Confirmation, rule_confirmations_add
from xueji.schools.enums import SchoolState
from xueji.schools.models import School

from . import numbers
from .enums import StudentStatus
from .fields import PERSON_FIELDS
from .models import (
    Enrollment,
    EnrollmentSnapshot,
    Guardian,
    IdentityKey,
    JSequence,
    Person,
    ProblemRecord,
    StudentNumber,
)
from .queries import problem_terms
from .validation import CleanRegistration

ARCHIVE_MONTHS = 2  # 第6条: 在 2 个月内建立学籍档案
QUERY_CHUNK = 900  # stays under SQLite's bound-parameter limit


@dataclass(frozen=True)
class RowError:
    index: int
    field: str
    code: str
    message: str


#: 第9条/第12条: what every path but the single registration says about an identity document enrolled elsewhere.
#: It never names the school: "ID number → current school" must not be answerable in bulk (issue #6 §3.2).
ENROLLED_ELSEWHERE = "该身份证件号的学生已在其他学校有学籍，请发起转学"


def identity_lookup_recorded(
    *,
    actor: Actor,
    kind: str,
    summary: str,
    person_id: Any = None,
    school_id: Any = None,
    province_code: str = "",
) -> None:
    """The audit event of a cross-region identity lookup (第23、24条; issue #6 §3.2): the record found (its
    person) and the school holding it, so that side's audit administrator sees it; without ``person_id`` the
    search found nothing. The payload is ``{kind, outcome}`` only — never the number or the name typed."""
    found = person_id is not None
    record(
        event_type=EventType.IDENTITY_LOOKUP,
        actor=actor,
        subject_type="student" if found else "",
        subject_id=person_id if found else "",
        org_unit_id=school_id,
        province_code=province_code,
        summary=summary,
        after={"kind": kind, "outcome": "found" if found else "not_found"},
        success=found,
    )


def _enrolled_at(school_name: str) -> str:
    return (
        f"该身份证件号的学生已在“{school_name}”有在读学籍，不能重复建立学籍（第九条）；"
        "如学生已来本校就读，请由本校发起转学"
    )


@dataclass(frozen=True)
class _Holder:
    """The active record that holds an identity document (kept off the error's message and fields)."""

    person_id: UUID
    school_id: int
    school_name: str
    province_code: str


class RegistrationRejected(Conflict):
    """Some rows collide with existing records; nothing was written."""

    def __init__(self, errors: list[RowError], holders: dict[int, _Holder] | None = None) -> None:
        first = errors[0].message if errors else ""
        fields = {e.field if len(errors) == 1 else f"rows.{e.index}.{e.field}": e.message for e in errors}
        super().__init__(errors[0].code if len(errors) == 1 else "registration_rejected", first, fields)
        self.errors = errors
        self.holders = holders or {}


@dataclass(frozen=True)
class Registered:
    index: int
    person_id: UUID
    enrollment_id: UUID
    student_number: str
    suspected_duplicate: bool


def add_months(d: date, months: int) -> date:
    month0 = d.month - 1 + months
    year, month = d.year + month0 // 12, month0 % 12 + 1
    return date(year, month, min(d.day, calendar.monthrange(year, month)[1]))


def _chunks(items: Sequence[Any]) -> Any:
    for start in range(0, len(items), QUERY_CHUNK):
        yield items[start : start + QUERY_CHUNK]


def _existing_keys(keys: list[str]) -> dict[str, UUID]:
    found: dict[str, UUID] = {}
    for chunk in _chunks(keys):
        found.update(IdentityKey.objects.filter(key__in=chunk).values_list("key", "person_id"))
    return found


def _active_schools(person_ids: list[UUID]) -> dict[UUID, _Holder]:
    active: dict[UUID, _Holder] = {}
    for chunk in _chunks(person_ids):
        for pid, school_id, name, province in Enrollment.objects.filter(
            person_id__in=chunk, is_active=True
        ).values_list("person_id", "school_id", "school__name", "province_code"):
            active[pid] = _Holder(pid, school_id, name, province)
    return active


def _suspected_duplicates(regs: Sequence[CleanRegistration], indexes: list[int]) -> dict[int, UUID | None]:
    """第9条: students without an identity number who share name, sex and birth date with someone already
    registered (or with another row of the same batch) are flagged for the county to resolve."""
    if not indexes:
        return {}
    wanted = {
        (regs[i].person["name"], regs[i].person["gender"], regs[i].person["birth_date"]) for i in indexes
    }
    names = sorted({w[0] for w in wanted})
    existing: dict[tuple[str, str, date], UUID] = {}
    for chunk in _chunks(names):
        for pid, name, gender, birth in Person.objects.filter(name__in=chunk).values_list(
            "id", "name", "gender", "birth_date"
        ):
            if (name, gender, birth) in wanted:
                existing.setdefault((name, gender, birth), pid)
    flagged: dict[int, UUID | None] = {}
    seen: dict[tuple[str, str, date], int] = {}
    for i in indexes:
        key = (regs[i].person["name"], regs[i].person["gender"], regs[i].person["birth_date"])
        if key in existing:
            flagged[i] = existing[key]
        elif key in seen:
            flagged[i] = None
            flagged.setdefault(seen[key], None)
        seen.setdefault(key, i)
    return flagged


def _allocate_j_numbers(region_code: str, births: list[tuple[int, date]]) -> dict[int, str]:
    """Allocate J numbers (第8条) from per-(region, birth date) counters, set-based and row-locked."""
    by_prefix: dict[str, list[int]] = defaultdict(list)
    for index, birth in births:
        by_prefix[f"{region_code}{birth:%Y%m%d}"].append(index)
    prefixes = sorted(by_prefix)
    last: dict[str, int] = {}
    for chunk in _chunks(prefixes):
        last.update(
            JSequence.objects.select_for_update().filter(prefix__in=chunk).values_list("prefix", "last")
        )
    result: dict[int, str] = {}
    new_rows, updates = [], []
    for prefix in prefixes:
        start = last.get(prefix, 0)
        indexes = by_prefix[prefix]
        end = start + len(indexes)
        if end > numbers.J_SEQUENCE_MAX:
            raise ApplicationError(
                "j_sequence_exhausted", f"同一地区同一出生日期的J字头学籍号已用尽（{prefix}）"
            )
        birth = date(int(prefix[6:10]), int(prefix[10:12]), int(prefix[12:14]))
        for offset, index in enumerate(indexes, start=1):
            result[index] = numbers.j_number(region_code, birth, start + offset)
        if prefix in last:
            updates.append((end, prefix))
        else:
            new_rows.append({"prefix": prefix, "last": end})
    insert_rows(JSequence, new_rows, ["prefix", "last"])
    if updates:
        with connection.cursor() as cursor:
            cursor.executemany(f"UPDATE {JSequence._meta.db_table} SET last = %s WHERE prefix = %s", updates)  # noqa: S608
    return result


PERSON_COLUMNS = [f.key for f in PERSON_FIELDS]


def _disclose_holder(actor: Actor, rejected: RegistrationRejected) -> RegistrationRejected:
    """The single registration's answer naming the holding school: a rate-limited, audited identity lookup.

    Raises :class:`xueji.core.ratelimit.RateLimited` (429) above the account's daily ``lookup`` limit, before
    anything is disclosed. The audit event names the held record (subject) and the holding school (org unit),
    so the holding side's audit administrator sees it; its payload carries no personal data.
    """
    [(index, holder)] = rejected.holders.items()
    ratelimit_hit(actor, "lookup")
    identity_lookup_recorded(
        actor=actor,
        kind="registration",
        summary="跨区域身份查询：注册时证件号已在其他学校有学籍",
        person_id=holder.person_id,
        school_id=holder.school_id,
        province_code=holder.province_code,
    )
    errors = [
        RowError(e.index, e.field, e.code, _enrolled_at(holder.school_name)) if e.index == index else e
        for e in rejected.errors
    ]
    return RegistrationRejected(errors)


def register_students(
    *,
    actor: Actor | None,
    school: School,
    registrations: Sequence[CleanRegistration],
    extra_version: int | None = None,
    import_batch_id: UUID | None = None,
    now: datetime | None = None,
    disclose_holder: bool = False,
) -> list[Registered]:
    """Register validated students at ``school``, all or nothing.

    - 第8条: assigns each new person a lifelong 学籍号 (G + resident ID, else J); a person registered before
      (same identity document, no active record) keeps their number and gets a new enrollment.
    - 第9条 / 第12条 一人一籍: a second active record for the same identity document anywhere is refused
      (→ transfer, 第15条) with :data:`ENROLLED_ELSEWHERE`, which names no school; the database's
      one-active-per-person constraint and the national identity registry back this up under concurrency.
    - Issue #6 §3.2: only the single registration of ONE student by a registrar (web form, API:
      ``disclose_holder=True``) names the school that holds the record — the receiving school needs it to
      start the transfer. That answer is a cross-region identity lookup: rate-limited per account and day
      (``lookup``, :func:`xueji.core.ratelimit.ratelimit_hit`, 429 above it) and audited
      (``identity.lookup``, subject = the held student record, no personal data). Bulk paths (imports, the
      seed, any multi-row call) never learn the school.
    - 第9条: students without an identity number matching someone on name, sex and birth date are registered
      with a "suspected duplicate" problem record for the county.
    - 第6条: the archive is due two months after registration.
    One audit event per registered student. Raises :class:`RegistrationRejected` (nothing written).
    Sends ``records_changed`` (reason ``registered``) inside the transaction: the statistics snapshot
    refreshes after the commit (issue 10 §1).
    """
    if actor is not None:
        require_registrar_for_school(actor, school)
    if school.state != SchoolState.ACTIVE:
        raise ApplicationError("school_not_active", f"{school.name}已合并或撤销，不能注册新学籍")
    now = now or timezone.now()
    today = timezone.localdate(now)
    try:
        with transaction.atomic():
            # Lock the school row: a merger or closure (第12条) running now must not miss this registration.
            locked = School.objects.select_for_update().get(pk=school.pk)
            if locked.state != SchoolState.ACTIVE:
                raise ApplicationError("school_not_active", f"{school.name}已合并或撤销，不能注册新学籍")
            registered = _register(actor, school, registrations, extra_version, import_batch_id, now, today)
            # the statistics snapshot refreshes soon after the commit (issue 10 §1); nothing on a rollback
            records_changed.send(sender=Enrollment, reason="registered")
            return registered
    except RegistrationRejected as exc:
        # Outside the rolled-back transaction, so that the lookup's count and audit event are kept.
        if disclose_holder and actor is not None and len(registrations) == 1 and exc.holders:
            raise _disclose_holder(actor, exc) from None
        raise
    except IntegrityError as exc:
        # A concurrent registration won the race for the same identity or number: report it, write nothing.
        raise Conflict(
            "concurrent_registration",
            "该学生的学籍刚被其他操作建立，请刷新后核对（第九条：不得重复建立学籍）",
        ) from exc


def _register(  # noqa: PLR0917 - private helper of register_students
    actor: Actor | None,
    school: School,
    regs: Sequence[CleanRegistration],
    extra_version: int | None,
    import_batch_id: UUID | None,
    now: datetime,
    today: date,
) -> list[Registered]:
    errors: list[RowError] = []
    key_rows: dict[str, int] = {}
    for i, reg in enumerate(regs):
        key = reg.identity_key
        if key is None:
            continue
        if key in key_rows:
            errors.append(
                RowError(
                    i, "id_number", "duplicate_in_batch", f"身份证件号与第 {key_rows[key] + 1} 条记录重复"
                )
            )
        else:
            key_rows[key] = i
    existing = _existing_keys(list(key_rows))
    active = _active_schools(list(set(existing.values())))
    holders: dict[int, _Holder] = {}
    for key, pid in existing.items():
        if pid in active:
            i = key_rows[key]
            holders[i] = active[pid]
            errors.append(RowError(i, "id_number", "student_already_enrolled", ENROLLED_ELSEWHERE))
    if errors:
        raise RegistrationRejected(sorted(errors, key=lambda e: e.index), holders)

    reused: dict[int, UUID] = {key_rows[k]: pid for k, pid in existing.items()}
    reused_numbers = (
        {
            p.pk: p.student_number
            for p in Person.objects.filter(id__in=list(reused.values())).only("student_number")
        }
        if reused
        else {}
    )
    no_key = [i for i, r in enumerate(regs) if r.identity_key is None]
    suspects = _suspected_duplicates(regs, no_key)

    # 学籍号 (第8条): G + resident ID where the ID is valid; J otherwise (or if that G is somehow taken).
    numbers_by_index: dict[int, str] = {}
    g_candidates = {
        i: numbers.g_number(r.identity.number)
        for i, r in enumerate(regs)
        if i not in reused and r.identity.doc_type == "1"
    }
    taken: set[str] = set()  # blind indexes of the G numbers already issued
    for chunk in _chunks([StudentNumber.key_for(n) for n in g_candidates.values()]):
        taken.update(StudentNumber.objects.filter(number__in=chunk).values_list("number", flat=True))
    numbers_by_index.update({i: n for i, n in g_candidates.items() if StudentNumber.key_for(n) not in taken})
    needs_j = [
        (i, r.person["birth_date"])
        for i, r in enumerate(regs)
        if i not in reused and i not in numbers_by_index
    ]
    numbers_by_index.update(_allocate_j_numbers(school.county_code, needs_j))

    province = school.province_code
    archive_due = add_months(today, ARCHIVE_MONTHS)
    duplicate_terms = (
        problem_terms(province, ProblemRecord.Kind.SUSPECTED_DUPLICATE, today)
        if suspects
        else ("county", None)
    )
    persons, keys, nums, enrollments, guardians, problems, audit_rows = [], [], [], [], [], [], []
    confirmations: list[Confirmation] = []
    results: list[Registered] = []
    actor_id = getattr(actor, "pk", None)
    for i, reg in enumerate(regs):
        if i in reused:
            pid = reused[i]
            number = reused_numbers[pid]
        else:
            pid = uuid7()
            number = numbers_by_index[i]
            row = {k: reg.person.get(k) for k in PERSON_COLUMNS}
            row.update(
                id=pid,
                province_code=province,
                student_number=number,
                extra=reg.extra or {},
                extra_version=extra_version if reg.extra else None,
                created_at=now,
                updated_at=now,
            )
            persons.append(row)
            nums.append(
                {
                    "number": StudentNumber.key_for(number),
                    "person_id": pid,
                    "kind": number[0],
                    "province_code": province,
                    "issued_at": now,
                }
            )
            if reg.identity_key:
                keys.append(
                    {"key": reg.identity_key, "person_id": pid, "province_code": province, "created_at": now}
                )
            for g in reg.guardians:
                guardians.append({**g, "id": uuid7(), "person_id": pid, "province_code": province})
        eid = uuid7()
        enrollments.append(
            {
                **{
                    k: reg.enrollment.get(k)
                    for k in (
                        "stage",
                        "grade",
                        "class_name",
                        "class_number",
                        "aux_number",
                        "entry_ym",
                        "entry_method",
                        "study_mode",
                        "student_source",
                    )
                },
                "id": eid,
                "person_id": pid,
                "province_code": province,
                "school_id": school.pk,
                "scope_path": school_path(school),
                "status": StudentStatus.ENROLLED.value,
                "is_active": True,
                "registered_at": now,
                "registered_by_id": actor_id,
                "archive_due": archive_due,
                "archive_completed_at": None,
                "import_batch_id": import_batch_id,
            }
        )
        suspected = i in suspects
        if suspected:
            other = suspects[i]
            problems.append(
                {
                    "id": uuid7(),
                    "kind": ProblemRecord.Kind.SUSPECTED_DUPLICATE,
                    "state": ProblemRecord.State.OPEN,
                    "person_id": pid,
                    "other_person_id": other,
                    "province_code": province,
                    "scope_path": school_path(school),
                    "created_at": now,
                    "resolved_at": None,
                    "resolved_by_id": None,
                    "resolution_note": "",
                    "detail": f"无身份证件号，姓名、性别、出生日期与{'已有学生' if other else '同批次其他记录'}相同",
                    # 第9条: owner and working-day deadline from the province's check rules (xueji.checks).
                    "school_id": school.pk,
                    "owner": duplicate_terms[0],
                    "source": ProblemRecord.Source.REGISTRATION,
                    "due_on": duplicate_terms[1],
                    "explanation": "",
                }
            )
        audit_rows.append(
            {
                "subject_type": "student",
                "subject_id": pid,
                "org_unit_id": school.pk,
                "province_code": province,
                "summary": f"注册学籍（{number[:1]}字头学籍号）",
                "after": {
                    "school": school.school_code,
                    "grade": reg.enrollment.get("grade"),
                    "class_name": reg.enrollment.get("class_name"),
                    "reused_person": i in reused,
                    "suspected_duplicate": suspected,
                    "id_number": mask_id_number(reg.identity.number) if reg.identity.number else "",
                    # Issue 8 item 4: which soft rules the registrar confirmed — the reasons are kept apart.
                    **(
                        {"confirmations": [{"kind": k} for k in sorted(reg.confirmations)]}
                        if reg.confirmations
                        else {}
                    ),
                },
            }
        )
        confirmations += [
            Confirmation(
                pid, eid, province, school_path(school), rule, c["version"], c["detail"], c["reason"]
            )
            for rule, c in sorted(reg.confirmations.items())
        ]
        results.append(Registered(i, pid, eid, number, suspected))

    insert_rows(
        Person,
        persons,
        [
            "id",
            "province_code",
            "student_number",
            *PERSON_COLUMNS,
            "extra",
            "extra_version",
            "created_at",
            "updated_at",
        ],
    )
    insert_rows(StudentNumber, nums, ["number", "person_id", "kind", "province_code", "issued_at"])
    insert_rows(IdentityKey, keys, ["key", "person_id", "province_code", "created_at"])
    insert_rows(Enrollment, enrollments, list(enrollments[0].keys()) if enrollments else [])
    if guardians:
        insert_rows(
            Guardian,
            guardians,
            [
                "id",
                "person_id",
                "province_code",
                "name",
                "relation",
                "relation_note",
                "is_guardian",
                "household_code",
                "address",
                "phone",
                "ethnicity",
                "id_type",
                "id_number",
                "employer",
                "position",
            ],
        )
    if problems:
        insert_rows(ProblemRecord, problems, list(problems[0].keys()))
    rule_confirmations_add(actor=actor, items=confirmations, now=now)
    record_many(audit_rows, event_type=EventType.STUDENT_REGISTERED, actor=actor)
    if problems:
        record_many(
            [
                {
                    "subject_type": "student",
                    "subject_id": p["person_id"],
                    "org_unit_id": school.pk,
                    "province_code": province,
                    "summary": "疑似重复学籍（无证件号）",
                }
                for p in problems
            ],
            event_type=EventType.PROBLEM_OPENED,
            actor=actor,
        )
    return results


def school_path(school: School) -> str:
    return school.org.path


def file_sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


__all__ = [
    "ENROLLED_ELSEWHERE",
    "FieldError",
    "Registered",
    "RegistrationRejected",
    "RowError",
    "add_months",
    "record",
    "register_students",
]


def enrollment_snapshot_take(*, actor: Actor, enrollment: Enrollment, now: datetime | None = None) -> None:
    """Freeze the personal part of ``enrollment``'s record as it stands now (issue #6 §3.5; 第12、15条), just
    before the enrollment ends at its school and continues at another (转学, 升学, 境外返回 —
    ``changes.kinds.common.move_to_school``). The former school and its department are shown this snapshot
    from then on, never the record the new school keeps. Idempotent: an existing snapshot is kept (it was
    taken when the record first left). Not a separate audit event: it is part of the audited change it
    belongs to (``change.applied``); ``actor`` is that change's actor."""
    del actor  # the change that moves the record is audited by the engine
    with transaction.atomic():
        if EnrollmentSnapshot.objects.filter(enrollment_id=enrollment.pk).exists():
            return
        person = Person.objects.get(pk=enrollment.person_id)
        person_data, guardians = EnrollmentSnapshot.of(
            person, Guardian.objects.filter(person_id=enrollment.person_id).order_by("id")
        )
        EnrollmentSnapshot.objects.create(
            enrollment_id=enrollment.pk,
            province_code=enrollment.province_code,
            person=person_data,
            guardians=guardians,
            taken_at=now or timezone.now(),
        )
