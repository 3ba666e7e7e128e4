"""Signals of the ground floor, for apps that must learn of a write in an app they may not import.

:data:`records_changed` — student records changed in bulk or by an applied change (an import committed, a
change request applied). Sent inside the writing transaction by the apps below (``changes``, ``imports``);
a receiver that acts on it defers its work to ``transaction.on_commit`` so that nothing happens for a write
that rolls back. The statistics app (above them in the house, issue 10 §1) listens to refresh its snapshot
soon after, debounced (``xueji.statistics.receivers``).

Arguments: ``sender`` — the model class of the write (``ChangeRequest``, ``ImportBatch``); ``reason`` — a
short code (``"change_applied"``, ``"import_committed"``).
"""

from __future__ import annotations

from django.dispatch import Signal

records_changed = Signal()
