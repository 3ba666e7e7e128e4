"""Queue tasks of 监督, run by ``manage.py scheduler`` (``XUEJI_SCHEDULE``)."""

from __future__ import annotations

from django_tasks import task

from .services import counts_snapshot


@task()
def snapshot_counts() -> dict[str, int]:
    """Daily: store each unit's counts of violations and notify the unit and its upper level of a rise
    (第5、26条; :func:`counts_snapshot`)."""
    report = counts_snapshot()
    return {"units": report.units, "rose": report.rose, "notices": report.notices}
