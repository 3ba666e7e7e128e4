"""Receivers of the dropout ledger for writes in apps it may not import (``changes``, ``imports``: same floor).

:data:`xueji.core.signals.records_changed` is sent inside the writing transaction when a change is applied or an
import committed; after that transaction commits, the open cases are brought in step with the register
(:func:`~.services.cases_follow_register`, 第17条): a pupil's death or going abroad closes their case with the
matching outcome; a moved record (a transfer within compulsory education, a promotion, a merger) takes its case
along. Nothing happens for a write that rolls back, nor for writes that cannot end or move a record
(registration, a record edit, a class move: :data:`REASONS`); the daily task catches anything else.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from .services import cases_follow_register

#: The ``records_changed`` reasons that can end or move an enrollment.
REASONS = frozenset({"change_applied", "import_committed", "promotion", "school_merged", "school_closed"})


def on_records_changed(sender: Any, reason: str = "", **kwargs: Any) -> None:
    """``records_changed`` receiver: reconcile the open cases with the register after the commit."""
    if reason in REASONS:
        transaction.on_commit(cases_follow_register, robust=True)
