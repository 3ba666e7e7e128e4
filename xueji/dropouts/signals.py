"""Signals of the dropout ledger, for the apps above that must act on a write here (dropouts stands on the same
floor as ``changes`` and may not import its notices; ``oversight`` listens and writes them).

:data:`case_escalated` — an overdue case went up one level (第5、17条 逐级上报). Sent inside the escalating
transaction, once per level reached. Arguments: ``case`` (the :class:`~.models.DropoutCase`, its school and
region the pupil's current ones), ``level`` (an :class:`~.enums.Escalation` value: county, city, province),
``on`` (the day), ``working_days_overdue``.

:data:`case_followed_up` — a follow-up was recorded or the case closed: whoever was told to act on the overdue
case has done so. Arguments: ``case``.
"""

from __future__ import annotations

from django.dispatch import Signal

case_escalated = Signal()
case_followed_up = Signal()
