"""Benchmark of 年度升级 (:func:`xueji.changes.promotion.promotion_run`) against a raw ``UPDATE grade = grade + 1``.

    .venv/bin/python bench/bench_promotion.py 100000                 # SQLite and PostgreSQL, one after the other
    .venv/bin/python bench/bench_promotion.py 1000000 --db postgres

Each engine runs in its own process on a fresh database: SQLite in a temporary file (``XUEJI_SQLITE_PATH``),
PostgreSQL in the scratch database ``xueji_bench_promo`` (created and dropped through
postgres://postgres@127.0.0.1:5432/postgres; ``--pg-admin`` to change). After ``migrate`` it generates N
students set-based in SQL (a person and an enrollment each, in N/1000 schools of Guangzhou; 2 % suspended,
1 % resumed, 0.1 % with an open change request; grades spread over each school's stages), then, in the
same run and with the same indexes (each timed phase starts after a checkpoint):

1. raw: ``UPDATE <copy> SET grade = grade + 1 WHERE scope … AND is_active AND status IN ('01','05') AND
   grade NOT IN (6, 9, 12)`` on an exact copy of the enrollment table (same DDL, same indexes), committed;
   on SQLite also in the table-scan form (``+scope_path``) on a fresh copy — the faster one is the baseline;
2. an exceptions-only UPDATE of 1 % of the rows on the copy (what a derived-grade design would touch);
3. ``promotion_preview`` (read only);
4. ``promotion_run`` — report, UPDATE, one audit event per promoted student, summary event, commit — with
   the five slowest SQL statements;
5. a second ``promotion_run`` of the same year (must promote 0).

Prints seconds, rows/s and the ratio run/raw (target ≤ 2). Asserts that the run promoted exactly the raw
UPDATE's rows minus the students with open requests, and wrote one audit event per student plus one.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PG_ADMIN = "postgres://postgres@127.0.0.1:5432/postgres"
PG_DB = "xueji_bench_promo"
SCHOOL_YEAR = 2026
RUN_DAY = date(SCHOOL_YEAR, 8, 10)
COUNTIES = ("440103", "440104", "440105", "440106", "440111", "440112")
# (school type, stage, first grade, number of grades), weighted like real enrollment: primary 6, junior 3, senior 3.
SCHOOL_KINDS = (
    ("primary", "primary", 1, 6),
    ("primary", "primary", 1, 6),
    ("junior", "junior", 7, 3),
    ("senior", "senior", 10, 3),
)


# ------------------------------------------------------------------------------------------ database admin


def pg_admin(admin_url: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql)


def pg_url(admin_url: str, name: str) -> str:
    from urllib.parse import urlparse, urlunparse

    return urlunparse(urlparse(admin_url)._replace(path=f"/{name}"))


def setup_django(engine: str, *, admin_url: str = PG_ADMIN, db_name: str = PG_DB) -> tuple[str, Any]:
    """Point Django at a fresh database, set it up and migrate. Returns (description, cleanup)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ["XUEJI_DEBUG"] = "0"
    if engine == "postgres":
        pg_admin(admin_url, f'DROP DATABASE IF EXISTS "{db_name}"')
        pg_admin(admin_url, f'CREATE DATABASE "{db_name}"')
        os.environ["DATABASE_URL"] = pg_url(admin_url, db_name)
        tmp = None
    else:
        os.environ.pop("DATABASE_URL", None)
        tmp = tempfile.mkdtemp(prefix="xueji-bench-promo-")
        os.environ["XUEJI_SQLITE_PATH"] = str(Path(tmp) / "bench.sqlite3")

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, connections

    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SHOW server_version")
            desc = f"PostgreSQL {cursor.fetchone()[0]}"
        else:
            import sqlite3

            desc = f"SQLite {sqlite3.sqlite_version} (WAL, synchronous=NORMAL)"

    def cleanup() -> None:
        connections.close_all()
        if engine == "postgres":
            pg_admin(admin_url, f'DROP DATABASE IF EXISTS "{db_name}"')
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)

    return desc, cleanup


# -------------------------------------------------------------------------------------- set-based generation


def _fill(model: Any, overrides: dict[str, str]) -> tuple[list[str], list[str]]:
    """Column names and SQL expressions for every concrete column of ``model``: overrides, else NULL for
    nullable columns, else a constant of the right type (the first choice for coded fields)."""
    from django.db import connection, models

    pg = connection.vendor == "postgresql"
    cols, exprs = [], []
    for f in model._meta.concrete_fields:
        col = str(f.column)
        if col in overrides:
            expr = overrides[col]
        elif f.null:
            expr = "NULL"
        elif isinstance(f, models.BooleanField):
            expr = "false" if pg else "0"
        elif isinstance(f, models.DateTimeField):
            expr = "TIMESTAMPTZ '2026-07-01 08:00:00+08'" if pg else "'2026-07-01 00:00:00'"
        elif isinstance(f, models.DateField):
            expr = "DATE '2015-03-14'" if pg else "'2015-03-14'"
        elif isinstance(f, models.JSONField):
            expr = "'{}'::jsonb" if pg else "'{}'"
        elif isinstance(f, models.IntegerField):
            expr = "0"
        elif isinstance(f, models.CharField):
            value = f.choices[0][0] if f.choices else ("x" if f.max_length and f.max_length < 10 else "测试")
            if f.blank:
                value = ""
            if f.has_default() and not callable(f.default):
                value = f.default
            expr = "'" + str(value).replace("'", "''") + "'"
        else:
            raise TypeError(f"no filler for {model.__name__}.{f.name}")
        cols.append(col)
        exprs.append(expr)
    return cols, exprs


def _uuid_expr(prefix: str, g: str) -> str:
    """A deterministic UUID for row number ``g``: ``prefix`` (one hex digit) + 31 hex digits."""
    from django.db import connection

    if connection.vendor == "postgresql":
        return f"('{prefix}' || lpad(to_hex({g}), 31, '0'))::uuid"
    return f"printf('{prefix}%031x', {g})"


def _series(n: int, start: int = 1) -> str:
    """FROM clause yielding g = start … start+n-1."""
    from django.db import connection

    if connection.vendor == "postgresql":
        return f"generate_series({start}, {start + n - 1}) AS s(g)"
    return (
        f"(WITH RECURSIVE seq(g) AS (SELECT {start} UNION ALL SELECT g + 1 FROM seq WHERE g < {start + n - 1}) "
        "SELECT g FROM seq) AS s"
    )


def create_schools(count: int) -> list[Any]:
    from xueji.regions.services import load_departments
    from xueji.schools.services import school_create

    load_departments(actor=None, province_codes={"440000"})
    prefix = {"primary": "21", "junior": "31", "senior": "34"}
    schools = []
    for i in range(count):
        kind = SCHOOL_KINDS[i % len(SCHOOL_KINDS)][0]
        schools.append(
            school_create(
                actor=None,
                name=f"基准学校{i + 1}",
                school_code=f"{prefix[kind]}44{i + 1:06d}",
                school_type=kind,
                county_code=COUNTIES[i % len(COUNTIES)],
            )
        )
    return schools


def generate_students(
    n: int,
    schools: list[Any],
    *,
    actor: Any,
    request_every: int = 1000,
    start: int = 1,
    school_year: int = SCHOOL_YEAR,
    status_sql: str = "CASE WHEN g % 50 = 7 THEN '02' WHEN g % 100 = 3 THEN '05' ELSE '01' END",
) -> int:
    """N persons and N active enrollments, set-based; row g goes to school g mod S, grade from g div S. Every
    ``request_every``-th student gets an open (pending) suspension request. Returns the number of requests."""
    from django.db import connection, transaction

    from xueji.changes.models import ChangeRequest
    from xueji.students.models import Enrollment, Person

    pg = connection.vendor == "postgresql"
    s_count = len(schools)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_school")
        cursor.execute(
            "CREATE TABLE bench_school (idx integer PRIMARY KEY, id bigint, stage varchar(8), "
            "first_grade integer, ngrades integer, path varchar(255))"
        )
        rows = []
        for i, school in enumerate(schools):
            _, stage, first, ngrades = SCHOOL_KINDS[i % len(SCHOOL_KINDS)]
            rows.append((i, school.pk, stage, first, ngrades, school.org.path))
        cursor.executemany("INSERT INTO bench_school VALUES (%s, %s, %s, %s, %s, %s)", rows)
        text = "::text" if pg else ""
        p_cols, p_exprs = _fill(
            Person,
            {
                "id": _uuid_expr("a", "g"),
                "province_code": "'440000'",
                "student_number": f"'G' || lpad(g{text}, 18, '0')" if pg else "'G' || printf('%018d', g)",
                "name": f"'学生' || g{text}",
                "gender": "CASE WHEN g % 2 = 0 THEN '2' ELSE '1' END",
                "household_code": "'440105'",
                "birthplace_code": "'440105'",
                "postal_code": "'510220'",
                "phone": "'13800138000'",
            },
        )
        cursor.execute(
            f"INSERT INTO {Person._meta.db_table} ({', '.join(p_cols)}) "
            f"SELECT {', '.join(p_exprs)} FROM {_series(n, start)}"
        )
        grade = f"(b.first_grade + (g / {s_count}) % b.ngrades)"
        e_cols, e_exprs = _fill(
            Enrollment,
            {
                "id": _uuid_expr("e", "g"),
                "person_id": _uuid_expr("a", "g"),
                "province_code": "'440000'",
                "school_id": "b.id",
                "scope_path": "b.path",
                "stage": "b.stage",
                "grade": grade,
                "class_name": f"((g / {s_count}) % 8 + 1){text} || '班'",
                # Entered the stage (grade - first) years before the school year that just ended.
                "entry_ym": (f"({school_year - 1} - ({grade} - b.first_grade)){text} || '09'"),
                "status": status_sql,
                "is_active": "true" if pg else "1",
            },
        )
        cursor.execute(
            f"INSERT INTO {Enrollment._meta.db_table} ({', '.join(e_cols)}) "
            f"SELECT {', '.join(e_exprs)} FROM {_series(n, start)} "
            f"JOIN bench_school b ON b.idx = g % {s_count}"
        )
        requests = 0
        if request_every:
            r_cols, r_exprs = _fill(
                ChangeRequest,
                {
                    "id": _uuid_expr("c", "g"),
                    "kind": "'suspension'",
                    "state": "'pending'",
                    "person_id": _uuid_expr("a", "g"),
                    "enrollment_id": _uuid_expr("e", "g"),
                    "province_code": "'440000'",
                    "source_path": "b.path",
                    "created_by_id": str(actor.pk),
                    "initiator_org_id": "b.id",
                    "current_position": "1",
                },
            )
            cursor.execute(
                f"INSERT INTO {ChangeRequest._meta.db_table} ({', '.join(r_cols)}) "
                f"SELECT {', '.join(r_exprs)} FROM {_series(n, start)} "
                f"JOIN bench_school b ON b.idx = g % {s_count} WHERE g % {request_every} = 11"
            )
            requests = cursor.rowcount
        cursor.execute("DROP TABLE bench_school")
    return requests


def analyze() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


# ----------------------------------------------------------------------------------------------- the runs


def make_copy(name: str = "bench_copy") -> None:
    """An exact copy of the enrollment table: same column definitions, constraints and indexes, same rows."""
    from django.db import connection, transaction

    from xueji.students.models import Enrollment

    table = Enrollment._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {name}")
        if connection.vendor == "postgresql":
            cursor.execute(f"CREATE TABLE {name} (LIKE {table} INCLUDING ALL)")
        else:
            cursor.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = %s", [table])
            ddl = cursor.fetchone()[0]
            cursor.execute(ddl.replace(f'"{table}"', f'"{name}"', 1))
            cursor.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = %s AND sql IS NOT NULL",
                [table],
            )
            for index_name, sql in cursor.fetchall():
                cursor.execute(
                    sql.replace(f'"{index_name}"', f'"{name}_{index_name}"', 1).replace(
                        f'ON "{table}"', f'ON "{name}"'
                    )
                )
        cursor.execute(f"INSERT INTO {name} SELECT * FROM {table}")
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {name}")


def checkpoint() -> None:
    """Start each timed phase with a clean WAL (so no phase pays for the previous one's checkpoint)."""
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("CHECKPOINT")
        else:
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def count_indexes(table: str) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT count(*) FROM pg_indexes WHERE tablename = %s", [table])
        else:
            cursor.execute(
                "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = %s", [table]
            )
        return int(cursor.fetchone()[0])


def raw_update(name: str, path: str, *, scan: bool = False) -> tuple[int, float]:
    """``scan`` (SQLite): ``+scope_path`` — read the table instead of the scope index (faster for a whole
    province; SQLite's planner always takes the index, PostgreSQL's decides itself)."""
    from django.db import connection, transaction

    op, pattern = ("LIKE", path + "%") if connection.vendor == "postgresql" else ("GLOB", path + "*")
    column = "+scope_path" if scan and connection.vendor != "postgresql" else "scope_path"
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {name} SET grade = grade + 1 WHERE {column} {op} %s AND is_active = %s "
            "AND status IN ('01', '05') AND grade NOT IN (6, 9, 12)",
            [pattern, True],
        )
        rows = cursor.rowcount
    return rows, time.perf_counter() - started


def exceptions_update(name: str) -> tuple[int, float]:
    """What a derived-grade (entry cohort) design writes yearly: only the exceptions, here the 1 % in 05."""
    from django.db import connection, transaction

    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {name} SET grade = CASE WHEN grade < 12 THEN grade + 1 ELSE grade - 1 END "
            "WHERE status = '05'"
        )
        rows = cursor.rowcount
    return rows, time.perf_counter() - started


def run(engine: str, n: int, admin_url: str = PG_ADMIN) -> dict[str, Any]:
    desc, cleanup = setup_django(engine, admin_url=admin_url)
    try:
        from django.db import connection

        from xueji.accounts.enums import Role
        from xueji.accounts.models import RegistrarFiling, RoleGrant, User
        from xueji.audit.models import AuditEvent
        from xueji.changes.promotion import promotion_preview, promotion_run
        from xueji.regions.models import OrgUnit
        from xueji.students.models import Enrollment

        timings: dict[str, Any] = {"engine": desc, "students": n}
        t0 = time.perf_counter()
        schools = create_schools(max(4, n // 1000))
        province = OrgUnit.objects.exclude(level="school").get(code="440000")
        actor = User.objects.create_user(username="bench_province", password="x")  # noqa: S106
        RoleGrant.objects.create(user=actor, role=Role.DEPT_REGISTRAR, org_unit=province)
        RegistrarFiling.objects.create(  # filed with the department above (第22条; the ministry for a province)
            user=actor, filed_with=province.parent, filed_on=date(2026, 1, 5), trained_on=date(2026, 1, 10)
        )
        timings["setup_schools_s"] = round(time.perf_counter() - t0, 2)
        t0 = time.perf_counter()
        timings["open_requests"] = generate_students(n, schools, actor=actor)
        analyze()
        timings["generate_s"] = round(time.perf_counter() - t0, 2)
        timings["schools"] = len(schools)
        t0 = time.perf_counter()
        make_copy()
        timings["copy_s"] = round(time.perf_counter() - t0, 2)
        timings["enrollment_indexes"] = count_indexes(Enrollment._meta.db_table)
        timings["copy_indexes"] = count_indexes("bench_copy")

        checkpoint()
        raw_rows, raw_s = raw_update("bench_copy", province.path)
        timings.update(raw_rows=raw_rows, raw_index_s=round(raw_s, 2))
        if connection.vendor != "postgresql":
            # A fresh copy, then the table-scan form; the faster of the two is the baseline.
            make_copy()
            checkpoint()
            scan_rows, scan_s = raw_update("bench_copy", province.path, scan=True)
            assert scan_rows == raw_rows
            timings["raw_scan_s"] = round(scan_s, 2)
            raw_s = min(raw_s, scan_s)
        timings.update(raw_s=round(raw_s, 2), raw_rows_per_s=round(raw_rows / raw_s))
        checkpoint()
        exc_rows, exc_s = exceptions_update("bench_copy")
        timings.update(exceptions_rows=exc_rows, exceptions_s=round(exc_s, 3))

        started = time.perf_counter()
        preview = promotion_preview(actor=actor, org_unit=province, school_year=SCHOOL_YEAR, today=RUN_DAY)
        timings["preview_s"] = round(time.perf_counter() - started, 2)
        timings["counts"] = preview.counts

        events_before = AuditEvent.objects.count()
        actor = User.objects.get(pk=actor.pk)
        checkpoint()
        statements: list[tuple[float, str]] = []

        def timed(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
            t = time.perf_counter()
            try:
                return execute(sql, params, many, context)
            finally:
                statements.append((time.perf_counter() - t, " ".join(sql.split())[:70]))

        started = time.perf_counter()
        with connection.execute_wrapper(timed):
            report = promotion_run(actor=actor, org_unit=province, school_year=SCHOOL_YEAR, today=RUN_DAY)
        run_s = time.perf_counter() - started
        timings["run_sql_total_s"] = round(sum(sec for sec, _ in statements), 3)
        timings["run_sql_count"] = len(statements)
        timings["run_statements"] = [
            (round(sec, 3), text) for sec, text in sorted(statements, reverse=True)[:5]
        ]
        events = AuditEvent.objects.count() - events_before
        timings.update(
            promoted=report.promoted,
            run_s=round(run_s, 2),
            run_rows_per_s=round((report.promoted or 0) / run_s),
            run_s_per_100k=round(run_s / max(report.promoted or 1, 1) * 100_000, 3),
            audit_events_written=events,
            ratio_run_to_raw=round(run_s / raw_s, 2),
        )
        assert report.promoted == raw_rows - timings["counts"]["in_flight"], "eligible set differs from raw"
        assert events == (report.promoted or 0) + 1, "one audit event per student + one summary"

        started = time.perf_counter()
        again = promotion_run(actor=actor, org_unit=province, school_year=SCHOOL_YEAR, today=RUN_DAY)
        timings.update(rerun_promoted=again.promoted, rerun_s=round(time.perf_counter() - started, 2))
        assert again.promoted == 0
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE bench_copy")
        return timings
    finally:
        cleanup()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("students", type=int, nargs="?", default=100_000)
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--json", action="store_true", help="print one JSON object per engine")
    parser.add_argument(
        "--pg-admin", default=PG_ADMIN, help="PostgreSQL URL used to create/drop the scratch db"
    )
    args = parser.parse_args()
    if args.db == "both":
        code = 0
        for engine in ("sqlite", "postgres"):
            cmd = [sys.executable, __file__, str(args.students), "--db", engine] + (
                ["--json"] if args.json else []
            )
            code |= subprocess.call(cmd)  # noqa: S603 - our own script
        return code
    result = run(args.db, args.students, args.pg_admin)
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
        return 0
    print(f"engine                {result['engine']}")
    print(
        f"students              {result['students']:,} in {result['schools']:,} schools "
        f"(generated in {result['generate_s']} s; {result['open_requests']:,} open requests)"
    )
    print(f"indexes               enrollment {result['enrollment_indexes']}, copy {result['copy_indexes']}")
    variants = f"index {result['raw_index_s']} s" + (
        f", table scan {result['raw_scan_s']} s" if "raw_scan_s" in result else ""
    )
    print(
        f"raw UPDATE grade+1    {result['raw_rows']:,} rows in {result['raw_s']} s = "
        f"{result['raw_rows_per_s']:,} rows/s ({variants})"
    )
    print(f"exceptions-only UPDATE {result['exceptions_rows']:,} rows in {result['exceptions_s']} s")
    print(f"promotion_preview     {result['preview_s']} s  counts {result['counts']}")
    print(
        f"promotion_run         {result['promoted']:,} promoted + {result['audit_events_written']:,} audit events "
        f"in {result['run_s']} s = {result['run_rows_per_s']:,} rows/s, {result['run_s_per_100k']} s per 100 000"
    )
    print(f"ratio run / raw       {result['ratio_run_to_raw']} (target ≤ 2)")
    print(f"    SQL: {result['run_sql_count']} statements, {result['run_sql_total_s']} s; slowest:")
    for sec, text in result["run_statements"]:
        print(f"    {sec:>7.3f} s  {text}")
    print(f"re-run same year      {result['rerun_promoted']} promoted in {result['rerun_s']} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
