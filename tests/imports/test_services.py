"""Bulk registration services (第6条): upload, dry run, all-or-nothing commit, refusal of bad files."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from tests.factories import imports as fi
from xueji.audit.enums import EventType
from xueji.audit.models import AuditEvent
from xueji.core.errors import ApplicationError, Conflict, NotFound
from xueji.imports import services
from xueji.imports.models import ImportBatch
from xueji.imports.readers import CellError
from xueji.students.models import Enrollment, Guardian, IdentityKey, Person, StudentNumber

pytestmark = pytest.mark.django_db
Status = ImportBatch.Status


def upload(actor, school, path: Path) -> ImportBatch:
    return services.import_batch_create(
        actor=actor, school=school, uploaded_file_path=path, file_name=path.name
    )


def stored_files() -> list[str]:
    directory = services.storage_dir()
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


def nothing_written() -> None:
    assert Person.objects.count() == 0
    assert Enrollment.objects.count() == 0
    assert Guardian.objects.count() == 0
    assert IdentityKey.objects.count() == 0
    assert StudentNumber.objects.count() == 0
    assert AuditEvent.objects.filter(event_type=EventType.STUDENT_REGISTERED).count() == 0


def with_second_guardian(row: dict) -> dict:
    row.update(
        {
            "家庭成员2姓名": "李秀英",
            "家庭成员2关系": "2-母亲",
            "家庭成员2是否监护人": "是",
            "家庭成员2现住址": "广州市海珠区新港中路1号",
            "家庭成员2联系电话": "13700137000",
        }
    )
    return row


# ------------------------------------------------------------------------------ round trip
def test_round_trip_template_to_committed_students_and_guardians(
    school_a, registrar_a, tmp_path, django_capture_on_commit_callbacks
):
    """Template columns → file with 3 students (one with two guardians) → clean dry run → commit."""
    rows = fi.students(3)
    with_second_guardian(rows[0])
    path = fi.write_xlsx(tmp_path / "新生.xlsx", rows)

    batch = upload(registrar_a, school_a, path)
    assert batch.status == Status.UPLOADED
    assert batch.progress_total == 3
    services.import_batch_check(actor=registrar_a, batch=batch)
    batch.refresh_from_db()
    assert (batch.status, batch.total_rows, batch.valid_rows, batch.error_count) == (Status.CHECKED, 3, 3, 0)
    assert Person.objects.count() == 0  # the dry run writes nothing

    with django_capture_on_commit_callbacks(execute=True):
        services.import_batch_commit(actor=registrar_a, batch=batch)
    batch.refresh_from_db()
    assert (batch.status, batch.created_count) == (Status.COMMITTED, 3)
    assert Person.objects.count() == 3
    assert Enrollment.objects.filter(school=school_a, is_active=True, import_batch_id=batch.pk).count() == 3
    assert Guardian.objects.count() == 4
    first = Person.objects.get(identity_keys__key=IdentityKey.make_key("1", rows[0]["身份证件号"]))
    assert sorted(first.guardians.values_list("relation", flat=True)) == ["1", "2"]
    assert first.student_number == "G" + rows[0]["身份证件号"]
    assert first.ethnicity == "01" and first.household_type == "2"
    assert AuditEvent.objects.filter(event_type=EventType.STUDENT_REGISTERED).count() == 3
    event = AuditEvent.objects.get(event_type=EventType.IMPORT_COMMITTED)
    assert (event.subject_id, event.after["created"], event.actor_id) == (str(batch.pk), 3, registrar_a.pk)
    assert not services.stored_path(batch).exists()  # the personal-data file is not kept after import


def test_csv_in_gb18030_is_read(school_a, registrar_a, tmp_path):
    path = fi.write_csv(tmp_path / "gbk.csv", fi.students(2), encoding="gb18030")
    assert b"\xd0\xd5\xc3\xfb" in path.read_bytes()  # 姓名 in GB18030
    batch = upload(registrar_a, school_a, path)
    services.import_batch_check(actor=registrar_a, batch=batch)
    services.import_batch_commit(actor=registrar_a, batch=batch)
    assert batch.created_count == 2
    assert set(Person.objects.values_list("native_place", flat=True)) == {"广东广州"}


def test_excel_saved_file_with_shared_strings_and_date_cells(school_a, registrar_a, tmp_path):
    rows = fi.students(2)
    rows[0]["出生日期"] = date(2018, 3, 14)
    rows[0]["身份证件号"] = fi.f.resident_id(birth=date(2018, 3, 14), seq=301)
    path = fi.excel_like_xlsx(tmp_path / "excel.xlsx", fi.table_from_rows(rows))
    batch = upload(registrar_a, school_a, path)
    services.import_batch_check(actor=registrar_a, batch=batch)
    assert (batch.status, batch.errors) == (Status.CHECKED, [])
    services.import_batch_commit(actor=registrar_a, batch=batch)
    assert Person.objects.get(
        identity_keys__key=IdentityKey.make_key("1", rows[0]["身份证件号"])
    ).birth_date == date(2018, 3, 14)


def test_columns_in_another_order_with_full_width_and_spaced_headers(school_a, registrar_a, tmp_path):
    rows = fi.students(1)
    headers = list(reversed(fi.HEADERS))
    spaced = [f" {h} " if h == "姓名" else h.replace("/", "／") for h in headers]
    path = tmp_path / "reordered.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        import csv

        writer = csv.writer(fh)
        writer.writerow(spaced)
        writer.writerow([rows[0].get(h, "") for h in headers])
    batch = upload(registrar_a, school_a, path)
    services.import_batch_check(actor=registrar_a, batch=batch)
    assert batch.status == Status.CHECKED


# ------------------------------------------------------------------------------ dry run problems
def test_dry_run_lists_problems_by_row_and_column_in_chinese_and_writes_nothing(
    school_a, registrar_a, tmp_path
):
    rows = fi.students(4)
    rows[1]["性别"] = "男女"
    rows[1]["联系电话"] = "123"
    rows[2]["家庭成员1联系电话"] = ""
    rows[3]["年级"] = "10"  # a primary school takes grades 1–6
    batch = upload(registrar_a, school_a, fi.write_csv(tmp_path / "bad.csv", rows))
    services.import_batch_check(actor=registrar_a, batch=batch)
    batch.refresh_from_db()
    assert batch.status == Status.INVALID
    assert (batch.total_rows, batch.valid_rows, batch.error_count) == (4, 1, 5)
    found = {(e["row"], e["column"]): e for e in batch.errors}
    assert set(found) == {
        (3, "性别"),
        (3, "联系电话"),
        (4, "家庭成员1联系电话"),
        (5, "年级"),
        (5, "入学方式"),
    }
    assert found[(3, "性别")]["message"] == "性别“男女”不是有效代码"
    assert found[(4, "家庭成员1联系电话")]["message"] == "联系电话为必填项"
    assert found[(5, "年级")]["message"] == "本校不招收普通高中学生（年级 10）"
    assert {e["code"] for e in batch.errors} == {"invalid_field"}
    nothing_written()


def test_duplicates_within_the_file_name_the_first_row(school_a, registrar_a, tmp_path):
    rows = fi.students(3)
    rows[2]["身份证件号"] = rows[0]["身份证件号"]
    rows[2]["出生日期"] = rows[0]["出生日期"]
    batch = upload(registrar_a, school_a, fi.write_csv(tmp_path / "dup.csv", rows))
    services.import_batch_check(actor=registrar_a, batch=batch)
    assert batch.errors == [
        {
            "row": 4,
            "column": "身份证件号",
            "code": "duplicate_in_file",
            "message": "身份证件号与第 2 行重复（同一学生不能在文件中出现两次）",
        }
    ]


def test_student_already_enrolled_elsewhere_is_reported_by_the_dry_run(
    school_a, school_b, registrar_a, registrar_b, tmp_path
):
    """第9条/第12条 一人一籍: the dry run finds active records elsewhere without writing."""
    rows = fi.students(2)
    first = upload(registrar_b, school_b, fi.write_csv(tmp_path / "b.csv", rows[:1]))
    services.import_batch_check(actor=registrar_b, batch=first)
    services.import_batch_commit(actor=registrar_b, batch=first)

    batch = upload(registrar_a, school_a, fi.write_csv(tmp_path / "a.csv", rows))
    services.import_batch_check(actor=registrar_a, batch=batch)
    assert batch.status == Status.INVALID
    assert [(e["row"], e["code"]) for e in batch.errors] == [(2, "student_already_enrolled")]
    # Issue #6 §3.2: the dry run answers in bulk, so it never names the holding school.
    assert batch.errors[0]["message"] == "该身份证件号的学生已在其他学校有学籍，请发起转学"
    assert Person.objects.count() == 1


def test_ten_thousand_bad_rows_count_exactly_and_store_the_first_thousand(school_a, registrar_a, tmp_path):
    rows = [fi.student_row(**{"邮政编码": "51022"}) for _ in range(10_000)]
    batch = upload(registrar_a, school_a, fi.write_csv(tmp_path / "bad10k.csv", rows))
    services.import_batch_check(actor=registrar_a, batch=batch)
    batch.refresh_from_db()
    assert (batch.status, batch.total_rows, batch.error_count, batch.valid_rows) == (
        Status.INVALID,
        10_000,
        10_000,
        0,
    )
    assert len(batch.errors) == services.MAX_STORED_ERRORS == 1000
    assert batch.errors[0] == {
        "row": 2,
        "column": "邮政编码",
        "code": "invalid_field",
        "message": "邮政编码须为6位数字",
    }
    assert batch.errors[-1]["row"] == 1001
    with pytest.raises(ApplicationError) as exc:
        services.import_batch_commit(actor=registrar_a, batch=batch)
    assert exc.value.code == "batch_not_checked"
    nothing_written()


def test_formula_text_in_csv_and_error_cells_in_xlsx_are_row_problems(school_a, registrar_a, tmp_path):
    rows = fi.students(1)
    rows[0]["特长"] = '=HYPERLINK("http://x")'
    batch = upload(registrar_a, school_a, fi.write_csv(tmp_path / "f.csv", rows))
    services.import_batch_check(actor=registrar_a, batch=batch)
    assert [(e["row"], e["column"], e["code"]) for e in batch.errors] == [(2, "特长", "formula_not_allowed")]


def test_excel_error_values_are_row_problems(school_a, registrar_a, tmp_path):
    rows = fi.students(2)
    rows[1]["民族"] = CellError("#N/A")
    path = fi.excel_like_xlsx(tmp_path / "err.xlsx", fi.table_from_rows(rows))
    batch = upload(registrar_a, school_a, path)
    services.import_batch_check(actor=registrar_a, batch=batch)
    assert batch.errors == [
        {"row": 3, "column": "民族", "code": "cell_error", "message": "单元格为错误值 #N/A，请改为正确内容"}
    ]


# ------------------------------------------------------------------------------ all or nothing
def test_commit_is_all_or_nothing_one_bad_row_writes_nothing(
    school_a, school_b, registrar_a, registrar_b, tmp_path
):
    """A row that became a duplicate after the dry run aborts the whole file (第9条; 第6条 all-or-nothing)."""
    rows = fi.students(3)
    batch = upload(registrar_a, school_a, fi.write_csv(tmp_path / "a.csv", rows))
    services.import_batch_check(actor=registrar_a, batch=batch)
    assert batch.status == Status.CHECKED
    # Meanwhile another school registers the third student.
    other = upload(registrar_b, school_b, fi.write_csv(tmp_path / "b.csv", rows[2:]))
    services.import_batch_check(actor=registrar_b, batch=other)
    services.import_batch_commit(actor=registrar_b, batch=other)
    assert Person.objects.count() == 1

    with pytest.raises(ApplicationError) as exc:
        services.import_batch_commit(actor=registrar_a, batch=batch)
    assert exc.value.code == "import_aborted"
    batch.refresh_from_db()
    assert batch.status == Status.FAILED
    assert [(e["row"], e["code"]) for e in batch.errors] == [(4, "student_already_enrolled")]
    assert Person.objects.count() == 1  # only the other school's student
    assert Enrollment.objects.filter(school=school_a).count() == 0
    assert AuditEvent.objects.filter(event_type=EventType.IMPORT_COMMITTED).count() == 1  # the other school's


def test_commit_failure_in_a_later_chunk_rolls_back_earlier_chunks(
    school_a, registrar_a, tmp_path, monkeypatch
):
    monkeypatch.setattr(services, "CHUNK_ROWS", 2)
    batch = upload(registrar_a, school_a, fi.write_csv(tmp_path / "a.csv", fi.students(5)))
    services.import_batch_check(actor=registrar_a, batch=batch)
    calls = []
    real = services.register_students

    def flaky(**kwargs):
        calls.append(len(kwargs["registrations"]))
        if len(calls) == 3:
            raise RuntimeError("disk full")
        return real(**kwargs)

    monkeypatch.setattr(services, "register_students", flaky)
    with pytest.raises(RuntimeError):
        services.import_batch_commit(actor=registrar_a, batch=batch)
    assert calls == [2, 2, 1]
    batch.refresh_from_db()
    assert (batch.status, batch.errors[0]["code"]) == (Status.FAILED, "import_failed")
    nothing_written()


# ------------------------------------------------------------------------------ same file twice
def test_the_same_file_twice_creates_nothing_twice(
    school_a, registrar_a, tmp_path, django_capture_on_commit_callbacks
):
    path = fi.write_xlsx(tmp_path / "once.xlsx", fi.students(2))
    batch = upload(registrar_a, school_a, path)
    services.import_batch_check(actor=registrar_a, batch=batch)
    with django_capture_on_commit_callbacks(execute=True):
        services.import_batch_commit(actor=registrar_a, batch=batch)
    with pytest.raises(Conflict) as exc:
        upload(registrar_a, school_a, path)
    assert exc.value.code == "file_already_imported"
    assert "导入（2 名学生）" in exc.value.message
    assert ImportBatch.objects.count() == 1
    assert Person.objects.count() == 2
    assert stored_files() == []


def test_two_uploads_of_one_file_commit_once(school_a, registrar_a, tmp_path):
    """Uploaded twice before either is committed: the second commit is refused."""
    path = fi.write_csv(tmp_path / "twice.csv", fi.students(2))
    first, second = upload(registrar_a, school_a, path), upload(registrar_a, school_a, path)
    for batch in (first, second):
        services.import_batch_check(actor=registrar_a, batch=batch)
    services.import_batch_commit(actor=registrar_a, batch=first)
    with pytest.raises(Conflict) as exc:
        services.import_batch_commit(actor=registrar_a, batch=second)
    assert exc.value.code == "file_already_imported"
    assert Person.objects.count() == 2


# ------------------------------------------------------------------------------ bad files
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.mark.parametrize(
    "case",
    [
        ("photo.xlsx", PNG, "not_a_spreadsheet"),
        ("old.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "not_a_spreadsheet"),
        ("binary.csv", bytes(range(256)) * 4, "not_a_spreadsheet"),
        ("empty.csv", b"", "empty_file"),
        ("header-only.csv", ",".join(fi.HEADERS).encode(), "empty_file"),
        ("wrong.csv", "学号,名字,班\n1,张三,1\n".encode(), "wrong_columns"),
    ],
)
def test_bad_files_are_refused_with_their_code_and_nothing_is_stored(school_a, registrar_a, tmp_path, case):
    name, content, code = case
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ApplicationError) as exc:
        upload(registrar_a, school_a, path)
    assert exc.value.code == code
    assert ImportBatch.objects.count() == 0
    assert stored_files() == []
    nothing_written()


def test_zip_that_is_not_a_workbook_is_not_a_spreadsheet(school_a, registrar_a, tmp_path):
    import zipfile

    path = tmp_path / "archive.xlsx"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("readme.txt", "hello")
    with pytest.raises(ApplicationError) as exc:
        upload(registrar_a, school_a, path)
    assert exc.value.code == "not_a_spreadsheet"


def test_wrong_columns_lists_missing_and_unknown_columns(school_a, registrar_a, tmp_path):
    headers = [h for h in fi.HEADERS if h not in {"姓名", "年级"}] + ["学号"]
    with pytest.raises(ApplicationError) as exc:
        upload(registrar_a, school_a, fi.write_csv(tmp_path / "w.csv", fi.students(1), headers=headers))
    assert exc.value.code == "wrong_columns"
    assert exc.value.fields == {"missing": "姓名、年级", "unknown": "学号"}


def test_formula_in_xlsx_is_refused_at_upload(school_a, registrar_a, tmp_path):
    table = fi.table_from_rows(fi.students(3))
    path = fi.excel_like_xlsx(tmp_path / "formula.xlsx", table, formula_at=(2, 4))
    with pytest.raises(ApplicationError) as exc:
        upload(registrar_a, school_a, path)
    assert exc.value.code == "formula_not_allowed"
    assert "E3" in exc.value.message
    assert ImportBatch.objects.count() == 0


def test_oversize_file_is_refused(school_a, registrar_a, tmp_path, settings):
    settings.IMPORT_MAX_BYTES = 1000
    path = fi.write_csv(tmp_path / "big.csv", fi.students(5))
    assert path.stat().st_size > 1000
    with pytest.raises(ApplicationError) as exc:
        upload(registrar_a, school_a, path)
    assert exc.value.code == "file_too_large"
    assert ImportBatch.objects.count() == 0
    assert stored_files() == []


# ------------------------------------------------------------------------------ jurisdiction and state
def test_another_schools_registrar_cannot_upload_check_or_commit(
    school_a, registrar_a, registrar_b, tmp_path
):
    path = fi.write_csv(tmp_path / "a.csv", fi.students(1))
    with pytest.raises(NotFound):
        upload(registrar_b, school_a, path)
    batch = upload(registrar_a, school_a, path)
    with pytest.raises(NotFound):
        services.import_batch_check(actor=registrar_b, batch=batch)
    services.import_batch_check(actor=registrar_a, batch=batch)
    with pytest.raises(NotFound):
        services.import_batch_commit(actor=registrar_b, batch=batch)
    nothing_written()


def test_a_crash_during_the_dry_run_leaves_the_batch_failed_not_checking(
    school_a, registrar_a, tmp_path, monkeypatch
):
    batch = upload(registrar_a, school_a, fi.write_csv(tmp_path / "a.csv", fi.students(1)))

    def broken(keys):
        raise RuntimeError("database went away")

    monkeypatch.setattr(services, "enrolled_elsewhere", broken)
    with pytest.raises(RuntimeError):
        services.import_batch_check(actor=registrar_a, batch=batch)
    batch.refresh_from_db()
    assert (batch.status, batch.errors[0]["code"]) == (Status.FAILED, "check_failed")
    services.import_batch_check_start(actor=registrar_a, batch=batch)  # may be checked again


def test_commit_requires_a_clean_dry_run(school_a, registrar_a, tmp_path):
    batch = upload(registrar_a, school_a, fi.write_csv(tmp_path / "a.csv", fi.students(1)))
    with pytest.raises(ApplicationError) as exc:
        services.import_batch_commit(actor=registrar_a, batch=batch)
    assert exc.value.code == "batch_not_checked"
    nothing_written()


def test_progress_is_reported_per_chunk(school_a, registrar_a, tmp_path, monkeypatch):
    monkeypatch.setattr(services, "CHUNK_ROWS", 2)
    batch = upload(registrar_a, school_a, fi.write_csv(tmp_path / "a.csv", fi.students(5)))
    seen: list[tuple[str, int, int]] = []
    services.import_batch_check(actor=registrar_a, batch=batch, progress=lambda *a: seen.append(a))
    services.import_batch_commit(actor=registrar_a, batch=batch, progress=lambda *a: seen.append(a))
    assert seen == [
        ("check", 2, 5),
        ("check", 4, 5),
        ("check", 5, 5),
        ("check", 5, 5),
        ("commit", 2, 5),
        ("commit", 4, 5),
        ("commit", 5, 5),
        ("commit", 5, 5),
    ]
