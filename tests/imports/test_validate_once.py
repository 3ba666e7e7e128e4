"""Validate once (issue 7): the commit of a file reuses the rows its clean dry run validated, on the same day,
for the same file and stages; otherwise it validates the file again. Database checks are always made again."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from tests.factories import core as f
from tests.factories import imports as fi
from xueji.imports import checked, services
from xueji.imports.models import ImportBatch
from xueji.students.models import Person

pytestmark = pytest.mark.django_db
Status = ImportBatch.Status


def _checked(actor, school, tmp_path: Path, rows: list[dict[str, str]]) -> ImportBatch:  # type: ignore[no-untyped-def]
    path = fi.write_csv(tmp_path / "a.csv", rows)
    batch = services.import_batch_create(
        actor=actor, school=school, uploaded_file_path=path, file_name=path.name
    )
    services.import_batch_check(actor=actor, batch=batch)
    return batch


def _count_cleans(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    original = services.RowMapper.clean

    def counting(self, number, *args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(number)
        return original(self, number, *args, **kwargs)

    monkeypatch.setattr(services.RowMapper, "clean", counting)
    return calls


def test_a_commit_reuses_the_clean_dry_run_of_the_same_day(
    school_a, registrar_a, tmp_path, monkeypatch, django_capture_on_commit_callbacks
):
    batch = _checked(registrar_a, school_a, tmp_path, fi.students(3))
    assert batch.status == Status.CHECKED
    kept = checked.checked_path(services.stored_path(batch))
    assert kept.exists() and oct(kept.stat().st_mode & 0o777) == "0o600"
    cleans = _count_cleans(monkeypatch)

    with django_capture_on_commit_callbacks(execute=True):
        services.import_batch_commit(actor=registrar_a, batch=batch)

    assert cleans == []  # no row parsed or validated again
    batch.refresh_from_db()
    assert batch.status == Status.COMMITTED and batch.created_count == 3 and batch.total_rows == 3
    assert Person.objects.count() == 3
    assert not kept.exists() and not services.stored_path(batch).exists()  # personal data goes at commit


def test_a_commit_on_another_day_validates_again(school_a, registrar_a, tmp_path, monkeypatch):
    """Age and grade rules depend on the day: yesterday's dry run is not today's."""
    batch = _checked(registrar_a, school_a, tmp_path, fi.students(2))
    cleans = _count_cleans(monkeypatch)
    tomorrow = timezone.now() + timedelta(days=1)
    monkeypatch.setattr(services.timezone, "now", lambda: tomorrow)

    services.import_batch_commit(actor=registrar_a, batch=batch)

    assert cleans == [2, 3]
    assert Person.objects.count() == 2


def test_a_truncated_record_of_the_dry_run_is_not_used(school_a, registrar_a, tmp_path, monkeypatch):
    batch = _checked(registrar_a, school_a, tmp_path, fi.students(2))
    kept = checked.checked_path(services.stored_path(batch))
    kept.write_bytes(kept.read_bytes()[:-12])  # a crash while writing: no trailer
    cleans = _count_cleans(monkeypatch)

    services.import_batch_commit(actor=registrar_a, batch=batch)

    assert cleans == [2, 3]
    assert Person.objects.count() == 2


def test_a_dry_run_with_problems_keeps_no_rows(school_a, registrar_a, tmp_path):
    rows = fi.students(3)
    rows[1]["性别"] = "9"
    batch = _checked(registrar_a, school_a, tmp_path, rows)
    assert batch.status == Status.INVALID
    assert not checked.checked_path(services.stored_path(batch)).exists()


def test_a_student_enrolled_elsewhere_since_the_dry_run_is_still_refused(
    school_a, school_b, registrar_a, tmp_path
):
    """第9条: the database checks run in the commit, whatever the dry run found."""
    rows = fi.students(2)
    batch = _checked(registrar_a, school_a, tmp_path, rows)
    other = Path(tmp_path / "b")
    other.mkdir()
    registrar_b = f.registrar(school_b, username="reg_b")
    elsewhere = _checked(registrar_b, school_b, other, rows[:1])
    services.import_batch_commit(actor=registrar_b, batch=elsewhere)

    with pytest.raises(Exception):  # noqa: B017 - the refusal's type is the engine's; the state is checked below
        services.import_batch_commit(actor=registrar_a, batch=batch)
    batch.refresh_from_db()
    assert batch.status == Status.FAILED
    assert Person.objects.count() == 1
