"""Benchmark of the school lists (issue 7: pages whose cost does not grow with the data).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/xueji_bench_schools .venv/bin/python bench/bench_school_list.py 200000

The named PostgreSQL database is CREATED here (refused if it exists, unless ``--drop-existing``), migrated,
seeded with N demo students (``manage.py seed``) and DROPPED afterwards (unless ``--keep``). Without
``DATABASE_URL`` a temporary SQLite file is used (bench/_common.py; ``--reuse`` measures a database kept earlier).

For a county registrar, interleaved over ``--rounds`` rounds, it prints p50/p95 latency of:
- ``before``: the list query as it was — every school of the region annotated with its active-enrollment
  count, ordered, first page of 50 taken (what the student page's school picker and /schools/ paid);
- ``after``: ``school_list`` (no aggregate) first page + ``with_active_counts`` for those rows;
- ``raw``: the same two statements as plain SQL on a cursor (the engine's floor for the ``after`` path);
- ``picker_before`` / ``picker_after``: the student page's school picker (up to 301 schools) with and
  without the aggregate;
and the ratios after/raw and before/after, with the EXPLAIN of the ``after`` count query.
"""

from __future__ import annotations

import argparse
import statistics
from typing import Any

from _common import add_database_arguments, explain, interleaved, pct, seeded_database

PAGE = 50
PICKER = 300  # students/views.py SCHOOL_SELECT_LIMIT


def main() -> None:
    parser = argparse.ArgumentParser()
    add_database_arguments(parser)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--level", choices=["county", "city", "province"], default="county")
    args = parser.parse_args()

    with seeded_database(args):
        _measure(args)


def _measure(args: Any) -> None:
    from django.db import connection
    from django.db.models import Count, Q

    from xueji.accounts.enums import Role
    from xueji.accounts.models import RoleGrant
    from xueji.regions.enums import OrgLevel
    from xueji.schools.models import School
    from xueji.schools.queries import school_list, with_active_counts

    grant = (
        RoleGrant.objects.filter(role=Role.DEPT_REGISTRAR, org_unit__level=OrgLevel(args.level))
        .select_related("user")
        .first()
    )
    assert grant is not None, f"the demo seed has a {args.level} registrar"
    viewer = grant.user
    schools_in_scope = school_list(viewer=viewer).count()

    def before() -> None:
        qs = school_list(viewer=viewer).annotate(
            active_students=Count("enrollments", filter=Q(enrollments__is_active=True))
        )
        list(qs[:PAGE])

    def after() -> None:
        with_active_counts(school_list(viewer=viewer)[:PAGE])

    def picker_before() -> None:  # the student page's school picker (up to 301 schools), as it was
        qs = school_list(viewer=viewer).annotate(
            active_students=Count("enrollments", filter=Q(enrollments__is_active=True))
        )
        list(qs[: PICKER + 1])

    def picker_after() -> None:
        list(school_list(viewer=viewer)[: PICKER + 1])

    page_sql, page_params = school_list(viewer=viewer).values_list("pk")[:PAGE].query.sql_with_params()
    ids = list(school_list(viewer=viewer).values_list("pk", flat=True)[:PAGE])
    count_qs = (
        School.objects.filter(pk__in=ids)
        .annotate(n=Count("enrollments", filter=Q(enrollments__is_active=True)))
        .values_list("pk", "n")
    )
    count_sql, count_params = count_qs.query.sql_with_params()

    def raw() -> None:
        with connection.cursor() as cursor:
            cursor.execute(page_sql, page_params)
            cursor.fetchall()
            cursor.execute(count_sql, count_params)
            cursor.fetchall()

    runs = (
        ("before", before),
        ("after", after),
        ("raw", raw),
        ("picker_before", picker_before),
        ("picker_after", picker_after),
    )
    timings = interleaved(list(runs), args.rounds)

    print(f"{args.level} registrar {viewer.username}: {schools_in_scope} schools in scope, page of {PAGE}")
    for label, values in timings.items():
        print(f"{label:>13}: p50 {statistics.median(values):8.2f} ms   p95 {pct(values, 0.95):8.2f} ms")
    b, a, r = (statistics.median(timings[k]) for k in ("before", "after", "raw"))
    pb, pa = (statistics.median(timings[k]) for k in ("picker_before", "picker_after"))
    print(f"page: after/raw {a / r:.2f}×   before/after {b / a:.1f}×;   picker: before/after {pb / pa:.1f}×")
    print(explain(count_sql, count_params))


if __name__ == "__main__":
    main()
