"""Signals of the ground floor, for apps that must learn of a write in an app they may not import.

:data:`records_changed` — student records changed in bulk or by an applied change (an import committed, a
change request applied, a registration). Sent inside the writing transaction by the apps below (``changes``, ``imports``);
a receiver that acts on it defers its work to ``transaction.on_commit`` so that nothing happens for a write
that rolls back. The statistics app (above them in the house, issue 10 §1) listens to refresh its snapshot
soon after, debounced (``xueji.statistics.receivers``).

Also sent by ``students`` (registration, a record edit of a counted field, a class assignment) and by the school
merger or closure. The dropout ledger listens too: a case closes when the register records the pupil's death or
departure (``xueji.dropouts.receivers``).

Arguments: ``sender`` — the model class of the write (``ChangeRequest``, ``ImportBatch``, ``Enrollment``,
``Person``, ``School``); ``reason`` — a short code (``"change_applied"``, ``"import_committed"``, ``"promotion"``,
``"registered"``, ``"record_updated"``, ``"class_assigned"``, ``"school_merged"``, ``"school_closed"``).
"""

from __future__ import annotations

from django.dispatch import Signal

records_changed = Signal()
