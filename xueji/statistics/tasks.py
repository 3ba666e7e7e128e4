"""Queue tasks of the statistics app, run by ``manage.py scheduler`` (``XUEJI_SCHEDULE``) and ``manage.py db_worker``."""

from __future__ import annotations

from django_tasks import task

from .services import snapshot_rebuild


@task()
def rebuild_snapshot() -> int:
    """Nightly: rebuild the statistics snapshot as of today (第5、23条); returns the rows written."""
    return snapshot_rebuild()
