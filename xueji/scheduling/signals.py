"""Leases of running queue tasks (see ``models.TaskLease``), kept by django-tasks' task signals."""

from __future__ import annotations

import contextlib
from typing import Any

from django.db import DatabaseError, transaction
from django_tasks_db.backend import DatabaseBackend

from .models import TaskLease
from .workers import this_worker


def _database_queue(sender: Any) -> bool:
    """Only the database queue has rows that a killed worker can leave RUNNING. (``db_worker`` sends the
    backend instance as the sender, the backends themselves send their class.)"""
    if isinstance(sender, DatabaseBackend):
        return True
    return isinstance(sender, type) and issubclass(sender, DatabaseBackend)


def task_started(sender: Any, task_result: Any, **kwargs: Any) -> None:
    if not _database_queue(sender):
        return
    host, pid = this_worker()
    # A lease helps the clean-up; a failure to write one never fails the task itself.
    with contextlib.suppress(DatabaseError), transaction.atomic():
        TaskLease.objects.update_or_create(task_id=str(task_result.id), defaults={"host": host, "pid": pid})


def task_finished(sender: Any, task_result: Any, **kwargs: Any) -> None:
    if not _database_queue(sender):
        return
    with contextlib.suppress(DatabaseError), transaction.atomic():
        TaskLease.objects.filter(task_id=str(task_result.id)).delete()
