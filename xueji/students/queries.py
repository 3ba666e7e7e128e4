"""Reads on students, always scoped to the viewer's jurisdiction (第5、23条; architecture.md convention 3)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID

from django.core.exceptions import ValidationError
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from xueji.accounts.jurisdiction import scope_paths, scope_q
from xueji.accounts.types import Actor
from xueji.audit.models import AuditEvent, FieldHistory
from xueji.audit.queries import events_about
from xueji.core.errors import NotFound
from xueji.core.masking import mask_id_number, mask_name, mask_student_number
from xueji.policies.queries import rule_set_in_force
from xueji.policies.rules import CheckRules, RulesInvalid
from xueji.workdays.services import add_working_days

from .enums import grade_range
from .models import (
    ArchiveDocument,
    Enrollment,
    EnrollmentSnapshot,
    FrozenPerson,
    Guardian,
    Person,
    ProblemEvent,
    ProblemRecord,
)
from .search import enrollment_q, parse_term


@dataclass(frozen=True)
class StudentFilters:
    """What a list of enrollments is narrowed to. With no filter: the viewer's 在籍 students (active
    enrollments, whatever their status: 在读, 休学, 复学 …) — the number the dashboard counts
    (:func:`xueji.students.counters.active_count`). ``status`` is one national status code (在读 = ``01``)."""

    q: str = ""  # name (any part), pinyin, 学籍号, or an identity number (exact) — see search.parse_term
    school_id: int | None = None
    grade: int | None = None
    class_name: str = ""  # a class name, or its number ("3" finds 3班, (3)班, 高一3班, 三班) — class_q
    status: str = ""
    include_inactive: bool = False
    sort: str = ""  # a key of LIST_SORTS ("" = LIST_ORDER)


#: The list's order (:func:`enrollment_list`), ending in the primary key so that it is total (paging by
#: OFFSET or by keyset, :func:`after_q`, never shows a row twice or skips one).
LIST_ORDER = ("school_id", "grade", "class_name", "person__name", "pk")

#: The orders a list may be sorted by (issue 8 item 11) — a whitelist: a ``sort`` parameter outside it is the
#: default. Each is total (it ends in the primary key). "school" is the default order (by school, grade,
#: class, name) and has no reverse: a school's id is no order a reader would ask to reverse.
#: Cost at a county of a million-row database (EXPLAIN ANALYZE, 78 k active rows of 1 M; see the issue 8
#: report): the default walks the ``(school, is_active, grade, class_name)`` index with an incremental sort by
#: name inside each class (0.5 ms) when the county's schools come early in school order, else it sorts the
#: viewer's rows like the grade orders (top-N after a bitmap scan of ``enrollment_scope_pattern``: 30–150 ms,
#: growing with the viewer's rows); the name orders walk the person name index and probe each person's
#: enrollment (2–8 ms for page 1, growing with the page number). No order here costs a scan of the table.
#: Names sort by code point (the database's C collation): by radical and stroke, not by pinyin.
LIST_SORTS: dict[str, tuple[str, ...]] = {
    "": LIST_ORDER,
    "school": LIST_ORDER,
    "grade": ("grade", "class_name", "person__name", "pk"),
    "-grade": ("-grade", "class_name", "person__name", "pk"),
    "name": ("person__name", "pk"),
    "-name": ("-person__name", "-pk"),
}


def list_order(sort: str) -> tuple[str, ...]:
    """The order of ``sort`` (a :data:`LIST_SORTS` key; anything else is the default order)."""
    return LIST_SORTS.get(sort, LIST_ORDER)


_CLASS_NUMBER = re.compile(r"^\(?0*([1-9]\d{0,2})\)?(?:班)?$")
_CN_DIGITS = "一二三四五六七八九"


def _chinese_number(n: int) -> str:
    """1–99 in Chinese numerals (三, 十二, 二十一), as class names write them."""
    tens, ones = divmod(n, 10)
    head = "" if tens == 0 else ("十" if tens == 1 else _CN_DIGITS[tens - 1] + "十")
    return head + (_CN_DIGITS[ones - 1] if ones else "")


def class_q(raw: str) -> Q:
    """The class filter (issue 8 item 11). A number — "3", "03", "3班", "(3)班", full-width too — finds the
    classes numbered so, however the school writes them: 3班, 03班, (3)班, 高一(3)班, 三班, but not 13班 (the
    only number in the class name is 3). Anything else is a class name, matched exactly. Empty: no filter."""
    text = re.sub(r"\s+", "", unicodedata.normalize("NFKC", raw or ""))
    if not text:
        return Q()
    match = _CLASS_NUMBER.match(text)
    if match is None:
        return Q(class_name=text)
    n = int(match[1])
    cn = _chinese_number(n) if n < 100 else ""
    q = Q(class_name__regex=rf"^[^0-9]*0*{n}[^0-9]*$")
    return (q | Q(class_name__in=[f"{cn}班", f"({cn})班"])) if cn else q


def enrollments_visible(viewer: Actor) -> QuerySet[Enrollment]:
    """Every enrollment (current and former) in the viewer's subtree. Former students stay findable by the
    levels that held them (domain.md §9 lesson 9)."""
    return Enrollment.objects.filter(scope_q(viewer, "scope_path"))


def enrollment_list(*, viewer: Actor, filters: StudentFilters) -> QuerySet[Enrollment]:
    qs = enrollments_visible(viewer).select_related("person", "school", "snapshot")
    if not filters.include_inactive:
        qs = qs.filter(is_active=True)
    term = parse_term(filters.q)
    if term.kind:
        qs = qs.filter(enrollment_q(term, scope_paths(viewer)))
    if filters.school_id:
        qs = qs.filter(school_id=filters.school_id)
    if filters.grade:
        qs = qs.filter(grade=filters.grade)
    if filters.class_name:
        qs = qs.filter(class_q(filters.class_name))
    if filters.status:
        qs = qs.filter(status=filters.status)
    return qs.order_by(*list_order(filters.sort))


def after_q(*, viewer: Actor, enrollment_id: Any, sort: str = "") -> Q:
    """Keyset pagination: the rows after ``enrollment_id`` in the order of ``sort`` (:data:`LIST_SORTS`). The
    cursor row must be one the viewer sees (else NotFound: a cursor is not a way to learn about other regions'
    records)."""
    order = list_order(sort)
    fields = [f.lstrip("-") for f in order]
    row = enrollments_visible(viewer).filter(pk=enrollment_id).values_list(*fields).first()
    if row is None:
        raise NotFound()
    q = Q()
    for i, key in enumerate(order):
        step = Q(**{f"{fields[i]}__{'lt' if key.startswith('-') else 'gt'}": row[i]})
        for j in range(i):
            step &= Q(**{fields[j]: row[j]})
        q |= step
    return q


def list_grades(stages: Iterable[Iterable[str]]) -> list[int]:
    """The grades (1–12) that schools teaching ``stages`` (one list of stage codes per school) have, sorted —
    what a grade filter offers: a primary school's registrar is not offered 初一 or 高三."""
    grades: set[int] = set()
    for school_stages in stages:
        for stage in school_stages or ():
            try:
                grades.update(grade_range(stage))
            except ValueError:  # a stage code no grade belongs to (none today)
                continue
    return sorted(grades)


def enrollment_get(*, viewer: Actor, person_id: Any) -> Enrollment:
    """The viewer's enrollment of a person: the active one if visible, else the latest visible former one.
    Outside the viewer's jurisdiction → NotFound."""
    try:
        qs = (
            enrollments_visible(viewer)
            .select_related("person", "school", "school__org")
            .filter(person_id=person_id)
        )
        enrollment = qs.order_by("-is_active", "-registered_at").first()
    except (ValueError, TypeError):  # malformed UUID
        enrollment = None
    if enrollment is None:
        raise NotFound()
    if not enrollment.is_active:
        _freeze(enrollment)
    return enrollment


def _freeze(enrollment: Enrollment) -> None:
    """Issue #6 §3.5 (第12、15条): a viewer whose jurisdiction holds only a former record of a pupil who moved on
    (转学/升学/境外返回) gets the record as it stood at the move — the enrollment's ``person`` becomes a read-only
    :class:`FrozenPerson` with the snapshot's family — never the record the new school keeps."""
    snapshot = EnrollmentSnapshot.objects.filter(enrollment_id=enrollment.pk).first()
    if snapshot is not None:
        enrollment.person = snapshot.frozen_person(enrollment.person_id)


def listed_person(enrollment: Enrollment) -> Person:
    """The person as a list row of ``enrollment_list`` shows it: a former record that moved on shows its
    snapshot (issue #6 §3.5), never what the new school recorded since (e.g. a changed name)."""
    if not enrollment.is_active:
        snapshot = getattr(enrollment, "snapshot", None)  # select_related by enrollment_list
        if snapshot is not None:
            return snapshot.frozen_person(enrollment.person_id)
    return enrollment.person


def frozen_at(enrollment: Enrollment) -> datetime | None:
    """When the record the viewer sees was frozen (``None``: the current record)."""
    person = enrollment.person
    return person.frozen_at if isinstance(person, FrozenPerson) else None


def record_guardians(enrollment: Enrollment) -> list[Guardian]:
    """The family members of the record the viewer sees: the snapshot's for a frozen record, else the current
    ones (never the new school's for a former viewer)."""
    person = enrollment.person
    if isinstance(person, FrozenPerson):
        return list(person.frozen_guardians)
    return list(Guardian.objects.filter(person_id=enrollment.person_id).order_by("id"))


def record_documents(enrollment: Enrollment) -> QuerySet[ArchiveDocument]:
    """Archive documents of the record the viewer sees: for a frozen record only those filed before the move."""
    qs = ArchiveDocument.objects.filter(person_id=enrollment.person_id)
    cutoff = frozen_at(enrollment)
    if cutoff is not None:
        qs = qs.filter(uploaded_at__lte=cutoff)
    return qs.order_by("uploaded_at", "id")


def record_history(
    *, viewer: Actor, person_id: Any, checked: Enrollment | None = None
) -> QuerySet[FieldHistory]:
    """The before/after values of a student's personal fields (issue #6 §3.3), newest first.

    Kept out of the audit trail (whose events carry the field names with masked values) and readable only by
    those who may see the student (第24条; security.md §2): the student must be visible to the viewer
    (:func:`enrollment_get`, else NotFound → 404), and of the history only the rows recorded while the record was
    held inside the viewer's jurisdiction are returned (a former school does not read what changed after the
    pupil left). Audit administrators hold no data scope and get NotFound (三权分立).
    ``checked``: the enrollment :func:`enrollment_get` already returned for this viewer (the record page).
    """
    enrollment = checked or enrollment_get(viewer=viewer, person_id=person_id)
    return (
        FieldHistory.objects.filter(subject_type="student", subject_id=str(enrollment.person_id))
        .filter(scope_q(viewer, "scope_path"))
        .select_related("actor")
        .order_by("-occurred_at", "-id")
    )


def student_history(
    *, viewer: Actor, person_id: Any, include_views: bool = True, checked: Enrollment | None = None
) -> QuerySet[AuditEvent]:
    """The audit events about one student, newest first — only if the viewer may see the student
    (:func:`enrollment_get`, else NotFound → 404; 第23、24条). ``include_views=False`` shows the changes only.
    ``checked``: the enrollment :func:`enrollment_get` already returned for this viewer (the record page)."""
    enrollment = checked or enrollment_get(viewer=viewer, person_id=person_id)
    return events_about(subject_type="student", subject_id=enrollment.person_id, include_views=include_views)


def _set_dotted(data: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    for key in parents:
        child = data.get(key)
        data[key] = child = dict(child) if isinstance(child, dict) else {}
        data = child
    data[leaf] = value


def history_with_values(*, viewer: Actor, person_id: Any, events: list[Any]) -> list[tuple[Any, Any]]:
    """(before, after) of each audit event about a student with the masked personal values filled in from
    the record history the viewer may read (:func:`record_history`; NotFound when the student is not
    visible). Events without history rows keep their (masked) payloads."""
    rows = record_history(viewer=viewer, person_id=person_id).filter(event_id__in=[ev.pk for ev in events])
    by_event: dict[int, list[Any]] = {}
    for row in rows:
        by_event.setdefault(row.event_id, []).append(row)
    out = []
    for ev in events:
        before = dict(ev.before) if ev.before is not None else None
        after = dict(ev.after) if ev.after is not None else None
        for row in by_event.get(ev.pk, []):
            if before is not None:
                _set_dotted(before, row.field, row.before)
            if after is not None:
                _set_dotted(after, row.field, row.after)
        out.append((before, after))
    return out


def archives_due(*, viewer: Actor, within_days: int = 14, today: date | None = None) -> QuerySet[Enrollment]:
    """第6条: archives not completed, due within ``within_days`` or overdue."""
    today = today or timezone.localdate()
    horizon = date.fromordinal(today.toordinal() + within_days)
    return (
        enrollments_visible(viewer)
        .filter(is_active=True, archive_completed_at__isnull=True, archive_due__lte=horizon)
        .select_related("person", "school")
        .order_by("archive_due")
    )


def problems_open(*, viewer: Actor) -> QuerySet[ProblemRecord]:
    """Open problem records of the viewer's jurisdiction, oldest first (the queues of :mod:`xueji.checks` filter
    these further by owner)."""
    return (
        ProblemRecord.objects.filter(scope_q(viewer, "scope_path"), state=ProblemRecord.State.OPEN)
        .select_related("person", "other_person", "school")
        .order_by("created_at")
    )


def problem_get(*, viewer: Actor, problem_id: Any) -> ProblemRecord:
    """One problem record in the viewer's jurisdiction; :class:`NotFound` otherwise (nothing is said about it)."""
    try:
        problem = (
            ProblemRecord.objects.filter(scope_q(viewer, "scope_path"), pk=problem_id)
            .select_related("person", "other_person", "school")
            .first()
        )
    except (ValueError, TypeError, ValidationError):
        problem = None
    if problem is None:
        raise NotFound()
    return problem


def problem_events(problem: ProblemRecord) -> list[ProblemEvent]:
    """The record's history, oldest first (the caller has checked that the viewer may see the record)."""
    return list(problem.events.select_related("actor").order_by("at", "pk"))


def check_rules_for(province_code: str, on: date) -> CheckRules:
    """The problem-record checks binding ``province_code`` on ``on`` (第9、25条): national defaults overridden by
    the ``checks`` key of the province's rule set in force; an invalid stored override falls back to the
    national rules (the checks must not stop)."""
    rules = rule_set_in_force(province_code, on)
    if rules is None:
        return CheckRules.from_rules(None)
    try:
        return CheckRules.from_rules(rules.rules, version=f"{province_code}-v{rules.version}")
    except RulesInvalid:
        return CheckRules.from_rules(None)


def problem_terms(province_code: str, kind: str, today: date) -> tuple[str, date]:
    """Who acts first on a new record of ``kind`` and its deadline (``due_working_days`` working days after
    ``today`` on the official calendar), as the province's check rules say."""
    rules = check_rules_for(province_code, today)
    return rules.owner(kind), add_working_days(today, rules.due_working_days(kind)).due


def masked(value: str) -> str:
    return mask_id_number(value) if value else ""


def student_labels(viewer: Actor, person_ids: Iterable[object]) -> dict[str, str]:
    """How a list that names students by id (the audit log, 我的最近操作) shows them: the masked name and the
    masked 学籍号 ("张*明 G440105********1234") of each person among ``person_ids`` whom the viewer may see —
    an enrollment of theirs is in the viewer's jurisdiction (第23、24条); nobody else is named (the audit
    administrators see no student, 三权分立). A former school names the pupil as its snapshot has them
    (issue #6 §3.5). One query for the whole page, whatever its length."""
    ids: set[UUID] = set()
    for raw in person_ids:
        try:
            ids.add(UUID(str(raw)))
        except ValueError:
            continue
    if not ids:
        return {}
    rows = (
        enrollments_visible(viewer)
        .filter(person_id__in=ids)
        .select_related("person", "snapshot")
        .order_by("person_id", F("is_active").desc(), F("registered_at").desc())
    )
    labels: dict[str, str] = {}
    for enrollment in rows:
        key = str(enrollment.person_id)
        if key not in labels:  # the active record first, else the latest former one
            person = listed_person(enrollment)
            labels[key] = f"{mask_name(person.name)} {mask_student_number(person.student_number)}"
    return labels
