"""年度升级 — annual promotion of a region's students into the next grade (第7条).

第7条: 正常升级的学生基础学籍信息由国家学籍系统自动更新 — normal promotion is not a change request: it is one
set-based, audited operation per region and school year, run by a department (the national system runs it
centrally on 10 August, domain.md §3.1). Nothing here goes through the approval engine.

Who is promoted (into school year ``Y`` = the year the school year starts): an *active* enrollment in the
region with status 01 在读 or 05 复学, not in a graduating grade (6, 9, 12 — they await 毕业/升学), that

- was not promoted into ``Y`` already (``Enrollment.promoted_year``; also checked across the person's other
  enrollments, so a student promoted and then transferred is not promoted twice) — the run is re-runnable;
- did not enter its stage in school year ``Y`` (``entry_ym`` ≥ Y-07: new entrants are already in their grade);
- has no open change request (pending or returned: its facts carry the current grade) — listed as exceptions;
- had no grade-setting change approved since 1 July of ``Y`` (复学, 专门学校返回, 境外返回, 特殊教育评估决定
  fix the grade themselves, 第11、14、16、20条).

休学 students (02) are not promoted (第16条: the record is kept; 复学 decides the grade). Every exception is
reported. One audit event per promoted student is written set-based inside the same transaction, plus one
summary event for the run.

Concurrency (PostgreSQL, READ COMMITTED): a change request committed while the UPDATE runs could carry the
old grade. After the UPDATE the run looks again (new snapshot) for open requests whose grade snapshot
(``before.grade``) no longer matches the record and, if there are any, refuses the whole run
(``promotion_raced``; nothing written — run it again). Any request submitted later must lock the enrollment
row, which waits for the run to commit, and so sees the new grade. Runs in one province are serialised by an
advisory lock (provinces run in parallel; a national run excludes them).
On SQLite writers are serialised anyway (IMMEDIATE transactions).
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from xueji.accounts.enums import STUDENT_DATA_ROLES, Role
from xueji.accounts.jurisdiction import NOT_FILED, data_grants, in_scope, roles
from xueji.accounts.types import Actor
from xueji.audit.enums import EventType
from xueji.audit.models import AuditEvent
from xueji.audit.services import record
from xueji.core import context
from xueji.core.errors import Conflict, FieldError, Forbidden, NotFound
from xueji.core.signals import records_changed
from xueji.regions.enums import LEVEL_RANK, OrgLevel
from xueji.regions.models import OrgUnit
from xueji.schools.models import School
from xueji.students.enums import StudentStatus
from xueji.students.models import Enrollment, Person

from .enums import GRADE_SETTING_KINDS as GRADE_SETTING
from .models import ChangeRequest
from .workflow import IN_FLIGHT_STATES

GRADUATING_GRADES = (6, 9, 12)
PROMOTABLE_STATUSES = (StudentStatus.ENROLLED, StudentStatus.RESUMED)  # 在读, 复学
SUSPENDED = StudentStatus.SUSPENDED
# Business in flight keeps a student out of the promotion: open requests and approved ones waiting for their
# start date (issue 8 item 10) — a scheduled resumption sets the grade itself on its date.
OPEN_STATES = tuple(sorted(str(s) for s in IN_FLIGHT_STATES))
# Approved changes that decide the student's grade themselves; approved on/after 1 July of the school year,
# the student is not promoted again.
GRADE_SETTING_KINDS = tuple(sorted(str(k) for k in GRADE_SETTING))
ADVISORY_LOCK = 70_810  # first key of the advisory locks serialising promotion runs (第7条, 10 August)
LIST_LIMIT = 500  # students listed by name in a report (counts are always exact)
SCHOOL_ROWS_LIMIT = 5000  # per-school/grade rows in a report

# Report categories, in the order they are decided for each active enrollment in scope.
ALREADY_PROMOTED = "already_promoted"
ENTERED_THIS_YEAR = "entered_this_year"
CAT_SUSPENDED = "suspended"
OTHER_STATUS = "other_status"
AWAITING_GRADUATION = "awaiting_graduation"
IN_FLIGHT = "in_flight"
GRADE_SETTLED = "grade_settled"
PROMOTE = "promote"
CATEGORIES = (
    PROMOTE,
    AWAITING_GRADUATION,
    CAT_SUSPENDED,
    IN_FLIGHT,
    GRADE_SETTLED,
    OTHER_STATUS,
    ENTERED_THIS_YEAR,
    ALREADY_PROMOTED,
)
CATEGORY_LABELS = {
    PROMOTE: "应升级",
    AWAITING_GRADUATION: "毕业年级（待办理毕业/升学）",
    CAT_SUSPENDED: "休学（不升级）",
    IN_FLIGHT: "有在办学籍业务（不升级）",
    GRADE_SETTLED: "本学年已由复学等业务确定年级（不升级）",
    OTHER_STATUS: "其他学籍状态（不升级）",
    ENTERED_THIS_YEAR: "本学年入学（已在本年级）",
    ALREADY_PROMOTED: "本学年已升级",
}


# --------------------------------------------------------------------------------------------- permission


def require_department_registrar(
    actor: Actor, unit: OrgUnit, *, action: str, also: OrgUnit | None = None
) -> None:
    """The actor must be a filed department registrar at county level or above whose jurisdiction contains
    ``unit`` (and ``also``, when given — e.g. a school's supervising department).

    Raises ``registrar_not_filed`` for an unfiled registrar, NotFound when ``unit`` lies outside the actor's
    jurisdiction, ``not_department_registrar`` (403) when it lies inside but no such grant covers it.
    """
    if not in_scope(actor, unit.path):
        if roles(actor) & STUDENT_DATA_ROLES and not data_grants(actor):
            raise NOT_FILED
        raise NotFound()
    for grant in data_grants(actor):
        org = grant.org_unit
        if (
            grant.role == Role.DEPT_REGISTRAR
            and org.level != OrgLevel.SCHOOL
            and LEVEL_RANK[OrgLevel(org.level)] <= LEVEL_RANK[OrgLevel.COUNTY]
            and unit.path.startswith(org.path)
            and (also is None or also.path.startswith(org.path))
        ):
            return
    raise Forbidden("not_department_registrar", f"{action}须由县级及以上教育行政部门学籍管理员办理")


def _check_school_year(school_year: int, today: date) -> None:
    """Promotion into school year Y runs from 1 July of Y until 30 June of Y+1 (the central run is on
    10 August, after graduation closes on 30 July) — a mistyped year is refused, not run."""
    if not isinstance(school_year, int) or isinstance(school_year, bool):
        raise FieldError("school_year", "invalid", "学年须为四位年份，例如 2026")
    current = today.year if today.month >= 7 else today.year - 1
    if school_year != current:
        raise FieldError(
            "school_year",
            "school_year_not_current",
            f"学年 {school_year} 不是当前学年（当前为 {current} 学年，7月1日起可办理升入该学年的升级）",
        )


# ----------------------------------------------------------------------------------------------------- SQL


def _hyphenated(expr: str) -> str:
    """A UUID column as canonical text (``str(uuid)``): PostgreSQL casts; SQLite stores 32 hex chars."""
    if connection.vendor == "postgresql":
        return f"{expr}::text"
    return (
        f"(substr({expr},1,8)||'-'||substr({expr},9,4)||'-'||substr({expr},13,4)||'-'"
        f"||substr({expr},17,4)||'-'||substr({expr},21))"
    )


def _scope_sql(alias: str, *, scan: bool = False) -> str:
    """Paths are digits and slashes; both operators can use the (scope_path, is_active) index for a prefix.
    ``scan`` (SQLite): read the table in order instead — 4× faster when the region holds most of the rows
    (SQLite's planner always takes the index; PostgreSQL's chooses by itself)."""
    if connection.vendor == "postgresql":
        return f"{alias}.scope_path LIKE %(scope)s"
    return f"{'+' if scan else ''}{alias}.scope_path GLOB %(scope)s"


def _scope_param(path: str) -> str:
    if not path or set(path) - set("/0123456789"):
        raise ValueError(f"unexpected org path {path!r}")
    return path + ("%" if connection.vendor == "postgresql" else "*")


@dataclass(frozen=True)
class _Sql:
    """Predicates of one run, shared by the preview, the UPDATE and the audit INSERT (one definition)."""

    school_year: int
    path: str
    cutoff: datetime
    scan: bool = False

    @property
    def params(self) -> dict[str, Any]:
        cutoff: Any = self.cutoff
        if connection.vendor != "postgresql":
            cutoff = connection.ops.adapt_datetimefield_value(self.cutoff)
        return {
            "scope": _scope_param(self.path),
            "year": self.school_year,
            "entry_cutoff": f"{self.school_year:04d}07",
            "settled_since": cutoff,
            "active": True,
        }

    @staticmethod
    def _tables() -> tuple[str, str]:
        return Enrollment._meta.db_table, ChangeRequest._meta.db_table

    def in_scope(self, a: str = "e") -> str:
        return f"{a}.is_active = %(active)s AND {_scope_sql(a, scan=self.scan)}"

    def promoted_elsewhere(self, a: str = "e") -> str:
        enrollment, _ = self._tables()
        return (
            f"{a}.person_id IN (SELECT o.person_id FROM {enrollment} o "  # noqa: S608 - constant identifiers
            f"WHERE o.promoted_year = %(year)s AND o.is_active <> %(active)s)"
        )

    def already(self, a: str = "e") -> str:
        return f"(({a}.promoted_year IS NOT NULL AND {a}.promoted_year >= %(year)s) OR {self.promoted_elsewhere(a)})"

    def entered(self, a: str = "e") -> str:
        return f"{a}.entry_ym >= %(entry_cutoff)s"

    def open_request(self, a: str = "e") -> str:
        _, requests = self._tables()
        states = ", ".join(f"'{s}'" for s in OPEN_STATES)
        return (
            f"{a}.person_id IN (SELECT r.person_id FROM {requests} r "  # noqa: S608 - constant identifiers
            f"WHERE r.state IN ({states}) AND r.person_id IS NOT NULL)"
        )

    def settled(self, a: str = "e") -> str:
        _, requests = self._tables()
        kinds = ", ".join(f"'{k}'" for k in GRADE_SETTING_KINDS)
        return (
            f"{a}.person_id IN (SELECT r.person_id FROM {requests} r WHERE r.state = 'approved' "  # noqa: S608
            f"AND r.kind IN ({kinds}) AND r.closed_at >= %(settled_since)s AND r.person_id IS NOT NULL)"
        )

    def eligible(self, a: str = "e") -> str:
        statuses = ", ".join(f"'{s}'" for s in PROMOTABLE_STATUSES)
        grades = ", ".join(str(g) for g in GRADUATING_GRADES)
        return (
            f"{self.in_scope(a)} AND {a}.status IN ({statuses}) AND {a}.grade NOT IN ({grades}) "
            f"AND ({a}.promoted_year IS NULL OR {a}.promoted_year < %(year)s) "
            f"AND {a}.entry_ym < %(entry_cutoff)s "
            f"AND NOT {self.open_request(a)} AND NOT {self.promoted_elsewhere(a)} AND NOT {self.settled(a)}"
        )

    def category(self, a: str = "e") -> str:
        statuses = ", ".join(f"'{s}'" for s in PROMOTABLE_STATUSES)
        grades = ", ".join(str(g) for g in GRADUATING_GRADES)
        return (
            "CASE "
            f"WHEN {self.already(a)} THEN '{ALREADY_PROMOTED}' "
            f"WHEN {self.entered(a)} THEN '{ENTERED_THIS_YEAR}' "
            f"WHEN {a}.status = '{SUSPENDED}' THEN '{CAT_SUSPENDED}' "
            f"WHEN {a}.status NOT IN ({statuses}) THEN '{OTHER_STATUS}' "
            f"WHEN {a}.grade IN ({grades}) THEN '{AWAITING_GRADUATION}' "
            f"WHEN {self.open_request(a)} THEN '{IN_FLIGHT}' "
            f"WHEN {self.settled(a)} THEN '{GRADE_SETTLED}' "
            f"ELSE '{PROMOTE}' END"
        )


# -------------------------------------------------------------------------------------------------- report


@dataclass
class PromotionReport:
    """What a promotion does (preview) or did (run) in one region and school year. Counts are exact."""

    school_year: int
    org_unit_id: int
    org_name: str
    counts: dict[str, int]
    # [{school_id, school_name, grade, promote, awaiting_graduation, suspended, in_flight, ...}], sorted.
    by_school_grade: list[dict[str, Any]]
    by_school_truncated: bool
    # Students with an open change request: [{enrollment_id, person_id, student_number, name, school_id,
    # school_name, grade, request_id, kind, state}] (at most LIST_LIMIT; the count is in ``counts``).
    in_flight: list[dict[str, Any]] = field(default_factory=list)
    promoted: int | None = None  # set by promotion_run

    @property
    def to_promote(self) -> int:
        return self.counts.get(PROMOTE, 0)

    def as_dict(self) -> dict[str, Any]:
        return {
            "school_year": self.school_year,
            "org_unit_id": self.org_unit_id,
            "org_name": self.org_name,
            "counts": dict(self.counts),
            "by_school_grade": self.by_school_grade,
            "by_school_truncated": self.by_school_truncated,
            "in_flight": self.in_flight,
            "promoted": self.promoted,
        }


def _cutoff(school_year: int) -> datetime:
    return timezone.make_aware(datetime(school_year, 7, 1))


def _grouped(sql: _Sql) -> list[tuple[int, int, str, int]]:
    """(school, grade, category, count) over the active enrollments in scope: one scan."""
    enrollment, _ = _Sql._tables()
    query = (
        f"SELECT e.school_id, e.grade, {sql.category('e')} AS cat, COUNT(*) "  # noqa: S608 - constant identifiers
        f"FROM {enrollment} e WHERE {sql.in_scope('e')} GROUP BY e.school_id, e.grade, cat"
    )
    with connection.cursor() as cursor:
        cursor.execute(query, sql.params)
        return list(cursor.fetchall())


def _report(
    org_unit: OrgUnit,
    school_year: int,
    sql: _Sql,
    grouped: list[tuple[int, int, str, int]],
    in_flight_ids: list[Any] | None = None,
) -> PromotionReport:
    counts = dict.fromkeys(CATEGORIES, 0)
    cells: dict[tuple[int, int], dict[str, int]] = defaultdict(lambda: dict.fromkeys(CATEGORIES, 0))
    for school_id, grade, cat, n in grouped:
        counts[cat] += n
        cells[(school_id, grade)][cat] += n
    keys = sorted(cells)
    truncated = len(keys) > SCHOOL_ROWS_LIMIT
    keys = keys[:SCHOOL_ROWS_LIMIT]
    names = dict(School.objects.filter(pk__in={k[0] for k in keys}).values_list("pk", "name"))
    rows = [
        {"school_id": sid, "school_name": names.get(sid, ""), "grade": grade, **cells[(sid, grade)]}
        for sid, grade in keys
    ]
    in_flight: list[dict[str, Any]] = []
    if counts[IN_FLIGHT]:
        in_flight = _in_flight_list(sql, in_flight_ids)
    return PromotionReport(
        school_year=school_year,
        org_unit_id=org_unit.pk,
        org_name=org_unit.name,
        counts=counts,
        by_school_grade=rows,
        by_school_truncated=truncated,
        in_flight=in_flight,
    )


def _in_flight_list(sql: _Sql, ids: list[Any] | None = None) -> list[dict[str, Any]]:
    """The students held back by an open change request (same predicate as the category), at most
    LIST_LIMIT, ordered by school, grade, enrollment id. ``ids``: already selected (the SQLite run)."""
    if ids is None:
        enrollment, _ = _Sql._tables()
        statuses = ", ".join(f"'{s}'" for s in PROMOTABLE_STATUSES)
        grades = ", ".join(str(g) for g in GRADUATING_GRADES)
        query = (
            f"SELECT e.id FROM {enrollment} e WHERE {sql.in_scope('e')} "  # noqa: S608 - constant identifiers
            f"AND e.status IN ({statuses}) AND e.grade NOT IN ({grades}) "
            f"AND NOT {sql.already('e')} AND NOT {sql.entered('e')} AND {sql.open_request('e')} "
            f"ORDER BY e.school_id, e.grade, e.id LIMIT {LIST_LIMIT}"
        )
        with connection.cursor() as cursor:
            cursor.execute(query, sql.params)
            ids = [row[0] for row in cursor.fetchall()]
    field_ = Enrollment._meta.pk
    ids = [field_.to_python(i) for i in ids]
    enrollments = {
        e.pk: e
        for e in Enrollment.objects.filter(pk__in=ids)
        .select_related("school")
        .only("id", "person_id", "grade", "school_id", "school__name")
    }
    people = {
        p.pk: p
        for p in Person.objects.filter(pk__in=[e.person_id for e in enrollments.values()]).only(
            "id", "name", "student_number"
        )
    }
    requests = {
        r.person_id: r
        for r in ChangeRequest.objects.filter(person_id__in=list(people), state__in=list(OPEN_STATES)).only(
            "id", "person_id", "kind", "state"
        )
    }
    out = []
    for pk in ids:
        e = enrollments[pk]
        p, r = people[e.person_id], requests.get(e.person_id)
        out.append(
            {
                "enrollment_id": str(e.pk),
                "person_id": str(p.pk),
                "student_number": p.student_number,
                "name": p.name,
                "school_id": e.school_id,
                "school_name": e.school.name,
                "grade": e.grade,
                "request_id": str(r.pk) if r else "",
                "kind": r.kind if r else "",
                "state": r.state if r else "",
            }
        )
    return out


# -------------------------------------------------------------------------------------------------- services


def promotion_preview(
    *, actor: Actor, org_unit: OrgUnit, school_year: int, today: date | None = None
) -> PromotionReport:
    """What :func:`promotion_run` would do now (第7条): counts per school and grade, the exceptions
    (休学, in-flight requests — listed —, graduating grades awaiting 毕业/升学, …). Writes nothing."""
    today = today or timezone.localdate()
    require_department_registrar(actor, org_unit, action="年度升级")
    _check_school_year(school_year, today)
    sql = _Sql(school_year, org_unit.path, _cutoff(school_year))
    if connection.vendor != "postgresql":
        sql = dataclasses.replace(sql, scan=_sqlite_prefers_scan(sql))
    return _report(org_unit, school_year, sql, _grouped(sql))


def _audit_columns() -> str:
    return (
        "occurred_at, event_type, actor_id, actor_username, actor_role, org_unit_id, province_code, "
        "subject_type, subject_id, summary, before, after, success, request_id, ip"
    )


def _lock_region(org_unit: OrgUnit) -> None:
    """PostgreSQL: runs in one province are serialised, provinces run in parallel, a national run excludes
    all (overlapping runs would otherwise wait on each other's rows and could deadlock through different
    scan orders). Transaction-scoped advisory locks, released at commit."""
    with connection.cursor() as cursor:
        if org_unit.level == OrgLevel.NATIONAL:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, 0)", [ADVISORY_LOCK])
        else:
            cursor.execute("SELECT pg_advisory_xact_lock_shared(%s, 0)", [ADVISORY_LOCK])
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s, %s)", [ADVISORY_LOCK, int(org_unit.province_code or 0) + 1]
            )


def _promote_postgresql(sql: _Sql, base: dict[str, Any]) -> int:
    """One statement: the UPDATE returns the promoted rows and feeds the audit INSERT (exactly those rows)."""
    enrollment = Enrollment._meta.db_table
    audit = AuditEvent._meta.db_table
    statement = f"""
        WITH moved AS (
            UPDATE {enrollment} AS e SET grade = e.grade + 1, promoted_year = %(year)s
            WHERE {sql.eligible("e")}
            RETURNING e.id, e.person_id, e.school_id, e.province_code, e.grade
        )
        INSERT INTO {audit} ({_audit_columns()})
        SELECT %(now)s::timestamptz, %(event)s, %(actor_id)s::bigint, %(username)s, %(role)s, m.school_id,
               m.province_code, 'student', m.person_id::text,
               %(summary_prefix)s || (m.grade - 1)::text || '年级→' || m.grade::text || '年级',
               jsonb_build_object('grade', m.grade - 1),
               jsonb_build_object('grade', m.grade, 'promoted_year', %(year)s::int,
                                  'enrollment_id', m.id::text),
               true, %(request_id)s, %(ip)s::inet
        FROM moved m
    """  # noqa: S608 - identifiers are model constants, values are parameters
    with connection.cursor() as cursor:
        # The UPDATE's RETURNING rows are buffered for the INSERT: keep them in memory (this transaction only).
        cursor.execute("SET LOCAL work_mem = '64MB'")
        cursor.execute(statement, {**sql.params, **base})
        return cursor.rowcount


def _sqlite_prefers_scan(sql: _Sql) -> bool:
    """Whether the region holds more than a fifth of the enrollment table (index-only count vs max rowid)."""
    enrollment = Enrollment._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT COUNT(*) FROM {enrollment} e WHERE {_scope_sql('e')} AND e.is_active = %(active)s",  # noqa: S608
            sql.params,
        )
        in_region = cursor.fetchone()[0]
        cursor.execute(f"SELECT MAX(rowid) FROM {enrollment}")  # noqa: S608
        rows = cursor.fetchone()[0] or 0
    return in_region * 5 > rows


def _promote_sqlite(
    sql: _Sql, base: dict[str, Any]
) -> tuple[int, list[tuple[int, int, str, int]], list[Any]]:
    """SQLite (writers serialised by the IMMEDIATE transaction): one scan classifies every active
    enrollment in scope into a temporary table, which the report and the audit rows read; the UPDATE uses
    the same predicate. Returns (promoted, grouped counts, ids of in-flight students)."""
    enrollment = Enrollment._meta.db_table
    audit = AuditEvent._meta.db_table
    work = "temp.xueji_promotion"
    sql = dataclasses.replace(sql, scan=_sqlite_prefers_scan(sql))
    params = {**sql.params, **base, "now": connection.ops.adapt_datetimefield_value(base["now"])}
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {work}")
        cursor.execute(
            f"CREATE TABLE {work} AS SELECT e.rowid AS rid, e.id, e.person_id, e.school_id, "  # noqa: S608
            f"e.province_code, e.grade, {sql.category('e')} AS cat "
            f"FROM {enrollment} AS e WHERE {sql.in_scope('e')}",
            params,
        )
        cursor.execute(f"SELECT school_id, grade, cat, COUNT(*) FROM {work} GROUP BY school_id, grade, cat")  # noqa: S608
        grouped = list(cursor.fetchall())
        cursor.execute(
            f"SELECT id FROM {work} WHERE cat = %s ORDER BY school_id, grade, id LIMIT {LIST_LIMIT}",  # noqa: S608
            [IN_FLIGHT],
        )
        in_flight = [row[0] for row in cursor.fetchall()]
        # The UPDATE takes the scope index like a hand-written one (rows in school order keep the grade
        # index's pages hot); its predicate is the category's, on the same unchanged data.
        cursor.execute(
            f"UPDATE {enrollment} AS e SET grade = e.grade + 1, promoted_year = %(year)s "  # noqa: S608
            f"WHERE {dataclasses.replace(sql, scan=False).eligible('e')}",
            params,
        )
        updated = cursor.rowcount
        cursor.execute(
            f"""
            INSERT INTO {audit} ({_audit_columns()})
            SELECT %(now)s, %(event)s, %(actor_id)s, %(username)s, %(role)s, w.school_id, w.province_code,
                   'student', {_hyphenated("w.person_id")},
                   %(summary_prefix)s || w.grade || '年级→' || (w.grade + 1) || '年级',
                   json_object('grade', w.grade),
                   json_object('grade', w.grade + 1, 'promoted_year', %(year)s,
                               'enrollment_id', {_hyphenated("w.id")}),
                   1, %(request_id)s, %(ip)s
            FROM {work} AS w WHERE w.cat = '{PROMOTE}' ORDER BY w.person_id
            """,  # noqa: S608
            params,
        )
        audited = cursor.rowcount
        cursor.execute(f"DROP TABLE {work}")
    if audited != updated:  # cannot happen with serialised writers; never leave a half-audited run
        raise Conflict("promotion_raced", "升级过程中学籍数据发生变化，本次未写入任何数据，请重新办理")
    return updated, grouped, in_flight


def _raced(sql: _Sql) -> list[str]:
    """Open requests (visible now) whose snapshot of the grade no longer matches the record: submitted while
    the UPDATE ran, they carry the old grade. (An open request otherwise always matches its record: nothing
    changes a record's grade while it has a request in flight — the engine's one-open-request rule.)"""
    enrollment, requests = _Sql._tables()
    states = ", ".join(f"'{s}'" for s in OPEN_STATES)
    if connection.vendor == "postgresql":
        before_grade = "(r.before ->> 'grade')::int"
        scope = "r.source_path LIKE %(scope)s"
    else:
        before_grade = "CAST(json_extract(r.before, '$.grade') AS INTEGER)"
        scope = "r.source_path GLOB %(scope)s"
    query = (
        f"SELECT r.id FROM {requests} r JOIN {enrollment} e ON e.id = r.enrollment_id "  # noqa: S608
        f"WHERE r.state IN ({states}) AND {scope} AND e.is_active = %(active)s "
        f"AND {before_grade} IS NOT NULL AND {before_grade} <> e.grade LIMIT 20"
    )
    with connection.cursor() as cursor:
        cursor.execute(query, sql.params)
        return [str(row[0]) for row in cursor.fetchall()]


def promotion_check(*, actor: Actor, org_unit: OrgUnit, school_year: int, today: date | None = None) -> None:
    """The refusals of :func:`promotion_run` (the actor's right, the school year), checked before a run is
    queued so that the page shows them at once; the run checks them again."""
    require_department_registrar(actor, org_unit, action="年度升级")
    _check_school_year(school_year, today or timezone.localdate())


@transaction.atomic
def promotion_run(
    *, actor: Actor, org_unit: OrgUnit, school_year: int, today: date | None = None
) -> PromotionReport:
    """Promote every eligible student of ``org_unit``'s region into ``school_year`` (第7条: 正常升级自动更新).

    One transaction: the exceptions report, one set-based UPDATE (grade + 1, ``promoted_year``), one audit
    event per promoted student (INSERT … SELECT, no Python loop) and one summary event. Re-running the same
    school year changes nothing (already promoted rows are skipped). Only a department registrar at county
    level or above whose jurisdiction contains ``org_unit`` (a national one may run it for the country).
    Returns the report with ``promoted`` set.
    """
    today = today or timezone.localdate()
    require_department_registrar(actor, org_unit, action="年度升级")
    _check_school_year(school_year, today)
    sql = _Sql(school_year, org_unit.path, _cutoff(school_year))
    ctx = context.current()
    now = timezone.now()
    base = {
        "now": now,
        "event": str(EventType.BULK_CHANGE),
        "actor_id": getattr(actor, "pk", None),
        "username": actor.get_username() if actor is not None else "system",
        "role": Role.DEPT_REGISTRAR.value,
        "summary_prefix": f"{school_year}学年年度升级：",
        "request_id": ctx.request_id,
        "ip": ctx.ip,
    }
    if connection.vendor == "postgresql":
        _lock_region(org_unit)
        report = _report(org_unit, school_year, sql, _grouped(sql))
        promoted = _promote_postgresql(sql, base)
    else:
        promoted, grouped, in_flight_ids = _promote_sqlite(sql, base)
        report = _report(org_unit, school_year, sql, grouped, in_flight_ids)
    raced = _raced(sql) if promoted else []
    if raced:
        raise Conflict(
            "promotion_raced",
            f"升级过程中有 {len(raced)} 名学生新提交了学籍业务，本次升级未写入任何数据，请重新办理",
            {"requests": "、".join(raced)},
        )
    report.promoted = promoted
    record(
        event_type=EventType.BULK_CHANGE,
        actor=actor,
        actor_role=Role.DEPT_REGISTRAR.value,
        subject_type="org",
        subject_id=org_unit.pk,
        org_unit_id=org_unit.pk,
        province_code=org_unit.province_code,
        summary=f"{school_year}学年年度升级（第七条）：{org_unit.name} 升级 {promoted} 人",
        after={
            "operation": "promotion",
            "school_year": school_year,
            "promoted": promoted,
            "counts": report.counts,
            "in_flight": [s["enrollment_id"] for s in report.in_flight[:100]],
        },
    )
    records_changed.send(sender=ChangeRequest, reason="promotion")  # statistics refresh (issue 10 §1)
    return report


__all__ = [
    "CATEGORY_LABELS",
    "PromotionReport",
    "promotion_check",
    "promotion_preview",
    "promotion_run",
    "require_department_registrar",
]
