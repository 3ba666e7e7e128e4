"""Approval throughput on PostgreSQL: 20 approvers deciding transfer requests concurrently.

    .venv/bin/python bench/bench_approvals.py 4000
    .venv/bin/python bench/bench_approvals.py 4000 --threads 20 --collide 0.1

Creates the scratch database ``xueji_bench_approvals`` (dropped afterwards; through
postgres://postgres@127.0.0.1:5432/postgres, ``--pg-admin`` to change), migrates, generates K students at one
school set-based and K same-county transfer requests to another school, each pending at its last step (the
county bureau: 转入校 and 转出校 have approved). 20 approver accounts of the county decide them in 20 threads
(``--processes``: 20 processes, as under a multi-worker server), each with its own database connection,
through :func:`xueji.changes.services.change_decide` — the final approval applies the transfer (closes the
old enrollment, opens one at the receiving school, archive backup, audit events, notification). A fraction
of the requests (``--collide``) is handed to two approvers at once: exactly one must win, the other gets
``Conflict``.

Prints decisions/s, latency percentiles, and verifies: every request approved exactly once (one decision event
and one applied event per request, the step decided by one approver), each student exactly one active
enrollment, at the receiving school, and two enrollments in all (no double apply).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import threading
import time
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT.parent))

from bench_promotion import PG_ADMIN, generate_students, setup_django  # noqa: E402

DB_NAME = "xueji_bench_approvals"
DAY = date(2026, 10, 20)


def make_requests(k: int, src: Any, dst: Any, initiator: Any, county: Any) -> list[Any]:
    """K pending same-county transfers (src → dst) at their last step, as the engine leaves them after the
    receiving school submitted and the sending school approved."""
    from django.utils import timezone

    from xueji.changes.models import ApprovalStep, ChangeRequest
    from xueji.changes.services import _snapshot
    from xueji.students.models import Enrollment

    now = timezone.now()
    enrollments = list(Enrollment.objects.filter(school=src, is_active=True).order_by("id")[:k])
    requests, steps = [], []
    for e in enrollments:
        req = ChangeRequest(
            kind="transfer",
            state="pending",
            person_id=e.person_id,
            enrollment=e,
            province_code=src.province_code,
            scope="same_county",
            source_path=src.org.path,
            target_path=dst.org.path,
            target_school=dst,
            facts={
                "class_name": "3班",
                "grade": e.grade,
                "from_school": src.name,
                "to_school": dst.name,
                "reason_text": "",
            },
            before=_snapshot(e),
            policy_version="national-2025",
            current_position=2,
            created_by=initiator,
            initiator_org=dst.org,
        )
        requests.append(req)
        for position, (party, org, state) in enumerate(
            (
                ("target_school", dst.org, "approved"),
                ("school", src.org, "approved"),
                ("school_dept", county, "pending"),
            )
        ):
            steps.append(
                ApprovalStep(
                    request=req,
                    position=position,
                    party=party,
                    org_unit=org,
                    mode="approve",
                    state=state,
                    clock_days=10,
                    started_on=DAY,
                    decided_by=initiator if state == "approved" else None,
                    decided_at=now if state == "approved" else None,
                )
            )
    ChangeRequest.objects.bulk_create(requests, batch_size=2000)
    ApprovalStep.objects.bulk_create(steps, batch_size=2000)
    return [r.pk for r in requests]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("requests", type=int, nargs="?", default=4000)
    parser.add_argument("--threads", type=int, default=20)
    parser.add_argument("--collide", type=float, default=0.1, help="share of requests given to two approvers")
    parser.add_argument("--pg-admin", default=PG_ADMIN)
    parser.add_argument(
        "--processes", action="store_true", help="one process per approver instead of threads (no GIL)"
    )
    args = parser.parse_args()
    desc, cleanup = setup_django("postgres", admin_url=args.pg_admin, db_name=DB_NAME)
    try:
        return run(args, desc)
    finally:
        cleanup()


def run(args: Any, desc: str) -> int:
    from django.db import connection, connections

    from xueji.accounts.enums import Role
    from xueji.accounts.models import RegistrarFiling, RoleGrant, User
    from xueji.audit.models import AuditEvent
    from xueji.changes.models import ApprovalStep, ChangeRequest
    from xueji.changes.services import change_decide
    from xueji.core.errors import Conflict
    from xueji.regions.services import load_departments
    from xueji.schools.models import School
    from xueji.schools.services import school_create
    from xueji.students.models import Enrollment
    from xueji.workdays.services import calendar_load_package

    k, n_threads = args.requests, args.threads
    t0 = time.perf_counter()
    calendar_load_package(actor=None)
    load_departments(actor=None, province_codes={"440000"})
    src, dst = (
        school_create(actor=None, name=name, school_code=code, school_type="primary", county_code="440105")
        for name, code in (("转出小学", "2144900001"), ("转入小学", "2144900002"))
    )
    src, dst = (School.objects.select_related("org", "supervising_dept").get(pk=s.pk) for s in (src, dst))
    county = src.supervising_dept
    initiator = User.objects.create_user(username="bench_dst_registrar", password="x")  # noqa: S106
    RoleGrant.objects.create(user=initiator, role=Role.SCHOOL_REGISTRAR, org_unit=dst.org)
    generate_students(k, [src], actor=initiator, request_every=0, status_sql="'01'")
    ids = make_requests(k, src, dst, initiator, county)
    approvers = []
    for i in range(n_threads):
        u = User.objects.create_user(username=f"bench_approver_{i}", password="x")  # noqa: S106
        RoleGrant.objects.create(user=u, role=Role.APPROVER, org_unit=county)
        RegistrarFiling.objects.create(
            user=u,
            filed_with=county.parent or county,
            filed_on=date(2026, 1, 5),
            trained_on=date(2026, 1, 10),
        )
        approvers.append(u.pk)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    setup_s = time.perf_counter() - t0

    # Work lists: request i goes to approver i mod T; a share also to the next approver (a collision).
    rng = random.Random(2026)
    work: list[list[Any]] = [[] for _ in range(n_threads)]
    collisions = 0
    for i, rid in enumerate(ids):
        work[i % n_threads].append(rid)
        if rng.random() < args.collide:
            work[(i + 1) % n_threads].append(rid)
            collisions += 1
    for lst in work:
        rng.shuffle(lst)

    # Queries of one decision (a request decided outside the timed run, then excluded from the checks).
    from django.db import transaction
    from django.test.utils import CaptureQueriesContext

    probe_actor = User.objects.get(pk=approvers[0])
    with CaptureQueriesContext(connection) as captured, transaction.atomic():
        change_decide(
            actor=probe_actor, request=ChangeRequest(pk=ids[0]), action="approve", position=2, today=DAY
        )
        transaction.set_rollback(True)
    queries_per_decision = len(captured.captured_queries)
    if os.environ.get("XUEJI_BENCH_SHOW_SQL"):
        for q in captured.captured_queries:
            print("SQL", q["sql"][:220])

    use_processes = args.processes
    if use_processes:
        import multiprocessing as mp

        ctx = mp.get_context("fork")
        barrier: Any = ctx.Barrier(n_threads + 1)
        queue: Any = ctx.Queue()
        connections.close_all()  # each child opens its own connection
    else:
        barrier = threading.Barrier(n_threads + 1)
    results: list[dict[str, Any]] = [{} for _ in range(n_threads)]

    def worker(idx: int) -> None:
        actor = User.objects.get(pk=approvers[idx])
        won = lost = errors = 0
        latencies: list[float] = []
        first_error = ""
        barrier.wait()
        profiler = None
        if os.environ.get("XUEJI_BENCH_PROFILE") and idx == 0:  # where the time of a decision goes (stderr)
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        for rid in work[idx]:
            t = time.perf_counter()
            try:
                change_decide(
                    actor=actor, request=ChangeRequest(pk=rid), action="approve", position=2, today=DAY
                )
                won += 1
                latencies.append(time.perf_counter() - t)
            except Conflict:
                lost += 1
            except Exception as exc:
                errors += 1
                first_error = first_error or repr(exc)
        if profiler is not None:
            import pstats

            profiler.disable()
            pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(25)
            pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats("xueji", 40)
        out = {"won": won, "lost": lost, "errors": errors, "lat": latencies, "error": first_error}
        connections.close_all()
        if use_processes:
            queue.put((idx, out))
        else:
            results[idx] = out

    runners: list[Any] = [
        (ctx.Process if use_processes else threading.Thread)(target=worker, args=(i,))
        for i in range(n_threads)
    ]
    for runner in runners:
        runner.start()
    barrier.wait()
    started = time.perf_counter()
    if use_processes:
        for _ in range(n_threads):
            idx, out = queue.get()
            results[idx] = out
    for runner in runners:
        runner.join()
    wall = time.perf_counter() - started

    won = sum(r["won"] for r in results)
    lost = sum(r["lost"] for r in results)
    errors = sum(r["errors"] for r in results)
    lat = sorted(x for r in results for x in r["lat"])

    # Verification: exactly one decision and one application per request, no double apply.
    ok = True
    approved = ChangeRequest.objects.filter(pk__in=ids, state="approved").count()
    decided_steps = ApprovalStep.objects.filter(request_id__in=ids, position=2, state="approved").exclude(
        decided_by=None
    )
    decided_events = AuditEvent.objects.filter(event_type="change.decided").count()
    applied_events = AuditEvent.objects.filter(event_type="change.applied").count()
    per_person = Enrollment.objects.filter(school__in=[src, dst]).values("person_id").distinct().count()
    active_at_dst = Enrollment.objects.filter(school=dst, is_active=True).count()
    active_at_src = Enrollment.objects.filter(school=src, is_active=True).count()
    total_enrollments = Enrollment.objects.filter(school__in=[src, dst]).count()
    checks = {
        "every request approved": approved == k,
        "one decision per request": won == k and decided_steps.count() == k and decided_events == k,
        "one application per request": applied_events == k,
        "losers got Conflict": lost == collisions and errors == 0,
        "one active enrollment each, at the receiving school": active_at_dst == k == per_person
        and active_at_src == 0,
        "no double apply (2 enrollments per student)": total_enrollments == 2 * k,
    }
    ok = all(checks.values())
    print(f"engine               {desc}")
    print(f"setup                {setup_s:.1f} s ({k:,} students and pending transfer requests)")
    kind = "processes" if use_processes else "threads"
    print(
        f"approvers            {n_threads} {kind}, one connection each; {collisions:,} requests handed to two"
    )
    print(f"SQL per decision     {queries_per_decision} statements (final approval applying a transfer)")
    print(
        f"decisions            {won:,} in {wall:.2f} s = {won / wall:,.0f} decisions/s "
        f"({lost:,} lost races → Conflict, {errors} errors)"
    )
    if lat:
        p50, p95 = statistics.median(lat), lat[int(len(lat) * 0.95) - 1]
        print(
            f"latency per decision p50 {p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, max {lat[-1] * 1000:.0f} ms"
        )
    for name, passed in checks.items():
        print(f"  {'ok  ' if passed else 'FAIL'} {name}")
    if errors:
        print("first error:", next(r["error"] for r in results if r["error"]))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
