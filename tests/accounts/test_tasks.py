"""The daily sealing of dormant accounts (第24条) runs as a queue task, enqueued by the schedule."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from tests.factories import accounts as fa
from tests.factories import core as f
from tests.factories.tasks import run_queued_tasks
from xueji.accounts.tasks import seal_dormant
from xueji.scheduling.schedule import parse
from xueji.scheduling.services import resolve, scheduled_runs_enqueue_due

pytestmark = pytest.mark.django_db


def test_the_schedule_enqueues_the_daily_sealing_and_the_worker_seals(registrar_a, school_a):
    fa.last_seen(registrar_a, timezone.now() - timedelta(days=181))
    recent = fa.last_seen(f.registrar(school_a), timezone.now() - timedelta(days=10))
    assert settings.XUEJI_SCHEDULE["xueji.accounts.tasks.seal_dormant"] == "daily 02:30"
    entries = [e for e in parse(settings.XUEJI_SCHEDULE) if e.name == "xueji.accounts.tasks.seal_dormant"]
    late = timezone.localtime().replace(hour=23, minute=0)
    assert scheduled_runs_enqueue_due(actor=None, entries=entries, tasks=resolve(entries), now=late) == [
        "xueji.accounts.tasks.seal_dormant"
    ]
    assert run_queued_tasks() == ["SUCCESSFUL"]
    registrar_a.refresh_from_db()
    recent.refresh_from_db()
    assert (registrar_a.sealed_at is not None, recent.sealed_at) == (True, None)
    assert seal_dormant.call() == 0  # a second run the same day seals nobody twice
