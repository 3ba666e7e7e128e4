"""Queue tasks of the statistics app, run by ``manage.py scheduler`` (``XUEJI_SCHEDULE``) and ``manage.py db_worker``."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django_tasks import task

from .models import SnapshotState
from .services import snapshot_rebuild


@task()
def rebuild_snapshot() -> int:
    """Nightly: rebuild the statistics snapshot as of today (第5、23条); returns the rows written. Clears the
    dirty mark (everything committed before it started is in it)."""
    _clear_dirty()
    return snapshot_rebuild()


@task()
def refresh_snapshot() -> int | None:
    """Soon after imports and applied changes (enqueued by :mod:`xueji.statistics.receivers`, and scheduled
    every few minutes as a safety net): rebuild only when the snapshot is marked dirty; None when it is clean
    (a burst of writes enqueues one refresh; an extra run costs one tiny query)."""
    if not _clear_dirty():
        return None
    return snapshot_rebuild()


def _clear_dirty() -> bool:
    """Clear the dirty mark before rebuilding: a write committed during the rebuild marks it again (and
    enqueues the next refresh). True when it was set."""
    with transaction.atomic():
        cleared = SnapshotState.objects.filter(pk=1, dirty_since__isnull=False).update(
            dirty_since=None, rebuilt_at=timezone.now()
        )
        if not cleared:
            SnapshotState.objects.filter(pk=1).update(rebuilt_at=timezone.now())
    return bool(cleared)
