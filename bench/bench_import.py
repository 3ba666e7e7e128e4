"""Benchmark of bulk registration (第6条): N students from CSV through the full import path, beside the raw
engine load of the same rows, measured in the same run.

    .venv/bin/python bench/bench_import.py                       # 100 000 rows, SQLite
    .venv/bin/python bench/bench_import.py --rows 1000000        # the report figure
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/x .venv/bin/python bench/bench_import.py --rows 100000

Database: without ``DATABASE_URL`` a new SQLite file in a temporary directory; with a PostgreSQL
``DATABASE_URL`` a scratch database ``xueji_bench`` on that server, created here (dropped first if it
exists) and dropped afterwards (``--keep`` keeps either). Each one is migrated and gets the Guangdong
departments, one school and one filed registrar.

What is timed (each phase runs in its own child process so that its peak RSS is its own):
- import (CSV): upload + dry run + commit, i.e. ``manage.py import_students``: reading, every field check
  (clean_registration), duplicate refusal (in the file and against the database), 学籍号 assignment,
  persons, identity registry, numbers, enrollments, guardians, one audit event per student + one per file.
- refusal: a file with ~3 % invalid rows, ~2 % duplicates within the file and ~1 % students already
  registered — dry run (every problem must be found, exactly) and the refused commit (nothing written).
- raw file load: the same CSV rows into a scratch table with a primary key and a UNIQUE index on the identity
  number (COPY on PostgreSQL; csv.reader + one-transaction executemany on SQLite).
- raw table load: the rows the import actually wrote (person, identity key, 学籍号, enrollment, guardians,
  audit) copied into empty twins of those tables with the same indexes (COPY / executemany) — the engine's
  ceiling for exactly this data.
- import (.xlsx): the same path from an .xlsx file written with openpyxl (write-only), other students.
Peak RSS (ru_maxrss) is reported per phase; reading never holds the file in memory.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SCRATCH_DB = "xueji_bench"
SCHOOL_CODE = "2144000001"
REGION = "440105"
WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARS = "10X98765432"
TODAY = date(2026, 11, 27)


# ----------------------------------------------------------------------------------------- data
def resident_id(birth: date, seq: int) -> str:
    first17 = f"{REGION}{birth:%Y%m%d}{seq:03d}"
    return first17 + CHECK_CHARS[sum(int(c) * w for c, w in zip(first17, WEIGHTS, strict=True)) % 11]


BIRTH_DAYS = 6 * 365  # births 2014-01-01 … 2019-12-30: primary grades 1–6


def _han(i: int) -> str:
    """``i`` as seven Chinese numerals (0000012 → 〇〇〇〇〇一二): names may not contain digits (issue 8 item 3)."""
    return f"{i:07d}".translate(str.maketrans("0123456789", "〇一二三四五六七八九"))


def student(i: int, headers: list[str]) -> list[str]:
    """The i-th synthetic student: a unique, valid resident ID (region 440105), consistent birth date, sex,
    grade and entry month; one guardian, a second for every other student."""
    birth = date(2014, 1, 1) + timedelta(days=i % BIRTH_DAYS)
    seq = i // BIRTH_DAYS + 1
    gender = "1" if seq % 2 else "2"
    grade = min(max(TODAY.year - birth.year - 6, 1), 6)
    row = {
        "姓名": f"学生{_han(i)}",
        "性别": gender,
        "出生日期": birth.isoformat(),
        "出生地": REGION,
        "籍贯": "广东广州",
        "民族": "01-汉族",
        "国籍/地区": "CHN",
        "身份证件类型": "1-居民身份证",
        "身份证件号": resident_id(birth, seq),
        "港澳台侨外": "00-否",
        "健康状况": "10-健康或良好",
        "户口所在地": REGION,
        "户口性质": "2-非农业户口",
        "现住址": f"广州市海珠区新港中路{i % 500 + 1}号",
        "通信地址": "广州市海珠区新港中路1号",
        "家庭地址": "广州市海珠区新港中路1号",
        "联系电话": f"138{i % 100000000:08d}",
        "邮政编码": "510220",
        "是否独生子女": "是" if i % 3 else "否",
        "是否受过学前教育": "是",
        "是否留守儿童": "0",
        "是否进城务工人员随迁子女": "否",
        "是否孤儿": "否",
        "是否烈士或优抚子女": "否",
        "是否需要申请资助": "否",
        "是否享受一补": "否",
        "年级": str(grade),
        "班级": f"{i % 8 + 1}班",
        "班内学号": str(i % 50 + 1),
        "入学年月": f"{TODAY.year - grade + 1}09",
        "入学方式": "11-就近入学",
        "就读方式": "1-走读",
        "家庭成员1姓名": f"家长{_han(i)}",
        "家庭成员1关系": "1-父亲",
        "家庭成员1是否监护人": "是",
        "家庭成员1现住址": "广州市海珠区新港中路1号",
        "家庭成员1联系电话": f"139{i % 100000000:08d}",
    }
    if i % 2:
        row.update(
            {
                "家庭成员2姓名": f"母亲{_han(i)}",
                "家庭成员2关系": "2-母亲",
                "家庭成员2是否监护人": "是",
                "家庭成员2现住址": "广州市海珠区新港中路1号",
                "家庭成员2联系电话": f"137{i % 100000000:08d}",
            }
        )
    return [row.get(h, "") for h in headers]


def write_csv(path: Path, headers: list[str], rows: Any) -> int:
    n = 0
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(headers)
        for row in rows:
            writer.writerow(row)
            n += 1
    return n


def write_xlsx(path: Path, headers: list[str], rows: Any) -> int:
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("学生信息")
    ws.append(headers)
    n = 0
    for row in rows:
        ws.append([v if v != "" else None for v in row])
        n += 1
    wb.save(path)
    return n


def refusal_rows(
    start: int, n: int, headers: list[str], imported: int
) -> tuple[list[list[str]], dict[str, int]]:
    """n rows of which ~3 % invalid (bad postal code), ~2 % a copy of an earlier valid row of the same file,
    ~1 % a student of the main import (already enrolled). Exactly one problem per such row."""
    idx = {h: i for i, h in enumerate(headers)}
    rows: list[list[str]] = []
    plain: list[int] = []
    expected = {"invalid_field": 0, "duplicate_in_file": 0, "student_already_enrolled": 0}
    enrolled = 0
    for k in range(n):
        row = student(start + k, headers)
        if k % 33 == 5:
            row[idx["邮政编码"]] = "5102"
            expected["invalid_field"] += 1
        elif k % 50 == 20 and plain:
            row = list(rows[plain[-1]])
            row[idx["姓名"]] += "重"
            expected["duplicate_in_file"] += 1
        elif k % 100 == 45 and enrolled < imported:
            row = student(enrolled, headers)
            enrolled += 1
            expected["student_already_enrolled"] += 1
        else:
            plain.append(k)
        rows.append(row)
    return rows, expected


# ----------------------------------------------------------------------------------------- child phases
def _django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()


def _rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def phase_setup(_: argparse.Namespace) -> dict[str, Any]:
    from django.core.management import call_command

    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    from xueji.accounts.enums import Role
    from xueji.accounts.models import RegistrarFiling, RoleGrant, User
    from xueji.regions.services import load_departments
    from xueji.schools.services import school_create

    load_departments(actor=None, province_codes={"440000"})
    school = school_create(
        actor=None, name="基准测试小学", school_code=SCHOOL_CODE, school_type="primary", county_code=REGION
    )
    user = User.objects.create_user(username="bench_registrar", password=None)  # never logs in
    RoleGrant.objects.create(user=user, role=Role.SCHOOL_REGISTRAR, org_unit=school.org)
    RegistrarFiling.objects.create(
        user=user, filed_with=school.org.parent, filed_on=date(2026, 1, 5), trained_on=date(2026, 1, 10)
    )
    return {"seconds": time.perf_counter() - started}


def _actor_school() -> tuple[Any, Any]:
    from xueji.accounts.models import User
    from xueji.schools.models import School

    return User.objects.get(username="bench_registrar"), School.objects.select_related("org").get(
        school_code=SCHOOL_CODE
    )


def phase_import(args: argparse.Namespace) -> dict[str, Any]:
    from xueji.imports import services

    actor, school = _actor_school()
    if args.revalidate:
        services.checked_rows = lambda *a, **k: None  # type: ignore[assignment]  # the commit reads the file again
    profiler = None
    if args.profile:
        import cProfile

        profiler = cProfile.Profile()
    path = Path(args.file)
    c0, t0 = time.process_time(), time.perf_counter()
    batch = services.import_batch_create(
        actor=actor, school=school, uploaded_file_path=path, file_name=path.name
    )
    t1 = time.perf_counter()
    if profiler:
        profiler.enable()
    services.import_batch_check(actor=actor, batch=batch)
    t2 = time.perf_counter()
    if batch.status != "checked":
        raise SystemExit(f"dry run found problems: {batch.error_count} {batch.errors[:3]}")
    services.import_batch_commit(actor=actor, batch=batch)
    t3, c3 = time.perf_counter(), time.process_time()
    if profiler:
        profiler.disable()
        import pstats

        stats = pstats.Stats(profiler, stream=sys.stderr)
        print(f"\n== cProfile of dry run + commit ({path.suffix}), top 30 by own time", file=sys.stderr)
        stats.sort_stats("tottime").print_stats(30)
        stats.sort_stats("cumulative").print_stats(40)
    return {
        "rows": batch.total_rows,
        "created": batch.created_count,
        "upload": t1 - t0,
        "check": t2 - t1,
        "commit": t3 - t2,
        "total": t3 - t0,
        "cpu": c3 - c0,
        "rss_mb": _rss_mb(),
    }


def phase_refusal(args: argparse.Namespace) -> dict[str, Any]:
    from xueji.core.errors import ApplicationError
    from xueji.imports import services
    from xueji.students.models import Person

    actor, school = _actor_school()
    persons = Person.objects.count()
    path = Path(args.file)
    t0 = time.perf_counter()
    batch = services.import_batch_create(
        actor=actor, school=school, uploaded_file_path=path, file_name=path.name
    )
    services.import_batch_check(actor=actor, batch=batch)
    t1 = time.perf_counter()
    found: dict[str, int] = {}
    from xueji.imports.models import ImportBatch

    stored = ImportBatch.objects.get(pk=batch.pk).errors
    for e in stored:
        found[e["code"]] = found.get(e["code"], 0) + 1
    try:
        services.import_batch_commit(actor=actor, batch=batch)
        refused = ""
    except ApplicationError as exc:
        refused = exc.code
    return {
        "rows": batch.total_rows,
        "problems": batch.error_count,
        "bad_rows": batch.total_rows - batch.valid_rows,
        "by_code_stored": found,
        "check": t1 - t0,
        "commit_refused": refused,
        "persons_unchanged": Person.objects.count() == persons,
        "rss_mb": _rss_mb(),
    }


def phase_raw_file(args: argparse.Namespace) -> dict[str, Any]:
    from django.db import connection

    path = Path(args.file)
    with path.open(encoding="utf-8", newline="") as fh:
        headers = next(csv.reader(fh))
    id_col = headers.index("身份证件号")
    cols = ", ".join(f"c{i} text" for i in range(len(headers)))
    names = ", ".join(f"c{i}" for i in range(len(headers)))
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_raw_rows")
        if connection.vendor == "postgresql":
            cursor.execute(
                f"CREATE TABLE bench_raw_rows (row_no bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, "
                f"{cols})"
            )
        else:
            cursor.execute(f"CREATE TABLE bench_raw_rows (row_no integer PRIMARY KEY, {cols})")
        cursor.execute(f"CREATE UNIQUE INDEX bench_raw_rows_id ON bench_raw_rows (c{id_col})")
    started, cpu = time.perf_counter(), time.process_time()
    if connection.vendor == "postgresql":
        connection.ensure_connection()
        raw = connection.connection
        with raw.cursor() as cursor, raw.transaction():
            with (
                cursor.copy(
                    f"COPY bench_raw_rows ({names}) FROM STDIN WITH (FORMAT csv, HEADER true)"
                ) as copy,
                path.open("rb") as fh,
            ):
                while data := fh.read(1 << 20):
                    copy.write(data)
            cursor.execute("SELECT count(*) FROM bench_raw_rows")
            rows = cursor.fetchone()[0]
    else:
        from django.db import transaction

        placeholders = ", ".join(["%s"] * len(headers))
        sql = f"INSERT INTO bench_raw_rows ({names}) VALUES ({placeholders})"
        rows = 0
        with (
            transaction.atomic(),
            connection.cursor() as cursor,
            path.open(encoding="utf-8", newline="") as fh,
        ):
            reader = csv.reader(fh)
            next(reader)
            while True:
                chunk = [r for _, r in zip(range(10_000), reader, strict=False)]
                if not chunk:
                    break
                cursor.executemany(sql, chunk)
                rows += len(chunk)
    seconds = time.perf_counter() - started
    return {"rows": rows, "seconds": seconds, "cpu": time.process_time() - cpu, "rss_mb": _rss_mb()}


RAW_TABLES = (
    "students_person",
    "students_identitykey",
    "students_studentnumber",
    "students_enrollment",
    "students_guardian",
    "audit_auditevent",
)


def phase_raw_tables(_: argparse.Namespace) -> dict[str, Any]:
    """Copy what the import wrote into empty twins of the same tables (same indexes), timing only the load."""
    from django.db import connection

    connection.ensure_connection()
    counts: dict[str, int] = {}
    seconds = 0.0
    if connection.vendor == "postgresql":
        raw = connection.connection
        for table in RAW_TABLES:
            twin = f"bench_{table}"
            with tempfile.TemporaryFile() as spool:
                with raw.cursor() as cursor:
                    cursor.execute(f"DROP TABLE IF EXISTS {twin}")
                    cursor.execute(f"CREATE TABLE {twin} (LIKE {table} INCLUDING ALL)")
                    with cursor.copy(f"COPY {table} TO STDOUT") as copy:
                        for data in copy:
                            spool.write(data)
                raw.commit()
                spool.seek(0)
                started = time.perf_counter()
                with (
                    raw.cursor() as cursor,
                    raw.transaction(),
                    cursor.copy(f"COPY {twin} FROM STDIN") as copy,
                ):
                    while data := spool.read(1 << 20):
                        copy.write(data)
                seconds += time.perf_counter() - started
            with raw.cursor() as cursor:
                cursor.execute(f"SELECT count(*) FROM {twin}")
                counts[table] = cursor.fetchone()[0]
        return {"rows": counts, "seconds": seconds, "cpu": None, "rss_mb": _rss_mb()}

    raw = connection.connection  # sqlite3
    raw.isolation_level = None  # explicit BEGIN/COMMIT below
    cpu = 0.0
    for table in RAW_TABLES:
        twin = f"bench_{table}"
        raw.execute(f"DROP TABLE IF EXISTS {twin}")
        (create,) = raw.execute(
            "SELECT sql FROM sqlite_master WHERE type='table' AND name=?", (table,)
        ).fetchone()
        raw.execute(create.replace(f'"{table}"', f'"{twin}"', 1))
        for (index_sql,) in raw.execute(
            "SELECT sql FROM sqlite_master WHERE type='index' AND tbl_name=? AND sql IS NOT NULL", (table,)
        ).fetchall():
            raw.execute(index_sql.replace(f'"{table}"', f'"{twin}"').replace(' INDEX "', ' INDEX "bench_', 1))
    raw.execute("BEGIN IMMEDIATE")
    for table in RAW_TABLES:
        twin = f"bench_{table}"
        ncols = len(raw.execute(f"SELECT * FROM {table} LIMIT 0").description)
        sql = f"INSERT INTO {twin} VALUES ({', '.join(['?'] * ncols)})"
        reader = connection.connection.cursor()
        reader.execute(f"SELECT * FROM {table}")
        n = 0
        while chunk := reader.fetchmany(10_000):
            started, cpu0 = time.perf_counter(), time.process_time()
            raw.executemany(sql, chunk)
            seconds += time.perf_counter() - started
            cpu += time.process_time() - cpu0
            n += len(chunk)
        counts[table] = n
    started, cpu0 = time.perf_counter(), time.process_time()
    raw.execute("COMMIT")
    seconds += time.perf_counter() - started
    cpu += time.process_time() - cpu0
    return {"rows": counts, "seconds": seconds, "cpu": cpu, "rss_mb": _rss_mb()}


PHASES = {
    "setup": phase_setup,
    "import": phase_import,
    "refusal": phase_refusal,
    "raw_file": phase_raw_file,
    "raw_tables": phase_raw_tables,
}


# ----------------------------------------------------------------------------------------- orchestration
def _pg_admin(url: str, sql: str) -> None:
    import psycopg

    admin = urlunparse(urlparse(url)._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql)


def _child(env: dict[str, str], phase: str, *extra: str) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--phase", phase, *extra]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if proc.stderr.strip():
        sys.stderr.write(proc.stderr)
    if proc.returncode != 0:
        raise SystemExit(f"phase {phase} failed ({proc.returncode}):\n{proc.stdout}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--rows", type=int, default=100_000, help="students in the CSV import (default 100 000)"
    )
    parser.add_argument(
        "--xlsx-rows", type=int, default=None, help="students in the .xlsx import (default: --rows)"
    )
    parser.add_argument(
        "--refusal-rows", type=int, default=None, help="rows of the refusal file (default rows/10)"
    )
    parser.add_argument("--profile", action="store_true", help="cProfile the CSV dry run + commit (stderr)")
    parser.add_argument(
        "--revalidate",
        action="store_true",
        help="commit without reusing the dry run's rows (validate twice, as before issue 7): for comparison",
    )
    parser.add_argument("--keep", action="store_true", help="keep the scratch database and files")
    parser.add_argument("--phase", choices=sorted(PHASES), help=argparse.SUPPRESS)
    parser.add_argument("--file", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.phase:  # child process
        _django()
        result = PHASES[args.phase](args)
        print(json.dumps(result, ensure_ascii=False))
        return

    workdir = Path(tempfile.mkdtemp(prefix="xueji-bench-import-"))
    env = dict(os.environ)
    env["XUEJI_VAR_DIR"] = str(workdir / "var")
    env["XUEJI_LOG_LEVEL"] = "ERROR"
    env["XUEJI_DEBUG"] = "0"  # no query log in the timed processes
    # A 1 000 000-row CSV is ≈ 470 MB, above the default upload limit (IMPORT_MAX_BYTES, 200 MB).
    env.setdefault("XUEJI_IMPORT_MAX_BYTES", str(8 << 30))
    url = os.environ.get("DATABASE_URL")
    if url:
        scratch = urlunparse(urlparse(url)._replace(path=f"/{SCRATCH_DB}"))
        _pg_admin(url, f"DROP DATABASE IF EXISTS {SCRATCH_DB}")
        _pg_admin(url, f"CREATE DATABASE {SCRATCH_DB}")
        env["DATABASE_URL"] = scratch
        engine = f"PostgreSQL ({urlparse(url).hostname}, database {SCRATCH_DB})"
    else:
        env.pop("DATABASE_URL", None)
        env["XUEJI_SQLITE_PATH"] = str(workdir / "bench.sqlite3")
        engine = f"SQLite ({env['XUEJI_SQLITE_PATH']})"
    os.environ.update({k: env[k] for k in ("XUEJI_VAR_DIR",)})
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    try:
        from xueji.imports.template import COLUMNS  # no database access

        headers = [c.header for c in COLUMNS]
        n, nx = args.rows, args.xlsx_rows if args.xlsx_rows is not None else args.rows
        nr = args.refusal_rows if args.refusal_rows is not None else max(1000, n // 10)
        print(
            f"xueji import benchmark — {engine}; {n:,} CSV rows, {nx:,} .xlsx rows, {nr:,} refusal rows",
            flush=True,
        )

        started = time.perf_counter()
        csv_path = workdir / "students.csv"
        write_csv(csv_path, headers, (student(i, headers) for i in range(n)))
        refusal, expected = refusal_rows(n, nr, headers, n)
        refusal_path = workdir / "refusal.csv"
        write_csv(refusal_path, headers, refusal)
        print(
            f"  generated CSV files in {time.perf_counter() - started:.1f} s "
            f"({csv_path.stat().st_size / 1048576:.1f} MB)",
            flush=True,
        )

        setup = _child(env, "setup")
        print(f"  database set up in {setup['seconds']:.1f} s", flush=True)
        flags = [*(["--profile"] if args.profile else []), *(["--revalidate"] if args.revalidate else [])]
        imp = _child(env, "import", "--file", str(csv_path), *flags)
        raw_file = _child(env, "raw_file", "--file", str(csv_path))
        raw_tables = _child(env, "raw_tables")
        ref = _child(env, "refusal", "--file", str(refusal_path))

        xlsx = None
        if nx:
            started = time.perf_counter()
            xlsx_path = workdir / "students.xlsx"
            write_xlsx(xlsx_path, headers, (student(i, headers) for i in range(n + nr, n + nr + nx)))
            print(
                f"  wrote .xlsx with openpyxl in {time.perf_counter() - started:.1f} s "
                f"({xlsx_path.stat().st_size / 1048576:.1f} MB)",
                flush=True,
            )
            xlsx = _child(env, "import", "--file", str(xlsx_path))

        def rate(rows: float, seconds: float) -> str:
            return f"{rows / seconds:>10,.0f} rows/s" if seconds > 0 else "n/a"

        total_raw_rows = sum(raw_tables["rows"].values())
        print()
        print(
            f"{'import (CSV): upload+dry run+commit':<44}{rate(imp['rows'], imp['total'])}  "
            f"({imp['rows']:,} students in {imp['total']:.1f} s; peak RSS {imp['rss_mb']:.0f} MB)"
        )
        print(f"{'   dry run (read+validate+duplicates)':<44}{rate(imp['rows'], imp['check'])}")
        print(f"{'   commit (re-validate+numbers+writes+audit)':<44}{rate(imp['rows'], imp['commit'])}")
        print(
            f"{'raw file load (same rows, PK+UNIQUE id)':<44}{rate(raw_file['rows'], raw_file['seconds'])}  "
            f"({'COPY' if url else 'executemany, one transaction'})"
        )
        print(
            f"{'raw table load (rows the import wrote)':<44}{rate(imp['rows'], raw_tables['seconds'])}  "
            f"(students/s; {total_raw_rows:,} rows in 6 tables, {rate(total_raw_rows, raw_tables['seconds'])})"
        )
        import_rate = imp["rows"] / imp["total"]
        print(
            f"{'ratio import / raw file load':<44}{import_rate / (raw_file['rows'] / raw_file['seconds']):>10.3f}×"
            f"   (target ≥ 0.5×)"
        )
        print(
            f"{'ratio import / raw table load':<44}{import_rate / (imp['rows'] / raw_tables['seconds']):>10.3f}×"
        )
        print(f"{'ratio commit alone / raw table load':<44}{raw_tables['seconds'] / imp['commit']:>10.3f}×")
        if not url:
            print(
                f"{'CPU-time rates (robust to a loaded machine)':<44}import {rate(imp['rows'], imp['cpu'])}, "
                f"raw file {rate(raw_file['rows'], raw_file['cpu'])}, raw tables {rate(imp['rows'], raw_tables['cpu'])}"
                f" → ratios {imp['rows'] / imp['cpu'] / (raw_file['rows'] / raw_file['cpu']):.3f}× / "
                f"{raw_tables['cpu'] / imp['cpu']:.3f}×"
            )
        if xlsx:
            print(
                f"{'import (.xlsx): upload+dry run+commit':<44}{rate(xlsx['rows'], xlsx['total'])}  "
                f"({xlsx['rows']:,} students in {xlsx['total']:.1f} s; peak RSS {xlsx['rss_mb']:.0f} MB; "
                f"CPU {rate(xlsx['rows'], xlsx['cpu']).strip()})"
            )
        ok = (
            ref["problems"] == sum(expected.values())
            and ref["commit_refused"] == "batch_not_checked"
            and ref["persons_unchanged"]
        )
        print(
            f"{'refusal file: dry run':<44}{rate(ref['rows'], ref['check'])}  ({ref['rows']:,} rows, "
            f"{ref['problems']:,} problems found, expected {sum(expected.values()):,} {expected}; commit refused: "
            f"{ref['commit_refused']}; nothing written: {ref['persons_unchanged']}) {'OK' if ok else 'MISMATCH'}"
        )
        print(
            f"{'peak RSS: raw file / raw tables / refusal':<44}{raw_file['rss_mb']:>7.0f} / "
            f"{raw_tables['rss_mb']:.0f} / {ref['rss_mb']:.0f} MB"
        )
        if not ok:
            raise SystemExit(1)
    finally:
        if args.keep:
            print(f"kept {workdir}" + (f" and database {SCRATCH_DB}" if url else ""))
        else:
            shutil.rmtree(workdir, ignore_errors=True)
            if url:
                _pg_admin(url, f"DROP DATABASE IF EXISTS {SCRATCH_DB}")


if __name__ == "__main__":
    main()
