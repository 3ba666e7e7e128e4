"""Issue 8 item 8: the dry run's preview of the first rows, the problems workbook (one row per problem, the
upload with the bad cells marked), and one status message at a time on the batch page."""

from __future__ import annotations

import io

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from tests.factories import core as f
from tests.factories import imports as fi
from tests.factories.tasks import run_queued_tasks
from xueji.accounts.enums import Role
from xueji.audit.enums import EventType
from xueji.audit.models import AuditEvent
from xueji.imports import problems, services
from xueji.imports.models import ImportBatch
from xueji.students.models import Person

pytestmark = pytest.mark.django_db


def make_batch(school, registrar, tmp_path, rows, *, name="x.csv", writer=fi.write_csv) -> ImportBatch:
    path = writer(tmp_path / name, rows)
    return services.import_batch_create(
        actor=registrar, school=school, uploaded_file_path=path, file_name=name
    )


def bad_rows(n: int = 4) -> list[dict]:
    """Rows 3 and 5 of the file are wrong: an impossible date, a gender code that does not exist."""
    rows = fi.students(n)
    rows[1]["出生日期"] = "2018-02-30"
    rows[3]["性别"] = "X"
    return rows


def workbook(response):
    return load_workbook(io.BytesIO(b"".join(response.streaming_content)))


# ------------------------------------------------------------------------------------------ the problem log
def test_the_dry_run_keeps_every_problem_not_only_the_stored_thousand(
    school_a, registrar_a, tmp_path, monkeypatch
):
    monkeypatch.setattr(services, "MAX_STORED_ERRORS", 3)
    rows = fi.students(6, **{"性别": "X"})
    batch = make_batch(school_a, registrar_a, tmp_path, rows)
    services.import_batch_check(actor=registrar_a, batch=batch)
    assert (batch.status, batch.error_count, len(batch.errors)) == (ImportBatch.Status.INVALID, 6, 3)
    logged = list(problems.logged_problems(services.stored_path(batch), attempt=batch.attempt))
    assert [p["row"] for p in logged] == [2, 3, 4, 5, 6, 7]
    assert {p["column"] for p in logged} == {"性别"}
    # A log of an earlier attempt is never taken for the current one.
    assert problems.logged_problems(services.stored_path(batch), attempt=batch.attempt + 1) is None


def test_the_log_goes_with_the_upload(school_a, registrar_a, tmp_path):
    batch = make_batch(school_a, registrar_a, tmp_path, bad_rows())
    services.import_batch_check(actor=registrar_a, batch=batch)
    log = problems.problems_path(services.stored_path(batch))
    assert log.exists() and (log.stat().st_mode & 0o777) == 0o600  # personal data: private like the upload
    services._remove_stored(services.stored_path(batch))
    assert not log.exists()


# ------------------------------------------------------------------------------------------ preview
def test_the_preview_shows_the_first_rows_masked_with_the_bad_cells_marked(school_a, registrar_a, tmp_path):
    rows = bad_rows(12)
    batch = make_batch(school_a, registrar_a, tmp_path, rows)
    services.import_batch_check(actor=registrar_a, batch=batch)
    shown = problems.preview(services.stored_path(batch), batch.errors)
    assert shown is not None
    assert len(shown.rows) == problems.PREVIEW_ROWS
    assert [r.number for r in shown.rows] == list(range(2, 12))
    assert shown.headers[:5] == ["姓名", "性别", "出生日期", "身份证件类型", "身份证件号"]
    first = {c.label: c for c in shown.rows[0].cells}
    number = rows[0]["身份证件号"]
    assert first["身份证件号"].value == number[:3] + "*" * 11 + number[-4:]
    assert first["家庭成员1联系电话"].value == "139****9000"
    assert first["姓名"].value == rows[0]["姓名"]
    third = {c.label: c for c in shown.rows[1].cells}
    assert third["出生日期"].value == "2018-02-30" and "不是有效日期" in third["出生日期"].problem
    assert (shown.rows[0].problems, shown.rows[1].problems, shown.rows[3].problems) == (0, 1, 1)


def test_the_preview_of_an_xlsx_reads_dates_as_dates(school_a, registrar_a, tmp_path):
    batch = make_batch(school_a, registrar_a, tmp_path, fi.students(2), name="x.xlsx", writer=fi.write_xlsx)
    shown = problems.preview(services.stored_path(batch), [])
    assert shown is not None and [r.number for r in shown.rows] == [2, 3]
    assert all(not c.problem for r in shown.rows for c in r.cells)


def test_no_preview_without_the_file(school_a, registrar_a, tmp_path):
    batch = make_batch(school_a, registrar_a, tmp_path, fi.students(1))
    services.stored_path(batch).unlink()
    assert problems.preview(services.stored_path(batch), []) is None


def test_the_batch_page_shows_the_preview_to_the_department_masked(
    client, school_a, registrar_a, dept_registrar, tmp_path
):
    rows = bad_rows()
    batch = make_batch(school_a, registrar_a, tmp_path, rows)
    services.import_batch_check(actor=registrar_a, batch=batch)
    client.force_login(dept_registrar)
    html = client.get(reverse("imports:detail", args=[batch.pk])).content.decode()
    assert 'data-testid="preview"' in html and 'class="cell-bad"' in html
    assert rows[0]["身份证件号"] not in html  # never in full on the page


# ------------------------------------------------------------------------------------------ problems workbook
def test_the_problems_workbook_lists_every_problem_and_marks_the_bad_cells(
    client, school_a, registrar_a, tmp_path
):
    rows = bad_rows()
    batch = make_batch(school_a, registrar_a, tmp_path, rows)
    services.import_batch_check(actor=registrar_a, batch=batch)
    client.force_login(registrar_a)
    response = client.post(reverse("imports:problems", args=[batch.pk]))
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment")
    wb = workbook(response)
    assert wb.sheetnames == ["问题清单", "原始数据（已标注）"]
    listing = wb["问题清单"]
    table = list(listing.iter_rows(values_only=True))
    assert table[0] == ("行号", "列", "问题")
    assert [(r[0], r[1]) for r in table[1:]] == [(3, "出生日期"), (5, "性别")]
    assert (listing.freeze_panes, listing.auto_filter.ref) == ("A2", "A1:C3")

    copy = wb["原始数据（已标注）"]
    headers = [c.value for c in copy[1]]
    date_col = headers.index("出生日期") + 1
    gender_col = headers.index("性别") + 1
    bad_date = copy.cell(row=3, column=date_col)  # 第 3 行 of the file is row 3 of the copy
    assert bad_date.value == "2018-02-30"
    assert bad_date.fill.fgColor.rgb == "FFFFC7CE"
    assert "不是有效日期" in bad_date.comment.text
    assert copy.cell(row=5, column=gender_col).comment is not None
    good = copy.cell(row=2, column=date_col)
    assert good.comment is None and good.fill.fgColor.rgb != "FFFFC7CE"
    assert copy.cell(row=2, column=headers.index("身份证件号") + 1).value == rows[0]["身份证件号"]
    event = AuditEvent.objects.get(event_type=EventType.ROSTER_EXPORTED)
    assert (event.subject_type, event.after["kind"], event.after["count"], event.after["masked"]) == (
        "import_batch",
        "problems",
        2,
        False,
    )
    assert rows[0]["身份证件号"] not in str(event.after) + event.summary


def test_beyond_the_stored_thousand_the_workbook_lists_them_all(
    client, school_a, registrar_a, tmp_path, monkeypatch
):
    monkeypatch.setattr(services, "MAX_STORED_ERRORS", 2)
    batch = make_batch(school_a, registrar_a, tmp_path, fi.students(5, **{"性别": "X"}))
    services.import_batch_check(actor=registrar_a, batch=batch)
    client.force_login(registrar_a)
    html = client.get(reverse("imports:detail", args=[batch.pk])).content.decode()
    assert "另有 3 个问题未在此列出，请下载问题清单查看全部" in html
    listing = workbook(client.post(reverse("imports:problems", args=[batch.pk])))["问题清单"]
    assert [r[0] for r in listing.iter_rows(min_row=2, values_only=True)] == [2, 3, 4, 5, 6]


def test_without_the_log_the_workbook_lists_the_stored_problems_and_says_how_many_more(
    client, school_a, registrar_a, tmp_path, monkeypatch
):
    monkeypatch.setattr(services, "MAX_STORED_ERRORS", 2)
    batch = make_batch(school_a, registrar_a, tmp_path, fi.students(5, **{"性别": "X"}))
    services.import_batch_check(actor=registrar_a, batch=batch)
    problems.problems_path(services.stored_path(batch)).unlink()
    client.force_login(registrar_a)
    listing = workbook(client.post(reverse("imports:problems", args=[batch.pk])))["问题清单"]
    table = list(listing.iter_rows(min_row=2, values_only=True))
    assert [r[0] for r in table[:2]] == [2, 3]
    assert "另有 3 个问题未列出" in table[2][2]


def test_the_department_gets_the_list_without_the_uploaded_data(
    client, school_a, registrar_a, dept_registrar, tmp_path
):
    rows = bad_rows()
    batch = make_batch(school_a, registrar_a, tmp_path, rows)
    services.import_batch_check(actor=registrar_a, batch=batch)
    client.force_login(dept_registrar)
    wb = workbook(client.post(reverse("imports:problems", args=[batch.pk])))
    assert wb.sheetnames == ["问题清单"]
    assert AuditEvent.objects.get(event_type=EventType.ROSTER_EXPORTED).after["masked"] is True


def test_a_file_level_problem_is_downloadable_too(client, school_a, registrar_a, tmp_path, monkeypatch):
    batch = make_batch(school_a, registrar_a, tmp_path, fi.students(1))
    school_a.state = "merged"
    school_a.save(update_fields=["state"])
    batch.school.state = "merged"
    with pytest.raises(Exception):  # noqa: B017 - the service raises its refusal after recording it
        services.import_batch_check(actor=registrar_a, batch=batch)
    client.force_login(registrar_a)
    listing = workbook(client.post(reverse("imports:problems", args=[batch.pk])))["问题清单"]
    rows = list(listing.iter_rows(min_row=2, values_only=True))
    assert rows[0][0] == "整个文件" and "不能注册新学籍" in rows[0][2]


def test_problems_download_scope_and_state(client, school_a, registrar_a, registrar_b, tmp_path):
    clean = make_batch(school_a, registrar_a, tmp_path, fi.students(1), name="clean.csv")
    services.import_batch_check(actor=registrar_a, batch=clean)
    bad = make_batch(school_a, registrar_a, tmp_path, bad_rows(), name="bad.csv")
    services.import_batch_check(actor=registrar_a, batch=bad)
    client.force_login(registrar_b)
    assert client.post(reverse("imports:problems", args=[bad.pk])).status_code == 404
    client.force_login(registrar_a)
    assert client.get(reverse("imports:problems", args=[bad.pk])).status_code == 405
    refused = client.post(reverse("imports:problems", args=[clean.pk]))
    assert refused.status_code == 409 and "没有可下载的问题清单" in refused.content.decode()
    assert not AuditEvent.objects.filter(event_type=EventType.ROSTER_EXPORTED).exists()


def test_a_large_file_keeps_only_its_bad_rows_in_the_copy(
    client, school_a, registrar_a, tmp_path, monkeypatch
):
    monkeypatch.setattr(problems, "COPY_ROWS", 3)
    rows = bad_rows(6)
    batch = make_batch(school_a, registrar_a, tmp_path, rows)
    services.import_batch_check(actor=registrar_a, batch=batch)
    client.force_login(registrar_a)
    wb = workbook(client.post(reverse("imports:problems", args=[batch.pk])))
    assert wb.sheetnames == ["问题清单", "有问题的行（已标注）"]
    copy = wb["有问题的行（已标注）"]
    headers = [c.value for c in copy[1]]
    assert headers[0] == "原行号"
    assert [r[0] for r in copy.iter_rows(min_row=2, values_only=True)] == [3, 5]
    bad_date = copy.cell(row=2, column=headers.index("出生日期") + 1)
    assert bad_date.value == "2018-02-30" and "不是有效日期" in bad_date.comment.text


def test_text_that_looks_like_a_formula_stays_text_in_the_copy(client, school_a, registrar_a, tmp_path):
    rows = fi.students(1)
    rows[0]["班级"] = "=1+1"
    batch = make_batch(school_a, registrar_a, tmp_path, rows)
    services.import_batch_check(actor=registrar_a, batch=batch)
    assert batch.status == ImportBatch.Status.INVALID
    client.force_login(registrar_a)
    copy = workbook(client.post(reverse("imports:problems", args=[batch.pk])))["原始数据（已标注）"]
    headers = [c.value for c in copy[1]]
    cell = copy.cell(row=2, column=headers.index("班级") + 1)
    assert (cell.value, cell.data_type) == ("=1+1", "s")


# ------------------------------------------------------------------------------------------ one status message
def notices(html: str) -> int:
    return html.count('data-testid="batch-notice"')


def test_a_file_level_problem_is_said_once(client, school_a, registrar_a, tmp_path):
    batch = make_batch(school_a, registrar_a, tmp_path, fi.students(1))
    school_a.state = "merged"
    school_a.save(update_fields=["state"])
    batch.school.state = "merged"
    with pytest.raises(Exception):  # noqa: B017 - recorded on the batch, then raised
        services.import_batch_check(actor=registrar_a, batch=batch)
    client.force_login(registrar_a)
    html = client.get(reverse("imports:detail", args=[batch.pk])).content.decode()
    assert notices(html) == 1 and html.count("已合并或撤销，不能注册新学籍") == 1


def test_a_running_check_shows_its_progress_not_the_problems_of_the_last_run(
    client, school_a, registrar_a, tmp_path
):
    batch = make_batch(school_a, registrar_a, tmp_path, bad_rows())
    services.import_batch_check(actor=registrar_a, batch=batch)
    services.import_batch_check_start(actor=registrar_a, batch=batch)
    client.force_login(registrar_a)
    html = client.get(reverse("imports:detail", args=[batch.pk])).content.decode()
    assert notices(html) == 1 and "正在校验" in html
    assert "问题清单" not in html and "校验未通过" not in html and "发现 2 个问题" not in html
    assert "下载问题清单" not in html and 'data-testid="preview"' not in html


def test_a_background_commit_leaves_no_stale_message_behind(
    client, school_a, registrar_a, tmp_path, settings
):
    batch = make_batch(school_a, registrar_a, tmp_path, fi.students(2))
    services.import_batch_check(actor=registrar_a, batch=batch)
    settings.IMPORT_BACKGROUND_ROWS = 0
    client.force_login(registrar_a)
    queued = client.post(reverse("imports:commit", args=[batch.pk]), follow=True).content.decode()
    assert notices(queued) == 1 and "正在导入" in queued
    assert run_queued_tasks() == ["SUCCESSFUL"]
    done = client.get(reverse("imports:detail", args=[batch.pk])).content.decode()
    assert notices(done) == 1 and "已导入 2 名学生" in done
    assert "正在" not in done and "后台" not in done and 'class="messages"' not in done


def test_an_inline_commit_says_it_once(client, school_a, registrar_a, tmp_path):
    batch = make_batch(school_a, registrar_a, tmp_path, fi.students(2))
    services.import_batch_check(actor=registrar_a, batch=batch)
    client.force_login(registrar_a)
    html = client.post(reverse("imports:commit", args=[batch.pk]), follow=True).content.decode()
    assert html.count("已导入 2 名学生") == 1 and notices(html) == 1


def test_a_refused_action_replaces_the_status_message(client, school_a, registrar_a, tmp_path):
    batch = make_batch(school_a, registrar_a, tmp_path, fi.students(1))
    client.force_login(registrar_a)
    response = client.post(reverse("imports:commit", args=[batch.pk]))
    html = response.content.decode()
    assert response.status_code == 400
    assert notices(html) == 1 and "请先完成校验" in html and "确认导入" not in html
    assert Person.objects.count() == 0


def test_a_stale_batch_says_interrupted_not_running(client, school_a, registrar_a, tmp_path):
    batch = make_batch(school_a, registrar_a, tmp_path, fi.students(1))
    services.import_batch_check(actor=registrar_a, batch=batch)
    services.import_batch_commit_start(actor=registrar_a, batch=batch)
    ImportBatch.objects.filter(pk=batch.pk).update(worker_host="elsewhere", worker_pid=1, heartbeat_at=None)
    client.force_login(registrar_a)
    html = client.get(reverse("imports:detail", args=[batch.pk])).content.decode()
    assert notices(html) == 1 and "已中断" in html and "导入中" not in html and "hx-trigger" not in html


def test_the_approver_of_the_county_reads_the_batch_but_downloads_no_copy(
    client, school_a, registrar_a, tmp_path
):
    approver = f.user(Role.APPROVER, f.dept("440105"))
    batch = make_batch(school_a, registrar_a, tmp_path, bad_rows())
    services.import_batch_check(actor=registrar_a, batch=batch)
    client.force_login(approver)
    assert client.get(reverse("imports:detail", args=[batch.pk])).status_code == 200
    assert workbook(client.post(reverse("imports:problems", args=[batch.pk]))).sheetnames == ["问题清单"]
