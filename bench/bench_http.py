"""Benchmark of the production server over HTTP (issue 7): adding a student as a client sees it, and student
detail look-ups in an open loop.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/xueji_bench_http .venv/bin/python bench/bench_http.py 200000
    … bench_http.py 1000000 --rate 500 --duration 60

The database is created, migrated, seeded and dropped as in bench/_common.py. The server is what ``make run``
starts for the web: gunicorn with config/gunicorn.conf.py (sync workers, 2×cores+1), DEBUG off, on a free
loopback port; rate limits are lifted for the run (``XUEJI_RATE_LIMITS``).

1. **Add a student** (``POST /api/v1/students/``, Bearer token, a school registrar, registrations generated
   like the demo seed's): ``--adds`` requests one after another from one ``http.client`` connection object
   (it reconnects when the sync worker closes the connection, as a keep-alive client does behind no proxy),
   wall latency per request as the client sees it — beside the same registrations through Django's test client
   in this process (the time inside the application, no socket).
2. **Detail look-ups in an open loop** (``GET /api/v1/students/{id}``: one audited read each) for a county
   registrar over their own students: ``--rate`` requests per second for ``--duration`` seconds, each sent
   at its scheduled time whatever the state of the others (no coordinated omission: latency is measured from
   the scheduled send), on a new connection. Prints the achieved rate, p50/p99/max and errors — beside
   ``raw``: the SQL of one look-up (the enrollment with its person and school, and the audit insert) on one
   cursor in a loop for 5 s, in transactions per second.

The load generator runs on the same machine as the server and the database (2 cores here): it takes a share of
the CPU that a real client would not.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import date
from pathlib import Path
from typing import Any

from _common import ROOT, add_database_arguments, pct, seeded_database


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _payloads(school: Any, n: int, seed: int, taken: set[str]) -> list[dict[str, Any]]:
    """``n`` registrations for ``school`` as the API takes them, made by the demo seed's generator; identity
    numbers already registered (or in ``taken``) are skipped, so every request registers a new student."""
    from django.utils import timezone

    from xueji.students.demo import COUNTIES, Slot, StudentMaker
    from xueji.students.models import IdentityKey

    maker = StudentMaker(seed=seed, today=timezone.localdate())
    county = school.org.division_code if school.org.division_code in COUNTIES else next(iter(COUNTIES))
    slot = Slot("bench", county, 1)

    def plain(value: Any) -> Any:
        return value.isoformat() if isinstance(value, date) else value

    out = []
    while len(out) < n:
        person, enrollment, guardians = maker.registration(slot, school.school_type)
        if person["id_type"] != "1":
            continue  # resident ID cards only: the same checks for every request
        key = IdentityKey.make_key("1", person["id_number"])
        if key in taken or IdentityKey.objects.filter(key=key).exists():
            continue
        taken.add(key)
        out.append(
            {
                "school_id": school.pk,
                "person": {k: plain(v) for k, v in person.items()},
                "enrollment": {k: plain(v) for k, v in enrollment.items()},
                "guardians": [{k: plain(v) for k, v in g.items()} for g in guardians],
            }
        )
    return out


def _serve(port: int, static_root: str, media_root: str) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if k not in {"XUEJI_DEBUG"}}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        PORT=str(port),
        XUEJI_STATIC_ROOT=static_root,
        XUEJI_MEDIA_ROOT=media_root,
        XUEJI_ACCESS_LOG="",
    )
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--config", "config/gunicorn.conf.py", "config.wsgi:application"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/login/", timeout=5):
                return server
        except OSError:
            time.sleep(0.2)
    server.kill()
    raise SystemExit("the server did not start")


def _adds_over_http(port: int, token: str, payloads: list[dict[str, Any]]) -> list[float]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    out = []
    for body in payloads:
        data = json.dumps(body).encode()
        started = time.perf_counter()
        conn.request("POST", "/api/v1/students/", body=data, headers=headers)
        response = conn.getresponse()
        response.read()
        out.append((time.perf_counter() - started) * 1000)
        assert response.status == 201, response.status
    conn.close()
    return out


def _adds_in_process(token: str, payloads: list[dict[str, Any]]) -> list[float]:
    from django.test import Client

    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    out = []
    for body in payloads:
        started = time.perf_counter()
        response = client.post("/api/v1/students/", body, content_type="application/json")
        out.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 201, response.content
    return out


async def _open_loop(port: int, token: str, ids: list[str], rate: float, duration: float) -> dict[str, Any]:
    total = int(rate * duration)
    latencies: list[float] = []
    errors: list[str] = []
    rng = random.Random(7)
    request_lines = [
        (
            f"GET /api/v1/students/{rng.choice(ids)} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Authorization: Bearer {token}\r\nConnection: close\r\n\r\n"
        ).encode()
        for _ in range(total)
    ]

    async def one(line: bytes, scheduled: float) -> None:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(line)
            await writer.drain()
            response = await reader.read()
            writer.close()
            status = response[9:12]
            if status != b"200":
                errors.append(status.decode(errors="replace"))
        except OSError as exc:
            errors.append(type(exc).__name__)
        latencies.append((time.perf_counter() - scheduled) * 1000)

    loop_start = time.perf_counter() + 0.1
    tasks = []
    for i, line in enumerate(request_lines):
        scheduled = loop_start + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(line, scheduled)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - loop_start
    return {"sent": total, "elapsed": elapsed, "latencies": latencies, "errors": errors}


def _raw_lookup_tps(viewer: Any, ids: list[str], seconds: float = 5.0) -> float:
    """The look-up's own SQL on one cursor, in a loop: the enrollment with its person and school, and the
    audit insert (through ``audit.services.record``, the one writer), committed — what the database does for one
    request, without the request path around it."""
    from django.db import connection, transaction

    from xueji.audit.services import record
    from xueji.students.queries import enrollments_visible

    one = (
        enrollments_visible(viewer).select_related("person", "school", "school__org").filter(person_id=ids[0])
    )
    sql, params = one.order_by("-is_active", "-registered_at")[:1].query.sql_with_params()
    slot = next(i for i, p in enumerate(params) if str(p) == str(ids[0]))
    done = 0
    deadline = time.perf_counter() + seconds
    rng = random.Random(11)
    while time.perf_counter() < deadline:
        person_id = rng.choice(ids)
        args = list(params)
        args[slot] = person_id
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, args)
            cursor.fetchall()
            record(event_type="student.viewed", actor=viewer, subject_type="student", subject_id=person_id)
        done += 1
    return done / seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    add_database_arguments(parser)
    parser.add_argument("--adds", type=int, default=200)
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--duration", type=float, default=60.0)
    args = parser.parse_args()
    os.environ["XUEJI_RATE_LIMITS"] = "list=100000000/3600,lookup=100000000/86400,reveal=100000000/3600"

    with seeded_database(args):
        from django.conf import settings
        from django.core.management import call_command
        from django.db import connection

        from xueji.accounts.auth import issue_token
        from xueji.accounts.enums import Role
        from xueji.accounts.jurisdiction import school_registrar_units
        from xueji.accounts.models import RoleGrant
        from xueji.regions.enums import OrgLevel
        from xueji.schools.models import School
        from xueji.students.queries import StudentFilters, enrollment_list

        static_root = tempfile.mkdtemp(prefix="xueji-static-")
        settings.STATIC_ROOT = Path(static_root)
        call_command("collectstatic", interactive=False, verbosity=0)

        def account(role: str, level: str) -> Any:
            grant = RoleGrant.objects.filter(role=role, org_unit__level=OrgLevel(level)).order_by("pk")
            found = grant.select_related("user").first()
            assert found is not None, f"the demo seed has a {level} {role}"
            return found.user

        registrar = account(Role.SCHOOL_REGISTRAR, "school")
        county = account(Role.DEPT_REGISTRAR, "county")
        school = School.objects.select_related("org").get(org=school_registrar_units(registrar)[0])
        registrar_token, _row = issue_token(registrar)
        county_token, _row = issue_token(county)
        ids = [
            str(pid)
            for pid in enrollment_list(viewer=county, filters=StudentFilters())
            .order_by()
            .values_list("person_id", flat=True)[:20000]
        ]

        port = _free_port()
        server = _serve(port, static_root, tempfile.mkdtemp(prefix="xueji-media-"))
        try:
            # Warm every worker (imports, connections, the heap freeze after 20 requests each).
            for _ in range(200):
                urllib.request.urlopen(f"http://127.0.0.1:{port}/login/", timeout=10).read()
            print(f"{connection.vendor}, {args.students} students; server: gunicorn config/gunicorn.conf.py")
            if args.adds:
                taken: set[str] = set()
                http_adds = _adds_over_http(port, registrar_token, _payloads(school, args.adds, 101, taken))
                local_adds = _adds_in_process(registrar_token, _payloads(school, args.adds, 202, taken))
                print(
                    f"add a student, {args.adds} one after another (ms): over HTTP p50 "
                    f"{statistics.median(http_adds):.2f} p95 {pct(http_adds, 0.95):.2f}; in process p50 "
                    f"{statistics.median(local_adds):.2f} p95 {pct(local_adds, 0.95):.2f}; "
                    f"ratio {statistics.median(http_adds) / statistics.median(local_adds):.2f}×"
                )
            result = asyncio.run(_open_loop(port, county_token, ids, args.rate, args.duration))
        finally:
            server.terminate()
            server.wait(timeout=30)
        lat = result["latencies"]
        print(
            f"detail look-ups, open loop at {args.rate:.0f}/s for {args.duration:.0f} s: sent {result['sent']} in "
            f"{result['elapsed']:.1f} s ({result['sent'] / result['elapsed']:.0f}/s), p50 {statistics.median(lat):.1f} "
            f"p99 {pct(lat, 0.99):.1f} max {max(lat):.1f} ms, errors {len(result['errors'])}"
            + (f" ({sorted(set(result['errors']))[:5]})" if result["errors"] else "")
        )
        print(
            f"raw look-up SQL with its audit insert, one connection: {_raw_lookup_tps(county, ids):.0f} tps"
        )


if __name__ == "__main__":
    main()
