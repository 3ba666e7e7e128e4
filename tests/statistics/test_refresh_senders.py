"""More writers refresh the statistics snapshot (issue 10 §1): registration (one student or a batch) and a
school's merger or closure (第12条) send ``records_changed`` like imports and applied changes do — after the
commit the snapshot is marked dirty and one deferred refresh is enqueued; a registration that fails or rolls
back marks nothing."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from tests.factories import changes as c
from tests.factories import core as f
from tests.factories.tasks import run_queued_tasks
from xueji.changes.merger import school_close, school_merge
from xueji.core.errors import ApplicationError
from xueji.statistics.models import SnapshotState
from xueji.statistics.queries import breakdown
from xueji.statistics.services import snapshot_rebuild
from xueji.students.models import Enrollment
from xueji.students.records import class_assign, student_update
from xueji.students.services import RegistrationRejected, register_students
from xueji.students.validation import clean_registration

pytestmark = pytest.mark.django_db

REFRESH = "xueji.statistics.tasks.refresh_snapshot"
REASON = "海教〔2027〕12号"


def _queued() -> list[DBTaskResult]:
    return list(DBTaskResult.objects.filter(task_path=REFRESH, status="READY"))


def _dirty() -> bool:
    return SnapshotState.objects.filter(pk=1, dirty_since__isnull=False).exists()


def _due_now() -> None:
    DBTaskResult.objects.filter(task_path=REFRESH).update(run_after=timezone.now() - timedelta(seconds=1))


def _reg(school: Any, **person: Any) -> Any:
    return clean_registration(
        f.person_data(**person),
        f.enrollment_data(grade="3", entry_method="11"),
        [f.guardian_data()],
        school_stages=school.stages,
        today=date(2026, 11, 27),
    )


@pytest.fixture
def school(tree: Any) -> Any:
    c.calendar()
    return f.school("440105", "primary")


def test_single_registration_enqueues_one_deferred_refresh(
    school: Any, django_capture_on_commit_callbacks: Any
) -> None:
    registrar = f.registrar(school)
    snapshot_rebuild()
    assert breakdown(unit=school.org, by="grade").total == 0
    before = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        register_students(actor=registrar, school=school, registrations=[_reg(school)], disclose_holder=True)
    [task] = _queued()
    assert task.run_after is not None and task.run_after >= before + timedelta(seconds=59)  # debounced
    assert _dirty()
    _due_now()
    assert run_queued_tasks() == ["SUCCESSFUL"]
    assert breakdown(unit=school.org, by="grade").total == 1 == Enrollment.objects.count()
    assert not _dirty()


def test_batch_registration_enqueues_one_refresh(
    school: Any, django_capture_on_commit_callbacks: Any
) -> None:
    snapshot_rebuild()
    regs = [_reg(school, name=name) for name in ("张一", "李二", "王三")]
    with django_capture_on_commit_callbacks(execute=True):
        register_students(actor=None, school=school, registrations=regs)
    assert len(_queued()) == 1
    with django_capture_on_commit_callbacks(execute=True):  # a second batch rides on the pending refresh
        register_students(actor=None, school=school, registrations=[_reg(school, name="赵四")])
    assert len(_queued()) == 1
    _due_now()
    assert run_queued_tasks() == ["SUCCESSFUL"]
    assert breakdown(unit=school.org, by="grade").total == 4 == Enrollment.objects.count()


def test_refused_registration_marks_nothing(school: Any, django_capture_on_commit_callbacks: Any) -> None:
    """第12条 一人一籍: the second registration of the same identity is refused — nothing written, nothing marked."""
    reg = _reg(school)
    register_students(actor=None, school=school, registrations=[reg])
    SnapshotState.objects.all().delete()
    DBTaskResult.objects.all().delete()
    with django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(RegistrationRejected):
        register_students(actor=None, school=school, registrations=[reg])
    assert callbacks == []
    assert not _dirty()
    assert _queued() == []


def test_rolled_back_registration_marks_nothing(school: Any, django_capture_on_commit_callbacks: Any) -> None:
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        register_students(actor=None, school=school, registrations=[_reg(school)])
        raise RuntimeError("roll back")
    assert callbacks == []
    assert Enrollment.objects.count() == 0
    assert not _dirty()
    assert _queued() == []


@pytest.fixture
def pair(school: Any) -> dict[str, Any]:
    new = f.school("440105", "primary", name="海珠新小")
    return {"old": school, "new": new, "county": c.dept_registrar("440105")}


def test_school_merger_enqueues_a_refresh(
    pair: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    """第12条: the merged school's pupils are counted at the successor once the snapshot refreshes."""
    old, new = pair["old"], pair["new"]
    c.enrolled(old, grade=3)
    c.enrolled(old, grade=4)
    snapshot_rebuild()
    SnapshotState.objects.all().delete()
    DBTaskResult.objects.all().delete()
    assert breakdown(unit=old.org, by="grade").total == 2
    with django_capture_on_commit_callbacks(execute=True):
        school_merge(actor=pair["county"], school=old, into=new, reason=REASON)
    assert len(_queued()) == 1 and _dirty()
    _due_now()
    assert run_queued_tasks() == ["SUCCESSFUL"]
    assert breakdown(unit=new.org, by="grade").total == 2
    assert breakdown(unit=old.org, by="grade").total == 0


def test_school_closure_enqueues_a_refresh(
    pair: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    old = pair["old"]
    former = c.enrolled(old, grade=6)
    Enrollment.objects.filter(pk=former.pk).update(is_active=False, status="07")
    snapshot_rebuild()
    SnapshotState.objects.all().delete()
    DBTaskResult.objects.all().delete()
    with django_capture_on_commit_callbacks(execute=True):
        school_close(actor=pair["county"], school=old, reason=REASON)
    assert len(_queued()) == 1 and _dirty()


def test_refused_closure_marks_nothing(pair: dict[str, Any], django_capture_on_commit_callbacks: Any) -> None:
    old = pair["old"]
    c.enrolled(old, grade=3)
    SnapshotState.objects.all().delete()
    DBTaskResult.objects.all().delete()
    with django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(ApplicationError):
        school_close(actor=pair["county"], school=old, reason=REASON)
    assert callbacks == []
    assert not _dirty() and _queued() == []


def test_record_edit_of_a_counted_field_enqueues_a_refresh(
    school: Any, django_capture_on_commit_callbacks: Any
) -> None:
    registrar = f.registrar(school)
    e = c.enrolled(school, grade=3)
    with django_capture_on_commit_callbacks(execute=True):
        student_update(actor=registrar, enrollment=e, changes={"specialty": "书法"})  # not counted
    assert _queued() == [] and not _dirty()
    with django_capture_on_commit_callbacks(execute=True):
        student_update(actor=registrar, enrollment=e, changes={"ethnicity": "08"})
    assert len(_queued()) == 1 and _dirty()


def test_class_assignment_enqueues_a_refresh(school: Any, django_capture_on_commit_callbacks: Any) -> None:
    registrar = f.registrar(school)
    e = c.enrolled(school, grade=3)
    with django_capture_on_commit_callbacks(execute=True):
        class_assign(actor=registrar, enrollments=[e], class_name="9班")
    assert len(_queued()) == 1 and _dirty()
