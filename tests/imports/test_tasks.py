"""Queue tasks of imports: superseded attempts, the stale-run reaper, retry, and the purge of old files."""

from __future__ import annotations

import os
import socket
import subprocess
from datetime import timedelta

import pytest
from django.test import Client, override_settings
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from tests.factories import imports as fi
from tests.factories.tasks import run_queued_tasks
from xueji.accounts.auth import issue_token
from xueji.core.errors import ApplicationError
from xueji.imports import queries, services, tasks
from xueji.imports.models import ImportBatch
from xueji.students.models import Person

pytestmark = pytest.mark.django_db
Status = ImportBatch.Status


def make_batch(school, registrar, tmp_path, rows, name="x.csv") -> ImportBatch:
    path = fi.write_csv(tmp_path / name, rows)
    return services.import_batch_create(
        actor=registrar, school=school, uploaded_file_path=path, file_name=name
    )


def dead_pid() -> int:
    child = subprocess.Popen(["true"])  # noqa: S607 - a process that is certainly gone afterwards
    child.wait(timeout=10)
    return child.pid


@pytest.fixture
def queued_commit(school_a, registrar_a, tmp_path):
    """A checked batch whose commit is queued (as for a large file)."""
    batch = make_batch(school_a, registrar_a, tmp_path, fi.students(2))
    services.import_batch_check(actor=registrar_a, batch=batch)
    with override_settings(IMPORT_BACKGROUND_ROWS=0):
        assert tasks.start_commit(actor=registrar_a, batch=batch) is True
    return batch


def claim_as(batch: ImportBatch, *, host: str, pid: int, heartbeat_seconds_ago: int = 0) -> None:
    DBTaskResult.objects.filter(pk=batch.task_id).update(status="RUNNING", started_at=timezone.now())
    ImportBatch.objects.filter(pk=batch.pk).update(
        worker_host=host,
        worker_pid=pid,
        heartbeat_at=timezone.now() - timedelta(seconds=heartbeat_seconds_ago),
    )


def test_a_superseded_queue_task_does_nothing(queued_commit, registrar_a):
    ImportBatch.objects.filter(pk=queued_commit.pk).update(attempt=queued_commit.attempt + 1)
    assert run_queued_tasks() == ["SUCCESSFUL"]
    assert DBTaskResult.objects.get().return_value == "superseded"
    queued_commit.refresh_from_db()
    assert queued_commit.status == Status.COMMITTING
    assert Person.objects.count() == 0


def test_reaper_fails_a_batch_whose_worker_process_is_gone(queued_commit):
    claim_as(queued_commit, host=socket.gethostname(), pid=dead_pid())
    assert tasks.reap_stale.call() == 1
    queued_commit.refresh_from_db()
    assert (queued_commit.status, queued_commit.retryable, queued_commit.message) == (
        Status.FAILED,
        True,
        "后台任务中断（处理进程已退出），未写入任何数据，可重试",
    )
    result = DBTaskResult.objects.get(pk=queued_commit.task_id)
    assert (result.status, result.exception_class_path) == ("FAILED", "xueji.imports.services.WorkerLost")


@pytest.mark.parametrize(
    ("host", "pid", "ago", "stale"),
    [
        ("this", os.getpid(), 3600, False),  # alive on this host: slow is not dead (SQLite cannot beat)
        ("other-host", 1, 30, False),  # another host with a fresh heartbeat
        ("other-host", 1, 600, True),  # another host, silent longer than XUEJI_TASK_STALE_SECONDS
    ],
)
def test_stale_means_dead_here_or_silent_elsewhere(queued_commit, host, pid, ago, stale):
    claim_as(
        queued_commit,
        host=socket.gethostname() if host == "this" else host,
        pid=pid,
        heartbeat_seconds_ago=ago,
    )
    queued_commit.refresh_from_db()
    assert queries.batch_is_stale(queued_commit) is stale
    assert tasks.reap_stale.call() == int(stale)


def test_an_unclaimed_queued_batch_is_not_stale(queued_commit):
    assert queries.batch_is_stale(queued_commit) is False
    assert tasks.reap_stale.call() == 0


def test_retry_of_a_stale_batch_requeues_the_same_file_and_imports_it(queued_commit, registrar_a):
    claim_as(queued_commit, host=socket.gethostname(), pid=dead_pid())
    lost_task_id = queued_commit.task_id
    client = Client()
    headers = {"HTTP_AUTHORIZATION": f"Bearer {issue_token(registrar_a)[0]}"}
    polled = client.get(f"/api/v1/imports/{queued_commit.pk}", **headers).json()
    assert (polled["status"], polled["stale"], polled["retryable"]) == ("committing", True, False)
    with override_settings(IMPORT_BACKGROUND_ROWS=0):
        response = client.post(f"/api/v1/imports/{queued_commit.pk}/retry", **headers)
    assert response.status_code == 202
    assert (response.json()["status"], response.json()["background"]) == ("committing", True)
    queued_commit.refresh_from_db()
    assert queued_commit.attempt == 3
    lost_task = DBTaskResult.objects.get(pk=lost_task_id)
    assert (lost_task.status, lost_task.exception_class_path) == (
        "FAILED",
        "xueji.imports.services.WorkerLost",
    )
    assert run_queued_tasks() == ["SUCCESSFUL"]  # only the new attempt runs
    queued_commit.refresh_from_db()
    assert (queued_commit.status, queued_commit.created_count) == (Status.COMMITTED, 2)
    assert Person.objects.count() == 2


def test_retry_is_refused_unless_the_failure_was_a_system_one(school_a, registrar_a, tmp_path):
    batch = make_batch(school_a, registrar_a, tmp_path, fi.students(1, **{"性别": "X"}))
    services.import_batch_check(actor=registrar_a, batch=batch)
    assert batch.status == Status.INVALID
    with pytest.raises(ApplicationError) as exc:
        services.import_batch_retry(actor=registrar_a, batch=batch)
    assert exc.value.code == "batch_not_retryable"
    client = Client()
    headers = {"HTTP_AUTHORIZATION": f"Bearer {issue_token(registrar_a)[0]}"}
    response = client.post(f"/api/v1/imports/{batch.pk}/retry", **headers)
    assert (response.status_code, response.json()["code"]) == (409, "batch_not_retryable")


def test_the_same_file_can_be_uploaded_again_after_a_failed_import(school_a, registrar_a, tmp_path):
    rows = fi.students(2)
    first = make_batch(school_a, registrar_a, tmp_path, rows, name="a.csv")
    services.import_batch_check(actor=registrar_a, batch=first)
    ImportBatch.objects.filter(pk=first.pk).update(status=Status.FAILED, retryable=True)
    second = make_batch(school_a, registrar_a, tmp_path, rows, name="a.csv")
    assert (second.file_sha256, second.status) == (first.file_sha256, Status.UPLOADED)


# ------------------------------------------------------------------------------------------ purge
def _age(batch: ImportBatch, days: int) -> None:
    ImportBatch.objects.filter(pk=batch.pk).update(created_at=timezone.now() - timedelta(days=days))


@override_settings(XUEJI_IMPORT_FILE_RETENTION_DAYS=7)
def test_files_of_imports_never_committed_are_purged_after_the_retention(school_a, registrar_a, tmp_path):
    old = make_batch(school_a, registrar_a, tmp_path, fi.students(1), name="old.csv")
    recent = make_batch(school_a, registrar_a, tmp_path, fi.students(1), name="recent.csv")
    running = make_batch(school_a, registrar_a, tmp_path, fi.students(1), name="running.csv")
    services.import_batch_check_start(actor=registrar_a, batch=running)
    _age(old, 8)
    _age(running, 8)
    _age(recent, 6)
    stray = services.storage_dir() / "0190-interrupted.upload"
    stray.write_bytes(b"partial")
    os.utime(stray, (0, 0))

    assert tasks.purge_files.call() == 2
    assert not services.stored_path(old).exists() and not stray.exists()
    assert services.stored_path(recent).exists() and services.stored_path(running).exists()
    old.refresh_from_db()
    assert old.file_purged_at is not None
    with pytest.raises(ApplicationError) as exc:
        services.import_batch_check(actor=registrar_a, batch=old)
    assert exc.value.code == "file_purged"
    assert tasks.purge_files.call() == 0


# ------------------------------------------------------------------------------------------ PostgreSQL progress
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_commit_progress_is_visible_to_other_connections_while_the_transaction_runs(
    school_a, registrar_a, tmp_path, monkeypatch
):
    """On PostgreSQL the commit writes its progress through a second connection: another process (here a
    third connection) sees it while the import's one transaction is still open, and sees no student yet."""
    from django.db import connection, connections

    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (on SQLite the import holds the only write lock)")
    monkeypatch.setattr(services, "CHUNK_ROWS", 2)
    batch = make_batch(school_a, registrar_a, tmp_path, fi.students(5))
    services.import_batch_check(actor=registrar_a, batch=batch)
    main = connections["default"]
    observer = type(main)(dict(main.settings_dict), alias="observer")
    seen: list[tuple[int, int, int]] = []

    def observe(phase: str, done: int, total: int) -> None:
        if phase != "commit":
            return
        with observer.cursor() as cursor:
            cursor.execute(
                "SELECT progress_done, progress_total FROM imports_importbatch WHERE id = %s", [batch.pk]
            )
            row_done, row_total = cursor.fetchone()
            cursor.execute("SELECT count(*) FROM students_enrollment WHERE import_batch_id = %s", [batch.pk])
            seen.append((row_done, row_total, cursor.fetchone()[0]))

    try:
        services.import_batch_commit(actor=registrar_a, batch=batch, progress=observe)
    finally:
        observer.close()
    # Three chunks seen from outside during the transaction, then the final call after it committed.
    assert seen == [(2, 5, 0), (4, 5, 0), (5, 5, 0), (5, 5, 5)]
    batch.refresh_from_db()
    assert (batch.status, batch.created_count) == (Status.COMMITTED, 5)


def test_retry_as_anonymous_wrong_role_and_out_of_jurisdiction(
    client, queued_commit, registrar_b, dept_registrar
):
    from django.urls import reverse

    claim_as(queued_commit, host=socket.gethostname(), pid=dead_pid())
    api = f"/api/v1/imports/{queued_commit.pk}/retry"
    page = reverse("imports:retry", args=[queued_commit.pk])
    assert Client().post(api).status_code == 401
    assert client.post(page).status_code == 302 and "login" in client.post(page)["Location"]
    assert Client().post(api, HTTP_AUTHORIZATION=f"Bearer {issue_token(registrar_b)[0]}").status_code == 404
    client.force_login(registrar_b)
    assert client.post(page).status_code == 404
    assert (
        Client().post(api, HTTP_AUTHORIZATION=f"Bearer {issue_token(dept_registrar)[0]}").status_code == 403
    )
    client.force_login(dept_registrar)
    assert client.post(page).status_code == 403
    queued_commit.refresh_from_db()
    assert (queued_commit.status, queued_commit.attempt) == (Status.COMMITTING, 2)
    assert DBTaskResult.objects.count() == 1


def test_the_page_of_a_stale_batch_stops_polling_and_offers_the_retry(client, queued_commit, registrar_a):
    from django.urls import reverse

    client.force_login(registrar_a)
    url = reverse("imports:detail", args=[queued_commit.pk])
    assert 'hx-trigger="every 1s"' in client.get(url).content.decode()  # queued: waiting for the worker
    claim_as(queued_commit, host=socket.gethostname(), pid=dead_pid())
    html = client.get(url).content.decode()
    assert "后台处理进程已中断，未写入任何数据。可以重试。" in html
    assert 'hx-trigger="every 1s"' not in html
    assert f'action="{reverse("imports:retry", args=[queued_commit.pk])}"' in html
