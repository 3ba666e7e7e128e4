"""Queue tasks of the core app, run by ``manage.py scheduler`` (``XUEJI_SCHEDULE``) and ``manage.py db_worker``."""

from __future__ import annotations

from django_tasks import task

from .ratelimit import ratelimit_purge


@task()
def purge_rate_counters() -> int:
    """Delete rate-limit counters whose window has ended (issue #6 §3.10); returns how many were deleted."""
    return ratelimit_purge()
