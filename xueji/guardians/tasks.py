"""Queue tasks of the guardian end, run by ``manage.py scheduler`` (``XUEJI_SCHEDULE``) and ``manage.py db_worker``."""

from __future__ import annotations

from django_tasks import task

from .services import expired_purge


@task()
def purge_expired() -> dict[str, int]:
    """Delete expired captchas and SMS codes, old sessions and ended rate windows; returns the counts."""
    report = expired_purge()
    return {
        "captchas": report.captchas,
        "codes": report.codes,
        "sessions": report.sessions,
        "counters": report.counters,
    }
