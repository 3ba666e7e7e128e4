"""The periodic schedule: parsing, due slots, once-per-slot enqueueing, ``manage.py scheduler``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from datetime import time as dtime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.db import IntegrityError, transaction
from django.test import override_settings
from django_tasks_db.models import DBTaskResult

from xueji.scheduling.models import ScheduledRun
from xueji.scheduling.schedule import Entry, ScheduleError, parse
from xueji.scheduling.services import resolve, scheduled_runs_enqueue_due

ROOT = Path(__file__).resolve().parents[2]
SHANGHAI = ZoneInfo("Asia/Shanghai")
SCHEDULE = {"xueji.accounts.tasks.seal_dormant": "daily 02:30", "xueji.imports.tasks.reap_stale": "every 60s"}


def at(hour: int, minute: int, day: int = 4) -> datetime:
    return datetime(2026, 12, day, hour, minute, tzinfo=SHANGHAI)


def test_parse_reads_daily_and_interval_entries():
    assert parse(SCHEDULE) == [
        Entry("xueji.accounts.tasks.seal_dormant", daily_at=dtime(2, 30)),
        Entry("xueji.imports.tasks.reap_stale", every_seconds=60),
    ]


@pytest.mark.parametrize("spec", ["daily 25:00", "daily 2:3", "hourly", "every 0s", "every 5m"])
def test_parse_refuses_a_bad_entry_naming_it(spec):
    with pytest.raises(ScheduleError, match=r"x\.tasks\.job"):
        parse({"x.tasks.job": spec})


def test_daily_slot_is_the_local_date_from_its_time_on_and_interval_slots_count_intervals():
    daily, every = parse(SCHEDULE)
    assert daily.slot(at(2, 29)) is None
    assert daily.slot(at(2, 30)) == daily.slot(at(23, 59)) == "2026-12-04"
    assert every.slot(at(10, 0)) == every.slot(at(10, 0).replace(second=59)) != every.slot(at(10, 1))


def test_resolve_refuses_something_that_is_not_a_queue_task():
    with pytest.raises(TypeError, match="不是队列任务"):
        resolve(parse({"xueji.imports.services.import_files_purge": "daily 03:00"}))


@pytest.mark.django_db
def test_a_due_job_is_enqueued_once_per_slot_however_many_schedulers_tick():
    entries = parse(SCHEDULE)
    tasks = resolve(entries)
    assert scheduled_runs_enqueue_due(actor=None, entries=entries, tasks=tasks, now=at(2, 0)) == [
        "xueji.imports.tasks.reap_stale"
    ]
    ticks = [
        at(2, 31),
        at(
            2,
            31,
        ),
        at(9, 0),
    ]  # two schedulers in the same minute, then a restart at 09:00
    enqueued = [scheduled_runs_enqueue_due(actor=None, entries=entries, tasks=tasks, now=t) for t in ticks]
    assert enqueued == [
        ["xueji.accounts.tasks.seal_dormant", "xueji.imports.tasks.reap_stale"],
        [],
        ["xueji.imports.tasks.reap_stale"],
    ]
    assert DBTaskResult.objects.filter(task_path="xueji.accounts.tasks.seal_dormant").count() == 1
    assert scheduled_runs_enqueue_due(actor=None, entries=entries, tasks=tasks, now=at(2, 30, day=5)) == [
        "xueji.accounts.tasks.seal_dormant",
        "xueji.imports.tasks.reap_stale",
    ]
    run = ScheduledRun.objects.get(name="xueji.accounts.tasks.seal_dormant", slot="2026-12-05")
    assert DBTaskResult.objects.get(pk=run.task_id).task_path == "xueji.accounts.tasks.seal_dormant"


@pytest.mark.django_db
def test_the_ledger_refuses_a_second_row_for_the_same_slot():
    ScheduledRun.objects.create(name="xueji.accounts.tasks.seal_dormant", slot="2026-12-04")
    with pytest.raises(IntegrityError), transaction.atomic():
        ScheduledRun.objects.create(name="xueji.accounts.tasks.seal_dormant", slot="2026-12-04")


@pytest.mark.django_db
@override_settings(XUEJI_SCHEDULE={"xueji.imports.tasks.reap_stale": "every 3600s"})
def test_command_once_enqueues_due_jobs_and_exits(capsys):
    call_command("scheduler", "--once")
    call_command("scheduler", "--once")
    assert DBTaskResult.objects.filter(task_path="xueji.imports.tasks.reap_stale").count() == 1
    assert capsys.readouterr().out.count("已提交 xueji.imports.tasks.reap_stale") == 1


@pytest.mark.django_db
@override_settings(XUEJI_SCHEDULE={"xueji.nothing.here": "daily 02:00"})
def test_command_refuses_an_unknown_entry_at_start():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("scheduler", "--once")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_scheduler_stops_cleanly_on_sigterm_and_sigint(tmp_path, signum):
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        XUEJI_SQLITE_PATH=str(tmp_path / "s.sqlite3"),
        XUEJI_VAR_DIR=str(tmp_path / "var"),
    )
    for app in ("scheduling", "django_tasks_database"):
        subprocess.run(  # noqa: S603 - our own interpreter and manage.py
            [sys.executable, "manage.py", "migrate", app, "--noinput", "--skip-checks"],
            cwd=ROOT, env=env, check=True, capture_output=True, timeout=120,
        )  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "scheduler", "--interval", "0.2", "--skip-checks"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        assert proc.stdout is not None
        line = proc.stdout.readline()  # "定时任务已启动…" once the signal handlers are installed
        assert line.startswith("定时任务已启动"), proc.stderr.read() if proc.stderr else ""
        time.sleep(0.5)
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    assert proc.returncode == 0, err
    assert out.rstrip().endswith("定时任务已停止")


@pytest.mark.django_db
def test_finished_queue_rows_older_than_30_days_are_pruned_and_live_ones_kept():
    from datetime import timedelta

    from django.utils import timezone

    from xueji.imports.tasks import reap_stale
    from xueji.scheduling.tasks import prune_task_results

    old, recent, waiting = (reap_stale.enqueue() for _ in range(3))
    long_ago = timezone.now() - timedelta(days=31)
    DBTaskResult.objects.filter(pk__in=[old.id, recent.id]).update(status="SUCCESSFUL", finished_at=long_ago)
    DBTaskResult.objects.filter(pk=recent.id).update(finished_at=timezone.now())
    assert prune_task_results.call() == 1
    assert set(DBTaskResult.objects.values_list("status", flat=True)) == {"SUCCESSFUL", "READY"}
    assert DBTaskResult.objects.count() == 2
    assert DBTaskResult.objects.filter(pk=waiting.id).exists()


# --------------------------------------------------------------------------------------------- lost tasks
def _dead_pid() -> int:
    child = subprocess.Popen(["true"])  # noqa: S607 - a process that is certainly gone afterwards
    child.wait(timeout=10)
    return child.pid


@pytest.mark.django_db
def test_the_worker_leases_a_task_while_it_runs_and_releases_it():
    from django_tasks_db.backend import DatabaseBackend

    from tests.factories.tasks import run_queued_tasks
    from xueji.imports.tasks import reap_stale
    from xueji.scheduling import signals
    from xueji.scheduling.models import TaskLease

    result = reap_stale.enqueue()
    signals.task_started(sender=DatabaseBackend, task_result=result)
    assert TaskLease.objects.filter(task_id=str(result.id), pid=os.getpid()).exists()
    signals.task_finished(sender=DatabaseBackend, task_result=result)
    assert not TaskLease.objects.exists()
    assert run_queued_tasks() == ["SUCCESSFUL"]
    assert not TaskLease.objects.exists()


@pytest.mark.django_db
def test_a_running_task_whose_worker_died_is_marked_failed_and_a_live_one_is_not():
    import socket

    from django.utils import timezone

    from xueji.imports.tasks import reap_stale
    from xueji.scheduling.models import TaskLease
    from xueji.scheduling.tasks import reap_lost_tasks

    lost, alive, elsewhere, finished = (reap_stale.enqueue() for _ in range(4))
    DBTaskResult.objects.filter(pk__in=[lost.id, alive.id, elsewhere.id]).update(
        status="RUNNING", started_at=timezone.now()
    )
    DBTaskResult.objects.filter(pk=finished.id).update(status="SUCCESSFUL", finished_at=timezone.now())
    host = socket.gethostname()
    TaskLease.objects.create(task_id=str(lost.id), host=host, pid=_dead_pid())
    TaskLease.objects.create(task_id=str(alive.id), host=host, pid=os.getpid())
    TaskLease.objects.create(task_id=str(elsewhere.id), host="other-host", pid=1)
    TaskLease.objects.create(task_id=str(finished.id), host=host, pid=_dead_pid())

    assert reap_lost_tasks.call() == 1
    statuses = {str(pk): status for pk, status in DBTaskResult.objects.values_list("id", "status")}
    assert [statuses[r.id] for r in (lost, alive, elsewhere, finished)] == [
        "FAILED",
        "RUNNING",
        "RUNNING",
        "SUCCESSFUL",
    ]
    assert DBTaskResult.objects.get(pk=lost.id).exception_class_path == "xueji.scheduling.tasks.WorkerLost"
    assert set(TaskLease.objects.values_list("task_id", flat=True)) == {str(alive.id), str(elsewhere.id)}
