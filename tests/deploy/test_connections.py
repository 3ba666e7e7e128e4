"""Database connections stay bounded under load (issue #6 §1): 8 concurrent clients against gunicorn with
persistent connections (CONN_MAX_AGE + CONN_HEALTH_CHECKS) never open more connections than workers.

Starts the production server (config/gunicorn.conf.py, 3 sync workers) on a free loopback port against the
PostgreSQL test database of this run, sends 8 clients × up to 60 requests (≤ 10 s) to a page that reads the
database (the login page with a stale session cookie: one session lookup per request), and samples
``pg_stat_activity`` for the server's connections (tagged with their own application_name) meanwhile.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection

from tests.deploy.conftest import PYTHON, child_env, free_port, wait_until_serving

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

WORKERS = 3
CLIENTS = 8
REQUESTS_PER_CLIENT = 60
TIME_BUDGET = 10.0


def _database_url() -> str:
    s = connection.settings_dict
    auth = quote(s["USER"]) + (f":{quote(s['PASSWORD'])}" if s["PASSWORD"] else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{quote(s['NAME'])}"


def _server_connections(app_name: str) -> int:
    import psycopg

    s = connection.settings_dict
    with psycopg.connect(
        host=s["HOST"] or "127.0.0.1",
        port=s["PORT"] or 5432,
        user=s["USER"],
        password=s["PASSWORD"] or None,
        dbname=s["NAME"],
        application_name="xueji-conn-sampler",
        autocommit=True,
    ) as probe:
        row = probe.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND application_name = %s",
            (s["NAME"], app_name),
        ).fetchone()
    return int(row[0]) if row else 0


@pytest.fixture
def _postgres_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (run with DATABASE_URL=postgres://…)")


def test_eight_clients_never_raise_connections_above_the_worker_count(
    _postgres_only, collected_static, tmp_path
):
    port = free_port()
    app_name = f"xueji-conn-test-{os.getpid()}"
    server = subprocess.Popen(  # noqa: S603
        [PYTHON, "-m", "gunicorn", "--config", "config/gunicorn.conf.py", "config.wsgi:application"],
        cwd=settings.BASE_DIR,
        env=child_env(
            DATABASE_URL=_database_url(),
            PGAPPNAME=app_name,
            PORT=str(port),
            XUEJI_WEB_WORKERS=str(WORKERS),
            XUEJI_STATIC_ROOT=str(collected_static),
            XUEJI_MEDIA_ROOT=str(tmp_path / "media"),
            XUEJI_ACCESS_LOG="",
        ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}/login/"
    samples: list[int] = []
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            samples.append(_server_connections(app_name))
            time.sleep(0.05)

    def client() -> list[int]:
        deadline = time.monotonic() + TIME_BUDGET
        statuses = []
        for _ in range(REQUESTS_PER_CLIENT):
            if time.monotonic() > deadline:
                break
            request = urllib.request.Request(url, headers={"Cookie": "sessionid=" + "x" * 32})
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                statuses.append(response.status)
        return statuses

    try:
        wait_until_serving(url, server)
        sampler = threading.Thread(target=sample)
        sampler.start()
        started = time.monotonic()
        with ThreadPoolExecutor(CLIENTS) as pool:
            results = [s for statuses in pool.map(lambda _: client(), range(CLIENTS)) for s in statuses]
        elapsed = time.monotonic() - started
        stop.set()
        sampler.join()
        after = _server_connections(app_name)
    finally:
        stop.set()
        server.terminate()
        server.communicate(timeout=30)

    print(
        f"{len(results)} requests by {CLIENTS} clients in {elapsed:.1f} s ({len(results) / elapsed:.0f}/s); "
        f"server connections: max {max(samples)} over {len(samples)} samples, {after} after the load; "
        f"workers {WORKERS}"
    )
    assert len(results) >= CLIENTS * 10
    assert set(results) == {200}
    assert max(samples) <= WORKERS
    # Persistent: the workers keep their connections for the next request instead of reconnecting.
    assert 1 <= after <= WORKERS
