"""Enqueue due schedule entries, once per (entry, slot) across every scheduler process."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.module_loading import import_string
from django_tasks.base import Task

from .models import ScheduledRun
from .schedule import Entry

log = logging.getLogger(__name__)
LEDGER_DAYS = 30  # rows older than this are pruned (interval entries add one row per interval)


def resolve(entries: list[Entry]) -> dict[str, Task[Any, Any]]:
    """Import every entry's task now, so a typo stops the scheduler at start, not at 02:30."""
    tasks: dict[str, Task[Any, Any]] = {}
    for entry in entries:
        target = import_string(entry.name)
        if not isinstance(target, Task):
            raise TypeError(f"XUEJI_SCHEDULE: {entry.name} 不是队列任务（@task）")
        tasks[entry.name] = target
    return tasks


def scheduled_runs_enqueue_due(
    *, actor: None, entries: list[Entry], tasks: dict[str, Task[Any, Any]], now: datetime
) -> list[str]:
    """Enqueue every entry due at ``now`` whose slot has no ledger row yet; returns the names enqueued.

    ``actor`` is None (the system). The ledger row and the queue row are written in one transaction: a
    second scheduler inserting the same (name, slot) fails on the unique constraint and enqueues nothing,
    and a crash between the two writes leaves neither."""
    local = timezone.localtime(now)
    enqueued = []
    for entry in entries:
        slot = entry.slot(local)
        if slot is None or ScheduledRun.objects.filter(name=entry.name, slot=slot).exists():
            continue
        try:
            with transaction.atomic():
                run = ScheduledRun.objects.create(name=entry.name, slot=slot)
                result = tasks[entry.name].enqueue()
                ScheduledRun.objects.filter(pk=run.pk).update(task_id=str(result.id))
        except IntegrityError:
            continue  # another scheduler took this slot
        log.info("scheduled %s for slot %s", entry.name, slot)
        enqueued.append(entry.name)
    return enqueued


def scheduled_runs_prune(*, actor: None, now: datetime) -> int:
    """Delete ledger rows older than :data:`LEDGER_DAYS` (a daily slot is a date: old rows are never due)."""
    deleted, _ = ScheduledRun.objects.filter(enqueued_at__lt=now - timedelta(days=LEDGER_DAYS)).delete()
    return deleted
