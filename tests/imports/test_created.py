"""Issue 8 item 8: after a commit, the batch lists the students it created with their 学籍号 (in full only for
the school's own registrar, issue 8 item 1), paginated, downloadable (audited, rate-limited), and the API."""

from __future__ import annotations

import io

import pytest
from django.test import Client
from django.urls import reverse
from openpyxl import load_workbook

from tests.factories import core as f
from tests.factories import imports as fi
from xueji.accounts.auth import issue_token
from xueji.accounts.enums import Role
from xueji.audit.enums import EventType
from xueji.audit.models import AuditEvent
from xueji.core.masking import mask_student_number
from xueji.imports import queries, services
from xueji.imports.models import ImportBatch
from xueji.students.models import Enrollment, Person

pytestmark = pytest.mark.django_db


def committed(school, registrar, tmp_path, n=3, name="x.csv") -> ImportBatch:
    path = fi.write_csv(tmp_path / name, fi.students(n))
    batch = services.import_batch_create(
        actor=registrar, school=school, uploaded_file_path=path, file_name=name
    )
    services.import_batch_check(actor=registrar, batch=batch)
    services.import_batch_commit(actor=registrar, batch=batch)
    assert batch.status == ImportBatch.Status.COMMITTED
    return batch


def numbers_of(batch) -> set[str]:
    # The numbers are stored encrypted (issue 11 §3): read through the model, not values_list.
    return {p.student_number for p in Person.objects.filter(enrollments__import_batch_id=batch.pk)}


def test_the_school_registrar_sees_the_full_numbers_of_the_students_created(
    client, school_a, registrar_a, tmp_path
):
    batch = committed(school_a, registrar_a, tmp_path)
    client.force_login(registrar_a)
    html = client.get(reverse("imports:detail", args=[batch.pk])).content.decode()
    assert 'data-testid="created"' in html and "本批导入的学生" in html
    for number in numbers_of(batch):
        assert number in html
    assert "一年级" in html


def test_the_county_registrar_sees_them_masked(client, school_a, registrar_a, tmp_path):
    county = f.user(Role.DEPT_REGISTRAR, f.dept("440105"))
    batch = committed(school_a, registrar_a, tmp_path)
    client.force_login(county)
    html = client.get(reverse("imports:detail", args=[batch.pk])).content.decode()
    for number in numbers_of(batch):
        assert number not in html and mask_student_number(number) in html


def test_only_the_batch_s_students_are_listed(client, school_a, registrar_a, tmp_path):
    first = committed(school_a, registrar_a, tmp_path, n=2, name="a.csv")
    second = committed(school_a, registrar_a, tmp_path, n=1, name="b.csv")
    assert queries.created_list(viewer=registrar_a, batch=first).count() == 2
    assert queries.created_list(viewer=registrar_a, batch=second).count() == 1


def test_the_list_is_paginated(client, school_a, registrar_a, tmp_path, monkeypatch):
    from xueji.imports import views

    monkeypatch.setattr(views, "paginate", lambda request, qs: views_paginate(request, qs, 2))
    batch = committed(school_a, registrar_a, tmp_path, n=5)
    client.force_login(registrar_a)
    page1 = client.get(reverse("imports:detail", args=[batch.pk])).content.decode()
    page3 = client.get(reverse("imports:detail", args=[batch.pk]) + "?page=3").content.decode()
    assert page1.count('<td data-label="学籍号"') == 2 and page3.count('<td data-label="学籍号"') == 1
    assert "page=2" in page1


def views_paginate(request, qs, size):
    from xueji.core.web import paginate

    return paginate(request, qs, per_page=size)


def test_the_list_is_rate_limited_like_every_list(client, school_a, registrar_a, tmp_path, settings):
    batch = committed(school_a, registrar_a, tmp_path)
    settings.XUEJI_RATE_LIMITS = {**settings.XUEJI_RATE_LIMITS, "list": (1, 3600)}
    client.force_login(registrar_a)
    url = reverse("imports:detail", args=[batch.pk])
    assert client.get(url).status_code == 200
    assert client.get(url).status_code == 429


def test_the_download_is_a_table_audited_and_rate_limited(client, school_a, registrar_a, tmp_path, settings):
    batch = committed(school_a, registrar_a, tmp_path)
    settings.XUEJI_RATE_LIMITS = {**settings.XUEJI_RATE_LIMITS, "export": (1, 86400)}
    client.force_login(registrar_a)
    url = reverse("imports:created", args=[batch.pk])
    response = client.post(url)
    assert response.status_code == 200
    ws = load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    table = list(ws.iter_rows(values_only=True))
    assert table[0] == ("学籍号", "姓名", "性别", "年级", "班级", "学籍状态")
    assert {r[0] for r in table[1:]} == numbers_of(batch)
    assert {r[3] for r in table[1:]} == {"一年级"}
    assert (ws.freeze_panes, ws.auto_filter.ref) == ("A2", "A1:F4")
    event = AuditEvent.objects.get(event_type=EventType.ROSTER_EXPORTED)
    assert (event.subject_type, event.subject_id, event.after["kind"], event.after["count"]) == (
        "import_batch",
        str(batch.pk),
        "created",
        3,
    )
    assert event.after["masked"] is False
    for number in numbers_of(batch):  # the audit names the export, never the data
        assert number not in event.summary and number not in str(event.after)
    assert client.post(url).status_code == 429
    assert AuditEvent.objects.filter(event_type=EventType.ROSTER_EXPORTED).count() == 1


def test_the_county_download_is_masked(client, school_a, registrar_a, tmp_path):
    county = f.user(Role.DEPT_REGISTRAR, f.dept("440105"))
    batch = committed(school_a, registrar_a, tmp_path)
    client.force_login(county)
    ws = load_workbook(
        io.BytesIO(b"".join(client.post(reverse("imports:created", args=[batch.pk])).streaming_content))
    )
    shown = {r[0] for r in ws.active.iter_rows(min_row=2, values_only=True)}
    assert shown == {mask_student_number(n) for n in numbers_of(batch)}
    assert AuditEvent.objects.get(event_type=EventType.ROSTER_EXPORTED).after["masked"] is True


def test_out_of_scope_and_uncommitted_batches_are_404(client, school_a, registrar_a, registrar_b, tmp_path):
    batch = committed(school_a, registrar_a, tmp_path)
    path = fi.write_csv(tmp_path / "u.csv", fi.students(1))
    pending = services.import_batch_create(
        actor=registrar_a, school=school_a, uploaded_file_path=path, file_name="u"
    )
    client.force_login(registrar_b)
    assert client.post(reverse("imports:created", args=[batch.pk])).status_code == 404
    client.force_login(registrar_a)
    assert client.post(reverse("imports:created", args=[pending.pk])).status_code == 404
    assert client.get(reverse("imports:created", args=[batch.pk])).status_code == 405
    assert not AuditEvent.objects.filter(event_type=EventType.ROSTER_EXPORTED).exists()


def test_a_student_who_moved_on_is_shown_as_the_school_knew_them(client, school_a, registrar_a, tmp_path):
    from django.utils import timezone

    from xueji.students.models import EnrollmentSnapshot

    batch = committed(school_a, registrar_a, tmp_path, n=1)
    enrollment = Enrollment.objects.get(import_batch_id=batch.pk)
    # As after a transfer: the record here is closed with its snapshot; the new school renamed the pupil.
    EnrollmentSnapshot.objects.create(
        enrollment=enrollment,
        province_code=enrollment.province_code,
        person={"name": "原名字", "student_number": enrollment.person.student_number},
        taken_at=timezone.now(),
    )
    Enrollment.objects.filter(pk=enrollment.pk).update(is_active=False, status="11")
    Person.objects.filter(pk=enrollment.person_id).update(name="新名字")
    client.force_login(registrar_a)
    html = client.get(reverse("imports:detail", args=[batch.pk])).content.decode()
    assert "原名字" in html and "新名字" not in html


# ------------------------------------------------------------------------------------------ API
def api(user):
    return Client(HTTP_AUTHORIZATION=f"Bearer {issue_token(user)[0]}")


def test_the_api_lists_the_created_students_by_role(school_a, registrar_a, tmp_path):
    batch = committed(school_a, registrar_a, tmp_path)
    body = api(registrar_a).get(f"/api/v1/imports/{batch.pk}/students").json()
    assert (body["count"], body["count_exact"]) == (3, True)
    assert {i["student_number"] for i in body["items"]} == numbers_of(batch)
    assert {(i["grade"], i["grade_label"], i["status_label"]) for i in body["items"]} == {
        (1, "一年级", "在读")
    }
    county = f.user(Role.DEPT_REGISTRAR, f.dept("440105"))
    masked = api(county).get(f"/api/v1/imports/{batch.pk}/students?page_size=2").json()
    assert len(masked["items"]) == 2 and masked["count"] == 3
    assert all("*" in i["student_number"] for i in masked["items"])


def test_the_api_answers_404_out_of_scope_and_an_empty_list_before_the_commit(
    school_a, registrar_a, registrar_b, tmp_path
):
    batch = committed(school_a, registrar_a, tmp_path)
    assert api(registrar_b).get(f"/api/v1/imports/{batch.pk}/students").status_code == 404
    path = fi.write_csv(tmp_path / "u.csv", fi.students(1))
    pending = services.import_batch_create(
        actor=registrar_a, school=school_a, uploaded_file_path=path, file_name="u"
    )
    assert api(registrar_a).get(f"/api/v1/imports/{pending.pk}/students").json()["items"] == []
    assert api(registrar_a).get(f"/api/v1/imports/{batch.pk}/students?page=0").status_code == 422
