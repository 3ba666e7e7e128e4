"""Queue tasks of the dropout ledger, run by ``manage.py scheduler`` (``XUEJI_SCHEDULE``)."""

from __future__ import annotations

from django_tasks import task

from .services import cases_escalate, cases_follow_register


@task()
def escalate_overdue() -> dict[str, int]:
    """Daily: escalate open cases past their next follow-up date (第17条; :func:`cases_escalate`)."""
    cases_follow_register()  # a case whose pupil the register closed is not escalated (第17条)
    report = cases_escalate()
    return {"county": report.county, "city": report.city, "province": report.province}
