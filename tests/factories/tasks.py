"""Run queued django-tasks in the test process, the way ``manage.py db_worker`` runs them (claim, call, record
the outcome), without the worker's connection handling (which would close the test's transaction)."""

from __future__ import annotations

from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult


def run_queued_tasks(limit: int = 50) -> list[str]:
    """Run every READY task in queue order (tasks enqueued while running are run too, up to ``limit``);
    returns their final statuses in order."""
    worker = Worker(
        queue_names=["*"],
        interval=0,
        batch=True,
        backend_name="default",
        startup_delay=False,
        max_tasks=None,
        worker_id="test-worker",
        excluded_queue_names=[],
    )
    statuses = []
    for _ in range(limit):
        result = DBTaskResult.objects.ready().first()
        if result is None:
            break
        result.claim(worker.worker_id)
        worker.run_task(result)
        result.refresh_from_db()
        statuses.append(result.status)
    return statuses
