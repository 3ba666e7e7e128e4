"""Benchmark of student search, the student list page and the record page (issue 7).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/xueji_bench_search .venv/bin/python bench/bench_search.py 200000
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/xueji_bench_search .venv/bin/python bench/bench_search.py 1000000

The database is created, migrated, seeded with N demo students and dropped afterwards (bench/_common.py:
``--keep``, ``--reuse``, ``--drop-existing``; without ``DATABASE_URL`` a temporary SQLite file).

Interleaved over ``--rounds`` rounds (each figure beside the engine's own in the same run):

1. API search ``GET /api/v1/students/?q=…`` with a Bearer token, through Django's full request path in this
   process (authentication, rate counter, audit-free list, serialisation; no socket), for a school registrar and
   a county registrar of the seed, with terms taken from their own students: a two-character name prefix, the
   last two characters of a three-character name (infix), a one-character surname, an identity number and a
   学籍号 — each beside ``raw``: the same page and capped-count SQL run on a cursor;
2. ``/students/`` full page (session login, unfiltered) for both, beside the same SQL;
3. the web record page of a student with no history and of one with 200 change requests and 10 000 audit
   events (created here through the services), and their ratio;
4. the dashboard's 在读 count of a city: counting the region's enrollments (as it was) vs the maintained
   per-school counts (xueji/students/counters.py), after checking that both give the same number.

Then the EXPLAIN ANALYZE of the county's page query for each kind of term. Rate limits are lifted for the run
(``XUEJI_RATE_LIMITS``): they would refuse a benchmark's request rate, as they should a person's.
"""

from __future__ import annotations

import argparse
import os
import statistics
from datetime import timedelta
from typing import Any

from _common import add_database_arguments, explain, interleaved, pct, seeded_database

HISTORY_REQUESTS = 200
HISTORY_EVENTS = 10_000


def _terms(viewer: Any) -> dict[str, str]:
    """Search terms taken from the viewer's own students (deterministic: the first rows of their list)."""
    from xueji.students.queries import StudentFilters, enrollment_list

    rows = list(enrollment_list(viewer=viewer, filters=StudentFilters())[:500])
    three = next(e.person for e in rows if len(e.person.name) == 3)
    with_id = next(e.person for e in rows if e.person.id_type == "1")
    return {
        "prefix": three.name[:2],
        "infix": three.name[1:],
        "surname": three.name[:1],
        "id_number": with_id.id_number,
        "student_number": with_id.student_number,
    }


def _raw(qs: Any) -> Any:
    """The page and the capped count of ``qs`` as plain SQL on a cursor."""
    from django.db import connection

    from xueji.core.pagination import COUNT_CAP

    page_sql, page_params = qs[:50].query.sql_with_params()
    count_sql, count_params = qs.order_by().values("pk")[: COUNT_CAP + 1].query.sql_with_params()
    count_sql = f"SELECT COUNT(*) FROM ({count_sql}) AS c"

    def run() -> None:
        with connection.cursor() as cursor:
            cursor.execute(page_sql, page_params)
            cursor.fetchall()
            cursor.execute(count_sql, count_params)
            cursor.fetchall()

    return run


def _history_student(registrar: Any) -> Any:
    """A student of the registrar's school with 200 change requests (submitted and withdrawn through the
    services) and 10 000 audit events about them."""
    from django.utils import timezone

    from xueji.audit.services import record
    from xueji.changes.models import ChangeRequest
    from xueji.changes.services import change_cancel, change_submit
    from xueji.students.queries import StudentFilters, enrollment_list

    enrollment = enrollment_list(viewer=registrar, filters=StudentFilters(grade=4))[10]
    if ChangeRequest.objects.filter(person_id=enrollment.person_id).count() >= HISTORY_REQUESTS:
        return enrollment  # --reuse of a database measured before
    today = timezone.localdate()
    facts = {
        "start_date": (today + timedelta(days=14)).isoformat(),
        "end_date": (today + timedelta(days=200)).isoformat(),
        "reason": "illness",
        "applicant_name": "张大明",
    }
    for _ in range(HISTORY_REQUESTS):
        req = change_submit(
            actor=registrar, kind="suspension", enrollment=enrollment, facts=dict(facts), today=today
        )
        change_cancel(actor=registrar, request=req, reason="家长撤回")
    for i in range(HISTORY_EVENTS - 2 * HISTORY_REQUESTS):
        record(
            event_type="student.viewed",
            actor=registrar,
            subject_type="student",
            subject_id=enrollment.person_id,
            summary=f"查看学籍 {i}",
        )
    return enrollment


def main() -> None:
    parser = argparse.ArgumentParser()
    add_database_arguments(parser)
    parser.add_argument("--rounds", type=int, default=40)
    args = parser.parse_args()
    os.environ["XUEJI_RATE_LIMITS"] = "list=100000000/3600,lookup=100000000/86400,reveal=100000000/3600"

    with seeded_database(args):
        from django.core.management import call_command
        from django.db import connection
        from django.test import Client

        from xueji.accounts.auth import issue_token
        from xueji.accounts.enums import Role
        from xueji.accounts.models import RoleGrant
        from xueji.regions.enums import OrgLevel
        from xueji.students.queries import StudentFilters, enrollment_list

        def registrar(role: str, level: str) -> Any:
            grant = RoleGrant.objects.filter(role=role, org_unit__level=OrgLevel(level)).select_related(
                "user"
            )
            found = grant.order_by("pk").first()
            assert found is not None, f"the demo seed has a {level} {role}"
            return found.user

        call_command("collectstatic", interactive=False, verbosity=0)  # the pages link hashed static files
        viewers = {
            "school": registrar(Role.SCHOOL_REGISTRAR, "school"),
            "county": registrar(Role.DEPT_REGISTRAR, "county"),
        }
        runs: list[tuple[str, Any]] = []
        plans: list[tuple[str, str]] = []
        for who, viewer in viewers.items():
            token, _row = issue_token(viewer)
            api = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
            web = Client()
            web.force_login(viewer)
            for kind, term in _terms(viewer).items():

                def call(api: Any = api, term: str = term) -> None:
                    response = api.get("/api/v1/students/", {"q": term})
                    assert response.status_code == 200, response.content

                qs = enrollment_list(viewer=viewer, filters=StudentFilters(q=term))
                runs += [(f"{who} api {kind}", call), (f"{who} raw {kind}", _raw(qs))]
                if who == "county":
                    sql, params = qs[:50].query.sql_with_params()
                    plans.append((kind, explain(sql, params)))

            def page(web: Any = web) -> None:
                response = web.get("/students/")
                assert response.status_code == 200

            qs = enrollment_list(viewer=viewer, filters=StudentFilters())
            runs += [(f"{who} /students/", page), (f"{who} raw /students/", _raw(qs))]

        # The dashboard's 在读 count for a city: counting the region's rows vs the maintained per-school counts.
        from xueji.students.counters import active_count, counts_compact

        counts_compact()
        city = registrar(Role.DEPT_REGISTRAR, "city")
        assert active_count(viewer=city) == enrollment_list(viewer=city, filters=StudentFilters()).count()
        runs += [
            ("city count rows", lambda: enrollment_list(viewer=city, filters=StudentFilters()).count()),
            ("city count maintained", lambda: active_count(viewer=city)),
        ]

        school_registrar = viewers["school"]
        empty = enrollment_list(viewer=school_registrar, filters=StudentFilters(grade=4))[0]
        full = _history_student(school_registrar)
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")
        record_web = Client()
        record_web.force_login(school_registrar)
        for label, enrollment in (("record empty", empty), ("record history", full)):

            def record_page(enrollment: Any = enrollment) -> None:
                response = record_web.get(f"/students/{enrollment.person_id}/")
                assert response.status_code == 200

            runs.append((label, record_page))

        timings = interleaved(runs, args.rounds)
        print(f"{connection.vendor}, {args.students} students, {args.rounds} rounds (ms)")
        for label, values in timings.items():
            print(f"{label:>28}: p50 {statistics.median(values):8.2f}   p95 {pct(values, 0.95):8.2f}")
        print("ratios (p50): product / raw")
        for label in timings:
            if " raw " in label:
                continue
            raw_label = label.replace(" api ", " raw ").replace(" /students/", " raw /students/")
            if raw_label in timings and raw_label != label:
                ratio = statistics.median(timings[label]) / statistics.median(timings[raw_label])
                print(f"{label:>28}: {ratio:5.2f}×")
        ratio = statistics.median(timings["record history"]) / statistics.median(timings["record empty"])
        print(f"record page history / empty: {ratio:.2f}×")
        for kind, plan in plans:
            print(f"--- EXPLAIN county {kind}\n{plan}")


if __name__ == "__main__":
    main()
