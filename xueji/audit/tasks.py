"""Queue tasks of the audit app, run by ``manage.py scheduler`` (``XUEJI_SCHEDULE``) and ``manage.py db_worker``."""

from __future__ import annotations

from django_tasks import task

from .chain import chain_pending, record_verification, verify_chain


@task()
def chain_events() -> int:
    """Chain the audit events committed since the last run and sign a checkpoint when one is due (issue 11 §2;
    等保 8.1.4.3). One sequencer at a time: a second run finds the lock taken and returns 0."""
    return chain_pending().chained


@task()
def verify_events() -> bool:
    """Recompute the whole chain against its checkpoints (``manage.py audit_verify``, scheduled daily) and
    record the outcome: ``audit.chain_broken`` feeds the early warning (第23条). Returns whether it held."""
    result = verify_chain()
    record_verification(result)
    return result.ok
