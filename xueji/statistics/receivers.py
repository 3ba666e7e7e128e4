"""Refresh of the statistics snapshot soon after writes (issue 10 §1), debounced.

The apps below statistics send :data:`xueji.core.signals.records_changed` inside their writing transaction
(an import committed, a change request applied, the annual promotion). Here, once that transaction has
committed, the snapshot is marked dirty; only the write that turns it from clean to dirty enqueues a refresh
(:func:`xueji.statistics.tasks.refresh_snapshot`), to run :data:`REFRESH_DELAY` seconds later — so a burst of
writes (a county's approvals, a school's imports one after another) costs one rebuild, not one per write.
The refresh clears the mark before it rebuilds, so a write committed while it runs marks the snapshot dirty
again and enqueues the next one. A refresh lost with its worker leaves the mark set: the scheduled
``refresh_snapshot`` (``XUEJI_SCHEDULE``, every few minutes) picks it up, and the nightly rebuild clears it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from .models import SnapshotState
from .tasks import refresh_snapshot

#: Seconds between the first write after a rebuild and the refresh it triggers (the debounce window).
REFRESH_DELAY = 60


def refresh_delay() -> int:
    return int(getattr(settings, "XUEJI_STATISTICS_REFRESH_DELAY", REFRESH_DELAY))


def mark_dirty() -> bool:
    """Mark the snapshot dirty; True when it was clean (the caller then enqueues the refresh). One conditional
    UPDATE, so of two writers committing at once exactly one sees the clean → dirty step."""
    now = timezone.now()
    # The common case after the first change of a window: already dirty — one read, no write.
    state = SnapshotState.objects.filter(pk=1).values_list("dirty_since", flat=True)
    found = list(state[:1])
    if found and found[0] is not None:
        return False
    if found:
        return bool(SnapshotState.objects.filter(pk=1, dirty_since__isnull=True).update(dirty_since=now))
    try:
        with transaction.atomic():
            SnapshotState.objects.create(pk=1, dirty_since=now)
    except IntegrityError:  # created by a concurrent writer, who enqueues
        return False
    return True


def _dirty_and_enqueue() -> None:
    if not mark_dirty():
        return
    delay = refresh_delay()
    task = refresh_snapshot
    if delay > 0 and task.get_backend().supports_defer:
        task = task.using(run_after=timezone.now() + timedelta(seconds=delay))
    task.enqueue()


def on_records_changed(sender: Any, **kwargs: Any) -> None:
    """``records_changed`` receiver: after the sender's transaction commits, mark dirty and maybe enqueue."""
    transaction.on_commit(_dirty_and_enqueue)
