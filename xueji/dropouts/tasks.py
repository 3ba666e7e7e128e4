"""Queue tasks of the dropout ledger, run by ``manage.py scheduler`` (``XUEJI_SCHEDULE``)."""

from __future__ import annotations

from django_tasks import task

from .services import cases_escalate


@task()
def escalate_overdue() -> dict[str, int]:
    """Daily: escalate open cases past their next follow-up date (第17条; :func:`cases_escalate`)."""
    report = cases_escalate()
    return {"county": report.county, "city": report.city}
