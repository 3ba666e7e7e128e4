"""Benchmark of ``manage.py seed``: N demo students into a fresh, temporary database.

    .venv/bin/python bench/bench_seed.py 100000
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/xueji_bench_seed .venv/bin/python bench/bench_seed.py 100000

Without ``DATABASE_URL`` the database is a new SQLite file in a temporary directory (deleted afterwards).
With a PostgreSQL ``DATABASE_URL`` the named database is CREATED by this script (it refuses to touch one
that already exists unless ``--drop-existing``) and DROPPED afterwards (unless ``--keep``).

Prints students/s and rows/s of the student phase (each student writes a person, a 学籍号 and an
identity registry row, an enrollment, 1–2 family members and an audit event), the time of the full
national departments load, and the raw-engine baseline of the same run: plain ``executemany`` of the
same person rows (up to 100 000) into an empty copy of the person table (and ``COPY`` on PostgreSQL).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BASELINE_MAX_ROWS = 100_000


def _pg_admin(url: str, sql: str) -> None:
    import psycopg

    parsed = urlparse(url)
    admin = urlunparse(parsed._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql)


def _pg_exists(url: str, name: str) -> bool:
    import psycopg

    admin = urlunparse(urlparse(url)._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is not None


def _raw_baseline() -> dict[str, tuple[int, float]]:
    """The engine's ceiling on the same data: the seeded person rows (up to 100 000) written into an empty
    copy of the person table with plain ``executemany`` and, on PostgreSQL, with ``COPY``."""
    from django.db import connection, transaction

    from xueji.students.models import Person

    table = Person._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {table} LIMIT {BASELINE_MAX_ROWS}")
        rows = cursor.fetchall()
    if not rows:
        return {}
    marks = ", ".join(["%s"] * len(rows[0]))
    out: dict[str, tuple[int, float]] = {}
    methods = ["executemany", "copy"] if connection.vendor == "postgresql" else ["executemany"]
    for method in methods:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS bench_raw_person")
            cursor.execute(f"CREATE TABLE bench_raw_person AS SELECT * FROM {table} WHERE 1 = 0")
        started = time.perf_counter()
        with transaction.atomic(), connection.cursor() as cursor:
            if method == "copy":
                with cursor.cursor.copy("COPY bench_raw_person FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                for start in range(0, len(rows), 5000):
                    cursor.executemany(
                        f"INSERT INTO bench_raw_person VALUES ({marks})", rows[start : start + 5000]
                    )
        out[method] = (len(rows), time.perf_counter() - started)
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE bench_raw_person")
    return out


def _student_rows() -> int:
    from xueji.audit.models import AuditEvent
    from xueji.students.models import (
        Enrollment,
        Guardian,
        IdentityKey,
        JSequence,
        Person,
        ProblemRecord,
        StudentNumber,
    )

    models = (Person, StudentNumber, IdentityKey, JSequence, Enrollment, Guardian, ProblemRecord)
    total = sum(m.objects.count() for m in models)
    return total + AuditEvent.objects.filter(subject_type="student").count()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("students", type=int, nargs="?", default=20_000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument(
        "--drop-existing", action="store_true", help="PostgreSQL: drop the named database first"
    )
    args = parser.parse_args()

    url = os.environ.get("DATABASE_URL", "")
    tmp: str | None = None
    pg_name = ""
    if url:
        pg_name = urlparse(url).path.lstrip("/")
        if not pg_name or pg_name == "postgres":
            print("DATABASE_URL must name a scratch database (it is created and dropped)", file=sys.stderr)
            return 2
        if _pg_exists(url, pg_name):
            if not args.drop_existing:
                print(f"database {pg_name} exists; pass --drop-existing to replace it", file=sys.stderr)
                return 2
            _pg_admin(url, f'DROP DATABASE "{pg_name}"')
        _pg_admin(url, f'CREATE DATABASE "{pg_name}"')
        engine = "PostgreSQL"
    else:
        tmp = tempfile.mkdtemp(prefix="xueji-bench-seed-")
        os.environ["XUEJI_SQLITE_PATH"] = str(Path(tmp) / "bench.sqlite3")
        engine = "SQLite"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("XUEJI_DEBUG", "0")  # no query logging: measure what production would do

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connections

    from xueji.students import demo

    try:
        call_command("migrate", verbosity=0)

        shown = [0]

        def progress(done: int, total: int, seconds: float) -> None:
            if done - shown[0] >= 100_000 or done == total:
                shown[0] = done
                print(f"  {done:>9,} / {total:,}  {done / seconds:,.0f} students/s", file=sys.stderr)

        started, cpu_started = time.perf_counter(), time.process_time()
        report = demo.seed_demo(students=args.students, seed=args.seed, progress=progress)
        total_seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
        rows = _student_rows()
        baseline = _raw_baseline()
        t = report.seconds
        print(f"engine                 {engine}")
        print(f"students               {report.students:,} in {report.schools} schools")
        print(f"departments (national) {report.departments_created:,} in {t['departments']:.2f} s")
        print(f"schools + logins       {t['schools_and_logins']:.2f} s")
        print(
            f"students phase         {t['students']:.1f} s = {report.students_per_second:,.0f} students/s, "
            f"{rows:,} rows = {rows / t['students']:,.0f} rows/s"
        )
        cpu = report.cpu_seconds["students"]
        print(f"  CPU (this process)   {cpu:.1f} s = {report.students / cpu:,.0f} students/s on an idle core")
        print(
            f"whole seed             {total_seconds:.1f} s wall, {cpu_seconds:.1f} s CPU in this process "
            f"(wall ≫ CPU: the database server or other load)"
        )
        for method, (n, seconds) in baseline.items():
            print(f"raw baseline           {method} of {n:,} person rows: {n / seconds:,.0f} rows/s")
    finally:
        connections.close_all()
        if pg_name and not args.keep:
            _pg_admin(url, f'DROP DATABASE "{pg_name}"')
        if tmp is not None and not args.keep:
            shutil.rmtree(tmp)
        elif tmp is not None:
            print(f"kept {os.environ['XUEJI_SQLITE_PATH']}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
