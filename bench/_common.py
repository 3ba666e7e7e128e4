"""What the page and search benchmarks share: a scratch database seeded with ``manage.py seed``, timing and
percentiles.

``DATABASE_URL`` names a PostgreSQL database that is CREATED (refused if it exists, unless ``--drop-existing``),
migrated, seeded and DROPPED afterwards (unless ``--keep``); ``--reuse`` measures an existing database seeded
earlier (with ``--keep``) after migrating it. Without ``DATABASE_URL`` a temporary SQLite file is used.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def add_database_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("students", type=int, nargs="?", default=200_000)
    parser.add_argument("--keep", action="store_true", help="keep the PostgreSQL database afterwards")
    parser.add_argument("--drop-existing", action="store_true", help="drop the database first if it exists")
    parser.add_argument("--reuse", action="store_true", help="measure an existing seeded database")


def _pg_admin(url: str, sql: str) -> None:
    import psycopg

    admin = urlunparse(urlparse(url)._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql)


@contextmanager
def seeded_database(args: argparse.Namespace) -> Iterator[None]:
    """Django set up on a database holding ``args.students`` demo students (statistics fresh)."""
    url = os.environ.get("DATABASE_URL")
    name = urlparse(url).path.lstrip("/") if url else ""
    if url and not args.reuse:
        if args.drop_existing:
            _pg_admin(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        _pg_admin(url, f'CREATE DATABASE "{name}"')
    elif not url:
        os.environ["XUEJI_SQLITE_PATH"] = str(Path(tempfile.mkdtemp()) / "bench.sqlite3")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    # The benches sign users in with force_login (no second factor to show): they measure the pages, not the
    # second-factor gate (issue 11 §1), as tests/conftest.py does for tests about other things.
    os.environ.setdefault("XUEJI_MFA_ENFORCED", "0")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    try:
        call_command("migrate", verbosity=0)
        if not args.reuse:
            call_command("load_calendar", verbosity=0)
            started = time.perf_counter()
            call_command("seed", students=args.students, verbosity=0)
            print(
                f"seeded {args.students} students in {time.perf_counter() - started:.0f} s ({connection.vendor})"
            )
        with connection.cursor() as cursor:  # what autovacuum does in production: statistics, visibility map
            cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")
        yield
    finally:
        if url and not args.keep and not args.reuse:
            from django.db import connections

            connections.close_all()
            _pg_admin(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def timed(fn: Callable[[], object], rounds: int) -> list[float]:
    """Milliseconds of ``rounds`` calls of ``fn``."""
    out = []
    for _ in range(rounds):
        started = time.perf_counter()
        fn()
        out.append((time.perf_counter() - started) * 1000)
    return out


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def interleaved(runs: list[tuple[str, Callable[[], object]]], rounds: int) -> dict[str, list[float]]:
    """Each run once to warm caches, then ``rounds`` rounds of all of them in turn (same machine load).

    After the warm-up the heap is collected and frozen, as each production worker does after its first
    requests (config/gunicorn.conf.py ``post_request``)."""
    for _label, fn in runs:
        fn()
    gc.collect()
    gc.freeze()
    timings: dict[str, list[float]] = {label: [] for label, _fn in runs}
    for _ in range(rounds):
        for label, fn in runs:
            timings[label] += timed(fn, 1)
    return timings


def explain(sql: str, params: object) -> str:
    from django.db import connection

    prefix = "EXPLAIN (ANALYZE, BUFFERS) " if connection.vendor == "postgresql" else "EXPLAIN QUERY PLAN "
    with connection.cursor() as cursor:
        cursor.execute(prefix + sql, params)
        return "\n".join(" ".join(map(str, row)) for row in cursor.fetchall())
