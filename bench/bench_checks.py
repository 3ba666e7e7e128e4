"""Benchmark of the problem-record checks (issue 10 §2: a run over 1 M students ≤ 60 s on PostgreSQL).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/xueji_bench_checks .venv/bin/python bench/bench_checks.py 1000000
    … --keep / --reuse / --drop-existing (bench/_common.py)

Seeds N demo students, damages a known share of them the way legacy data looks (archives overdue, no class,
invalid identity numbers, suspended for years, not promoted, a child in the wrong grade, duplicates without an
identity number), then times ``run_checks`` over every province — first run (opens the records), second run
(idempotent: opens nothing) — and prints each rule's count and time beside the number damaged.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

from _common import add_database_arguments, seeded_database

SHARE = 200  # one student in SHARE per damage kind


def _damage(n: int) -> dict[str, int]:
    """Legacy-looking data, set-based (SQL), on every SHARE-th active enrollment per kind."""
    from django.db import connection

    from xueji.students.models import Enrollment, Person

    e, p = Enrollment._meta.db_table, Person._meta.db_table
    statements = {
        "archive_overdue": f"UPDATE {e} SET archive_due = DATE '2026-01-01', archive_completed_at = NULL "
        f"WHERE id IN (SELECT id FROM {e} WHERE is_active ORDER BY id OFFSET 0 LIMIT %(k)s)",
        "no_class": f"UPDATE {e} SET class_name = '', registered_at = now() - interval '90 days' "
        f"WHERE id IN (SELECT id FROM {e} WHERE is_active ORDER BY id OFFSET %(k)s LIMIT %(k)s)",
        # The numbers are encrypted (issue 11 §3): a legacy number that fails today's check is what the flag
        # written beside it says, so the damage sets the flag (the rule reads nothing else).
        "id_invalid": f"UPDATE {p} SET id_check_failed = TRUE "
        f"WHERE id IN (SELECT person_id FROM {e} JOIN {p} q ON q.id = person_id WHERE is_active AND q.id_type = '1' "
        f"ORDER BY {e}.id OFFSET 2 * %(k)s LIMIT %(k)s)",
        "suspension_overdue": f"UPDATE {e} SET status = '02' "
        f"WHERE id IN (SELECT id FROM {e} WHERE is_active ORDER BY id OFFSET 3 * %(k)s LIMIT %(k)s)",
        "age_grade": f"UPDATE {p} SET birth_date = DATE '2024-01-01' "
        f"WHERE id IN (SELECT person_id FROM {e} WHERE is_active AND grade >= 3 ORDER BY id OFFSET 4 * %(k)s LIMIT %(k)s)",
        "not_promoted": f"UPDATE {e} SET entry_ym = to_char(to_date(entry_ym, 'YYYYMM') - interval '1 year', 'YYYYMM'), "
        f"promoted_year = NULL WHERE id IN (SELECT id FROM {e} WHERE is_active AND grade NOT IN (6, 9, 12) "
        f"AND status = '01' ORDER BY id OFFSET 5 * %(k)s LIMIT %(k)s)",
    }
    done = {}
    with connection.cursor() as cursor:
        for rule, sql in statements.items():
            cursor.execute(sql, {"k": n // SHARE})
            done[rule] = cursor.rowcount
        cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")
    return done


@contextmanager
def _database(args: argparse.Namespace) -> Iterator[None]:
    """``seeded_database``, except that ``--reuse --no-migrate`` measures the database exactly as seeded (other
    apps' migrations written since must not stop a measurement of this one)."""
    if not (args.reuse and args.no_migrate):
        with seeded_database(args):
            yield
        return
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    yield


def main() -> None:
    parser = argparse.ArgumentParser()
    add_database_arguments(parser)
    parser.add_argument("--no-damage", action="store_true", help="measure the seed as it is")
    parser.add_argument("--no-migrate", action="store_true", help="with --reuse: do not migrate first")
    args = parser.parse_args()
    with _database(args):
        from django.db import connection

        from xueji.checks.services import run_checks
        from xueji.students.models import Enrollment, ProblemRecord

        active = Enrollment.objects.filter(is_active=True).count()
        damaged = (
            {}
            if args.no_damage or (args.reuse and ProblemRecord.objects.filter(source="check").exists())
            else _damage(active)
        )
        print(f"{active} active enrollments ({connection.vendor}); damaged: {damaged}")
        for label in ("first run", "second run (idempotent)"):
            started = time.perf_counter()
            report = run_checks(actor=None)
            took = time.perf_counter() - started
            print(f"{label}: {took:.1f} s, opened {report.total}: {report.opened}")
            print(
                "  seconds per rule: " + ", ".join(f"{k} {v:.1f}" for k, v in report.seconds_by_rule.items())
            )
        print(f"open problem records: {ProblemRecord.objects.filter(state='open').count()}")


if __name__ == "__main__":
    main()
