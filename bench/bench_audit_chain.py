"""Benchmark of the tamper-evident audit chain (issue 11 §2): what chaining costs per event, beside the raw insert.

    .venv/bin/python bench/bench_audit_chain.py 100000                  # SQLite and PostgreSQL
    .venv/bin/python bench/bench_audit_chain.py 200000 --db postgres
    .venv/bin/python bench/bench_audit_chain.py --with promotion 100000  # bench_promotion, sequencer alongside
    .venv/bin/python bench/bench_audit_chain.py --with approvals 4000    # bench_approvals, sequencer alongside

Own phases, on a fresh database (SQLite temp file; PostgreSQL scratch database ``xueji_bench_chain``), same run:

1. raw insert: N events through the set-based path (``record_many``: COPY on PostgreSQL) and 2 000 single
   ``record()`` calls, each in its own transaction;
2. sequencer: ``chain_pending`` over the N events — events/s and µs per event;
3. verifier: ``verify_chain`` over the whole chain — events/s;
4. concurrency (PostgreSQL): 8 writer threads doing one ``record()`` per transaction for a fixed time, with no
   sequencer and then with the sequencer looping in another thread: inserts/s in both (chaining must not
   serialise writers).

``--with promotion|approvals [--chain on|off]`` runs that benchmark unchanged, in this process
(``bench_promotion.run("postgres", N)`` or ``bench_approvals.main()``). With ``--chain on`` (default) a sidecar
process runs the sequencer every ``--interval`` seconds (default 1; production: every 60 s from
``XUEJI_SCHEDULE``) on the benchmark's database from the moment it is migrated; before the benchmark drops its
database the rest is chained here (catch-up, timed) and the whole chain verified. Compare the benchmark's own
figures (promotion: run/raw ratio; approvals: decisions/s) between ``--chain off`` and ``--chain on``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT.parent))

PG_ADMIN = "postgres://postgres@127.0.0.1:5432/postgres"
DB_NAME = "xueji_bench_chain"


def _rows(n: int) -> list[dict[str, Any]]:
    return [
        {
            "subject_type": "student",
            "subject_id": f"7d1c0000-0000-4000-8000-{i:012d}",
            "org_unit_id": 4401050000 + i % 300,
            "province_code": "440000",
            "summary": "年度升级：3年级 → 4年级",
            "after": {"grade": 4, "school_year": 2026, "school_id": 1000 + i % 300},
        }
        for i in range(n)
    ]


def own_phases(engine: str, n: int, threads: int, seconds: float) -> dict[str, Any]:
    from bench_promotion import setup_django

    desc, cleanup = setup_django(engine, db_name=DB_NAME)
    try:
        from django.db import close_old_connections, connection, transaction

        from xueji.audit.chain import chain_pending, verify_chain
        from xueji.audit.enums import EventType
        from xueji.audit.models import AuditEvent
        from xueji.audit.services import record, record_many

        out: dict[str, Any] = {"engine": desc, "events": n}
        chain_pending(checkpoints=False)  # the migration's own events
        rows = _rows(n)
        t = time.perf_counter()
        with transaction.atomic():
            record_many(rows, event_type=EventType.BULK_CHANGE, actor=None)
        out["insert_set_based_us"] = (time.perf_counter() - t) / n * 1e6
        singles = 2000
        t = time.perf_counter()
        for i in range(singles):
            with transaction.atomic():
                record(event_type=EventType.SCHOOL_UPDATED, actor=None, subject_type="school", subject_id=i,
                       after={"name": f"学校{i}"})  # fmt: skip
        out["insert_single_us"] = (time.perf_counter() - t) / singles * 1e6
        total = AuditEvent.objects.count()

        t = time.perf_counter()
        run = chain_pending(checkpoints=False)
        elapsed = time.perf_counter() - t
        out["chained"] = run.chained
        out["sequencer_events_per_s"] = run.chained / elapsed
        out["sequencer_us"] = elapsed / run.chained * 1e6
        assert run.head.seq == total, (run.head, total)

        t = time.perf_counter()
        result = verify_chain()
        elapsed = time.perf_counter() - t
        assert result.ok, result.problems
        out["verify_events_per_s"] = result.checked / elapsed

        if connection.vendor == "postgresql":
            out["concurrency"] = {
                "off": _writers(
                    threads, seconds, sequencer=False, record=record, close=close_old_connections
                ),
                "on": _writers(threads, seconds, sequencer=True, record=record, close=close_old_connections),
            }
            out["concurrency"]["ratio_on_off"] = out["concurrency"]["on"]["inserts_per_s"] / max(
                1e-9, out["concurrency"]["off"]["inserts_per_s"]
            )
            final = chain_pending(checkpoints=False)
            assert verify_chain().ok and final.head.seq == AuditEvent.objects.count()
        return out
    finally:
        cleanup()


def _writers(threads: int, seconds: float, *, sequencer: bool, record: Any, close: Any) -> dict[str, Any]:
    """``threads`` writers, one event per transaction, for ``seconds``; optionally the sequencer looping in
    another process (as in production, where it runs in ``db_worker``; a thread here would compete for the GIL
    with the writers and measure Python, not the database)."""
    from django.db import connection, transaction

    from xueji.audit.enums import EventType

    side = None
    if sequencer:
        side = subprocess.Popen(  # noqa: S603 - our own scripts
            [sys.executable, __file__, "--sidecar", connection.settings_dict["NAME"], "--interval", "0.05"],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert side.stdout is not None
        assert side.stdout.readline().startswith("SIDECAR ready")
    stop = time.perf_counter() + seconds
    counts = [0] * threads

    def write(k: int) -> None:
        try:
            while time.perf_counter() < stop:
                with transaction.atomic():
                    record(event_type=EventType.LOGIN, actor=None, subject_type="user", subject_id=k)
                counts[k] += 1
        finally:
            connection.close()

    pool = [threading.Thread(target=write, args=(k,)) for k in range(threads)]
    for th in pool:
        th.start()
    for th in pool:
        th.join()
    close()
    result: dict[str, Any] = {"inserts_per_s": sum(counts) / seconds}
    if side is not None:
        side.terminate()
        out, _ = side.communicate(timeout=60)
        result["sidecar"] = out.strip().splitlines()[-1] if out.strip() else ""
    return result


# ------------------------------------------------------------------------------------------ sidecar mode


def sidecar(db_name: str, interval: float, admin_url: str) -> None:
    """Run the sequencer every ``interval`` seconds on ``db_name`` once it is migrated, until killed; print what
    it did at the end (SIGTERM)."""
    import signal

    import psycopg
    from bench_promotion import pg_url

    url = pg_url(admin_url, db_name)
    while True:  # wait for the benchmark to create and migrate its database
        try:
            with psycopg.connect(url, connect_timeout=2) as conn:
                if conn.execute("SELECT to_regclass('audit_auditchainlink')").fetchone()[0]:
                    break
        except psycopg.OperationalError:
            pass
        time.sleep(0.5)
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.db import connection

    from xueji.audit.chain import chain_pending

    stats = {"chained": 0, "runs": 0, "busiest_run_s": 0.0, "busiest_run_events": 0}

    def report(*_: Any) -> None:
        print(f"SIDECAR {stats}", flush=True)
        sys.exit(0)

    signal.signal(signal.SIGTERM, report)
    print("SIDECAR ready", flush=True)
    while True:
        t = time.perf_counter()
        try:
            run = chain_pending(
                checkpoints=False, limit=5000
            )  # short runs, so SIGTERM finds the stats current
        except Exception as exc:  # the benchmark dropped its database at the end
            print(f"SIDECAR stopped: {type(exc).__name__}", flush=True)
            connection.close()
            report()
        took = time.perf_counter() - t
        stats["chained"] += run.chained
        stats["runs"] += 1
        if run.chained and took > stats["busiest_run_s"]:
            stats["busiest_run_s"], stats["busiest_run_events"] = round(took, 3), run.chained
        time.sleep(interval)


def with_benchmark(which: str, size: int, admin_url: str, interval: float, chain_on: bool) -> int:
    """Run ``bench_promotion`` (PostgreSQL) or ``bench_approvals`` unchanged, in this process; with the chain on,
    a sidecar process runs the sequencer every ``interval`` s on its database from the moment it is migrated,
    and before the benchmark drops its database the rest is chained here (catch-up) and verified."""
    import bench_approvals
    import bench_promotion

    original = bench_promotion.setup_django
    chain_stats: dict[str, Any] = {}

    def setup_with_chain(engine: str, **kwargs: Any) -> tuple[str, Any]:
        desc, cleanup = original(engine, **kwargs)
        if not chain_on:
            return desc, cleanup
        from django.db import connection

        side = subprocess.Popen(  # noqa: S603 - our own script
            [sys.executable, __file__, "--sidecar", connection.settings_dict["NAME"], "--interval", str(interval),
             "--pg-admin", admin_url],
            stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert side.stdout is not None
        assert side.stdout.readline().startswith("SIDECAR ready")

        def cleanup_with_chain() -> None:
            from xueji.audit.chain import chain_pending, verify_chain

            side.terminate()
            out, _ = side.communicate(timeout=120)
            chain_stats["sidecar"] = out.strip().splitlines()[-1] if out.strip() else ""
            t = time.perf_counter()
            run = chain_pending(checkpoints=False)
            chain_stats["catch_up"] = {"events": run.chained, "s": round(time.perf_counter() - t, 2)}
            t = time.perf_counter()
            result = verify_chain()
            chain_stats["verify"] = {
                "ok": result.ok,
                "links": result.checked,
                "s": round(time.perf_counter() - t, 2),
            }
            cleanup()

        return desc, cleanup_with_chain

    bench_promotion.setup_django = setup_with_chain  # type: ignore[assignment]
    bench_approvals.setup_django = setup_with_chain  # type: ignore[attr-defined]
    label = "chain on" if chain_on else "chain off"
    if which == "promotion":
        timings = bench_promotion.run("postgres", size, admin_url)
        keep = (
            "engine",
            "students",
            "raw_rows",
            "raw_s",
            "promoted",
            "run_s",
            "audit_events_written",
            "ratio_run_to_raw",
        )
        print(f"===== promotion {size} — {label}: " + ", ".join(f"{k}={timings[k]}" for k in keep))
        code = 0
    else:
        sys.argv = ["bench_approvals.py", str(size)]
        print(f"===== approvals {size} — {label}", flush=True)
        code = bench_approvals.main()
    if chain_on:
        print(f"chain: {chain_stats}")
    return code


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("size", type=int, nargs="?", default=100_000)
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--with", dest="with_", choices=["promotion", "approvals"])
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument(
        "--chain", choices=["on", "off"], default="on", help="with --with: sequencer alongside or not"
    )
    parser.add_argument("--pg-admin", default=PG_ADMIN)
    parser.add_argument("--sidecar", help=argparse.SUPPRESS)
    parser.add_argument("--engine", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.sidecar:
        sidecar(args.sidecar, args.interval, args.pg_admin)
        return 0
    if args.with_:
        return with_benchmark(args.with_, args.size, args.pg_admin, args.interval, args.chain == "on")
    if args.engine:
        import json

        print("RESULT " + json.dumps(own_phases(args.engine, args.size, args.threads, args.seconds)))
        return 0
    engines = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    for engine in engines:
        done = subprocess.run(  # noqa: S603 - our own scripts
            [sys.executable, __file__, str(args.size), "--engine", engine, "--threads", str(args.threads),
             "--seconds", str(args.seconds), "--pg-admin", args.pg_admin],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if done.returncode:
            print(done.stdout, done.stderr[-3000:])
            return done.returncode
        import json

        line = next(line for line in done.stdout.splitlines() if line.startswith("RESULT "))
        r = json.loads(line[7:])
        print(f"--- {r['engine']}: {r['events']} events")
        print(f"  raw insert, set-based (record_many/COPY): {r['insert_set_based_us']:8.1f} µs/event")
        print(f"  raw insert, one record() per transaction: {r['insert_single_us']:8.1f} µs/event")
        print(
            f"  sequencer: {r['sequencer_events_per_s']:10.0f} events/s = {r['sequencer_us']:6.1f} µs/event "
            f"({r['sequencer_us'] / r['insert_set_based_us']:.2f}× the set-based insert)"
        )
        print(f"  verifier:  {r['verify_events_per_s']:10.0f} events/s")
        if "concurrency" in r:
            c = r["concurrency"]
            print(
                f"  {args.threads} writers, {args.seconds:.0f} s: {c['off']['inserts_per_s']:.0f} inserts/s without the "
                f"sequencer, {c['on']['inserts_per_s']:.0f} with it in another process ({c['ratio_on_off']:.2f}×; "
                f"{c['on'].get('sidecar', '')})"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
