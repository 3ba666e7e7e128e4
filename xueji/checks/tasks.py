"""Queue task of the checks: the nightly run (``XUEJI_SCHEDULE``) of the problem-record rules (第9、25条)."""

from __future__ import annotations

from typing import Any

from django_tasks import task

from .services import run_checks


@task()
def run_nightly_checks() -> dict[str, Any]:
    """Scheduled (nightly): :func:`run_checks` over every province, as the system (``actor=None``). Idempotent:
    a second run the same night opens nothing. Returns the counts per rule and the seconds taken."""
    report = run_checks(actor=None)
    return {"opened": report.opened, "total": report.total, "seconds": report.seconds}
