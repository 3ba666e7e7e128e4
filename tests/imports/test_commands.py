"""manage.py import_students / export_roster."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command
from openpyxl import load_workbook

from tests.factories import core as f
from tests.factories import imports as fi
from xueji.audit.enums import EventType
from xueji.audit.models import AuditEvent
from xueji.imports.models import ImportBatch
from xueji.students.models import Guardian, Person

pytestmark = pytest.mark.django_db


def run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("import_students", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_import_happy_path_with_progress_bar(school_a, registrar_a, tmp_path):
    path = fi.write_csv(tmp_path / "新生.csv", fi.students(3))
    out, err = run(str(path), "--school", school_a.school_code, "--user", "reg_a")
    assert "校验通过：3 行均可导入" in out
    assert "已导入 3 名学生（海珠区第一小学）" in out
    assert "校验 [" in err and "导入 [" in err and "100.0% 3/3 行" in err and "行/秒" in err
    assert Person.objects.count() == 3 and Guardian.objects.count() == 3
    assert ImportBatch.objects.get().status == ImportBatch.Status.COMMITTED
    assert AuditEvent.objects.get(event_type=EventType.IMPORT_COMMITTED).actor_id == registrar_a.pk


def test_the_only_registrar_is_the_default_user(school_a, registrar_a, tmp_path):
    path = fi.write_csv(tmp_path / "a.csv", fi.students(1))
    out, _ = run(str(path), "--school", school_a.school_code)
    assert "以 reg_a 的身份导入" in out
    assert Person.objects.count() == 1


def test_dry_run_writes_nothing(school_a, registrar_a, tmp_path):
    path = fi.write_xlsx(tmp_path / "a.xlsx", fi.students(2))
    out, _ = run(str(path), "--school", school_a.school_code, "--dry-run")
    assert "校验通过：2 行均可导入" in out
    assert Person.objects.count() == 0
    assert ImportBatch.objects.get().status == ImportBatch.Status.CHECKED


def test_problems_exit_non_zero_and_print_the_first_twenty_in_chinese(school_a, registrar_a, tmp_path):
    rows = fi.students(25, **{"联系电话": "12"})
    path = fi.write_csv(tmp_path / "bad.csv", rows)
    err = io.StringIO()
    with pytest.raises(CommandError) as exc:
        call_command(
            "import_students", str(path), "--school", school_a.school_code, stdout=io.StringIO(), stderr=err
        )
    assert exc.value.returncode == 1
    text = err.getvalue()
    assert "共 25 个问题，前 20 个：" in text
    assert "第 2 行 联系电话：联系电话“12”格式不正确" in text
    assert "第 21 行" in text and "第 22 行" not in text
    assert "校验未通过" in str(exc.value)
    assert Person.objects.count() == 0


def test_refused_file_exits_non_zero(school_a, registrar_a, tmp_path):
    path = tmp_path / "photo.csv"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00")
    with pytest.raises(CommandError) as exc:
        run(str(path), "--school", school_a.school_code)
    assert exc.value.returncode == 1
    assert "not_a_spreadsheet" in str(exc.value)


def test_size_limit_applies_and_can_be_raised_for_one_run(school_a, registrar_a, tmp_path, settings):
    settings.IMPORT_MAX_BYTES = 100
    path = fi.write_csv(tmp_path / "a.csv", fi.students(1))
    with pytest.raises(CommandError) as exc:
        run(str(path), "--school", school_a.school_code)
    assert "file_too_large" in str(exc.value)
    out, _ = run(str(path), "--school", school_a.school_code, "--max-mb", "1")
    assert "已导入 1 名学生" in out


def test_unknown_school_file_or_ambiguous_user(school_a, registrar_a, tmp_path):
    path = fi.write_csv(tmp_path / "a.csv", fi.students(1))
    with pytest.raises(CommandError, match="找不到学校"):
        run(str(path), "--school", "0000000000")
    with pytest.raises(CommandError, match="找不到文件"):
        run(str(tmp_path / "missing.csv"), "--school", school_a.school_code)
    f.registrar(school_a, username="reg_a2")
    with pytest.raises(CommandError, match="--user"):
        run(str(path), "--school", school_a.school_code)


def test_user_outside_the_school_is_refused(school_a, school_b, registrar_a, tmp_path):
    f.registrar(school_b, username="reg_b")
    path = fi.write_csv(tmp_path / "a.csv", fi.students(1))
    with pytest.raises(CommandError) as exc:
        run(str(path), "--school", school_a.school_code, "--user", "reg_b")
    assert "not_found" in str(exc.value)
    assert ImportBatch.objects.count() == 0


def test_export_roster(school_a, registrar_a, tmp_path):
    run(str(fi.write_csv(tmp_path / "a.csv", fi.students(2))), "--school", school_a.school_code)
    out = io.StringIO()
    target = tmp_path / "roster.xlsx"
    call_command("export_roster", str(target), "--school", school_a.school_code, stdout=out)
    assert "已导出 2 名学生" in out.getvalue()
    rows = list(load_workbook(target).active.iter_rows(values_only=True))
    assert len(rows) == 3
    assert AuditEvent.objects.filter(event_type=EventType.ROSTER_EXPORTED).count() == 1
