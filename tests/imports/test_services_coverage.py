"""Import service paths the scenario tests do not reach: blank lines in a file, a school closed between upload
and check, refused state transitions, the reaper's re-check, uploads spooled to disk and the purge of a batch
whose file is already gone. Each asserts the exact outcome."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.uploadedfile import TemporaryUploadedFile
from django.db import IntegrityError
from django.utils import timezone

from tests.factories import imports as fi
from xueji.core.errors import ApplicationError, Conflict
from xueji.imports import services
from xueji.imports.models import ImportBatch
from xueji.schools.models import School
from xueji.students.models import Person

pytestmark = pytest.mark.django_db
Status = ImportBatch.Status


def _upload(actor, school, path: Path) -> ImportBatch:  # type: ignore[no-untyped-def]
    return services.import_batch_create(
        actor=actor, school=school, uploaded_file_path=path, file_name=path.name
    )


def _close(school: School) -> None:
    School.objects.filter(pk=school.pk).update(state="closed")
    school.refresh_from_db()


def test_blank_lines_before_the_header_and_between_rows_are_skipped(school_a, registrar_a, tmp_path):
    rows = fi.students(2)
    path = fi.write_csv(tmp_path / "blank.csv", rows)
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    blank = "," * (len(fi.HEADERS) - 1)
    path.write_text("\n".join(["", blank, lines[0], lines[1], blank, "", lines[2], ""]), encoding="utf-8-sig")

    batch = _upload(registrar_a, school_a, path)
    services.import_batch_check(actor=registrar_a, batch=batch)

    batch.refresh_from_db()
    assert (batch.status, batch.total_rows, batch.valid_rows, batch.error_count) == (Status.CHECKED, 2, 2, 0)


def test_a_closed_school_cannot_upload(school_a, registrar_a, tmp_path):
    _close(school_a)

    with pytest.raises(ApplicationError) as exc:
        _upload(registrar_a, school_a, fi.write_csv(tmp_path / "a.csv", fi.students(1)))

    assert exc.value.code == "school_not_active"
    assert ImportBatch.objects.count() == 0


def test_school_closed_after_the_upload_makes_the_check_invalid(school_a, registrar_a, tmp_path):
    batch = _upload(registrar_a, school_a, fi.write_csv(tmp_path / "a.csv", fi.students(1)))
    _close(school_a)

    with pytest.raises(ApplicationError) as exc:
        services.import_batch_check(actor=registrar_a, batch=batch)

    batch.refresh_from_db()
    assert exc.value.code == "school_not_active"
    assert batch.status == Status.INVALID
    assert [e["code"] for e in batch.errors] == ["school_not_active"]


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (Status.COMMITTED, "batch_committed"),
        (Status.CHECKING, "batch_busy"),
        (Status.COMMITTING, "batch_busy"),
    ],
)
def test_check_refused_while_running_or_after_the_import(school_a, registrar_a, tmp_path, status, code):
    batch = _upload(registrar_a, school_a, fi.write_csv(tmp_path / "a.csv", fi.students(1)))
    ImportBatch.objects.filter(pk=batch.pk).update(status=status)

    with pytest.raises(Conflict) as exc:
        services.import_batch_check_start(actor=registrar_a, batch=batch)

    assert exc.value.code == code
    assert ImportBatch.objects.get(pk=batch.pk).status == status


@pytest.mark.parametrize(
    ("status", "code"), [(Status.COMMITTED, "file_already_imported"), (Status.CHECKING, "batch_busy")]
)
def test_commit_refused_after_the_import_or_while_running(school_a, registrar_a, tmp_path, status, code):
    batch = _upload(registrar_a, school_a, fi.write_csv(tmp_path / "a.csv", fi.students(1)))
    services.import_batch_check(actor=registrar_a, batch=batch)
    ImportBatch.objects.filter(pk=batch.pk).update(status=status, finished_at=timezone.now())

    with pytest.raises(Conflict) as exc:
        services.import_batch_commit_start(actor=registrar_a, batch=batch)

    assert exc.value.code == code
    assert Person.objects.count() == 0


def test_reaper_leaves_a_batch_that_is_not_running(school_a, registrar_a, tmp_path):
    batch = _upload(registrar_a, school_a, fi.write_csv(tmp_path / "a.csv", fi.students(1)))

    assert services.import_batch_mark_lost(batch=batch) is False
    assert ImportBatch.objects.get(pk=batch.pk).status == Status.UPLOADED


def test_upload_spooled_to_a_temporary_file_is_stored(school_a, registrar_a, tmp_path):
    content = fi.write_csv(tmp_path / "a.csv", fi.students(2)).read_bytes()
    uploaded = TemporaryUploadedFile("新生.csv", "text/csv", len(content), "utf-8")
    uploaded.write(content)
    uploaded.seek(0)
    try:
        batch = services.import_upload(actor=registrar_a, school=school_a, uploaded=uploaded)
    finally:
        uploaded.close()

    assert (batch.status, batch.file_name, batch.progress_total) == (Status.UPLOADED, "新生.csv", 2)
    assert services.stored_path(batch).read_bytes() == content


def test_purge_marks_an_old_batch_whose_file_is_already_gone(school_a, registrar_a, tmp_path):
    batch = _upload(registrar_a, school_a, fi.write_csv(tmp_path / "a.csv", fi.students(1)))
    services.stored_path(batch).unlink()
    now = timezone.now()
    ImportBatch.objects.filter(pk=batch.pk).update(created_at=now - timedelta(days=30))

    assert services.import_files_purge(actor=None, now=now) == 0
    assert ImportBatch.objects.get(pk=batch.pk).file_purged_at == now


def _checked(actor, school, tmp_path, n: int = 2) -> ImportBatch:  # type: ignore[no-untyped-def]
    batch = _upload(actor, school, fi.write_csv(tmp_path / "a.csv", fi.students(n)))
    services.import_batch_check(actor=actor, batch=batch)
    assert batch.status == Status.CHECKED
    return batch


def test_commit_that_loses_a_race_at_the_database_fails_and_writes_nothing(
    school_a, registrar_a, tmp_path, monkeypatch
):  # type: ignore[no-untyped-def]
    batch = _checked(registrar_a, school_a, tmp_path)

    def lose(**kwargs):  # type: ignore[no-untyped-def]
        raise IntegrityError("duplicate key value violates unique constraint")

    monkeypatch.setattr(services, "register_students", lose)

    with pytest.raises(Conflict) as exc:
        services.import_batch_commit(actor=registrar_a, batch=batch)

    batch.refresh_from_db()
    assert exc.value.code == "file_already_imported"
    assert (batch.status, batch.created_count) == (Status.FAILED, 0)
    assert Person.objects.count() == 0


def test_commit_refused_by_the_registration_service_fails_with_its_reason(
    school_a, registrar_a, tmp_path, monkeypatch
):  # type: ignore[no-untyped-def]
    batch = _checked(registrar_a, school_a, tmp_path)

    def refuse(**kwargs):  # type: ignore[no-untyped-def]
        raise ApplicationError("school_not_active", "海珠区第一小学已合并或撤销，不能注册新学籍")

    monkeypatch.setattr(services, "register_students", refuse)

    with pytest.raises(ApplicationError) as exc:
        services.import_batch_commit(actor=registrar_a, batch=batch)

    batch.refresh_from_db()
    assert exc.value.code == "school_not_active"
    assert batch.status == Status.FAILED
    assert batch.message == "导入失败，未写入任何数据：海珠区第一小学已合并或撤销，不能注册新学籍"
    assert Person.objects.count() == 0


def test_commit_stops_at_the_first_row_that_no_longer_validates(school_a, registrar_a, tmp_path):
    """The commit re-reads the stored file: a row that is bad now aborts it at that row, writing nothing."""
    batch = _checked(registrar_a, school_a, tmp_path, n=3)
    rows = fi.students(3)
    rows[1]["性别"] = "9"
    fi.write_csv(services.stored_path(batch), rows)

    with pytest.raises(ApplicationError) as exc:
        services.import_batch_commit(actor=registrar_a, batch=batch)

    batch.refresh_from_db()
    assert exc.value.code == "import_aborted"
    assert batch.status == Status.FAILED
    assert [(e["row"], e["column"]) for e in batch.errors] == [(3, "性别")]
    assert Person.objects.count() == 0


def test_retry_of_a_failed_commit_starts_the_commit_again(school_a, registrar_a, tmp_path):
    batch = _checked(registrar_a, school_a, tmp_path)
    ImportBatch.objects.filter(pk=batch.pk).update(status=Status.FAILED, retryable=True, phase="commit")
    batch.refresh_from_db()

    assert services.import_batch_retry(actor=registrar_a, batch=batch) == "commit"
    assert ImportBatch.objects.get(pk=batch.pk).status == Status.COMMITTING


def test_reaper_marks_a_dead_run_without_a_queue_task_lost(school_a, registrar_a, tmp_path):
    """A batch run in a web process (no queue task) whose process is gone is failed and retryable."""
    batch = _upload(registrar_a, school_a, fi.write_csv(tmp_path / "a.csv", fi.students(1)))
    ImportBatch.objects.filter(pk=batch.pk).update(
        status=Status.CHECKING, worker_host="another-host", worker_pid=4242, heartbeat_at=None, task_id=""
    )
    batch.refresh_from_db()

    assert services.import_batch_mark_lost(batch=batch) is True
    assert (batch.status, batch.retryable, batch.error_count) == (Status.FAILED, True, 1)


def test_retry_of_a_failed_check_starts_the_check_again(school_a, registrar_a, tmp_path):
    batch = _upload(registrar_a, school_a, fi.write_csv(tmp_path / "a.csv", fi.students(1)))
    ImportBatch.objects.filter(pk=batch.pk).update(status=Status.FAILED, retryable=True, phase="check")
    batch.refresh_from_db()

    assert services.import_batch_retry(actor=registrar_a, batch=batch) == "check"
    assert ImportBatch.objects.get(pk=batch.pk).status == Status.CHECKING


def test_a_row_without_any_family_member_is_reported_on_the_family_columns(school_a, registrar_a, tmp_path):
    row = fi.student_row()
    for header in fi.HEADERS:
        if header.startswith("家庭成员"):
            row[header] = ""
    batch = _upload(registrar_a, school_a, fi.write_csv(tmp_path / "a.csv", [row]))

    services.import_batch_check(actor=registrar_a, batch=batch)

    batch.refresh_from_db()
    assert batch.status == Status.INVALID
    assert [(e["row"], e["column"]) for e in batch.errors] == [(2, "家庭成员")]
