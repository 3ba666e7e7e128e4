"""Receivers of the dropout ledger for writes in apps it may not import (``changes``, ``imports``: same floor).

:data:`xueji.core.signals.records_changed` is sent inside the writing transaction when a change is applied or an
import committed; after that transaction commits, the open cases are brought in step with the register
(:func:`~.services.cases_follow_register`, 第17条): a pupil's death, transfer out, going abroad or withdrawal
closes their case with the matching outcome; a moved record takes its case along. Nothing happens for a write
that rolls back.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from .services import cases_follow_register


def on_records_changed(sender: Any, **kwargs: Any) -> None:
    """``records_changed`` receiver: reconcile the open cases with the register after the commit."""
    transaction.on_commit(cases_follow_register, robust=True)
