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

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from xueji.accounts.jurisdiction import require_registrar_for_school
from xueji.audit.enums import EventType
from xueji.audit.services import record
from xueji.core.errors import ApplicationError, Conflict
from xueji.core.ids import uuid7
from xueji.schools.enums import SchoolState
from xueji.schools.models import School
from xueji.students.fields import MAX_GUARDIANS
from xueji.students.services import RegistrationRejected, register_students
from xueji.students.validation import CleanRegistration, RegistrationInvalid, clean_registration

from . import readers
from .models import ImportBatch
from .queries import clear_progress, enrolled_elsewhere, publish_progress
from .template import GUARDIAN_PREFIX, HeaderMap, match_headers

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

    def add(self, row: int, column: str, code: str, message: str) -> None:
        self.count += 1
        if len(self.items) < MAX_STORED_ERRORS:
            self.items.append({"row": row, "column": column, "code": code, "message": message})


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
        from xueji.students.fields import ENROLLMENT_FIELDS, GUARDIAN_FIELDS, PERSON_FIELDS

        for spec in (*PERSON_FIELDS, *ENROLLMENT_FIELDS):
            self.labels[spec.key] = spec.label
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
        self, number: int, values: list[Any], *, stages: list[str], today: date, problems: Problems
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
            return clean_registration(person, enrollment, guardians, school_stages=stages, today=today)
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
                reg = mapper.clean(number, values, stages=stages, today=self.today, problems=problems)
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


# ------------------------------------------------------------------------------------------ services
def import_batch_create(
    *, actor: Any, school: School, uploaded_file_path: str | Path, file_name: str
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


def import_batch_check_start(*, actor: Any, batch: ImportBatch) -> None:
    """Mark the batch as being checked (refused while it runs or after it was imported)."""
    require_registrar_for_school(actor, batch.school)
    with transaction.atomic():
        locked = ImportBatch.objects.select_for_update().get(pk=batch.pk)
        if locked.status not in _CHECKABLE:
            raise Conflict(
                "batch_busy" if locked.status in {Status.CHECKING, Status.COMMITTING} else "batch_committed",
                f"该批次当前状态为“{locked.get_status_display()}”，不能校验",
            )
        ImportBatch.objects.filter(pk=batch.pk).update(status=Status.CHECKING, progress_done=0, message="")
    batch.status = Status.CHECKING
    publish_progress(batch.pk, "check", 0, batch.progress_total)


def import_batch_check(
    *, actor: Any, batch: ImportBatch, progress: ProgressCallback | None = None, started: bool = False
) -> ImportBatch:
    """The dry run (第6条, 第9条): validate every row and find duplicates, writing no student data.

    Sets ``CHECKED`` when the file is clean, ``INVALID`` otherwise, with the exact problem count and the first
    :data:`MAX_STORED_ERRORS` problems ``{row, column, code, message}``. Progress is stored on the batch row
    after every chunk, each in its own short transaction, so a poller in any process sees it.
    """
    if not started:
        import_batch_check_start(actor=actor, batch=batch)
    school = batch.school
    run = _Pass(batch, timezone.localdate())
    total_hint = max(batch.progress_total, 1)
    valid = 0
    try:
        _require_active(school)
        for chunk in run.chunks():
            held = enrolled_elsewhere([reg.identity_key for _, reg in chunk if reg.identity_key])
            for number, reg in chunk:
                holder = held.get(reg.identity_key or "")
                if holder is None:
                    valid += 1
                    continue
                run.problems.bad_rows += 1
                run.problems.add(number, ID_COLUMN, "student_already_enrolled", _enrolled_message(holder))
            total_hint = max(total_hint, run.total)
            ImportBatch.objects.filter(pk=batch.pk).update(progress_done=run.total, progress_total=total_hint)
            publish_progress(batch.pk, "check", run.total, total_hint)
            if progress is not None:
                progress("check", run.total, total_hint)
    except ApplicationError as exc:
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
        message = "校验失败（系统错误），请稍后重试"
        _finish(
            batch,
            Status.FAILED,
            message=message,
            problems=run.problems,
            total=run.total,
            valid=valid,
            extra_problem={"row": 0, "column": "", "code": "check_failed", "message": message},
        )
        raise
    status = Status.CHECKED if run.problems.count == 0 else Status.INVALID
    message = (
        f"校验通过：{run.total} 行均可导入"
        if status == Status.CHECKED
        else f"发现 {run.problems.count} 个问题（涉及 {run.problems.bad_rows} 行），请修改文件后重新上传"
    )
    _finish(batch, status, message=message, problems=run.problems, total=run.total, valid=valid)
    if progress is not None:
        progress("check", run.total, run.total)
    return batch


def _enrolled_message(school_name: str) -> str:
    return (
        f"该身份证件号的学生已在“{school_name}”有在读学籍，不能重复建立学籍（第九条）；"
        "如学生已来本校就读，请由本校发起转学"
    )


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
    with transaction.atomic():
        batch.save(
            update_fields=[
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
    clear_progress(batch.pk)


def import_batch_commit_start(*, actor: Any, batch: ImportBatch) -> None:
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
        ImportBatch.objects.filter(pk=batch.pk).update(status=Status.COMMITTING, progress_done=0, message="")
    batch.status = Status.COMMITTING
    publish_progress(batch.pk, "commit", 0, batch.total_rows)


def import_batch_commit(
    *, actor: Any, batch: ImportBatch, progress: ProgressCallback | None = None, started: bool = False
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
    school = batch.school
    now = timezone.now()
    run = _Pass(batch, timezone.localdate(now))
    total = max(batch.total_rows, 1)
    created = 0
    try:
        with transaction.atomic():
            for chunk in run.chunks(stop_on_problem=True):
                try:
                    results = register_students(
                        actor=actor,
                        school=school,
                        registrations=[r for _, r in chunk],
                        import_batch_id=batch.pk,
                        now=now,
                    )
                except RegistrationRejected as exc:
                    for error in exc.errors:
                        run.problems.add(chunk[error.index][0], ID_COLUMN, error.code, error.message)
                    break
                created += len(results)
                publish_progress(batch.pk, "commit", run.total, total)
                if progress is not None:
                    progress("commit", run.total, total)
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
            transaction.on_commit(lambda: path.unlink(missing_ok=True))
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
        _fail(batch, "import_failed", "导入失败（系统错误），未写入任何数据", run)
        raise
    clear_progress(batch.pk)
    if progress is not None:
        progress("commit", run.total, run.total)
    return batch


def _fail(batch: ImportBatch, code: str, message: str, run: _Pass) -> None:
    extra = None if run.problems.count else {"row": 0, "column": "", "code": code, "message": message}
    _finish(
        batch,
        Status.FAILED,
        message=message,
        problems=run.problems,
        total=max(run.total, batch.total_rows),
        valid=0,
        extra_problem=extra,
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


def import_upload(*, actor: Any, school: School, uploaded: Any) -> ImportBatch:
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


def roster_export(*, actor: Any, school: School, target: Path) -> int:
    """Write the school's roster of active students to ``target`` (.xlsx, identity numbers masked) and record
    a ``ROSTER_EXPORTED`` audit event (第23、24条: every export of personal data is logged). Only the school's
    registrar may export (NotFound outside their jurisdiction)."""
    from .export import write_roster
    from .queries import roster_rows

    require_registrar_for_school(actor, school)
    with transaction.atomic():
        count = write_roster(Path(target), roster_rows(school=school), title=f"{school.name}学生名册")
        record(
            event_type=EventType.ROSTER_EXPORTED,
            actor=actor,
            subject_type="school",
            subject_id=school.pk,
            org_unit_id=school.pk,
            province_code=school.province_code,
            summary=f"导出{school.name}学生名册 {count} 人",
            after={"school": school.school_code, "count": count, "masked": True},
        )
    return count


__all__ = [
    "CHUNK_ROWS",
    "MAX_STORED_ERRORS",
    "ImportAborted",
    "Problems",
    "RowMapper",
    "import_batch_check",
    "import_batch_check_start",
    "import_batch_commit",
    "import_batch_commit_start",
    "import_batch_create",
    "import_upload",
    "roster_export",
]
