"""Queue tasks of accounts: the daily sealing of dormant accounts (第24条), run by ``manage.py scheduler``
(``XUEJI_SCHEDULE``) and executed by ``manage.py db_worker``."""

from __future__ import annotations

from django.utils import timezone
from django_tasks import task

from .services import seal_dormant as seal_dormant_accounts


@task()
def seal_dormant() -> int:
    """第24条: seal accounts unused for more than ACCOUNT_DORMANCY_DAYS; returns how many were sealed. The
    system acts (``actor=None``); re-running the same day seals nobody twice."""
    return seal_dormant_accounts(actor=None, now=timezone.now())
