"""Queue tasks of the certificates (django-tasks, database backend; ``manage.py db_worker`` runs them).

- :func:`issue_batch`: a graduating cohort (第19条) issued in the background with progress on the batch row
  (``done`` of ``total``), queued by :func:`start_batch` in the transaction that creates the batch.
- :func:`refresh_status_lists`: scheduled daily (``XUEJI_SCHEDULE``) — re-sign each status list so its
  credential never lapses (valid 7 days) and always carries the current key; drop old verification counters.
"""

from __future__ import annotations

from uuid import UUID

from django.db import transaction
from django_tasks import task

from xueji.accounts.types import Actor
from xueji.schools.models import School

from . import limits, services
from .models import CertificateBatch


def start_batch(*, actor: Actor, school: School, kind: str) -> CertificateBatch:
    """Create the batch and queue it (one transaction: the queue row commits with the batch)."""
    with transaction.atomic():
        batch = services.batch_create(actor=actor, school=school, kind=kind)
        result = issue_batch.enqueue(str(batch.pk))
        CertificateBatch.objects.filter(pk=batch.pk).update(task_id=str(result.id))
        batch.task_id = str(result.id)
    return batch


@task()
def issue_batch(batch_id: str) -> str:
    """Queue task: issue every certificate of one batch (a no-op when it already finished)."""
    batch = services.batch_run(batch_id=UUID(batch_id))
    return "superseded" if batch is None else f"{batch.issued}/{batch.total}"


@task()
def refresh_status_lists() -> int:
    limits.purge()  # yesterday's verification counters
    return services.status_lists_refresh()
