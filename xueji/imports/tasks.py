"""Background execution of large imports on the task queue (第6条: large files run in the background with a
progress bar), the stale-run reaper and the purge of old import files.

Files with more data rows than ``settings.IMPORT_BACKGROUND_ROWS`` are checked and committed by a queue task
(django-tasks, database backend: a row in ``django_tasks_db_dbtaskresult`` written in the same transaction that
marks the batch running, drained by ``manage.py db_worker``). Smaller files run inline in the request. The
page (``imports:detail``) and the API poll the batch row, so any web process shows the same state.

Failure behaviour, stated plainly:
- A commit is ONE database transaction (all or nothing). A worker killed mid-import (``kill -9``, out of
  memory, power loss) leaves nothing of the file: the database rolls the transaction back.
- The batch then still says ``导入中``/``校验中``. :func:`reap_stale` (scheduled every minute, see
  ``XUEJI_SCHEDULE``) finds batches whose process is gone (same host: the recorded process id no longer
  exists; another host: no heartbeat for ``XUEJI_TASK_STALE_SECONDS``) and marks them ``导入失败`` and
  retryable, with the queue task marked FAILED too. The detail page offers "重试" at once for such a batch.
- Progress: the dry run stores it after every chunk. A commit stores it through a second connection on
  PostgreSQL; on SQLite the import holds the single write lock, so the page shows "导入中" with the row count
  of the dry run and no percentage until the import has finished.

Roster exports (issue 8 item 9) follow the same split, decided by size rather than refused: a roster of up
to ``XUEJI_ROSTER_EXPORT_INLINE_ROWS`` students (default 20 000 — a school, a small county) is written in the
request and downloaded at once; a larger one (a city) is written by :func:`build_roster` on the queue and
fetched from its page when ready, by its requester only, within ``XUEJI_ROSTER_EXPORT_RETENTION_HOURS``. Both
stream rows from a server-side cursor into openpyxl's write-only mode, so memory does not grow with the
region. Beyond one Excel sheet (1 048 575 rows, or ``XUEJI_ROSTER_EXPORT_MAX_ROWS``) the export is refused
with a message asking to narrow the range.
"""

from __future__ import annotations

import logging
from pathlib import Path
from uuid import UUID

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from django_tasks import task

from xueji.accounts.types import Actor
from xueji.core.errors import ApplicationError

from . import queries, services
from .models import ImportBatch, RosterExport

log = logging.getLogger(__name__)


def runs_in_background(batch: ImportBatch) -> bool:
    rows = max(batch.total_rows, batch.progress_total)
    return rows > int(settings.IMPORT_BACKGROUND_ROWS)


# ------------------------------------------------------------------------------------------ starting
def start_check(*, actor: Actor, batch: ImportBatch) -> bool:
    """Run the dry run now, or on the queue for a large file. Refusals (state, jurisdiction) are raised
    here, synchronously; a file-level problem found while checking is recorded on the batch (``INVALID``).
    Returns True when queued."""
    if runs_in_background(batch):
        with transaction.atomic():
            services.import_batch_check_start(actor=actor, batch=batch)
            _enqueue(batch, actor)
        return True
    services.import_batch_check_start(actor=actor, batch=batch)
    _check_inline(actor, batch)
    return False


def start_commit(*, actor: Actor, batch: ImportBatch) -> bool:
    """Commit now, or on the queue for a large file. Refusals are raised here, synchronously, and so is
    the outcome of an inline commit (``import_aborted`` …). Returns True when queued."""
    if runs_in_background(batch):
        with transaction.atomic():
            services.import_batch_commit_start(actor=actor, batch=batch)
            _enqueue(batch, actor)
        return True
    services.import_batch_commit_start(actor=actor, batch=batch)
    services.import_batch_commit(actor=actor, batch=batch, started=True)
    return False


def start_retry(*, actor: Actor, batch: ImportBatch) -> bool:
    """重试: run the failed step of a batch again with the same stored file (see
    :func:`services.import_batch_retry`), on the queue for a large file. Returns True when queued."""
    if runs_in_background(batch):
        with transaction.atomic():
            services.import_batch_retry(actor=actor, batch=batch)
            _enqueue(batch, actor)
        return True
    phase = services.import_batch_retry(actor=actor, batch=batch)
    if phase == "commit":
        services.import_batch_commit(actor=actor, batch=batch, started=True)
    else:
        _check_inline(actor, batch)
    return False


def _check_inline(actor: Actor, batch: ImportBatch) -> None:
    try:
        services.import_batch_check(actor=actor, batch=batch, started=True)
    except ApplicationError as exc:
        log.info("import check of %s found a file-level problem: %s", batch.pk, exc.code)


def _enqueue(batch: ImportBatch, actor: Actor) -> None:
    """Queue the batch's current attempt. Called inside the transaction that marked the batch running: with
    the database backend the queue row commits (or rolls back) together with the batch's state."""
    job = commit_batch if batch.phase == "commit" else check_batch
    result = job.enqueue(str(batch.pk), int(actor.pk), int(batch.attempt))
    ImportBatch.objects.filter(pk=batch.pk).update(task_id=str(result.id))
    batch.task_id = str(result.id)


# ------------------------------------------------------------------------------------------ queue tasks
@task()
def check_batch(batch_id: str, user_id: int, attempt: int) -> str:
    """Queue task: the dry run of one batch (a no-op when the attempt was superseded)."""
    return _run("check", batch_id, user_id, attempt)


@task()
def commit_batch(batch_id: str, user_id: int, attempt: int) -> str:
    """Queue task: the all-or-nothing commit of one batch (a no-op when the attempt was superseded)."""
    return _run("commit", batch_id, user_id, attempt)


def _run(phase: str, batch_id: str, user_id: int, attempt: int) -> str:
    batch = services.import_batch_claim(batch_id=UUID(batch_id), attempt=attempt, phase=phase)
    if batch is None:
        log.info("import %s %s attempt %s superseded; nothing to do", phase, batch_id, attempt)
        return "superseded"
    actor = get_user_model().objects.get(pk=user_id)
    job = services.import_batch_commit if phase == "commit" else services.import_batch_check
    try:
        job(actor=actor, batch=batch, started=True)
    except ApplicationError as exc:  # recorded on the batch by the service; the task itself succeeded
        log.info("background import %s ended: %s", batch_id, exc.code)
        return exc.code
    return str(batch.status)


# ------------------------------------------------------------------------------------------ roster exports
def start_roster_export(
    *, actor: Actor, spec: services.RosterSpec, target: Path
) -> tuple[int, RosterExport | None]:
    """Write the roster now into ``target`` — ``(rows, None)`` — or, above the inline size, queue it and
    return ``(expected rows, export)``. Refusals (jurisdiction, columns, too large) are raised here."""
    inline = services.roster_export_inline_rows()
    size = services.roster_export_size(actor=actor, spec=spec, cap=inline)
    if size <= inline:
        return services.roster_export_write(actor=actor, spec=spec, target=target), None
    limit = services.roster_export_max_rows()
    size = services.roster_export_size(actor=actor, spec=spec, cap=limit)
    if size > limit:
        raise services.export_too_large(limit)
    with transaction.atomic():
        export = services.roster_export_queue(actor=actor, spec=spec, expected=size)
        result = build_roster.enqueue(str(export.pk))
        RosterExport.objects.filter(pk=export.pk).update(task_id=str(result.id))
    return size, export


@task()
def build_roster(export_id: str) -> str:
    """Queue task: write one queued roster export (a no-op when it already ran)."""
    export = services.roster_export_build(export_id=UUID(export_id))
    return "superseded" if export is None else str(export.status)


# ------------------------------------------------------------------------------------------ schedule
@task()
def reap_stale() -> int:
    """Scheduled (every minute): mark batches whose process is gone FAILED and retryable, and their queue
    tasks FAILED (:func:`services.import_batch_mark_lost`); the same for roster exports. Returns the number
    of batches and exports marked."""
    now = timezone.now()
    marked = 0
    for export in queries.running_exports():
        if queries.export_is_stale(export, now=now) and services.roster_export_mark_lost(export=export):
            marked += 1
            log.warning("roster export %s: process gone, marked failed", export.pk)
    for batch in queries.running_batches():
        if queries.batch_is_stale(batch, now=now) and services.import_batch_mark_lost(batch=batch):
            marked += 1
            log.warning(
                "import batch %s: process %s:%s gone, marked failed",
                batch.pk,
                batch.worker_host,
                batch.worker_pid,
            )
    return marked


@task()
def purge_files() -> int:
    """Scheduled (daily): delete files of imports never committed after XUEJI_IMPORT_FILE_RETENTION_DAYS and
    roster export files after XUEJI_ROSTER_EXPORT_RETENTION_HOURS."""
    now = timezone.now()
    return services.import_files_purge(actor=None, now=now) + services.roster_exports_purge(now=now)
