"""The problem-record checks (第9、25条; issue 10 §2): rules that open problem records automatically.

第9条: 上级学籍管理部门与学校应及时核实学生学籍信息，处理与解决问题学籍. 第25条: 严肃、及时处理检查中发现的问题. Each
rule is one reason code (:class:`~xueji.students.models.ProblemRecord.Kind`) with its article, its thresholds,
its owner and its deadline as province data (``checks`` in the province rule set, national defaults in
:data:`xueji.policies.rules.CHECKS_DEFAULT`):

==================== ======= ==========================================================================
rule                 article opens a record for an active enrollment whose …
==================== ======= ==========================================================================
suspected_duplicate  9       person has no identity number and shares name and sex with another person
                             holding an active record, born the same day, a day apart or with month and day
                             swapped (a pair the county confirmed as two children is never reported again;
                             one record per pair, by the lower id)
id_invalid           6, 9    resident identity number (type 1) fails today's check: 18 characters, digits
                             and a final digit or X, the GB 11643 check character, the birth date and the
                             sex it encodes (records imported before the checks)
age_grade            9, 11   age on the counting day lies outside the grade_age ``allowed`` band of its
                             grade widened by ``margin_years`` (what registration would refuse)
suspension_overdue   16      status is 休学 and no suspension took effect within ``max_days`` (休学期限不超过
                             1 年; continuing needs a new application), none in flight
no_class             25      class is empty ``grace_days`` after registration
not_promoted         7, 25   grade lags what its entry year implies, from ``check_from`` of the school year
                             on, and it was not promoted this year (no grade-setting change explains it)
archive_overdue      6       archive not completed ``grace_days`` after its due date (2 个月内建立学籍档案)
==================== ======= ==========================================================================

The runner is set-based: per province and rule, one ``INSERT … SELECT`` (no per-student Python). It is
idempotent — at most one open record per person and reason (a ``NOT EXISTS`` and the partial unique index
``problem_one_open_per_person_kind``) — and never closes a record: a record whose condition has gone stays
open until its owner handles it (the queue says so). A record the department closed as 核实无误
(``distinct``) is not opened again for the same reason (for ``not_promoted``: within the same school year).
Each new record gets a ``open`` :class:`~xueji.students.models.ProblemEvent` (one more statement), and the run
writes one audit event with the counts per rule (no personal data).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from xueji.accounts.types import Actor
from xueji.audit.services import record
from xueji.changes.enums import GRADE_SETTING_KINDS, ChangeKind
from xueji.changes.models import ChangeRequest
from xueji.changes.workflow import OPEN_STATES, RequestState
from xueji.policies.queries import grade_age_rules_for
from xueji.policies.rules import CHECK_RULES, CheckRules, school_year_of
from xueji.regions.enums import OrgLevel
from xueji.regions.models import OrgUnit
from xueji.students.enums import Stage, StudentStatus, stage_for_grade
from xueji.students.models import Enrollment, Person, ProblemEvent, ProblemRecord
from xueji.students.queries import check_rules_for
from xueji.workdays.services import add_working_days

CHECKS_RUN_EVENT = "checks.run"
Kind = ProblemRecord.Kind
#: Statuses of a pupil on the school's roll (在读, 休学, 复学).
ON_ROLL = (StudentStatus.ENROLLED.value, StudentStatus.SUSPENDED.value, StudentStatus.RESUMED.value)
IN_CLASS = (StudentStatus.ENROLLED.value, StudentStatus.RESUMED.value)
GRADUATING_GRADES = (6, 9, 12)
#: What each new record says (no personal data: the record names the student, the text the reason).
DETAILS = {
    "suspected_duplicate": "无身份证件号，姓名、性别与另一在籍学生相同，出生日期相同或相近（月日颠倒、相差一天）（自动检查）",
    "id_invalid": "身份证件号未通过现行校验（格式、校验码、出生日期或性别不符），多为早期导入的数据",
    "age_grade": "按年龄计算日的周岁与所在年级严重不符（超出可确认范围）",
    "suspension_overdue": "休学已超过规定期限，未办理复学或重新申请休学",
    "no_class": "注册后逾期未分班",
    "not_promoted": "本学年未随年度升级升入应在年级",
    "archive_overdue": "学籍档案逾期未建立完成",
}


@dataclass
class RunReport:
    """What one run did: new records per rule (summed over provinces), the rules not run per province (disabled,
    or not due yet in the school year), the provinces checked and the time taken."""

    today: date
    opened: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CHECK_RULES, 0))
    skipped: dict[str, list[str]] = field(default_factory=dict)
    seconds_by_rule: dict[str, float] = field(default_factory=lambda: dict.fromkeys(CHECK_RULES, 0.0))
    provinces: int = 0
    seconds: float = 0.0

    @property
    def total(self) -> int:
        return sum(self.opened.values())


# --------------------------------------------------------------------------------------------- SQL pieces
def _t(model: Any) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _pg() -> bool:
    return connection.vendor == "postgresql"


def _new_uuid() -> str:
    # UUIDField: native uuid on PostgreSQL, 32 hex characters on SQLite.
    return "gen_random_uuid()" if _pg() else "lower(hex(randomblob(16)))"


def _all_digits(expr: str, length: int) -> str:
    if _pg():
        return f"{expr} ~ '^[0-9]{{{length}}}$'"
    return f"(length({expr}) = {length} AND {expr} NOT GLOB '*[^0-9]*')"


@dataclass(frozen=True)
class Rule:
    """One rule's SQL: ``where`` over ``e`` (enrollment) and ``p`` (person), an optional ``other`` expression
    (the other person of a pair; the row is skipped when it is NULL), the params it needs, and the day from
    which a county's 核实无误 keeps the rule quiet for a person."""

    where: str
    params: dict[str, Any]
    other: str = "NULL"
    accepted_since: datetime | None = None


def _rule_sql(rule: str, rules: CheckRules, province: str, today: date, now: datetime) -> Rule | None:
    """The SQL of ``rule`` in ``province`` today, or None when it does not run today."""
    cfg = rules[rule]
    e_t, p_t, c_t, pr_t = _t(Enrollment), _t(Person), _t(ChangeRequest), _t(ProblemRecord)
    if rule == "suspected_duplicate":
        # 第9条: the other person of the pair: same name (both stored in registration's normal form,
        # ``validation.clean_name`` — the form ``search.normalise_name`` gives a typed name), same sex, the
        # same birth date or one a typing slip away (month and day swapped, or a day apart), an active record,
        # no decision on the pair yet (a county's 核实为不同学生 or an open record about it). The name and sex
        # stay equalities so the (name, gender, birth_date) index finds the candidates.
        other = (
            f"(SELECT q.id FROM {p_t} q JOIN {e_t} f ON f.person_id = q.id AND f.is_active = %(true)s "  # noqa: S608
            f"WHERE q.name = p.name AND q.gender = p.gender AND {_near_birth_date('q.birth_date', 'p.birth_date')} "
            f"AND q.id <> p.id "
            f"AND NOT EXISTS (SELECT 1 FROM {pr_t} d WHERE d.kind = %(kind)s AND ("
            f"(d.person_id = p.id AND d.other_person_id = q.id) OR (d.person_id = q.id AND d.other_person_id = p.id)"
            f") AND (d.state = %(distinct)s OR d.state = %(open)s)) "
            # One record per pair, not A→B and B→A in the same statement: the lower id reports the pair, but only
            # when it can — the rule runs for it (no identity number, same province's run) and it is not held
            # back by a record of its own (open, or 核实为不同学生 with someone else); otherwise this one does.
            f"AND (q.id > p.id OR q.id_number <> '' OR q.province_code <> p.province_code "
            f"OR EXISTS (SELECT 1 FROM {pr_t} o WHERE o.person_id = q.id "
            f"AND o.kind = %(kind)s AND (o.state = %(open)s OR o.state = %(distinct)s))) "
            f"ORDER BY q.id LIMIT 1)"
        )
        return Rule("p.id_number = ''", {"distinct": ProblemRecord.State.CONFIRMED_DISTINCT.value}, other)
    if rule == "id_invalid":
        # Numbers are stored normalised (NFKC, upper case: identity.normalise_number); a lower-case x left by an
        # old import fails here too, as it would not have been stored today.
        # The numbers are encrypted (issue 11 §3): the check ran when the record was written and left a flag.
        return Rule("p.id_type = '1' AND p.id_check_failed = %(true)s", {})
    if rule == "age_grade":
        # 第9、11条: the birth-date window of each grade on the counting day, from the grade_age rule in force.
        ages = grade_age_rules_for(province, today)
        day = ages.counting_day(today)
        margin = int(cfg["margin_years"])
        clauses: list[str] = []
        params: dict[str, Any] = {}
        on_roll = _in(params, "on_roll", ON_ROLL)
        for grade in range(1, 13):
            band = ages.bands[stage_for_grade(grade).value]["allowed"]
            low = ages.expected_age(grade) + band[0] - margin
            high = ages.expected_age(grade) + band[1] + margin
            # age ≥ low ⇔ born on or before ``day`` minus low years; age ≤ high ⇔ born after ``day`` − (high+1).
            latest, earliest = _years_before(day, low), _years_before(day, high + 1)
            params[f"late{grade}"], params[f"early{grade}"] = _d(latest), _d(earliest)
            clauses.append(
                f"(e.grade = {grade} AND (p.birth_date > %(late{grade})s OR p.birth_date <= %(early{grade})s))"
            )
        return Rule(f"e.status IN {on_roll} AND ({' OR '.join(clauses)})", params)
    if rule == "suspension_overdue":
        # 第16条: suspended, and no suspension took effect within max_days; a request in flight is action.
        cutoff = today - timedelta(days=int(cfg["max_days"]))
        params = {
            "suspended": StudentStatus.SUSPENDED.value,
            "suspension": ChangeKind.SUSPENSION.value,
            "cutoff": _d(cutoff),
        }
        done = _in(params, "done", (RequestState.APPROVED.value, RequestState.SCHEDULED.value))
        kinds = _in(params, "susp_kinds", (ChangeKind.SUSPENSION.value, ChangeKind.RESUMPTION.value))
        in_flight = _in(params, "open_states", sorted(s.value for s in OPEN_STATES))
        return Rule(
            f"e.status = %(suspended)s AND NOT EXISTS (SELECT 1 FROM {c_t} c WHERE c.person_id = e.person_id "  # noqa: S608
            f"AND ((c.kind = %(suspension)s AND c.state IN {done} AND c.effective_on > %(cutoff)s) "
            f"OR (c.kind IN {kinds} AND c.state IN {in_flight})))",
            params,
        )
    if rule == "no_class":
        cutoff = now - timedelta(days=int(cfg["grace_days"]))
        params = {"registered": connection.ops.adapt_datetimefield_value(cutoff)}
        in_class = _in(params, "in_class", IN_CLASS)
        return Rule(
            f"e.status IN {in_class} AND trim(e.class_name) = '' AND e.registered_at < %(registered)s", params
        )
    if rule == "not_promoted":
        year = school_year_of(today)
        if today < rules.check_from(year):
            return None
        entry_year = (
            "(CAST(substr(e.entry_ym, 1, 4) AS INTEGER) - "
            "CASE WHEN CAST(substr(e.entry_ym, 5, 2) AS INTEGER) < 7 THEN 1 ELSE 0 END)"
        )
        first = (
            f"CASE e.stage WHEN '{Stage.PRIMARY.value}' THEN 1 WHEN '{Stage.JUNIOR.value}' THEN 7 ELSE 10 END"
        )
        last = (
            f"CASE e.stage WHEN '{Stage.PRIMARY.value}' THEN 6 WHEN '{Stage.JUNIOR.value}' THEN 9 ELSE 12 END"
        )
        expected = f"({first} + %(year)s - {entry_year})"
        params = {"year": year, "approved": RequestState.APPROVED.value}
        in_class = _in(params, "in_class", IN_CLASS)
        graduating = _in(params, "graduating", GRADUATING_GRADES)
        grade_setting = _in(params, "grade_setting", sorted(k.value for k in GRADE_SETTING_KINDS))
        return Rule(
            f"e.status IN {in_class} AND e.grade NOT IN {graduating} "  # noqa: S608
            f"AND (e.promoted_year IS NULL OR e.promoted_year < %(year)s) "
            f"AND {_all_digits('e.entry_ym', 6)} "
            f"AND e.grade < (CASE WHEN {expected} > {last} THEN {last} ELSE {expected} END) "
            f"AND NOT EXISTS (SELECT 1 FROM {c_t} c WHERE c.person_id = e.person_id "
            f"AND c.kind IN {grade_setting} AND c.state = %(approved)s)",
            params,
            accepted_since=datetime(year, 8, 1, tzinfo=timezone.get_current_timezone()),
        )
    if rule == "archive_overdue":
        # 第6条: 2 个月内建立学籍档案 (Enrollment.archive_due), plus the province's grace.
        return Rule(
            "e.archive_completed_at IS NULL AND e.archive_due < %(archive_cutoff)s",
            {"archive_cutoff": _d(today - timedelta(days=int(cfg["grace_days"])))},
        )
    raise ValueError(f"unknown check rule {rule!r}")


def _near_birth_date(q: str, p: str) -> str:
    """SQL: birth date ``q`` equals ``p``, lies a day before or after it, or is ``p`` with month and day swapped
    (2017-03-05 / 2017-05-03) — the typing slips a duplicate record without an identity number shows."""
    if _pg():
        swapped = (
            f"CASE WHEN EXTRACT(DAY FROM {p}) <= 12 THEN make_date(CAST(EXTRACT(YEAR FROM {p}) AS INTEGER), "
            f"CAST(EXTRACT(DAY FROM {p}) AS INTEGER), CAST(EXTRACT(MONTH FROM {p}) AS INTEGER)) END"
        )
        return f"({q} BETWEEN {p} - 1 AND {p} + 1 OR {q} = {swapped})"
    # SQLite keeps dates as YYYY-MM-DD text; a swapped day above 12 gives no valid date and matches nothing.
    swapped = f"(strftime('%%Y', {p}) || '-' || strftime('%%d', {p}) || '-' || strftime('%%m', {p}))"
    return f"({q} BETWEEN date({p}, '-1 day') AND date({p}, '+1 day') OR {q} = {swapped})"


def _in(params: dict[str, Any], name: str, values: Iterable[Any]) -> str:
    """``(%(name_0)s, %(name_1)s …)`` for an IN list, its values added to ``params`` (neither psycopg 3 nor
    SQLite adapts a tuple)."""
    names = []
    for i, value in enumerate(values):
        params[f"{name}_{i}"] = value
        names.append(f"%({name}_{i})s")
    return f"({', '.join(names)})"


def _d(day: date) -> Any:
    return connection.ops.adapt_datefield_value(day)


def _years_before(day: date, years: int) -> date:
    return day.replace(year=day.year - years)


@dataclass(frozen=True)
class Planned:
    """One statement to run: a rule's SQL, owner and deadline, for every province whose rules give the same."""

    rule: str
    sql: Rule
    owner: str
    due: date

    def key(self) -> tuple[Any, ...]:
        return (
            self.rule,
            self.sql.where,
            tuple(sorted(self.sql.params.items())),
            self.sql.other,
            self.sql.accepted_since,
            self.owner,
            self.due,
        )


def _plan(rule: str, rules: CheckRules, province: str, today: date, now: datetime) -> Planned | None:
    """What ``rule`` runs in ``province`` today, or None when it does not run (disabled, or not due yet)."""
    if not rules.enabled(rule):
        return None
    sql = _rule_sql(rule, rules, province, today, now)
    if sql is None:
        return None
    return Planned(rule, sql, rules.owner(rule), add_working_days(today, rules.due_working_days(rule)).due)


def _open_rule(planned: Planned, provinces: list[str], now: datetime) -> int:
    """Run one rule for ``provinces`` (whose rules agree): one INSERT … SELECT of the new records and one of
    their ``open`` events. Returns how many were opened."""
    rule, sql = planned.rule, planned.sql
    e_t, p_t, pr_t, ev_t = _t(Enrollment), _t(Person), _t(ProblemRecord), _t(ProblemEvent)
    stamp = connection.ops.adapt_datetimefield_value(now)
    accepted = (
        f"AND NOT EXISTS (SELECT 1 FROM {pr_t} a WHERE a.person_id = e.person_id AND a.kind = %(kind)s "  # noqa: S608
        f"AND a.state = %(distinct)s"
        + (" AND a.created_at >= %(accepted_since)s" if sql.accepted_since else "")
        + ")"
    )
    params: dict[str, Any] = {
        **sql.params,
        "kind": rule,
        "open": ProblemRecord.State.OPEN.value,
        "distinct": ProblemRecord.State.CONFIRMED_DISTINCT.value,
        "true": True,
        "owner": planned.owner,
        "source": ProblemRecord.Source.CHECK.value,
        "due": _d(planned.due),
        "detail": DETAILS[rule],
        "now": stamp,
    }
    in_provinces = _in(params, "province", provinces)
    if sql.accepted_since:
        params["accepted_since"] = connection.ops.adapt_datetimefield_value(sql.accepted_since)
    # An untyped NULL is text on PostgreSQL: the column is uuid.
    other = sql.other if sql.other != "NULL" else ("CAST(NULL AS uuid)" if _pg() else "NULL")
    select = (
        f"SELECT e.person_id, e.province_code, e.scope_path, e.school_id, {other} AS other "  # noqa: S608
        f"FROM {e_t} e JOIN {p_t} p ON p.id = e.person_id "
        f"WHERE e.province_code IN {in_provinces} AND e.is_active = %(true)s AND {sql.where} "
        f"AND NOT EXISTS (SELECT 1 FROM {pr_t} r WHERE r.person_id = e.person_id AND r.kind = %(kind)s "
        f"AND r.state = %(open)s) {accepted}"
    )
    if sql.other != "NULL":
        select = f"SELECT * FROM ({select}) AS s WHERE s.other IS NOT NULL"  # noqa: S608
    insert = "INSERT" if _pg() else "INSERT OR IGNORE"
    conflict = " ON CONFLICT DO NOTHING" if _pg() else ""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"{insert} INTO {pr_t} (id, kind, state, person_id, other_person_id, province_code, scope_path, "  # noqa: S608
            f"school_id, owner, source, due_on, detail, created_at, resolution_note, explanation) "
            f"SELECT {_new_uuid()}, %(kind)s, %(open)s, n.person_id, n.other, n.province_code, n.scope_path, "
            f"n.school_id, %(owner)s, %(source)s, %(due)s, %(detail)s, %(now)s, '', '' "
            f"FROM ({select}) AS n{conflict}",
            params,
        )
        opened = max(cursor.rowcount, 0)
        if opened:
            event_params: dict[str, Any] = {
                "action": ProblemEvent.Action.OPEN.value,
                "kind": rule,
                "source": ProblemRecord.Source.CHECK.value,
                "now": stamp,
            }
            in_provinces = _in(event_params, "province", provinces)
            cursor.execute(
                f"INSERT INTO {ev_t} (problem_id, action, actor_id, at, owner_after, note) "  # noqa: S608
                f"SELECT r.id, %(action)s, NULL, r.created_at, r.owner, '' FROM {pr_t} r "
                f"WHERE r.kind = %(kind)s AND r.province_code IN {in_provinces} AND r.source = %(source)s "
                f"AND r.created_at = %(now)s",
                event_params,
            )
    return opened


# ------------------------------------------------------------------------------------------------ the run
def run_checks(
    *,
    actor: Actor | None,
    today: date | None = None,
    provinces: Iterable[str] | None = None,
    rules: Iterable[str] | None = None,
) -> RunReport:
    """Run the problem-record checks (第9、25条) for ``provinces`` (default: every province) and ``rules``
    (default: all, :data:`~xueji.policies.rules.CHECK_RULES`), each as the province's rules in force on
    ``today`` say (enabled, thresholds, owner, deadline). Opens records set-based and idempotently, closes none.
    ``actor`` is None for the nightly schedule. One audit event (``checks.run``) with the counts per rule.
    Raises ValueError for an unknown rule name."""
    started = time.perf_counter()
    now = timezone.now()
    today = today or timezone.localdate(now)
    wanted = list(rules) if rules is not None else list(CHECK_RULES)
    unknown = sorted(set(wanted) - set(CHECK_RULES))
    if unknown:
        raise ValueError(f"unknown check rules: {', '.join(unknown)}")
    codes = sorted(
        set(
            OrgUnit.objects.filter(level=OrgLevel.PROVINCE, is_active=True).values_list(
                "province_code", flat=True
            )
        )
    )
    if provinces is not None:
        codes = sorted(set(codes) & set(provinces))
    report = RunReport(today=today)
    # Provinces whose rules agree share one statement per rule (a province override splits its own off):
    # the cost of a run does not grow with the number of provinces.
    groups: dict[tuple[Any, ...], tuple[Planned, list[str]]] = {}
    for province in codes:
        resolved = check_rules_for(province, today)
        report.provinces += 1
        for rule in (r for r in CHECK_RULES if r in wanted):
            planned = _plan(rule, resolved, province, today, now)
            if planned is None:
                report.skipped.setdefault(province, []).append(rule)
            else:
                groups.setdefault(planned.key(), (planned, []))[1].append(province)
    for planned, members in groups.values():
        begun = time.perf_counter()
        report.opened[planned.rule] += _open_rule(planned, members, now)
        report.seconds_by_rule[planned.rule] += time.perf_counter() - begun
    report.seconds = round(time.perf_counter() - started, 3)
    record(
        event_type=CHECKS_RUN_EVENT,
        actor=actor,
        subject_type="checks",
        subject_id=today.isoformat(),
        summary=f"问题学籍自动检查：新增 {report.total} 条",
        after={
            "counts": {
                "opened": report.opened,
                "skipped": report.skipped,
                "provinces": report.provinces,
                "seconds": report.seconds,
            }
        },
    )
    return report
