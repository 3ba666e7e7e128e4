"""The dashboard counts what the lists filter (issue 8 item 11): 在籍 (active enrollments, 休学 included) is the
student list's default, 在读 is the status 01 of its status filter; grades are named as on every other page;
the viewer's own recent actions name their students only where the viewer may still see them."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tests.factories import core as f
from tests.factories import students as sf
from xueji.audit.enums import EventType
from xueji.audit.services import record
from xueji.core.masking import mask_name, mask_student_number
from xueji.schools.grades import grade_label
from xueji.students.enums import StudentStatus
from xueji.students.models import Enrollment
from xueji.students.queries import StudentFilters, enrollment_list
from xueji.students.services import register_students


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):  # type: ignore[no-untyped-def]
    settings.MEDIA_ROOT = tmp_path / "media"


def pupil(school: Any, actor: Any, name: str, grade: int = 1, *, now: Any = None) -> Enrollment:
    reg = sf.registration(
        school, name=name, birth_date=date(2019 - (grade - 1), 10, 1), enrollment={"grade": str(grade)}
    )
    [done] = register_students(actor=actor, school=school, registrations=[reg], now=now)
    return Enrollment.objects.select_related("person", "school").get(pk=done.enrollment_id)


def list_count(client: Any, **params: Any) -> int:
    return client.get(reverse("students:list"), params).context["page"].paginator.count


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["registrar", "county"])
def test_zaiji_on_the_dashboard_is_the_lists_default_and_zaidu_is_status_01(
    client, school_a, registrar_a, who
):
    """在籍 counts every active enrollment — 休学 included, 退学 not — exactly as the student list does without a
    filter; the list's 在读 (status 01) is a part of it, and the dashboard never calls 在籍 "在读"."""
    pupil(school_a, registrar_a, "在读甲")
    pupil(school_a, registrar_a, "在读乙")
    resting = pupil(school_a, registrar_a, "休学丙")
    gone = pupil(school_a, registrar_a, "退学丁")
    Enrollment.objects.filter(pk=resting.pk).update(status=StudentStatus.SUSPENDED)  # still 在籍
    Enrollment.objects.filter(pk=gone.pk).update(status=StudentStatus.WITHDRAWN, is_active=False)
    viewer = registrar_a if who == "registrar" else f.user("dept_registrar", f.dept("440105"))
    client.force_login(viewer)
    response = client.get(reverse("dashboard:dashboard"))
    body = response.content.decode()
    active = response.context["stats"]["active"]
    assert active == 3
    assert active == list_count(client) == enrollment_list(viewer=viewer, filters=StudentFilters()).count()
    assert list_count(client, status=StudentStatus.ENROLLED) == 2  # 在读: the national status 01
    assert list_count(client, status=StudentStatus.SUSPENDED) == 1
    assert list_count(client, former="1") == 4
    [tile] = re.findall(r'<a class="stat"[^>]*data-testid="stat-active".*?</a>', body, re.S)
    assert f'href="{reverse("students:list")}"' in tile  # the tile opens the list it counts
    assert "在籍学生" in tile and "在读" not in tile


@pytest.mark.django_db
def test_grades_read_the_same_on_every_page(client, tree):
    """One table of grade names: the dashboard, the student list, the record, the school page, the change
    requests' presenters."""
    from xueji.changes.presenters import grade_label as change_grade_label
    from xueji.students.views import grade_label as student_grade_label

    junior = f.school("440105", "junior", name="海珠区第一中学")
    registrar = f.registrar(junior)
    e = pupil(junior, registrar, "初一生", 7, now=timezone.now() - timedelta(days=75))  # archive overdue
    client.force_login(registrar)
    label = "初一（七年级）"
    assert grade_label(7) == grade_label("7") == change_grade_label(7) == student_grade_label(7) == label
    assert grade_label(None) == "" and grade_label(13) == "13" and grade_label("高一") == "高一"
    pages = {
        "dashboard": reverse("dashboard:dashboard"),
        "list": reverse("students:list"),
        "record": reverse("students:detail", args=[e.person_id]),
        "school": reverse("schools:detail", args=[junior.pk]),
    }
    for page, url in pages.items():
        body = client.get(url).content.decode()
        assert label in body, page
        assert "7年级" not in body, page


@pytest.mark.django_db
def test_recent_actions_name_the_students_the_viewer_may_see(client, school_a, school_b, registrar_a):
    """第24条: the viewer's own recent actions name a student by masked name and masked 学籍号 — and a student
    outside the viewer's jurisdiction (e.g. found by a national look-up) not at all."""
    mine = pupil(school_a, registrar_a, "林小雨")
    other = pupil(school_b, f.registrar(school_b), "欧阳明月")
    record(
        event_type=EventType.IDENTITY_LOOKUP,
        actor=registrar_a,
        subject_type="student",
        subject_id=other.person_id,
        summary="跨区域身份查询",
    )
    client.force_login(registrar_a)
    body = client.get(reverse("dashboard:dashboard")).content.decode()
    named = f"{mask_name('林小雨')} {mask_student_number(mine.person.student_number)}"
    assert named == f"林*雨 {mine.person.student_number[:7]}********{mine.person.student_number[-4:]}"
    assert named in body
    assert "林小雨" not in body.split("我的最近操作", 1)[1]  # the masked name only
    assert (
        mask_name("欧阳明月") not in body
        and other.person.student_number[-4:] not in body.split("我的最近操作")[1]
    )
    assert "student:" not in body  # no internal code for the subject's kind


@pytest.mark.django_db
def test_naming_the_subjects_costs_no_query_per_event(client, school_a, registrar_a):
    """The students of a page of events are named with one query, however many events there are."""
    pupil(school_a, registrar_a, "一号")
    client.force_login(registrar_a)
    client.get(reverse("dashboard:dashboard"))  # warm caches (calendar, grants)
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("dashboard:dashboard"))
    for name in ("二号", "三号", "四号", "五号", "六号"):
        pupil(school_a, registrar_a, name)
    with CaptureQueriesContext(connection) as many:
        body = client.get(reverse("dashboard:dashboard")).content.decode()
    assert body.count('data-testid="subject-label"') >= 6
    assert len(many) == len(few)
