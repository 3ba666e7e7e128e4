"""Queue tasks of the students app, run by ``manage.py scheduler`` (``XUEJI_SCHEDULE``) and ``manage.py db_worker``."""

from __future__ import annotations

from django_tasks import task

from .counters import counts_compact


@task()
def compact_counts() -> int:
    """Fold the appended per-school deltas into the active-enrollment counts (issue 7); returns how many."""
    return counts_compact()
