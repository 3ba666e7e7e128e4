"""Bulk registration from a spreadsheet (《中小学生学籍管理办法》第6条: 新生入学 … 为其注册学籍).

Three steps, each a service:

1. :func:`import_batch_create` stores the uploaded file and refuses bad files outright (not a spreadsheet,
   too large, wrong columns, formulas, no data, already imported) — nothing is stored for a refused file.
2. :func:`import_batch_check` — the dry run: every row is validated exactly as a single registration is
   (:func:`xueji.students.validation.clean_registration`), duplicates within the file and against active
   records are found (第9条 / 第12条 一人一籍), and every problem is listed by row and column in Chinese.
   Nothing is written except the batch's own status, counters and the first problems.
3. :func:`import_batch_commit` re-reads and re-validates the file and registers every row through
   :func:`xueji.students.services.register_students` (学籍号 assignment 第8条, duplicate refusal, one audit event
   per student) inside ONE transaction: a single bad row, or any failure, writes nothing (all or nothing per
   file). The same file (same SHA-256) is imported at most once per school — checked at upload and backed by
   the ``import_file_once`` constraint.

Memory stays flat for any file size: rows are streamed from the file and processed in chunks of
:data:`CHUNK_ROWS`; only the identity keys seen so far are kept (to name the earlier row of a duplicate).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, IntegrityError, connections, transaction
from django.db.models import F
from django.utils import timezone
from django_tasks.base import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from xueji.accounts.jurisdiction import require_registrar_for_school
from xueji.accounts.types import Actor
from xueji.audit.enums import EventType
from xueji.audit.services import record
from xueji.core.errors import ApplicationError, Conflict, FieldError, NotFound
from xueji.core.ids import uuid7
from xueji.core.pagination import capped_count
from xueji.core.signals import records_changed
from xueji.policies.queries import grade_age_rules_for
from xueji.policies.rules import GradeAgeRules
from xueji.regions.enums import OrgLevel
from xueji.regions.models import OrgUnit
from xueji.scheduling.workers import this_worker
from xueji.schools.enums import SchoolState
from xueji.schools.models import School
from xueji.students.fields import ENROLLMENT_FIELDS, GUARDIAN_FIELDS, MAX_GUARDIANS, PERSON_FIELDS
from xueji.students.services import ENROLLED_ELSEWHERE, RegistrationRejected, register_students
from xueji.students.validation import (
    AGE_CONFIRM_REASON,
    AGE_CONFIRMED,
    CleanRegistration,
    RegistrationInvalid,
    clean_registration,
)

from . import readers
from .checked import CheckedWriter, checked_path, checked_rows
from .export import (
    COLUMNS_BY_KEY,
    CREATED_COLUMNS,
    DEFAULT_COLUMNS,
    EXCEL_MAX_ROWS,
    roster_columns,
    value_paths,
    write_roster,
)
from .models import ImportBatch, RosterExport
from .problems import ProblemLog, logged_problems, problems_path, write_problems_workbook
from .queries import (
    RUNNING,
    batch_is_stale,
    created_rows,
    enrolled_elsewhere,
    export_is_stale,
    export_retention,
    full_number_schools,
    roster_queryset,
    roster_rows,
    roster_units,
)
from .template import AGE_REASON_COLUMN, GUARDIAN_PREFIX, HeaderMap, match_headers

CHUNK_ROWS = 5000
MAX_STORED_ERRORS = 1000
Status = ImportBatch.Status
ProgressCallback = Callable[[str, int, int], None]

ID_COLUMN = "身份证件号"


# ------------------------------------------------------------------------------------------ problems
@dataclass
class Problems:
    """All problems of a file: an exact count and the first :data:`MAX_STORED_ERRORS` of them."""

    count: int = 0
    items: list[dict[str, Any]] = field(default_factory=list)
    bad_rows: int = 0
    # The dry run keeps every problem in a file beside the upload (issue 8 item 8: the problems workbook).
    log: ProblemLog | None = None

    def add(self, row: int, column: str, code: str, message: str) -> None:
        self.count += 1
        if len(self.items) < MAX_STORED_ERRORS:
            self.items.append({"row": row, "column": column, "code": code, "message": message})
        if self.log is not None:
            self.log.add(row, column, code, message)


class ImportAborted(ApplicationError):
    """The commit found problems (or failed): the transaction rolls back, nothing is written."""

    def __init__(self, code: str, message: str, problems: Problems | None = None) -> None:
        super().__init__(code, message)
        self.problems = problems or Problems()


# ------------------------------------------------------------------------------------------ rows
class RowMapper:
    """Turns a file row into the raw mappings :func:`clean_registration` takes, and its error keys back into
    the file's column headers."""

    def __init__(self, header: HeaderMap) -> None:
        self.width = header.width
        self.person: list[tuple[int, str]] = []
        self.enrollment: list[tuple[int, str]] = []
        self.guardians: list[list[tuple[int, str]]] = [[] for _ in range(MAX_GUARDIANS)]
        self.labels: dict[str, str] = {}
        for index, col in header.columns:
            key = col.spec.key
            if col.target == "person":
                self.person.append((index, key))
            elif col.target == "enrollment":
                self.enrollment.append((index, key))
            else:
                self.guardians[col.guardian].append((index, key))

        for spec in (*PERSON_FIELDS, *ENROLLMENT_FIELDS):
            self.labels[spec.key] = spec.label
        # The age confirmation's errors point at its reason column (issue 8 item 4).
        self.labels[AGE_CONFIRMED] = self.labels[AGE_CONFIRM_REASON] = AGE_REASON_COLUMN.header
        self.guardian_labels = {spec.key: spec.label for spec in GUARDIAN_FIELDS}
        self.header = header

    def column_of(self, key: str, blocks: list[int]) -> str:
        """The header of the column an error key (``grade``, ``guardians.0.phone``) refers to."""
        if key.startswith("guardians."):
            _, index, sub = key.split(".", 2)
            block = blocks[int(index)] if int(index) < len(blocks) else int(index)
            return f"{GUARDIAN_PREFIX}{block + 1}{self.guardian_labels.get(sub, sub)}"
        if key == "guardians":
            return GUARDIAN_PREFIX
        return self.labels.get(key, key)

    def clean(
        self,
        number: int,
        values: list[Any],
        *,
        stages: list[str],
        today: date,
        problems: Problems,
        grade_age: GradeAgeRules | None = None,
    ) -> CleanRegistration | None:
        """Validate one row; on failure record every problem of the row and return None."""
        if len(values) < self.width:
            values = values + [None] * (self.width - len(values))
        if _has_special_cells(values):
            bad = self._special_cells(number, values, problems)
            if bad:
                return None
        person = {key: values[i] for i, key in self.person}
        enrollment = {key: values[i] for i, key in self.enrollment}
        guardians: list[dict[str, Any]] = []
        blocks: list[int] = []
        for block, cols in enumerate(self.guardians):
            raw = {key: values[i] for i, key in cols}
            if any(v is not None and v != "" for v in raw.values()):
                guardians.append(raw)
                blocks.append(block)
        try:
            return clean_registration(
                person, enrollment, guardians, school_stages=stages, today=today, grade_age=grade_age
            )
        except RegistrationInvalid as exc:
            problems.bad_rows += 1
            for key, message in exc.fields.items():
                problems.add(number, self.column_of(key, blocks), "invalid_field", message)
            return None

    def _special_cells(self, number: int, values: list[Any], problems: Problems) -> bool:
        bad = False
        for index, value in enumerate(values):
            if isinstance(value, readers.CellError):
                message = f"单元格为错误值 {value}，请改为正确内容"
                problems.add(number, self.header.label_at(index), "cell_error", message)
                bad = True
            elif isinstance(value, str) and value.startswith("="):
                message = "含有公式，请改为直接填写的内容（导入不接受公式）"
                problems.add(number, self.header.label_at(index), "formula_not_allowed", message)
                bad = True
        if bad:
            problems.bad_rows += 1
        return bad


def _has_special_cells(values: list[Any]) -> bool:
    """Cheap pre-test: any formula-looking text (CSV) or Excel error value in the row?"""
    try:
        if "=" not in "".join(values):  # all text (CSV): one C-level scan
            return False
    except TypeError:  # numbers, dates, blanks (.xlsx): look at each cell
        pass
    for value in values:
        if value.__class__ is str:
            if value[:1] == "=":
                return True
        elif value is not None and value.__class__ is readers.CellError:
            return True
    return False


def _is_blank_row(values: list[Any]) -> bool:
    for value in values:  # noqa: SIM110 - an explicit loop beats all(<genexpr>) on this per-row path
        if value is not None and value != "" and (value.__class__ is not str or value.strip()):
            return False
    return True


@dataclass
class _Pass:
    """One streaming pass over a batch's file: header, then validated rows in chunks."""

    batch: ImportBatch
    today: date
    problems: Problems = field(default_factory=Problems)
    total: int = 0
    seen_keys: dict[str, int] = field(default_factory=dict)

    def chunks(self, *, stop_on_problem: bool = False) -> Iterator[list[tuple[int, CleanRegistration]]]:
        sheet = readers.sniff(stored_path(self.batch))
        rows = readers.iter_rows(sheet)
        mapper: RowMapper | None = None
        stages = list(self.batch.school.stages)
        grade_age = grade_age_rules_for(self.batch.school.province_code, self.today)
        chunk: list[tuple[int, CleanRegistration]] = []
        problems = self.problems
        seen = self.seen_keys
        try:
            for number, values in rows:
                if mapper is None:
                    if _is_blank_row(values):
                        continue
                    mapper = RowMapper(match_headers(values))
                    continue
                if _is_blank_row(values):
                    continue
                self.total += 1
                reg = mapper.clean(
                    number, values, stages=stages, today=self.today, problems=problems, grade_age=grade_age
                )
                if reg is not None:
                    key = reg.identity_key
                    if key is not None:
                        first = seen.get(key)
                        if first is not None:
                            problems.bad_rows += 1
                            problems.add(
                                number,
                                ID_COLUMN,
                                "duplicate_in_file",
                                f"身份证件号与第 {first} 行重复（同一学生不能在文件中出现两次）",
                            )
                            reg = None
                        else:
                            seen[key] = number
                if reg is not None:
                    chunk.append((number, reg))
                if stop_on_problem and problems.count:
                    return
                if len(chunk) >= CHUNK_ROWS:
                    yield chunk
                    chunk = []
            if mapper is None:
                raise ApplicationError("empty_file", "文件中没有数据", {"file": "文件为空"})
            if chunk:
                yield chunk
        finally:
            rows.close()


# ------------------------------------------------------------------------------------------ storage
def _remove_stored(path: Path) -> None:
    """The uploaded file and what the dry run kept beside it: its rows (:mod:`xueji.imports.checked`) and its
    problems (:mod:`xueji.imports.problems`)."""
    path.unlink(missing_ok=True)
    checked_path(path).unlink(missing_ok=True)
    problems_path(path).unlink(missing_ok=True)


def storage_dir() -> Path:
    return Path(settings.VAR_DIR) / "imports"


def stored_path(batch: ImportBatch) -> Path:
    return Path(settings.VAR_DIR) / batch.file_path


def _copy_with_hash(source: Path, target: Path) -> str:
    digest = hashlib.sha256()
    with source.open("rb") as src, target.open("wb") as dst:
        while chunk := src.read(readers.READ_CHUNK):
            digest.update(chunk)
            dst.write(chunk)
    return digest.hexdigest()


def _already_imported(previous: ImportBatch) -> Conflict:
    when = timezone.localtime(previous.finished_at or previous.created_at)
    return Conflict(
        "file_already_imported",
        f"该文件已于 {when:%Y-%m-%d %H:%M} 导入（{previous.created_count} 名学生），同一文件不会重复导入",
        {"file": "该文件已导入"},
    )


def _require_active(school: School) -> None:
    if school.state != SchoolState.ACTIVE:
        raise ApplicationError("school_not_active", f"{school.name}已合并或撤销，不能注册新学籍")


# ------------------------------------------------------------------------------------------ runs
FILE_PURGED = ApplicationError(
    "file_purged", "导入文件已超过保留期限被删除（个人信息不长期保存），请重新上传", {"file": "文件已删除"}
)
WORKER_LOST_MESSAGE = "后台任务中断（处理进程已退出），未写入任何数据，可重试"


def _require_file(locked: ImportBatch) -> None:
    if locked.file_purged_at is not None:
        raise FILE_PURGED


def _mark_started(batch: ImportBatch, status: str, phase: str) -> None:
    """Inside the caller's locked transaction: the batch runs ``phase`` as a new attempt (a queue task of an
    older attempt then does nothing, see :func:`import_batch_claim`)."""
    ImportBatch.objects.filter(pk=batch.pk).update(
        status=status,
        phase=phase,
        progress_done=0,
        message="",
        attempt=F("attempt") + 1,
        retryable=False,
        worker_host="",
        worker_pid=None,
        heartbeat_at=None,
    )
    fresh = ImportBatch.objects.only("attempt").get(pk=batch.pk)
    batch.status, batch.phase, batch.attempt, batch.progress_done = status, phase, fresh.attempt, 0
    batch.retryable, batch.worker_host, batch.worker_pid, batch.heartbeat_at = False, "", None, None


def _claim(batch: ImportBatch) -> None:
    """Record the process running the batch (a short transaction, committed before the work starts), so a
    killed process is found by :func:`xueji.imports.tasks.reap_stale`."""
    host, pid = this_worker()
    now = timezone.now()
    ImportBatch.objects.filter(pk=batch.pk).update(worker_host=host, worker_pid=pid, heartbeat_at=now)
    batch.worker_host, batch.worker_pid, batch.heartbeat_at = host, pid, now


def import_batch_claim(*, batch_id: Any, attempt: int, phase: str) -> ImportBatch | None:
    """The batch a queue task should work on, or None when the task is superseded (the batch was retried,
    finished or failed meanwhile): only the task of the batch's current attempt and phase runs."""
    batch = (
        ImportBatch.objects.select_related("school", "school__org", "created_by")
        .filter(pk=batch_id, attempt=attempt, phase=phase, status__in=RUNNING)
        .first()
    )
    return batch


class _SideProgress:
    """Writes a running commit's progress and heartbeat through a second connection, committed at once, so
    pollers see it while the import's one big transaction is still open.

    PostgreSQL only: on SQLite the import transaction holds the database's single write lock and a second
    writer would wait for it (the busy timeout) — there the commit shows "导入中" without a percentage.
    Progress is best effort: a failed write never disturbs the import."""

    def __init__(self, batch: ImportBatch) -> None:
        self.batch_id = batch.pk
        self.connection: Any = None
        main = connections[DEFAULT_DB_ALIAS]
        if main.vendor == "postgresql":
            try:
                self.connection = type(main)(dict(main.settings_dict), alias="import-progress")
                with self.connection.cursor() as cursor:
                    cursor.execute("SET lock_timeout = 1000")
            except DatabaseError:
                self.close()

    def write(self, done: int, total: int) -> None:
        if self.connection is None:
            return
        try:
            with self.connection.cursor() as cursor:
                cursor.execute(
                    f"UPDATE {ImportBatch._meta.db_table} SET progress_done = %s, progress_total = %s, "  # noqa: S608 - table name from the model
                    "heartbeat_at = %s WHERE id = %s",
                    [done, total, timezone.now(), self.batch_id],
                )
        except DatabaseError:
            self.close()

    def close(self) -> None:
        if self.connection is not None:
            with contextlib.suppress(DatabaseError):
                self.connection.close()
            self.connection = None


def import_batch_mark_lost(*, batch: ImportBatch) -> bool:
    """Mark a batch whose process is gone (:func:`queries.batch_is_stale`) ``FAILED`` and retryable.

    Nothing of the batch was written: the commit is one transaction, and the database rolled it back when the
    process died. Returns False when the batch finished or is alive after all (re-checked under the lock)."""
    with transaction.atomic():
        locked = ImportBatch.objects.select_for_update().get(pk=batch.pk)
        if not batch_is_stale(locked):
            return False
        extra = {"row": 0, "column": "", "code": "worker_lost", "message": WORKER_LOST_MESSAGE}
        ImportBatch.objects.filter(pk=batch.pk).update(
            status=Status.FAILED,
            message=WORKER_LOST_MESSAGE,
            errors=[extra],
            error_count=1,
            retryable=True,
            finished_at=timezone.now(),
        )
        if locked.task_id:  # the queue's record of the lost run says so too
            DBTaskResult.objects.filter(pk=locked.task_id, status=TaskResultStatus.RUNNING).update(
                status=TaskResultStatus.FAILED,
                finished_at=timezone.now(),
                exception_class_path="xueji.imports.services.WorkerLost",
                traceback=WORKER_LOST_MESSAGE,
            )
    batch.refresh_from_db()
    return True


class WorkerLost(Exception):
    """Recorded as the error of a queue task whose worker process disappeared (:func:`import_batch_mark_lost`)."""


def import_batch_retry(*, actor: Actor, batch: ImportBatch) -> str:
    """Run the failed step of a batch again — the same stored file (第6条). Returns the phase started
    (``check`` or ``commit``); the caller runs or enqueues it (``tasks.start_retry``).

    Allowed for a batch that failed for a system reason (``retryable``: crash, killed worker) or that shows
    as running while its process is gone. A retried commit re-reads and re-validates the whole file, so the
    database may have changed since the dry run. Refuses ``batch_not_retryable`` otherwise (a batch with
    problems in its rows is fixed by uploading a corrected file). The "same file only once" rule refuses only
    files already COMMITTED, so it never refuses a retry."""
    require_registrar_for_school(actor, batch.school)
    if batch.status in RUNNING:
        import_batch_mark_lost(batch=batch)
    with transaction.atomic():
        locked = ImportBatch.objects.select_for_update().get(pk=batch.pk)
        if locked.status != Status.FAILED or not locked.retryable:
            raise Conflict(
                "batch_not_retryable",
                f"该批次当前状态为“{locked.get_status_display()}”，不能重试",
            )
        _require_file(locked)
        # Only the note of the system failure is cleared; a retry runs every check again.
        ImportBatch.objects.filter(pk=batch.pk).update(errors=[], error_count=0)
    batch.refresh_from_db()
    phase = batch.phase or "check"
    if phase == "commit":
        import_batch_commit_start(actor=actor, batch=batch)
    else:
        import_batch_check_start(actor=actor, batch=batch)
    return phase


def import_files_purge(*, actor: Actor | None, now: datetime) -> int:
    """Delete the stored files of batches never committed once they are older than
    ``settings.XUEJI_IMPORT_FILE_RETENTION_DAYS`` days (default 7), and stray upload files of the same age
    that belong to no batch (an upload interrupted by a crash). Personal data is kept no longer than needed
    (《个人信息保护法》第19条; security.md "retention"); a committed batch's file is deleted at commit already.

    ``actor`` is None (the schedule). Running batches are never touched. Returns the number of files removed.
    """
    days = int(getattr(settings, "XUEJI_IMPORT_FILE_RETENTION_DAYS", 7))
    cutoff = now - timedelta(days=days)
    removed = 0
    old = (
        ImportBatch.objects.filter(created_at__lt=cutoff, file_purged_at__isnull=True)
        .exclude(status__in=[Status.COMMITTED, *RUNNING])
        .only("id", "file_path")
    )
    for batch in old.iterator(chunk_size=500):
        path = stored_path(batch)
        if path.exists():
            removed += 1
        _remove_stored(path)
        ImportBatch.objects.filter(pk=batch.pk, file_purged_at__isnull=True).exclude(
            status__in=RUNNING
        ).update(file_purged_at=now)
    directory = storage_dir()
    if directory.is_dir():
        stray = [
            p
            for p in directory.iterdir()
            if p.is_file() and datetime.fromtimestamp(p.stat().st_mtime, tz=UTC) < cutoff
        ]
        base = Path(settings.VAR_DIR)
        for start in range(0, len(stray), 500):
            chunk = stray[start : start + 500]
            names = {str(p.relative_to(base)): p for p in chunk}
            kept = set(
                ImportBatch.objects.filter(file_path__in=list(names), file_purged_at__isnull=True)
                .exclude(status=Status.COMMITTED)
                .values_list("file_path", flat=True)
            )
            for name, path in names.items():
                if name not in kept:
                    path.unlink(missing_ok=True)
                    removed += 1
    return removed


# ------------------------------------------------------------------------------------------ services
def import_batch_create(
    *, actor: Actor, school: School, uploaded_file_path: str | Path, file_name: str
) -> ImportBatch:
    """Store an uploaded import file for ``school`` (第6条) and make a batch of it.

    Refuses, storing nothing: ``file_too_large`` (settings.IMPORT_MAX_BYTES), ``empty_file``,
    ``not_a_spreadsheet`` (decided by content, not name), ``wrong_columns``, ``formula_not_allowed``,
    ``file_already_imported`` (the same bytes were committed for this school before, naming the date).
    Only a registrar of the school may upload (NotFound outside their jurisdiction).
    """
    require_registrar_for_school(actor, school)
    _require_active(school)
    source = Path(uploaded_file_path)
    readers.check_size(source.stat().st_size)
    directory = storage_dir()
    directory.mkdir(parents=True, exist_ok=True)
    batch_id = uuid7()
    temporary = directory / f"{batch_id}.upload"
    final: Path | None = None
    try:
        sha256 = _copy_with_hash(source, temporary)
        previous = (
            ImportBatch.objects.filter(school=school, file_sha256=sha256, status=Status.COMMITTED)
            .order_by("-created_at")
            .first()
        )
        if previous is not None:
            raise _already_imported(previous)
        sheet = readers.sniff(temporary)
        _, header = readers.read_header(sheet)
        match_headers(header)
        rows, formula = readers.prescan(sheet)
        if formula is not None:
            raise ApplicationError(
                "formula_not_allowed",
                f"文件含有公式（单元格 {formula}），导入不接受公式：请将公式“选择性粘贴为数值”后重新上传",
                {"file": "文件含有公式"},
            )
        if rows == 0:
            raise ApplicationError("empty_file", "文件中只有表头，没有学生数据", {"file": "没有数据行"})
        final = directory / f"{batch_id}{sheet.extension}"
        temporary.rename(final)
        with transaction.atomic():
            return ImportBatch.objects.create(
                id=batch_id,
                school=school,
                province_code=school.province_code,
                created_by=actor,
                file_name=Path(str(file_name)).name[:200] or "import",
                file_path=str(final.relative_to(Path(settings.VAR_DIR))),
                file_sha256=sha256,
                status=Status.UPLOADED,
                progress_total=rows,
            )
    except BaseException:
        temporary.unlink(missing_ok=True)
        if final is not None:
            final.unlink(missing_ok=True)
        raise


_CHECKABLE = {Status.UPLOADED, Status.CHECKED, Status.INVALID, Status.FAILED}


def import_batch_check_start(*, actor: Actor, batch: ImportBatch) -> None:
    """Mark the batch as being checked (refused while it runs or after it was imported)."""
    require_registrar_for_school(actor, batch.school)
    with transaction.atomic():
        locked = ImportBatch.objects.select_for_update().get(pk=batch.pk)
        if locked.status not in _CHECKABLE:
            raise Conflict(
                "batch_busy" if locked.status in {Status.CHECKING, Status.COMMITTING} else "batch_committed",
                f"该批次当前状态为“{locked.get_status_display()}”，不能校验",
            )
        _require_file(locked)
        _mark_started(batch, Status.CHECKING, "check")


def import_batch_check(
    *, actor: Actor, batch: ImportBatch, progress: ProgressCallback | None = None, started: bool = False
) -> ImportBatch:
    """The dry run (第6条, 第9条): validate every row and find duplicates, writing no student data.

    Sets ``CHECKED`` when the file is clean, ``INVALID`` otherwise, with the exact problem count and the first
    :data:`MAX_STORED_ERRORS` problems ``{row, column, code, message}``. Progress is stored on the batch row
    after every chunk, each in its own short transaction, so a poller in any process sees it.
    """
    if not started:
        import_batch_check_start(actor=actor, batch=batch)
    _claim(batch)
    school = batch.school
    run = _Pass(batch, timezone.localdate())
    total_hint = max(batch.progress_total, 1)
    valid = 0
    # The rows validated here, for the commit of the same file on the same day (validate once, issue 7).
    kept = CheckedWriter(
        stored_path(batch), sha256=batch.file_sha256, today=run.today, stages=list(school.stages)
    )
    log = run.problems.log = ProblemLog(stored_path(batch))
    try:
        _require_active(school)
        for chunk in run.chunks():
            held = enrolled_elsewhere([reg.identity_key for _, reg in chunk if reg.identity_key])
            for number, reg in chunk:
                holder = held.get(reg.identity_key or "")
                if holder is None:
                    valid += 1
                    if not run.problems.count:
                        kept.write(number, reg)
                    continue
                run.problems.bad_rows += 1
                # Issue #6 §3.2: the dry run answers in bulk, so it never names the school that holds the record.
                run.problems.add(number, ID_COLUMN, "student_already_enrolled", ENROLLED_ELSEWHERE)
            total_hint = max(total_hint, run.total)
            ImportBatch.objects.filter(pk=batch.pk).update(
                progress_done=run.total, progress_total=total_hint, heartbeat_at=timezone.now()
            )
            if progress is not None:
                progress("check", run.total, total_hint)
    except ApplicationError as exc:
        kept.discard()
        log.add(0, "", exc.code, exc.message)
        log.finish(batch.attempt)
        _finish(
            batch,
            Status.INVALID,
            message=exc.message,
            problems=run.problems,
            total=run.total,
            valid=valid,
            extra_problem={"row": 0, "column": "", "code": exc.code, "message": exc.message},
        )
        raise
    except BaseException:
        kept.discard()
        log.discard()
        message = "校验失败（系统错误），请稍后重试"
        _finish(
            batch,
            Status.FAILED,
            message=message,
            problems=run.problems,
            total=run.total,
            valid=valid,
            extra_problem={"row": 0, "column": "", "code": "check_failed", "message": message},
            retryable=True,
        )
        raise
    status = Status.CHECKED if run.problems.count == 0 else Status.INVALID
    if status == Status.CHECKED:
        kept.finish()
    else:
        kept.discard()
    log.finish(batch.attempt)
    message = (
        f"校验通过：{run.total} 行均可导入"
        if status == Status.CHECKED
        else f"发现 {run.problems.count} 个问题（涉及 {run.problems.bad_rows} 行），请修改文件后重新上传"
    )
    _finish(batch, status, message=message, problems=run.problems, total=run.total, valid=valid)
    if progress is not None:
        progress("check", run.total, run.total)
    return batch


def _finish(
    batch: ImportBatch,
    status: str,
    *,
    message: str,
    problems: Problems,
    total: int,
    valid: int,
    created: int = 0,
    extra_problem: dict[str, Any] | None = None,
    retryable: bool = False,
) -> None:
    items = list(problems.items)
    count = problems.count
    if extra_problem is not None:
        items = [extra_problem, *items][:MAX_STORED_ERRORS]
        count += 1
    batch.status = status
    batch.message = message[:300]
    batch.errors = items
    batch.error_count = count
    batch.total_rows = total
    batch.valid_rows = valid
    batch.progress_done = total
    batch.progress_total = total
    batch.created_count = created
    batch.finished_at = timezone.now()
    batch.retryable = retryable
    with transaction.atomic():
        batch.save(
            update_fields=[
                "retryable",
                "status",
                "message",
                "errors",
                "error_count",
                "total_rows",
                "valid_rows",
                "progress_done",
                "progress_total",
                "created_count",
                "finished_at",
            ]
        )


def import_batch_commit_start(*, actor: Actor, batch: ImportBatch) -> None:
    """Check that the batch may be committed and mark it ``COMMITTING`` (a short transaction of its own, so
    pollers see the state while the long import transaction runs).

    Refuses: ``batch_not_checked`` (no clean dry run), ``batch_busy``, ``file_already_imported``.
    """
    require_registrar_for_school(actor, batch.school)
    _require_active(batch.school)
    with transaction.atomic():
        locked = ImportBatch.objects.select_for_update().get(pk=batch.pk)
        if locked.status == Status.COMMITTED:
            raise _already_imported(locked)
        if locked.status in {Status.CHECKING, Status.COMMITTING}:
            raise Conflict("batch_busy", f"该批次正在{locked.get_status_display()}，请稍候")
        if locked.status not in {Status.CHECKED, Status.FAILED} or locked.error_count:
            raise ApplicationError(
                "batch_not_checked", "请先完成校验，并确保没有任何问题后再导入（整个文件一次导入）"
            )
        previous = ImportBatch.objects.filter(
            school=locked.school_id, file_sha256=locked.file_sha256, status=Status.COMMITTED
        ).first()
        if previous is not None:
            raise _already_imported(previous)
        _require_file(locked)
        _mark_started(batch, Status.COMMITTING, "commit")


def import_batch_commit(
    *, actor: Actor, batch: ImportBatch, progress: ProgressCallback | None = None, started: bool = False
) -> ImportBatch:
    """Register every student of the file, all or nothing (第6条; numbers 第8条; duplicates 第9条/第12条).

    Re-reads and re-validates the file (the database may have changed since the dry run) and registers it in
    chunks through :func:`register_students` inside one transaction; any problem aborts and rolls back
    everything. On success: ``COMMITTED``, ``created_count``, one ``IMPORT_COMMITTED`` audit event (the
    per-student ``STUDENT_REGISTERED`` events come from ``register_students``). On failure: ``FAILED`` with
    the problems found; no student, guardian, number or audit row of the file remains.
    """
    if not started:
        import_batch_commit_start(actor=actor, batch=batch)
    _claim(batch)
    school = batch.school
    now = timezone.now()
    run = _Pass(batch, timezone.localdate(now))
    total = max(batch.total_rows, 1)
    created = 0
    side = _SideProgress(batch)
    # The dry run's rows when it checked this very file today for these stages; else validate again.
    reused = checked_rows(
        stored_path(batch),
        sha256=batch.file_sha256,
        today=run.today,
        stages=list(school.stages),
        rows=batch.valid_rows,
        chunk=CHUNK_ROWS,
    )
    chunks = reused if reused is not None else run.chunks(stop_on_problem=True)
    done = 0
    try:
        with transaction.atomic():
            for chunk in chunks:
                try:
                    results = register_students(
                        actor=actor,
                        school=school,
                        registrations=[r for _, r in chunk],
                        import_batch_id=batch.pk,
                        now=now,
                        disclose_holder=False,  # bulk: never names the holding school (issue #6 §3.2)
                    )
                except RegistrationRejected as exc:
                    for error in exc.errors:
                        run.problems.add(chunk[error.index][0], ID_COLUMN, error.code, error.message)
                    break
                created += len(results)
                done += len(chunk)
                side.write(run.total or done, total)
                if progress is not None:
                    progress("commit", run.total or done, total)
            if reused is not None:
                run.total = batch.total_rows  # the dry run counted the file's rows
            if run.problems.count:
                raise ImportAborted(
                    "import_aborted",
                    f"导入中止：发现 {run.problems.count} 个问题，未写入任何数据",
                    run.problems,
                )
            batch.status = Status.COMMITTED
            batch.created_count = created
            batch.total_rows = run.total
            batch.valid_rows = created
            batch.progress_done = run.total
            batch.progress_total = run.total
            batch.error_count = 0
            batch.errors = []
            batch.finished_at = timezone.now()
            batch.message = f"已导入 {created} 名学生"
            batch.save(
                update_fields=[
                    "status",
                    "created_count",
                    "total_rows",
                    "valid_rows",
                    "progress_done",
                    "progress_total",
                    "error_count",
                    "errors",
                    "finished_at",
                    "message",
                ]
            )
            record(
                event_type=EventType.IMPORT_COMMITTED,
                actor=actor,
                subject_type="import_batch",
                subject_id=batch.pk,
                org_unit_id=school.pk,
                province_code=school.province_code,
                summary=f"批量导入学籍 {created} 名（{batch.file_name}）",
                after={
                    "school": school.school_code,
                    "file_sha256": batch.file_sha256,
                    "created": created,
                    "rows": run.total,
                },
            )
            path = stored_path(batch)
            # Personal data is kept no longer than needed: the stored file goes once it is imported.
            transaction.on_commit(lambda: _remove_stored(path))
            # the statistics snapshot refreshes soon after the commit (issue 10 §1)
            records_changed.send(sender=ImportBatch, reason="import_committed")
    except IntegrityError as exc:
        _fail(batch, "file_already_imported", "该文件刚被另一操作导入，同一文件不会重复导入", run)
        raise Conflict("file_already_imported", "该文件刚被另一操作导入，同一文件不会重复导入") from exc
    except ImportAborted as exc:
        _fail(batch, exc.code, exc.message, run)
        raise
    except ApplicationError as exc:
        _fail(batch, exc.code, f"导入失败，未写入任何数据：{exc.message}", run)
        raise
    except BaseException:
        _fail(batch, "import_failed", "导入失败（系统错误），未写入任何数据，可重试", run, retryable=True)
        raise
    finally:
        side.close()
    if progress is not None:
        progress("commit", run.total, run.total)
    return batch


def _fail(batch: ImportBatch, code: str, message: str, run: _Pass, *, retryable: bool = False) -> None:
    extra = None if run.problems.count else {"row": 0, "column": "", "code": code, "message": message}
    _finish(
        batch,
        Status.FAILED,
        message=message,
        problems=run.problems,
        total=max(run.total, batch.total_rows),
        valid=0,
        extra_problem=extra,
        retryable=retryable,
    )
    # A FAILED batch that had problems must be re-checked before another commit.


def copy_upload(chunks: Any, target_dir: Path | None = None) -> Path:
    """Write an uploaded file's chunks to a private temporary file (for in-memory uploads)."""
    directory = target_dir or storage_dir()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{uuid7()}.incoming"
    with path.open("wb") as fh:
        for chunk in chunks:
            fh.write(chunk)
    return path


def import_upload(*, actor: Actor, school: School, uploaded: Any) -> ImportBatch:
    """Create a batch from a Django ``UploadedFile`` (web form and API): size is checked before writing."""
    readers.check_size(int(uploaded.size or 0))
    temporary_path = getattr(uploaded, "temporary_file_path", None)
    if temporary_path is not None:
        return import_batch_create(
            actor=actor, school=school, uploaded_file_path=temporary_path(), file_name=uploaded.name or ""
        )
    path = copy_upload(uploaded.chunks())
    try:
        return import_batch_create(
            actor=actor, school=school, uploaded_file_path=path, file_name=uploaded.name or ""
        )
    finally:
        path.unlink(missing_ok=True)


# ------------------------------------------------------------------------------------------ exports
@dataclass(frozen=True)
class RosterSpec:
    """What a roster export asks for (issue 8 item 9): a unit from :func:`queries.roster_units` (a school, or
    a city or county department), optionally one school inside it, a grade and a class, and the columns."""

    unit: OrgUnit
    columns: tuple[str, ...] = DEFAULT_COLUMNS
    school: School | None = None
    grade: int | None = None
    class_name: str = ""

    @property
    def title(self) -> str:
        name = self.school.name if self.school is not None else self.unit.name
        return f"{name}学生名册"

    def filters(self) -> dict[str, Any]:
        """The filters as stored on a background export and in the audit (codes, never personal data)."""
        return {
            "school": self.school.school_code if self.school is not None else "",
            "grade": self.grade,
            "class_name": self.class_name,
        }


def _require_roster_unit(actor: Actor, spec: RosterSpec) -> None:
    """第5条/第23条: a school registrar exports their school, a city or county registrar their region; any
    other unit is NotFound (as if it did not exist)."""
    if spec.unit.pk not in {u.pk for u in roster_units(actor)}:
        raise NotFound()
    if spec.school is not None and not spec.school.org.path.startswith(spec.unit.path):
        raise NotFound()
    if not spec.columns or any(key not in COLUMNS_BY_KEY for key in spec.columns):
        raise FieldError("columns", "invalid_columns", "请至少选择一列，且只能选择列表中的列")


def roster_export_max_rows() -> int:
    """The longest roster one file may hold: Excel's sheet limit, or less by ``XUEJI_ROSTER_EXPORT_MAX_ROWS``."""
    return min(int(getattr(settings, "XUEJI_ROSTER_EXPORT_MAX_ROWS", EXCEL_MAX_ROWS)), EXCEL_MAX_ROWS)


def roster_export_inline_rows() -> int:
    """Rosters up to this many rows are written inside the web request; longer ones by a queue task."""
    return int(getattr(settings, "XUEJI_ROSTER_EXPORT_INLINE_ROWS", 20_000))


def roster_export_size(*, actor: Actor, spec: RosterSpec, cap: int) -> int:
    """The number of students ``spec`` selects, counted up to ``cap + 1`` (a bounded count)."""
    _require_roster_unit(actor, spec)
    return capped_count(_roster_qs(actor, spec), cap)


def _roster_qs(actor: Actor, spec: RosterSpec) -> Any:
    return roster_queryset(
        viewer=actor, unit=spec.unit, school=spec.school, grade=spec.grade, class_name=spec.class_name
    )


def export_too_large(limit: int) -> ApplicationError:
    return ApplicationError(
        "export_too_large",
        f"所选范围内在籍学生超过 {limit} 人，超出一个 Excel 工作表的容量，请按区县、学校或年级缩小范围后分批导出",
        {"unit": "范围过大"},
    )


def _record_export(actor: Actor, spec: RosterSpec, *, count: int, masked: bool) -> None:
    unit, school = spec.unit, spec.school
    subject = school.pk if school is not None else unit.pk
    record(
        event_type=EventType.ROSTER_EXPORTED,
        actor=actor,
        subject_type="school" if school is not None or unit.level == OrgLevel.SCHOOL else "org",
        subject_id=subject,
        org_unit_id=unit.pk,
        province_code=unit.province_code,
        summary=f"导出{spec.title} {count} 人",
        after={
            "kind": "roster",
            "org_unit_id": unit.pk,
            **spec.filters(),
            "keys": list(spec.columns),
            "count": count,
            "masked": masked,
        },
    )


#: A background export writes its progress and heartbeat after this many rows.
HEARTBEAT_ROWS = 20_000


class _Counted:
    """Rows passed through, counting those of schools whose 学籍号 the exporter sees in full."""

    def __init__(
        self, rows: Iterator[tuple[Any, ...]], full: frozenset[int], tick: Callable[[int], None] | None
    ):
        self.rows, self.full, self.tick = rows, full, tick
        self.full_rows = 0

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        for done, row in enumerate(self.rows, start=1):
            if row[-1] in self.full:
                self.full_rows += 1
            yield row
            if self.tick is not None and done % HEARTBEAT_ROWS == 0:
                self.tick(done)


def _write_roster_file(
    actor: Actor, spec: RosterSpec, target: Path, tick: Callable[[int], None] | None = None
) -> tuple[int, bool]:
    columns = roster_columns(spec.columns)
    full = full_number_schools(actor)
    rows = _Counted(roster_rows(_roster_qs(actor, spec), value_paths(columns)), full, tick)
    limit = roster_export_max_rows()
    count = write_roster(
        target, rows, columns=columns, full_number_schools=full, title=spec.title, limit=limit + 1
    )
    if count > limit:
        raise export_too_large(limit)
    masked = "student_number" not in spec.columns or rows.full_rows == 0
    return count, masked


def roster_export_write(*, actor: Actor, spec: RosterSpec, target: Path) -> int:
    """Write the roster ``spec`` asks for to ``target`` (.xlsx) and record a ``ROSTER_EXPORTED`` audit event:
    who exported which unit with which filters and columns, how many rows — never the data (第23、24条: every
    export of personal data is logged). Identity numbers are masked; 学籍号 only for the exporter's own schools
    in full (:mod:`xueji.imports.export`). NotFound for a unit outside the exporter's jurisdiction."""
    _require_roster_unit(actor, spec)
    with transaction.atomic():
        count, masked = _write_roster_file(actor, spec, Path(target))
        _record_export(actor, spec, count=count, masked=masked)
    return count


def roster_export(*, actor: Actor, school: School, target: Path) -> int:
    """The school's roster with the default columns (the list page's button and ``manage.py export_roster``).
    Only the school's registrar exports this way (NotFound outside their jurisdiction)."""
    require_registrar_for_school(actor, school)
    return roster_export_write(actor=actor, spec=RosterSpec(unit=school.org, school=school), target=target)


# -- background exports
def exports_dir() -> Path:
    return Path(settings.VAR_DIR) / "exports"


def export_file(export: RosterExport) -> Path:
    return Path(settings.VAR_DIR) / export.file_path


def roster_export_queue(*, actor: Actor, spec: RosterSpec, expected: int) -> RosterExport:
    """Record a roster export for the queue (the caller enqueues it in the same transaction)."""
    _require_roster_unit(actor, spec)
    return RosterExport.objects.create(
        requested_by=actor,
        province_code=spec.unit.province_code,
        org_unit=spec.unit,
        filters={**spec.filters(), "school_id": spec.school.pk if spec.school is not None else None},
        columns=list(spec.columns),
        expected_rows=expected,
    )


def _spec_of(export: RosterExport) -> RosterSpec:
    school_id = (export.filters or {}).get("school_id")
    school = School.objects.select_related("org").filter(pk=school_id).first() if school_id else None
    if school_id and school is None:
        raise NotFound()
    return RosterSpec(
        unit=export.org_unit,
        columns=tuple(export.columns),
        school=school,
        grade=(export.filters or {}).get("grade"),
        class_name=(export.filters or {}).get("class_name") or "",
    )


EXPORT_LOST_MESSAGE = "后台任务中断（处理进程已退出），请重新导出"


def roster_export_build(*, export_id: Any) -> RosterExport | None:
    """Queue task body: write a queued export's file and audit it (see :func:`roster_export_write`).

    The requester's jurisdiction is checked again now (a grant withdrawn meanwhile ends the export). The file
    is written outside any transaction — only reads, and a heartbeat every :data:`HEARTBEAT_ROWS` rows — then the audit event
    and the DONE state are written together; a failure leaves no file and no event. Returns None when the
    export is not queued (already run or superseded)."""
    claimed = RosterExport.objects.filter(pk=export_id, status=RosterExport.Status.QUEUED)
    host, pid = this_worker()
    if not claimed.update(
        status=RosterExport.Status.RUNNING, worker_host=host, worker_pid=pid, heartbeat_at=timezone.now()
    ):
        return None
    export = RosterExport.objects.select_related("org_unit", "requested_by").get(pk=export_id)
    actor = export.requested_by
    directory = exports_dir()
    directory.mkdir(parents=True, exist_ok=True)
    final = directory / f"{export.pk}.xlsx"
    partial = directory / f"{export.pk}.partial"

    def tick(done: int) -> None:
        RosterExport.objects.filter(pk=export.pk).update(row_count=done, heartbeat_at=timezone.now())

    try:
        spec = _spec_of(export)
        _require_roster_unit(actor, spec)
        os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
        count, masked = _write_roster_file(actor, spec, partial, tick)
        partial.rename(final)
        with transaction.atomic():
            _record_export(actor, spec, count=count, masked=masked)
            RosterExport.objects.filter(pk=export.pk).update(
                status=RosterExport.Status.DONE,
                row_count=count,
                file_path=str(final.relative_to(Path(settings.VAR_DIR))),
                finished_at=timezone.now(),
                message=f"已导出 {count} 名学生",
            )
    except ApplicationError as exc:
        partial.unlink(missing_ok=True)
        final.unlink(missing_ok=True)
        message = "您已无权导出该范围的名册" if isinstance(exc, NotFound) else exc.message
        _export_failed(export, message)
    except BaseException:
        partial.unlink(missing_ok=True)
        final.unlink(missing_ok=True)
        _export_failed(export, "导出失败（系统错误），请稍后重新导出")
        raise
    export.refresh_from_db()
    return export


def _export_failed(export: RosterExport, message: str) -> None:
    RosterExport.objects.filter(pk=export.pk).update(
        status=RosterExport.Status.FAILED, message=message[:300], finished_at=timezone.now()
    )


def roster_export_mark_lost(*, export: RosterExport) -> bool:
    """Mark an export whose process is gone (:func:`queries.export_is_stale`) FAILED; its partial file goes."""
    with transaction.atomic():
        locked = RosterExport.objects.select_for_update().get(pk=export.pk)
        if not export_is_stale(locked):
            return False
        _export_failed(locked, EXPORT_LOST_MESSAGE)
    (exports_dir() / f"{export.pk}.partial").unlink(missing_ok=True)
    export.refresh_from_db()
    return True


def roster_exports_purge(*, now: datetime) -> int:
    """Delete export files older than ``XUEJI_ROSTER_EXPORT_RETENTION_HOURS`` (default 24): an export is
    fetched soon after it is made, and a file of minors' data is not kept (《个人信息保护法》第19条).
    Returns the number of files removed."""
    cutoff = now - export_retention()
    removed = 0
    old = RosterExport.objects.filter(created_at__lt=cutoff, file_purged_at__isnull=True).exclude(
        status__in=[RosterExport.Status.QUEUED, RosterExport.Status.RUNNING]
    )
    for export in old.iterator(chunk_size=500):
        path = export_file(export) if export.file_path else None
        if path is not None and path.exists():
            path.unlink()
            removed += 1
        RosterExport.objects.filter(pk=export.pk).update(file_purged_at=now)
    directory = exports_dir()
    if directory.is_dir():
        for path in directory.iterdir():
            if path.is_file() and datetime.fromtimestamp(path.stat().st_mtime, tz=UTC) < cutoff:
                path.unlink(missing_ok=True)
                removed += 1
    return removed


# -- the students an import created, and the problems of a dry run (issue 8 item 8)
def created_export(*, actor: Actor, batch: ImportBatch, target: Path) -> int:
    """Write the students ``batch`` created (学籍号, 姓名, 性别, 年级, 班级, 学籍状态) to ``target`` and audit the
    export (第24条). 学籍号 in full only for the school's own registrar. ``batch`` comes from ``batch_get``."""
    columns = roster_columns(CREATED_COLUMNS)
    full = full_number_schools(actor)
    school = batch.school
    with transaction.atomic():
        count = write_roster(
            Path(target),
            created_rows(viewer=actor, batch=batch),
            columns=columns,
            full_number_schools=full,
            title="本批导入的学生",
        )
        record(
            event_type=EventType.ROSTER_EXPORTED,
            actor=actor,
            subject_type="import_batch",
            subject_id=batch.pk,
            org_unit_id=school.pk,
            province_code=school.province_code,
            summary=f"导出批量导入学生名单 {count} 人（{batch.file_name}）",
            after={
                "kind": "created",
                "school": school.school_code,
                "keys": list(CREATED_COLUMNS),
                "count": count,
                "masked": school.pk not in full,
            },
        )
    return count


def problems_source(batch: ImportBatch) -> Callable[[], Iterable[dict[str, Any]]]:
    """Every problem of the batch's last dry run when its log is there (:mod:`xueji.imports.problems`), else
    the problems stored on the batch (a failed commit, a lost worker, a purged file)."""
    path = stored_path(batch)
    logged = batch.status == Status.INVALID and batch.phase in {"check", ""}
    if logged and logged_problems(path, attempt=batch.attempt) is not None:
        return lambda: logged_problems(path, attempt=batch.attempt) or iter(())
    return lambda: iter(batch.errors)


def problems_export(*, actor: Actor, batch: ImportBatch, target: Path) -> int:
    """Write the problems workbook of ``batch`` to ``target`` (one row per problem; for the school's own
    registrar also the upload with every bad cell filled red and commented) and audit the download: the copy
    holds the uploaded personal data (第24条). Returns the number of problems listed. ``batch`` comes from
    ``batch_get`` (scoped); a department registrar gets the list without the copy."""
    if batch.status in RUNNING or not batch.error_count:
        raise Conflict("no_problems", "该批次没有可下载的问题清单")
    own = batch.school_id in full_number_schools(actor)
    stored = stored_path(batch) if own and batch.file_purged_at is None else None
    school = batch.school
    with transaction.atomic():
        listed = write_problems_workbook(
            Path(target),
            problems=problems_source(batch),
            total=batch.error_count,
            stored=stored,
            rows=max(batch.total_rows, batch.progress_total),
        )
        record(
            event_type=EventType.ROSTER_EXPORTED,
            actor=actor,
            subject_type="import_batch",
            subject_id=batch.pk,
            org_unit_id=school.pk,
            province_code=school.province_code,
            summary=f"下载导入问题清单 {listed} 条（{batch.file_name}）",
            after={
                "kind": "problems",
                "school": school.school_code,
                "count": listed,
                "masked": stored is None,
            },
        )
    return listed


__all__ = [
    "CHUNK_ROWS",
    "MAX_STORED_ERRORS",
    "ImportAborted",
    "Problems",
    "RosterSpec",
    "RowMapper",
    "created_export",
    "import_batch_check",
    "import_batch_check_start",
    "import_batch_claim",
    "import_batch_commit",
    "import_batch_commit_start",
    "import_batch_create",
    "import_batch_mark_lost",
    "import_batch_retry",
    "import_files_purge",
    "import_upload",
    "problems_export",
    "roster_export",
    "roster_export_build",
    "roster_export_mark_lost",
    "roster_export_queue",
    "roster_export_size",
    "roster_export_write",
    "roster_exports_purge",
]
