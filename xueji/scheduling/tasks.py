"""Queue housekeeping: tasks whose worker was killed are marked failed; finished rows do not pile up."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from django_tasks import task
from django_tasks.base import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from .models import TaskLease
from .workers import pid_alive, this_worker

RESULT_DAYS = 30


@task()
def prune_task_results() -> int:
    """Scheduled (daily): delete finished queue rows (successful or failed) older than :data:`RESULT_DAYS`
    days; running and waiting tasks are never touched. Returns the number deleted."""
    cutoff = timezone.now() - timedelta(days=RESULT_DAYS)
    deleted, _ = DBTaskResult.objects.finished().filter(finished_at__lt=cutoff).delete()
    return deleted


class WorkerLost(Exception):
    """Recorded as the error of a queue task whose worker process disappeared (:func:`reap_lost_tasks`)."""


LOST_MESSAGE = "后台任务中断（处理进程已退出）；任务在一个事务中执行，未写入任何数据，可重新办理"


@task()
def reap_lost_tasks() -> int:
    """Scheduled (every minute): mark RUNNING queue tasks whose worker process on this host is gone FAILED
    (their work was one transaction: the database rolled it back). Tasks leased by another host are left
    alone (no heartbeat for arbitrary tasks; imports have their own, see ``imports.tasks.reap_stale``).
    Returns how many were marked."""
    host, _ = this_worker()
    leases = list(TaskLease.objects.filter(host=host))  # before the running tasks: a lease follows a claim
    running = {str(i) for i in DBTaskResult.objects.running().values_list("id", flat=True)}
    lost = 0
    for lease in leases:
        if lease.task_id in running and pid_alive(lease.pid):
            continue
        if lease.task_id in running:
            lost += DBTaskResult.objects.filter(pk=lease.task_id, status=TaskResultStatus.RUNNING).update(
                status=TaskResultStatus.FAILED,
                finished_at=timezone.now(),
                exception_class_path=f"{__name__}.WorkerLost",
                traceback=LOST_MESSAGE,
            )
        lease.delete()  # finished (its end was not recorded) or lost: the lease is of no further use
    return lost
