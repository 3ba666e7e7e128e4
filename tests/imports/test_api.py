"""/api/v1/imports/: upload, check, commit, poll, template."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, override_settings
from openpyxl import load_workbook

from tests.factories import imports as fi
from tests.factories.tasks import run_queued_tasks
from xueji.accounts.auth import issue_token
from xueji.imports.models import ImportBatch
from xueji.students.models import Person

pytestmark = pytest.mark.django_db
BASE = "/api/v1/imports/"


def auth(user) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {issue_token(user)[0]}"}


def xlsx_upload(tmp_path, rows, name="新生.xlsx") -> SimpleUploadedFile:
    path = fi.write_xlsx(tmp_path / name, rows)
    return SimpleUploadedFile(name, path.read_bytes())


def test_upload_check_commit_and_poll(school_a, registrar_a, tmp_path):
    client, headers = Client(), auth(registrar_a)
    created = client.post(
        BASE, {"school": school_a.school_code, "file": xlsx_upload(tmp_path, fi.students(2))}, **headers
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert (body["status"], body["progress"]["total"], body["school_code"]) == (
        "uploaded",
        2,
        school_a.school_code,
    )
    batch_id = body["id"]

    checked = client.post(f"{BASE}{batch_id}/check", **headers)
    assert checked.status_code == 200
    assert (checked.json()["status"], checked.json()["valid_rows"], checked.json()["errors"]) == (
        "checked",
        2,
        [],
    )

    committed = client.post(f"{BASE}{batch_id}/commit", **headers)
    assert committed.status_code == 200
    assert (committed.json()["status"], committed.json()["created_count"]) == ("committed", 2)
    assert Person.objects.count() == 2

    polled = client.get(f"{BASE}{batch_id}", **headers).json()
    assert polled["progress"] == {"phase": "commit", "done": 2, "total": 2, "percent": 100, "known": True}
    assert [b["id"] for b in client.get(BASE, **headers).json()] == [batch_id]


def test_check_reports_problems_with_row_and_column(school_a, registrar_a, tmp_path):
    client, headers = Client(), auth(registrar_a)
    rows = fi.students(2)
    rows[0]["民族"] = "火星族"
    batch_id = client.post(
        BASE, {"school": school_a.school_code, "file": xlsx_upload(tmp_path, rows)}, **headers
    ).json()["id"]
    body = client.post(f"{BASE}{batch_id}/check", **headers).json()
    assert body["status"] == "invalid"
    assert body["errors"] == [
        {"row": 2, "column": "民族", "code": "invalid_field", "message": "民族“火星族”不是有效代码"}
    ]
    refused = client.post(f"{BASE}{batch_id}/commit", **headers)
    assert refused.status_code == 400
    assert refused.json()["code"] == "batch_not_checked"


def test_bad_upload_returns_the_error_shape(school_a, registrar_a):
    response = Client().post(
        BASE,
        {"school": school_a.school_code, "file": SimpleUploadedFile("a.xlsx", b"\x89PNG\r\n\x1a\n\x00\x00")},
        **auth(registrar_a),
    )
    assert response.status_code == 400
    assert response.json()["code"] == "not_a_spreadsheet"
    assert ImportBatch.objects.count() == 0


def test_same_file_twice_is_a_conflict(school_a, registrar_a, tmp_path):
    client, headers = Client(), auth(registrar_a)
    upload = xlsx_upload(tmp_path, fi.students(1))
    content = upload.read()
    batch_id = client.post(
        BASE, {"school": school_a.school_code, "file": SimpleUploadedFile("a.xlsx", content)}, **headers
    ).json()["id"]
    client.post(f"{BASE}{batch_id}/check", **headers)
    client.post(f"{BASE}{batch_id}/commit", **headers)
    again = client.post(
        BASE, {"school": school_a.school_code, "file": SimpleUploadedFile("b.xlsx", content)}, **headers
    )
    assert again.status_code == 409
    assert again.json()["code"] == "file_already_imported"


def test_other_schools_registrar_gets_404(school_a, registrar_a, registrar_b, tmp_path):
    client = Client()
    batch_id = client.post(
        BASE,
        {"school": school_a.school_code, "file": xlsx_upload(tmp_path, fi.students(1))},
        **auth(registrar_a),
    ).json()["id"]
    other = auth(registrar_b)
    assert client.get(f"{BASE}{batch_id}", **other).status_code == 404
    assert client.post(f"{BASE}{batch_id}/check", **other).status_code == 404
    assert client.post(f"{BASE}{batch_id}/commit", **other).status_code == 404
    upload = client.post(
        BASE,
        {"school": school_a.school_code, "file": xlsx_upload(tmp_path, fi.students(1), "c.xlsx")},
        **other,
    )
    assert upload.status_code == 404
    assert client.get(BASE, **other).json() == []
    assert (
        client.post(
            BASE, {"school": "2144999999", "file": xlsx_upload(tmp_path, fi.students(1), "d.xlsx")}, **other
        ).status_code
        == 404
    )


def test_anonymous_is_401(school_a):
    assert Client().get(BASE).status_code == 401
    assert Client().get(f"{BASE}template").status_code == 401


def test_template_endpoint(registrar_a):
    response = Client().get(f"{BASE}template", **auth(registrar_a))
    assert response.status_code == 200
    assert load_workbook(io.BytesIO(response.content)).sheetnames == ["学生信息", "代码表", "填写说明"]


@override_settings(IMPORT_BACKGROUND_ROWS=1)
def test_large_files_run_on_the_task_queue(school_a, registrar_a, tmp_path):
    """Above IMPORT_BACKGROUND_ROWS the check and the commit return 202 and are queue tasks (a row in the
    database queue, committed with the batch's state), run by the worker — not threads of the web process."""
    from django_tasks_db.models import DBTaskResult

    client, headers = Client(), auth(registrar_a)
    batch_id = client.post(
        BASE, {"school": school_a.school_code, "file": xlsx_upload(tmp_path, fi.students(3))}, **headers
    ).json()["id"]
    response = client.post(f"{BASE}{batch_id}/check", **headers)
    assert response.status_code == 202
    assert (response.json()["status"], response.json()["background"]) == ("checking", True)
    queued = DBTaskResult.objects.get()
    assert (queued.task_path, queued.status, queued.args_kwargs["args"]) == (
        "xueji.imports.tasks.check_batch",
        "READY",
        [batch_id, registrar_a.pk, 1],
    )
    assert ImportBatch.objects.get(pk=batch_id).task_id == str(queued.pk)
    assert run_queued_tasks() == ["SUCCESSFUL"]
    assert client.get(f"{BASE}{batch_id}", **headers).json()["status"] == "checked"

    response = client.post(f"{BASE}{batch_id}/commit", **headers)
    assert response.status_code == 202
    assert response.json()["status"] == "committing"
    assert Person.objects.count() == 0
    assert run_queued_tasks() == ["SUCCESSFUL"]
    assert client.get(f"{BASE}{batch_id}", **headers).json()["status"] == "committed"
    assert Person.objects.count() == 3
