"""Benchmark of the statistics snapshot (issue 10): drill-down at every level and the nightly rebuild.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/xueji_bench_stats .venv/bin/python bench/bench_statistics.py 100000
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/xueji_bench_stats .venv/bin/python bench/bench_statistics.py 1000000 --keep
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/xueji_bench_stats .venv/bin/python bench/bench_statistics.py 1000000 --reuse

The database is created, migrated, seeded with N demo students and dropped afterwards (bench/_common.py:
``--keep``, ``--reuse``, ``--drop-existing``; without ``DATABASE_URL`` a temporary SQLite file). The snapshot is
rebuilt once (``snapshot_rebuild``), an empty monthly flows table (the demo seed applies no change requests)
is filled to its upper bound — a row per school, month of the last two years and kind — and the database is
analysed before anything is timed.

Everything is found through the public functions and URLs, so new dimensions and endpoints are measured as they
appear: the statistics GET operations and their parameters are read from the API's OpenAPI schema.

1. Drill-down, interleaved over ``--rounds`` rounds. For each level — the demo registrar of the national, province,
   city and county department and of a school, each looking at the top of their own jurisdiction — every
   ``GET /api/v1/statistics/counts?unit=&by=`` the schema offers (Bearer token, Django's full request path in this
   process: authentication, scope check, query, serialisation; no socket), ``by=grade`` with each value of every
   other enumerated parameter (``split=gender``: the stacked charts), the school's grade → class breakdown when
   the operation takes a ``grade``, every other statistics GET operation (e.g. ``flows``) with ``unit=``, and
   the page ``/statistics/?unit=`` (session login; a school's also with ``&grade=``) — each beside ``raw``: the
   statements on the snapshot tables the same call ran (captured once), replayed on a bare cursor. Target: p95
   ≤ 100 ms at 1 M.
2. ``live``: the national figure by grade counted from the enrollments themselves (what the snapshot saves).
3. Rebuild, interleaved over ``--rebuild-rounds`` rounds: ``snapshot_rebuild()`` beside ``raw``: the plain
   ``SELECT … GROUP BY`` of each snapshot grain (StatCell, ClassCell) and every other ``INSERT … SELECT … GROUP
   BY`` the rebuild ran (captured: the rollup, the flows), each SELECT inserted into an unindexed temporary table
   emptied first, in one transaction; and beside the finest grain's (StatCell) GROUP BY alone, the stricter
   reading. Target: rebuild ≤ 1.5× raw.

Then the EXPLAIN ANALYZE of the slowest snapshot statement of the slowest drill-down call, of the rebuild's
SELECT, and of the rebuild's own DELETE and INSERT (in a transaction rolled back). Rate limits are lifted for the
run (``XUEJI_RATE_LIMITS``): they would refuse a benchmark's request rate, as they should a person's; and the second
factor is off (``XUEJI_MFA_ENFORCED=0``): a forced session login has none to show.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from _common import add_database_arguments, explain, interleaved, pct, seeded_database

TARGET_MS = 100.0
TARGET_REBUILD = 1.5
FLOW_MONTHS = 24  # the flows table filled for the last two years (the default period reads the last 12)
SNAPSHOT_TABLES = '"statistics_'  # every table of the statistics app (quoted in Django's SQL)
# Index (among the rebuild's SELECTs) of the one filling StatCell: the finest grain, set by _rebuild_raw.
FINEST: list[int] = []
INSERT_SELECT = re.compile(r"^\s*INSERT\s+INTO\s+(\S+)\s*\(([^)]*)\)\s*(.*)$", re.IGNORECASE | re.DOTALL)


def _captured(fn: Callable[[], object]) -> list[str]:
    """The SQL of every statement ``fn`` ran, parameters inlined as the driver sent them."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        fn()
    return [q["sql"] for q in ctx.captured_queries]


def _snapshot_statements(fn: Callable[[], object]) -> list[str]:
    return [sql for sql in _captured(fn) if SNAPSHOT_TABLES in sql]


def _replay(statements: list[str]) -> Callable[[], None]:
    """The same statements on a bare cursor (no ORM compilation, no request path)."""
    from django.db import connection

    def run() -> None:
        with connection.cursor() as cursor:
            for sql in statements:
                cursor.execute(sql)
                if cursor.description:
                    cursor.fetchall()

    return run


def _operations() -> dict[str, dict[str, list[str] | None]]:
    """The statistics GET operations of the API: path → {parameter: its enum values (None: free value)}."""
    from config.api import api

    schema = api.get_openapi_schema()
    found: dict[str, dict[str, list[str] | None]] = {}
    for path, operations in schema["paths"].items():
        if "/statistics/" not in path or "{" in path or "get" not in operations:
            continue
        params: dict[str, list[str] | None] = {}
        for p in operations["get"].get("parameters", []):
            spec = p.get("schema", {})
            enum = spec.get("enum") or next((a["enum"] for a in spec.get("anyOf", []) if "enum" in a), None)
            params[p["name"]] = [str(v) for v in enum] if enum else None
        found[path] = params
    return found


def _viewers() -> list[tuple[str, Any, Any]]:
    """(level, registrar, the top unit of their jurisdiction) for each demo registrar, national first."""
    from xueji.accounts.models import User
    from xueji.statistics.queries import stat_roots
    from xueji.students.demo import LOGINS, REGISTRAR_ROLES

    found = []
    for login in LOGINS:
        if login.role not in REGISTRAR_ROLES:
            continue
        user = User.objects.get(username=login.username)
        unit = stat_roots(user)[0]
        found.append((str(unit.level), user, unit))
    order = ["national", "province", "city", "county", "school"]
    return sorted(found, key=lambda v: order.index(v[0]) if v[0] in order else len(order))


def _rebuild_raw() -> tuple[Callable[[], None], list[str], list[str]]:
    """The raw path of the rebuild: each ``INSERT … SELECT … GROUP BY`` it runs, its SELECT into an unindexed
    temporary table of the same shape (emptied first, one transaction). Returns the run, the SELECTs and the
    rebuild's own write statements."""
    from django.db import connection, transaction

    from xueji.statistics.models import ClassCell, StatCell
    from xueji.statistics.services import _CLASS_GRAIN, _GRAIN, _rebuild_sql, snapshot_rebuild

    statements = _captured(snapshot_rebuild)
    # The two grains' plain GROUP BYs, built from the rebuild's own grains (the finest, StatCell, first) ...
    selects = []
    for model, grain in ((StatCell, _GRAIN), (ClassCell, _CLASS_GRAIN)):
        sql = _rebuild_sql(model._meta.db_table, grain).replace("%s", "'2000-01-01'", 1).replace("%s", "TRUE")
        match = INSERT_SELECT.match(sql.strip())
        assert match, sql
        selects.append(match.group(3).strip())
    FINEST.append(0)
    # ... then every other INSERT … SELECT … GROUP BY the rebuild ran (the rollup, the flows)
    for sql in statements:
        match = INSERT_SELECT.match(sql)
        table = match.group(1).strip('"').lower() if match else ""
        if (
            match
            and "GROUP BY" in sql.upper()
            and table not in ("statistics_statcell", "statistics_classcell")
        ):
            selects.append(match.group(3).strip())
    assert selects, "snapshot_rebuild runs an INSERT … SELECT … GROUP BY"
    writes = [s for s in statements if re.match(r"^\s*(DELETE|INSERT|UPDATE|TRUNCATE)", s, re.IGNORECASE)]
    tables = [f"bench_raw_snapshot_{i}" for i in range(len(selects))]
    with connection.cursor() as cursor:
        for table, select in zip(tables, selects, strict=True):
            cursor.execute(f"DROP TABLE IF EXISTS {table}")
            cursor.execute(f"CREATE TEMP TABLE {table} AS SELECT * FROM ({select}) AS q LIMIT 0")

    empty = "TRUNCATE" if connection.vendor == "postgresql" else "DELETE FROM"

    def run(only: list[int] | None = None) -> None:
        with transaction.atomic(), connection.cursor() as cursor:
            for i, (table, select) in enumerate(zip(tables, selects, strict=True)):
                if only is None or i in only:
                    cursor.execute(f"{empty} {table}")
                    cursor.execute(f"INSERT INTO {table} {select}")

    return run, selects, writes


def _fill_flows(months: int) -> int:
    """Fill an empty monthly flows table (the demo seed applies no change requests) to its upper bound: one row
    per school, month of the last ``months`` and kind, so that the flows figures read a table as large as it
    can get. Returns the rows written (0 when there is no flows table or it holds real rows)."""
    import random

    from django.apps import apps
    from django.utils import timezone

    from xueji.statistics.models import StatCell

    try:
        flow_cell = apps.get_model("statistics", "FlowCell")
    except LookupError:
        return 0
    if flow_cell.objects.exists():
        return 0
    kinds = [value for value, _label in flow_cell._meta.get_field("kind").choices]
    schools = list(StatCell.objects.values_list("school_id", "scope_path").distinct())
    month = timezone.localdate().replace(day=1)
    firsts = []
    for _ in range(months):
        firsts.append(month)
        month = (month - timedelta(days=1)).replace(day=1)
    rng = random.Random(10)
    cells = [
        flow_cell(month=m, school_id=school, scope_path=path, kind=kind, count=rng.randint(1, 20))
        for school, path in schools
        for m in firsts
        for kind in kinds
    ]
    flow_cell.objects.bulk_create(cells, batch_size=10_000)
    return len(cells)


def _first_grade(unit: Any) -> int:
    """The lowest grade of the school's snapshot (the grade → class step of its drill-down)."""
    from xueji.statistics.models import StatCell

    grades = StatCell.objects.filter(scope_path__startswith=unit.path).values_list("grade", flat=True)
    return min(grades)


def _count_calls(
    params: dict[str, list[str] | None], path: str, level: str, unit: Any
) -> list[tuple[str, str, dict[str, Any]]]:
    """The counts calls of one level: every dimension (a school has no child units; the class only within a
    school's grade), ``by=grade`` with each value of every other enumerated parameter (e.g. ``split=gender``,
    the stacked charts), and at a school its lowest grade by class (split like the page, when offered)."""
    dimensions = params.get("by") or ["region"]
    calls = [
        (f"by={by}", path, {"unit": unit.pk, "by": by})
        for by in dimensions
        if by != "class" and not (by == "region" and level == "school")
    ]
    extra = {name: values for name, values in params.items() if values and name not in ("by", "unit")}
    for name, values in extra.items():
        calls += [(f"by=grade {name}={v}", path, {"unit": unit.pk, "by": "grade", name: v}) for v in values]
    if level == "school" and "grade" in params and "class" in dimensions:
        query: dict[str, Any] = {"unit": unit.pk, "by": "class", "grade": _first_grade(unit)}
        if "gender" in (params.get("split") or []):
            query["split"] = "gender"
        calls.append((f"grade {query['grade']}→class", path, query))
    return calls


def _raw_label(label: str) -> str:
    level, rest = label.split(" ", 1)
    return f"{level} raw {rest.removeprefix('api ')}"


def _execution_ms(plan: str) -> float:
    found = re.search(r"Execution Time: ([\d.]+) ms", plan)
    return float(found.group(1)) if found else 0.0


def main() -> None:
    parser = argparse.ArgumentParser()
    add_database_arguments(parser)
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--rebuild-rounds", type=int, default=5)
    args = parser.parse_args()
    os.environ["XUEJI_RATE_LIMITS"] = (
        "list=100000000/3600,lookup=100000000/86400,reveal=100000000/3600,export=100000000/86400"
    )
    # The pages are requested with a forced session login, which has no second factor to show; the department
    # registrars the policy names would be sent to /mfa/ (as in tests/conftest.py, the factor is off here).
    os.environ["XUEJI_MFA_ENFORCED"] = "0"

    with seeded_database(args):
        _measure(args)


def _measure(args: Any) -> None:
    from django.core.management import call_command
    from django.db import connection
    from django.db.models import Count
    from django.test import Client

    from xueji.accounts.auth import issue_token
    from xueji.statistics.services import snapshot_rebuild
    from xueji.students.models import Enrollment

    call_command("collectstatic", interactive=False, verbosity=0)  # the page links hashed static files
    rows = snapshot_rebuild()
    flow_rows = _fill_flows(FLOW_MONTHS)
    if flow_rows:
        print(
            f"flows table filled to its upper bound: {flow_rows} rows (schools × {FLOW_MONTHS} months × kinds)"
        )
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")
    active = Enrollment.objects.filter(is_active=True).count()
    print(f"{connection.vendor}, {args.students} students, {active} active enrollments, snapshot {rows} rows")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT relname, pg_size_pretty(pg_total_relation_size(oid)) FROM pg_class "
                "WHERE relkind = 'r' AND relname LIKE 'statistics!_%' ESCAPE '!' ORDER BY relname"
            )
            sizes = cursor.fetchall()
            counts = []
            for name, _size in sizes:
                cursor.execute(f'SELECT COUNT(*) FROM "{name}"')
                counts.append(cursor.fetchone()[0])
        print(
            "snapshot tables: "
            + ", ".join(f"{n} {c} rows {s}" for (n, s), c in zip(sizes, counts, strict=True))
        )

    operations = _operations()
    counts_path = next(p for p in operations if p.endswith("/statistics/counts"))
    dimensions = operations[counts_path].get("by") or ["region"]
    others = {p: params for p, params in operations.items() if p != counts_path}
    print(f"operations: {counts_path} by={','.join(dimensions)}; others: {', '.join(others) or 'none'}")

    runs: list[tuple[str, Any]] = []
    statements: dict[str, list[str]] = {}  # product label → its snapshot statements
    levels: dict[str, list[str]] = {}  # level → its product labels
    for level, viewer, unit in _viewers():
        token, _row = issue_token(viewer)
        api = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
        web = Client()
        web.force_login(viewer)
        calls = _count_calls(operations[counts_path], counts_path, level, unit)
        for path, params in others.items():
            name = path.rstrip("/").rsplit("/", 1)[-1]
            calls.append((name, path, {"unit": unit.pk} if "unit" in params else {}))

        for name, path, query in calls:

            def call(api: Any = api, path: str = path, query: dict[str, Any] = query) -> None:
                response = api.get(path, query)
                assert response.status_code == 200, (path, query, response.content[:300])

            label = f"{level} api {name}"
            statements[label] = _snapshot_statements(call)
            runs += [(label, call), (f"{level} raw {name}", _replay(statements[label]))]
            levels.setdefault(level, []).append(label)

        pages: list[tuple[str, dict[str, Any]]] = [("page", {"unit": unit.pk})]
        if level == "school":
            grade = _first_grade(unit)
            pages.append((f"page grade {grade}", {"unit": unit.pk, "grade": grade}))
        for name, query in pages:

            def page(web: Any = web, query: dict[str, Any] = query) -> None:
                response = web.get("/statistics/", query)
                assert response.status_code == 200, (query, response.status_code, response.content[:300])

            label = f"{level} {name}"
            statements[label] = _snapshot_statements(page)
            runs += [(label, page), (f"{level} raw {name}", _replay(statements[label]))]
            levels[level].append(label)

    def live() -> None:  # what the national grade breakdown would cost without the snapshot
        list(Enrollment.objects.filter(is_active=True).values("grade").annotate(n=Count("pk")).order_by())

    runs.append(("national live by=grade", live))

    timings = interleaved(runs, args.rounds)
    print(f"drill-down, {args.rounds} rounds (ms); raw = the same snapshot statements on a bare cursor")
    for label, values in timings.items():
        print(f"{label:>34}: p50 {statistics.median(values):8.2f}   p95 {pct(values, 0.95):8.2f}")
    print("ratios (p50): product / raw")
    for label, sqls in statements.items():
        raw_label = _raw_label(label)
        raw = statistics.median(timings[raw_label])
        if raw > 0:
            ratio = statistics.median(timings[label]) / raw
            print(f"{label:>34}: {ratio:6.2f}×   ({len(sqls)} snapshot statements)")
    print(f"per level (target p95 ≤ {TARGET_MS:.0f} ms): worst API call and the page")
    for level, labels in levels.items():
        api_labels = [lb for lb in labels if " api " in lb]
        worst = max(api_labels, key=lambda lb: pct(timings[lb], 0.95))
        page_label = max((lb for lb in labels if " page" in lb), key=lambda lb: pct(timings[lb], 0.95))
        worst_p95, page_p95 = pct(timings[worst], 0.95), pct(timings[page_label], 0.95)
        verdict = "met" if max(worst_p95, page_p95) <= TARGET_MS else "MISSED"
        print(
            f"{level:>10}: API p50 {statistics.median(timings[worst]):7.2f} p95 {worst_p95:7.2f} ({worst});"
            f" {page_label.split(' ', 1)[1]} p50 {statistics.median(timings[page_label]):7.2f}"
            f" p95 {page_p95:7.2f} — {verdict}"
        )

    slowest = max(statements, key=lambda lb: pct(timings[lb], 0.95))
    plans = [explain(sql, None) for sql in statements[slowest]]
    if plans:
        plan = max(plans, key=_execution_ms)
        total = sum(_execution_ms(p) for p in plans)
        print(
            f"--- slowest call: {slowest}, {len(plans)} snapshot statements, {total:.1f} ms of execution in all"
            " (EXPLAIN ANALYZE):"
        )
        for sql, p in zip(statements[slowest], plans, strict=True):
            print(f"{_execution_ms(p):8.2f} ms  {' '.join(sql.split())[:150]}")
        print(f"--- EXPLAIN ANALYZE: its slowest statement\n{plan}")

    # The rebuild beside the same SELECT … GROUP BY into an unindexed temporary table.
    raw_rebuild, selects, writes = _rebuild_raw()
    rebuild_timings = interleaved(
        [
            ("rebuild", snapshot_rebuild),
            ("raw GROUP BY", raw_rebuild),
            # The stricter reading of the target: the finest grain's GROUP BY alone (StatCell), without the
            # class, flows and rollup statements the rebuild also runs.
            ("raw GROUP BY, finest grain only", lambda: raw_rebuild(FINEST)),
        ],
        args.rebuild_rounds,
    )
    print(f"rebuild, {args.rebuild_rounds} rounds (ms)")
    for label, values in rebuild_timings.items():
        print(f"{label:>34}: p50 {statistics.median(values):8.1f}   p95 {pct(values, 0.95):8.1f}")
    ratio = statistics.median(rebuild_timings["rebuild"]) / statistics.median(rebuild_timings["raw GROUP BY"])
    verdict = "met" if ratio <= TARGET_REBUILD else "MISSED"
    print(f"rebuild / raw (p50): {ratio:.2f}× (target ≤ {TARGET_REBUILD}×) — {verdict}")
    finest = statistics.median(rebuild_timings["raw GROUP BY, finest grain only"])
    print(
        f"rebuild / the finest grain's GROUP BY alone (p50): {statistics.median(rebuild_timings['rebuild']) / finest:.2f}×"
    )
    for select in selects:
        print(f"--- EXPLAIN ANALYZE: the rebuild's SELECT\n{explain(select, None)}")
    if connection.vendor == "postgresql":
        from django.db import transaction

        with transaction.atomic():  # the rebuild's own writes, measured and undone
            for sql in writes:
                print(f"--- EXPLAIN ANALYZE (rolled back): {sql[:60].strip()}…\n{explain(sql, None)}")
            transaction.set_rollback(True)


if __name__ == "__main__":
    main()
