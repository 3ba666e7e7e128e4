"""kill -9 of the queue worker in the middle of an import (issue #6 §2): nothing of the file is written, the
batch is found stale and marked FAILED + retryable, and a retry with a fresh worker imports the same file.

Real processes against a file SQLite database (the subprocesses drop DATABASE_URL, so this runs the same on
both CI legs): ``manage.py migrate``, a driver (tests/imports/worker_harness.py) and ``manage.py db_worker``.
The test process reads that database with the sqlite3 module only. Every wait is bounded.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ROWS = 10000


@pytest.fixture
def env(tmp_path):
    environment = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    environment.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        XUEJI_SQLITE_PATH=str(tmp_path / "xueji.sqlite3"),
        XUEJI_VAR_DIR=str(tmp_path / "var"),
        XUEJI_TASKS_BACKEND="django_tasks_db.DatabaseBackend",
        PYTHONPATH=str(ROOT),
    )
    return environment


def run(env, *args: str, timeout: float = 180) -> str:
    done = subprocess.run(  # noqa: S603 - our own interpreter and manage.py
        [sys.executable, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip()


def worker(env) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "manage.py", "db_worker", "--no-reload", "--no-startup-delay", "--interval", "0.2",
         "--skip-checks"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def query(db: Path, sql: str, *params: object) -> tuple[object, ...]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30) as conn:
        return conn.execute(sql, params).fetchone()


def write_locked(db: Path) -> bool:
    """Does another connection hold the write lock (i.e. is the import's transaction open)?"""
    conn = sqlite3.connect(db, timeout=0, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        assert "locked" in str(exc)
        return True
    finally:
        conn.close()  # rolls back our empty transaction
    return False


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    pytest.fail(f"timed out after {timeout}s waiting for {what}")


def test_kill_9_mid_import_leaves_nothing_and_the_retry_imports_the_file(env, tmp_path):
    db = tmp_path / "xueji.sqlite3"
    run(env, "manage.py", "migrate", "--noinput", "--skip-checks")
    batch_id = run(env, "-m", "tests.imports.worker_harness", "setup", str(ROWS)).replace("-", "")
    batch_sql = (
        "SELECT status, worker_pid, retryable, created_count, task_id FROM imports_importbatch WHERE id = ?"
    )
    enrolled_sql = "SELECT count(*) FROM students_enrollment WHERE import_batch_id = ?"
    assert query(db, batch_sql, batch_id)[:2] == ("committing", None)

    proc = worker(env)
    try:
        # Claimed by this worker, and its import transaction holds the write lock: it is writing rows now.
        wait_for(lambda: query(db, batch_sql, batch_id)[1] == proc.pid, 60, "the worker to claim the batch")
        wait_for(lambda: write_locked(db), 30, "the import transaction")
        time.sleep(0.5)
        assert write_locked(db), "the import finished before it could be killed; raise ROWS"
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=10) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)

    status, pid, retryable, created, task_id = query(db, batch_sql, batch_id)
    assert (status, pid, retryable, created) == ("committing", proc.pid, 0, 0)
    assert query(db, enrolled_sql, batch_id) == (0,)
    assert query(db, "SELECT count(*) FROM students_person") == (0,)
    assert query(
        db, "SELECT status FROM django_tasks_database_dbtaskresult WHERE id = ?", task_id.replace("-", "")
    ) == ("RUNNING",)

    lease_sql = "SELECT pid FROM scheduling_tasklease WHERE task_id = ?"
    assert query(db, lease_sql, task_id) == (proc.pid,)  # written by the worker when the task started

    assert run(env, "-m", "tests.imports.worker_harness", "reap") == "1"
    assert query(db, lease_sql, task_id) is None
    status, _, retryable, created, _ = query(db, batch_sql, batch_id)
    assert (status, retryable, created) == ("failed", 1, 0)
    assert query(
        db, "SELECT status FROM django_tasks_database_dbtaskresult WHERE id = ?", task_id.replace("-", "")
    ) == ("FAILED",)

    assert run(env, "-m", "tests.imports.worker_harness", "retry", batch_id) == "committing"
    fresh = subprocess.run(
        [sys.executable, "manage.py", "db_worker", "--batch", "--no-reload", "--no-startup-delay", "--skip-checks"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert fresh.returncode == 0, fresh.stderr[-3000:]
    status, _, retryable, created, _ = query(db, batch_sql, batch_id)
    assert (status, retryable, created) == ("committed", 0, ROWS)
    assert query(db, enrolled_sql, batch_id) == (ROWS,)
