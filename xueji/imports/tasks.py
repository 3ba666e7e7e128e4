"""Background execution of large imports (第6条: large files run in the background with a progress bar).

Files with more data rows than ``settings.IMPORT_BACKGROUND_ROWS`` are checked and committed in a daemon
thread of the web process, started once the request's transaction has committed; the page polls the batch
(``imports:detail``) and shows :func:`xueji.imports.queries.live_progress`. Smaller files run inline.

Limits, stated plainly:
- The thread lives in the web process. If the process restarts mid-import the transaction rolls back (nothing
  is half-written) and the batch stays ``导入中``/``校验中``; run it again with ``manage.py import_students``.
- Progress of a commit is published to the Django cache (see ``queries.publish_progress``); with the default
  per-process cache only the process running the thread sees it. A multi-process deployment (several
  gunicorn workers) should configure a shared cache, or run large imports with ``manage.py import_students``
  (which draws its own progress bar) or a dedicated worker.
- On SQLite a commit holds the single write lock for its whole duration (all or nothing); other writes wait
  (up to the 20 s busy timeout). Import very large files off-hours, or on PostgreSQL.
"""

from __future__ import annotations

import contextvars
import logging
import threading
from collections.abc import Callable
from typing import Any
from uuid import UUID

from django.conf import settings
from django.db import connections, transaction

from xueji.core.errors import ApplicationError

from . import services
from .models import ImportBatch

log = logging.getLogger(__name__)


def runs_in_background(batch: ImportBatch) -> bool:
    rows = max(batch.total_rows, batch.progress_total)
    return rows > int(settings.IMPORT_BACKGROUND_ROWS)


def start_check(*, actor: Any, batch: ImportBatch) -> bool:
    """Run the dry run now, or in the background for a large file. Refusals (state, jurisdiction) are raised
    here, synchronously; a file-level problem found while checking is recorded on the batch (``INVALID``).
    Returns True when backgrounded."""
    services.import_batch_check_start(actor=actor, batch=batch)
    if runs_in_background(batch):
        _after_commit(services.import_batch_check, batch.pk, actor.pk)
        return True
    try:
        services.import_batch_check(actor=actor, batch=batch, started=True)
    except ApplicationError as exc:
        log.info("import check of %s found a file-level problem: %s", batch.pk, exc.code)
    return False


def start_commit(*, actor: Any, batch: ImportBatch) -> bool:
    """Commit now, or in the background for a large file. Refusals are raised here, synchronously, and so is
    the outcome of an inline commit (``import_aborted`` …). Returns True when backgrounded."""
    services.import_batch_commit_start(actor=actor, batch=batch)
    if runs_in_background(batch):
        _after_commit(services.import_batch_commit, batch.pk, actor.pk)
        return True
    services.import_batch_commit(actor=actor, batch=batch, started=True)
    return False


def _after_commit(job: Callable[..., Any], batch_id: UUID, user_id: int) -> None:
    context = contextvars.copy_context()  # carries the request id into the thread's audit events

    def launch() -> None:
        thread = threading.Thread(
            target=context.run, args=(_run, job, batch_id, user_id), name=f"import-{batch_id}", daemon=True
        )
        thread.start()

    transaction.on_commit(launch)


def _run(job: Callable[..., Any], batch_id: UUID, user_id: int) -> None:
    from django.contrib.auth import get_user_model

    try:
        batch = ImportBatch.objects.select_related("school", "school__org").get(pk=batch_id)
        actor = get_user_model().objects.get(pk=user_id)
        job(actor=actor, batch=batch, started=True)
    except ApplicationError as exc:  # recorded on the batch by the service
        log.info("background import %s ended: %s", batch_id, exc.code)
    except Exception:
        log.exception("background import %s crashed", batch_id)
        ImportBatch.objects.filter(pk=batch_id).update(
            status=ImportBatch.Status.FAILED, message="导入失败（系统错误），未写入任何数据"
        )
    finally:
        connections.close_all()
