"""The schedule's ledger: one row per (entry, due slot), written in the transaction that enqueues the job."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class ScheduledRun(models.Model):
    """A schedule entry (a queue task's dotted path) enqueued for one due slot (``2026-12-04`` for a daily
    entry, ``every60s:29439540`` for an interval entry). The unique constraint is what makes two schedulers,
    or a scheduler restarted within a slot, enqueue a daily job once only."""

    name = models.CharField(_("任务"), max_length=200)
    slot = models.CharField(_("时段"), max_length=40)
    enqueued_at = models.DateTimeField(_("提交时间"), auto_now_add=True)
    task_id = models.CharField(max_length=64, blank=True)

    class Meta:
        verbose_name = _("定时任务记录")
        verbose_name_plural = _("定时任务记录")
        constraints = [models.UniqueConstraint(fields=["name", "slot"], name="scheduled_run_once_per_slot")]
        indexes = [models.Index(fields=["enqueued_at"])]

    def __str__(self) -> str:
        return f"{self.name} @ {self.slot}"


class TaskLease(models.Model):
    """Which process runs a queue task (written by the worker when the task starts, removed when it ends).

    A task whose worker was killed stays RUNNING in the queue forever; with its lease, ``reap_lost_tasks``
    can tell (same host: the process id no longer exists) and mark it FAILED so pages stop waiting for it."""

    task_id = models.CharField(max_length=64, primary_key=True)
    host = models.CharField(max_length=100)
    pid = models.PositiveIntegerField()
    started_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("任务租约")
        verbose_name_plural = _("任务租约")

    def __str__(self) -> str:
        return f"{self.task_id} @ {self.host}:{self.pid}"
