"""The snapshot refreshes soon after imports and applied changes, debounced (issue 10 §1): the writing apps send
``xueji.core.signals.records_changed``; after their transaction commits the snapshot is marked dirty and only
the first write after a rebuild enqueues a refresh, deferred by the debounce delay; the refresh rebuilds only
when dirty; a write that rolls back marks nothing."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from tests.factories import changes as c
from tests.factories import core as f
from tests.factories import imports as fi
from tests.factories.tasks import run_queued_tasks
from xueji.changes.services import change_decide, change_submit
from xueji.core.signals import records_changed
from xueji.imports import services as imports
from xueji.statistics.models import FlowCell, SnapshotState, StatCell
from xueji.statistics.queries import breakdown
from xueji.statistics.services import snapshot_rebuild
from xueji.statistics.tasks import rebuild_snapshot, refresh_snapshot
from xueji.students.models import Enrollment

pytestmark = pytest.mark.django_db

DAY = date(2026, 9, 24)
REFRESH = "xueji.statistics.tasks.refresh_snapshot"


def _queued() -> list[DBTaskResult]:
    return list(DBTaskResult.objects.filter(task_path=REFRESH, status="READY"))


def _suspend(school: Any, enrollment: Enrollment) -> None:
    req = change_submit(
        actor=f.registrar(school),
        kind="suspension",
        enrollment=enrollment,
        facts={
            "start_date": "2026-09-24",
            "end_date": "2027-07-01",
            "reason": "illness",
            "applicant_name": "张大明",
        },
        today=DAY,
    )
    change_decide(actor=c.dept_registrar("440105"), request=req, action="approve", today=DAY)


def _due_now() -> None:
    """Let the deferred refresh come due (the debounce window has passed)."""
    DBTaskResult.objects.filter(task_path=REFRESH).update(run_after=timezone.now() - timedelta(seconds=1))


@pytest.fixture
def school(tree: Any) -> Any:
    c.calendar()
    return f.school("440105", "primary")


def test_applied_changes_enqueue_one_deferred_refresh(
    school: Any, django_capture_on_commit_callbacks: Any
) -> None:
    first, second = c.enrolled(school, grade=4), c.enrolled(school, grade=5)
    snapshot_rebuild()
    assert breakdown(unit=school.org, by="status").rows[0].key == "01"
    before = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        _suspend(school, first)
    [task] = _queued()
    assert task.run_after is not None and task.run_after >= before + timedelta(seconds=59)  # debounced
    assert SnapshotState.objects.get(pk=1).dirty_since is not None
    with django_capture_on_commit_callbacks(execute=True):
        _suspend(school, second)
    assert len(_queued()) == 1  # the second change rides on the pending refresh
    assert run_queued_tasks() == []  # not due yet
    _due_now()
    assert run_queued_tasks() == ["SUCCESSFUL"]
    assert {r.key: r.count for r in breakdown(unit=school.org, by="status").rows} == {"02": 2}
    assert FlowCell.objects.get(kind="suspension").count == 2
    assert SnapshotState.objects.get(pk=1).dirty_since is None
    # the next change after the rebuild enqueues the next refresh
    third = c.enrolled(school, grade=3)
    with django_capture_on_commit_callbacks(execute=True):
        _suspend(school, third)
    assert len(_queued()) == 1


def test_import_commit_enqueues_a_refresh(
    school: Any, tmp_path: Path, django_capture_on_commit_callbacks: Any
) -> None:
    registrar = f.registrar(school)
    path = fi.write_csv(tmp_path / "x.csv", fi.students(3))
    batch = imports.import_batch_create(
        actor=registrar, school=school, uploaded_file_path=path, file_name="x.csv"
    )
    imports.import_batch_check(actor=registrar, batch=batch)
    snapshot_rebuild()
    assert breakdown(unit=school.org, by="grade").total == 0
    with django_capture_on_commit_callbacks(execute=True):
        imports.import_batch_commit(actor=registrar, batch=batch)
    assert len(_queued()) == 1
    _due_now()
    assert run_queued_tasks() == ["SUCCESSFUL"]
    assert (
        breakdown(unit=school.org, by="grade").total == 3 == Enrollment.objects.filter(is_active=True).count()
    )


def test_rolled_back_write_marks_nothing(school: Any, django_capture_on_commit_callbacks: Any) -> None:
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        try:
            with transaction.atomic():
                records_changed.send(sender=Enrollment, reason="change_applied")
                raise RuntimeError("roll back")
        except RuntimeError:
            pass
    assert callbacks == []
    assert not SnapshotState.objects.filter(dirty_since__isnull=False).exists()
    assert _queued() == []


def test_refresh_rebuilds_only_when_dirty(school: Any) -> None:
    c.enrolled(school, grade=4)
    snapshot_rebuild(date(2026, 1, 1))
    assert refresh_snapshot.call() is None  # clean: nothing rebuilt
    assert set(StatCell.objects.values_list("as_of", flat=True)) == {date(2026, 1, 1)}
    SnapshotState.objects.create(pk=1, dirty_since=timezone.now())
    assert refresh_snapshot.call() == StatCell.objects.filter(as_of=timezone.localdate()).count() > 0
    # The January snapshot stays (a month's last snapshot is kept for 36 months); today's is the newest.
    assert max(StatCell.objects.values_list("as_of", flat=True)) == timezone.localdate()
    state = SnapshotState.objects.get(pk=1)
    assert state.dirty_since is None and state.rebuilt_at is not None


def test_nightly_rebuild_clears_the_mark(school: Any) -> None:
    SnapshotState.objects.create(pk=1, dirty_since=timezone.now())
    rebuild_snapshot.call()
    assert SnapshotState.objects.get(pk=1).dirty_since is None
    assert refresh_snapshot.call() is None


def test_no_delay_enqueues_at_once(
    school: Any, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.XUEJI_STATISTICS_REFRESH_DELAY = 0
    c.enrolled(school, grade=4)
    with django_capture_on_commit_callbacks(execute=True):
        _suspend(school, Enrollment.objects.get())
    assert len(_queued()) == 1
    assert run_queued_tasks() == ["SUCCESSFUL"]  # due at once, no waiting
    assert breakdown(unit=school.org, by="status").rows[0].key == "02"
