"""Receivers of 监督 for writes in the apps below it that may not write notices themselves (第5、17、26条).

``dropouts`` stands on the same floor as ``changes`` (which keeps the notices) and may not import it: it sends
:data:`xueji.dropouts.signals.case_escalated` / ``case_followed_up`` and the needs-action notices are written
here, in the sender's transaction (nothing is told for an escalation that rolls back).
"""

from __future__ import annotations

from typing import Any

from .services import dropout_escalation_done, dropout_escalation_notify


def on_case_escalated(sender: Any, *, case: Any, level: str, on: Any, **kwargs: Any) -> None:
    """第17条 逐级上报: tell the department of ``level`` over the pupil's school that the case is overdue."""
    dropout_escalation_notify(case=case, level=level, on=on)


def on_case_followed_up(sender: Any, *, case: Any, **kwargs: Any) -> None:
    """The case was followed up or closed: the escalation notices asked for that — they are done."""
    dropout_escalation_done(case=case)
