"""Queue tasks of the alerts app, run by ``manage.py scheduler`` (``XUEJI_SCHEDULE``)."""

from __future__ import annotations

from django_tasks import task

from .engine import scan


@task()
def scan_audit() -> int:
    """Every minute: read the audit stream and raise alerts (第23条); returns how many were raised."""
    return len(scan())
