"""Web pages of bulk registration: upload, detail with problems and progress, commit, template, roster."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from django.urls import reverse
from openpyxl import load_workbook

from tests.factories import core as f
from tests.factories import imports as fi
from tests.factories.tasks import run_queued_tasks
from xueji.audit.enums import EventType
from xueji.audit.models import AuditEvent
from xueji.imports import services
from xueji.imports.models import ImportBatch
from xueji.students.models import Person

pytestmark = pytest.mark.django_db


def csv_upload(rows, name="新生.csv") -> SimpleUploadedFile:
    buffer = io.StringIO()
    import csv

    writer = csv.writer(buffer)
    writer.writerow(fi.HEADERS)
    for row in rows:
        writer.writerow([row.get(h, "") for h in fi.HEADERS])
    return SimpleUploadedFile(name, buffer.getvalue().encode("utf-8-sig"), content_type="text/csv")


@pytest.fixture
def as_registrar(client, registrar_a):
    client.force_login(registrar_a)
    return client


def make_batch(school, registrar, tmp_path, rows) -> ImportBatch:
    path = fi.write_csv(tmp_path / "x.csv", rows)
    return services.import_batch_create(
        actor=registrar, school=school, uploaded_file_path=path, file_name="x.csv"
    )


def test_upload_runs_the_dry_run_and_shows_a_clean_result(as_registrar, school_a):
    response = as_registrar.post(
        reverse("imports:new"), {"school": school_a.school_code, "file": csv_upload(fi.students(2))}
    )
    batch = ImportBatch.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("imports:detail", args=[batch.pk])
    assert batch.status == ImportBatch.Status.CHECKED
    page = as_registrar.get(response["Location"])
    assert page.status_code == 200
    html = page.content.decode()
    assert "校验通过：2 行均可导入" in html
    assert "确认导入 2 名学生" in html
    assert Person.objects.count() == 0


def test_detail_lists_problems_by_row_and_column(as_registrar, school_a):
    rows = fi.students(2)
    rows[1]["出生日期"] = "2018-02-30"
    as_registrar.post(reverse("imports:new"), {"school": school_a.school_code, "file": csv_upload(rows)})
    batch = ImportBatch.objects.get()
    html = as_registrar.get(reverse("imports:detail", args=[batch.pk])).content.decode()
    assert batch.status == ImportBatch.Status.INVALID
    assert "第 3 行" in html and "出生日期" in html and "不是有效日期" in html
    assert "确认导入" not in html


def test_refused_upload_shows_the_error_on_the_form(as_registrar, school_a):
    png = SimpleUploadedFile("photo.xlsx", b"\x89PNG\r\n\x1a\n" + b"\x00" * 50)
    response = as_registrar.post(reverse("imports:new"), {"school": school_a.school_code, "file": png})
    assert response.status_code == 200
    assert "不是可识别的电子表格" in response.content.decode()
    assert ImportBatch.objects.count() == 0


def test_oversize_upload_is_refused_by_the_form(as_registrar, school_a, settings):
    settings.IMPORT_MAX_BYTES = 100
    response = as_registrar.post(
        reverse("imports:new"), {"school": school_a.school_code, "file": csv_upload(fi.students(1))}
    )
    assert response.status_code == 200
    assert "文件过大" in response.content.decode()
    assert ImportBatch.objects.count() == 0


def test_commit_page_imports_and_redirects(as_registrar, school_a, registrar_a, tmp_path):
    batch = make_batch(school_a, registrar_a, tmp_path, fi.students(3))
    services.import_batch_check(actor=registrar_a, batch=batch)
    response = as_registrar.post(reverse("imports:commit", args=[batch.pk]))
    assert response.status_code == 302
    batch.refresh_from_db()
    assert (batch.status, batch.created_count, Person.objects.count()) == (ImportBatch.Status.COMMITTED, 3, 3)
    html = as_registrar.get(reverse("imports:detail", args=[batch.pk])).content.decode()
    assert "已导入 3 名学生" in html


def test_commit_of_an_unchecked_batch_shows_a_message(as_registrar, school_a, registrar_a, tmp_path):
    batch = make_batch(school_a, registrar_a, tmp_path, fi.students(1))
    response = as_registrar.post(reverse("imports:commit", args=[batch.pk]), follow=True)
    assert "请先完成校验" in response.content.decode()
    assert Person.objects.count() == 0


def test_running_batch_polls_with_htmx_and_shows_a_progress_bar(
    as_registrar, school_a, registrar_a, tmp_path
):
    batch = make_batch(school_a, registrar_a, tmp_path, fi.students(2))
    services.import_batch_check_start(actor=registrar_a, batch=batch)
    # Progress lives in the batch row (written by the worker), not in a process cache: any web process sees it.
    ImportBatch.objects.filter(pk=batch.pk).update(progress_done=1, progress_total=2)
    url = reverse("imports:detail", args=[batch.pk])
    html = as_registrar.get(url).content.decode()
    assert f'hx-get="{url}"' in html and 'hx-trigger="every 1s"' in html
    assert '<progress class="progress" max="2" value="1">50%</progress>' in html
    fragment = as_registrar.get(url, HTTP_HX_REQUEST="true")
    assert fragment.content.decode().startswith('<div id="batch"')
    services.import_batch_check(actor=registrar_a, batch=batch, started=True)
    finished = as_registrar.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert "hx-trigger" not in finished and "<progress" not in finished


def test_other_schools_registrar_gets_404_everywhere(client, school_a, registrar_a, registrar_b, tmp_path):
    batch = make_batch(school_a, registrar_a, tmp_path, fi.students(1))
    services.import_batch_check(actor=registrar_a, batch=batch)
    client.force_login(registrar_b)
    assert client.get(reverse("imports:detail", args=[batch.pk])).status_code == 404
    assert client.post(reverse("imports:commit", args=[batch.pk])).status_code == 404
    assert client.post(reverse("imports:check", args=[batch.pk])).status_code == 404
    assert client.post(reverse("imports:export_roster"), {"school": school_a.school_code}).status_code == 404
    listing = client.get(reverse("imports:list")).content.decode()
    assert "x.csv" not in listing
    assert Person.objects.count() == 0


def test_department_registrar_sees_batches_of_the_subtree_but_cannot_upload(
    client, school_a, registrar_a, dept_registrar, tmp_path
):
    batch = make_batch(school_a, registrar_a, tmp_path, fi.students(1))
    client.force_login(dept_registrar)
    assert "x.csv" in client.get(reverse("imports:list")).content.decode()
    assert client.get(reverse("imports:detail", args=[batch.pk])).status_code == 200
    assert client.get(reverse("imports:new")).status_code == 404
    assert client.post(reverse("imports:commit", args=[batch.pk])).status_code == 403
    assert client.post(reverse("imports:check", args=[batch.pk])).status_code == 403
    services.import_batch_check(actor=registrar_a, batch=batch)
    assert client.post(reverse("imports:commit", args=[batch.pk])).status_code == 403
    assert Person.objects.count() == 0


def test_anonymous_is_sent_to_login(client, school_a):
    response = client.get(reverse("imports:list"))
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_template_download(as_registrar):
    response = as_registrar.get(reverse("imports:template"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    assert "attachment" in response["Content-Disposition"]
    wb = load_workbook(io.BytesIO(response.content))
    assert wb["学生信息"]["A1"].value == "姓名"


def test_roster_export_has_the_default_columns_and_is_audited(as_registrar, school_a, registrar_a, tmp_path):
    rows = fi.students(2)
    batch = make_batch(school_a, registrar_a, tmp_path, rows)
    services.import_batch_check(actor=registrar_a, batch=batch)
    services.import_batch_commit(actor=registrar_a, batch=batch)
    # 第24条 (issue 11 §4): the list page's button leads to the approved export request for the school ...
    response = as_registrar.post(reverse("imports:export_roster"), {"school": school_a.school_code})
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('exports:new')}?source=roster&unit={school_a.pk}"
    assert not AuditEvent.objects.filter(event_type=EventType.ROSTER_EXPORTED).exists()
    # ... and the roster service (manage.py export_roster) writes the default columns, audited
    target = tmp_path / "roster.xlsx"
    services.roster_export(actor=registrar_a, school=school_a, target=target)
    ws = load_workbook(target).active
    table = list(ws.iter_rows(values_only=True))
    assert table[0] == ("学籍号", "姓名", "性别", "出生日期", "学校", "年级", "班级", "班内学号", "学籍状态")
    assert len(table) == 3
    # The school's own registrar sees its students' 学籍号 in full (issue 8 item 1); no ID number by default.
    numbers = {p.student_number for p in Person.objects.all()}
    assert {r[0] for r in table[1:]} == numbers
    assert {r[5] for r in table[1:]} == {"一年级"}
    event = AuditEvent.objects.get(event_type=EventType.ROSTER_EXPORTED)
    assert (event.actor_id, event.after["count"], event.after["school"]) == (
        registrar_a.pk,
        2,
        school_a.school_code,
    )


def test_roster_export_needs_post(as_registrar, school_a):
    assert as_registrar.get(reverse("imports:export_roster")).status_code == 405


def test_list_page_for_registrar(as_registrar, school_a, registrar_a, tmp_path):
    make_batch(school_a, registrar_a, tmp_path, fi.students(1))
    html = as_registrar.get(reverse("imports:list")).content.decode()
    assert "x.csv" in html and reverse("imports:new") in html and "导出海珠区第一小学名册" in html
    assert reverse("imports:roster") in html


def test_unfiled_registrar_cannot_upload(client, school_a):
    user = f.registrar(school_a, filed=False)
    client.force_login(user)
    assert client.get(reverse("imports:new")).status_code == 404


def test_department_registrar_cannot_recheck_an_invalid_batch(
    client, school_a, registrar_a, dept_registrar, tmp_path
):
    batch = make_batch(school_a, registrar_a, tmp_path, fi.students(1, **{"性别": "X"}))
    services.import_batch_check(actor=registrar_a, batch=batch)
    assert batch.status == ImportBatch.Status.INVALID
    client.force_login(dept_registrar)
    assert client.post(reverse("imports:check", args=[batch.pk])).status_code == 403
    batch.refresh_from_db()
    assert batch.status == ImportBatch.Status.INVALID


def test_background_job_that_crashes_marks_the_batch_failed_and_retryable(
    as_registrar, school_a, registrar_a, tmp_path, monkeypatch
):
    from xueji.imports import tasks

    batch = make_batch(school_a, registrar_a, tmp_path, fi.students(1))
    services.import_batch_check(actor=registrar_a, batch=batch)
    with override_settings(IMPORT_BACKGROUND_ROWS=0):
        assert tasks.start_commit(actor=registrar_a, batch=batch) is True

    def boom(*args, **kwargs):
        raise RuntimeError("worker died")

    monkeypatch.setattr(services, "register_students", boom)
    assert run_queued_tasks() == ["FAILED"]
    batch.refresh_from_db()
    assert (batch.status, batch.message, batch.retryable) == (
        ImportBatch.Status.FAILED,
        "导入失败（系统错误），未写入任何数据，可重试",
        True,
    )
    html = as_registrar.get(reverse("imports:detail", args=[batch.pk])).content.decode()
    assert f'action="{reverse("imports:retry", args=[batch.pk])}"' in html
    monkeypatch.undo()
    response = as_registrar.post(reverse("imports:retry", args=[batch.pk]), follow=True)
    assert "已导入 1 名学生" in response.content.decode()
    batch.refresh_from_db()
    assert (batch.status, batch.created_count, batch.attempt) == (ImportBatch.Status.COMMITTED, 1, 3)
    assert Person.objects.count() == 1


def test_commit_on_sqlite_shows_importing_without_a_percentage(as_registrar, school_a, registrar_a, tmp_path):
    """On SQLite the commit's transaction holds the write lock: the page says 导入中 with the row count of the
    dry run, without inventing a percentage."""
    batch = make_batch(school_a, registrar_a, tmp_path, fi.students(2))
    services.import_batch_check(actor=registrar_a, batch=batch)
    services.import_batch_commit_start(actor=registrar_a, batch=batch)
    html = as_registrar.get(reverse("imports:detail", args=[batch.pk])).content.decode()
    assert "正在导入 2 行……整个文件在一个事务中写入，完成前不显示百分比" in html
    assert '<progress class="progress"></progress>' in html and 'hx-trigger="every 1s"' in html
