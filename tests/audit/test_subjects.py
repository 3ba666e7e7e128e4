"""What an audit event is about (issue 8 item 12): the kind of subject by name (学生, 学校 — never the stored
code), and a student as masked name + masked 学籍号 only for a viewer who may see that student (第24条), with
one query per page, not per event; the log's date filter reads YYYY-MM-DD."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation

from tests.factories import core as f
from tests.factories import students as sf
from xueji.audit.enums import EventType
from xueji.audit.models import AuditEvent
from xueji.audit.queries import with_subjects
from xueji.audit.services import record
from xueji.core.masking import mask_name, mask_student_number
from xueji.students.models import Enrollment, Person
from xueji.students.queries import student_labels
from xueji.students.services import enrollment_snapshot_take, register_students


@pytest.fixture(autouse=True)
def _chinese():  # type: ignore[no-untyped-def]
    """The labels are asserted in Chinese, whatever language an earlier test left active."""
    with translation.override("zh-hans"):
        yield


def pupil(school: Any, actor: Any, name: str) -> Enrollment:
    reg = sf.registration(school, name=name, birth_date=date(2019, 10, 1))
    [done] = register_students(actor=actor, school=school, registrations=[reg])
    return Enrollment.objects.select_related("person").get(pk=done.enrollment_id)


def label_of(e: Enrollment) -> str:
    return f"{mask_name(e.person.name)} {mask_student_number(e.person.student_number)}"


@pytest.mark.django_db
def test_a_student_is_named_masked_only_to_those_who_may_see_them(school_a, school_b, registrar_a):
    e = pupil(school_a, registrar_a, "林小雨")
    events = list(AuditEvent.objects.filter(subject_type="student", subject_id=str(e.person_id)))
    assert events, "the registration is audited"
    county = f.user("dept_registrar", f.dept("440105"))
    for viewer in (registrar_a, county, f.user("dept_registrar", f.dept("440100"))):
        [ev, *_] = with_subjects(viewer, events)
        assert ev.subject_type_label == "学生"
        assert ev.subject_label == label_of(e) == f"林*雨 {mask_student_number(e.person.student_number)}"
        assert e.person.student_number not in ev.subject_label
    outsiders = (
        f.registrar(school_b),  # another county's school
        f.user("dept_registrar", f.dept("440106")),
        f.user("audit_admin", f.dept("440000")),  # 三权分立: the audit administrator sees no student
        f.registrar(school_a, filed=False),  # 第22条: not filed and trained, no data
    )
    for viewer in outsiders:
        [ev, *_] = with_subjects(viewer, events)
        assert ev.subject_label == "" and ev.subject_type_label == "学生"


@pytest.mark.django_db
def test_a_former_school_names_the_pupil_as_its_snapshot_has_them(school_a, registrar_a):
    """Issue #6 §3.5: after the pupil left, the former school names them as they were, not by a later name."""
    e = pupil(school_a, registrar_a, "林小雨")
    enrollment_snapshot_take(actor=registrar_a, enrollment=e, now=timezone.now())
    Enrollment.objects.filter(pk=e.pk).update(is_active=False, status="10")
    Person.objects.filter(pk=e.person_id).update(name="王小雨")
    assert student_labels(registrar_a, [str(e.person_id)]) == {str(e.person_id): label_of(e)}
    assert label_of(e).startswith("林*雨 ")


@pytest.mark.django_db
def test_student_labels_ignore_ids_that_name_nobody(registrar_a):
    assert student_labels(registrar_a, ["", "not-a-uuid", "00000000-0000-7000-8000-000000000000"]) == {}


@pytest.mark.django_db
def test_other_kinds_are_named_by_kind_and_unknown_ones_by_nothing(registrar_a, school_a):
    record(event_type=EventType.SCHOOL_UPDATED, actor=None, subject_type="school", subject_id=school_a.pk)
    record(event_type=EventType.LOGIN, actor=None, subject_type="something_new", subject_id="x")
    record(event_type=EventType.LOGIN, actor=None)
    rows = with_subjects(registrar_a, AuditEvent.objects.order_by("-id")[:3])
    assert [(ev.subject_type_label, ev.subject_label) for ev in rows] == [("", ""), ("", ""), ("学校", "")]


@pytest.mark.django_db
def test_the_audit_log_names_kinds_not_codes_and_no_student_to_the_audit_admin(client, school_a, registrar_a):
    e = pupil(school_a, registrar_a, "林小雨")
    client.force_login(f.user("audit_admin", f.dept("440000")))
    body = client.get(reverse("audit:list")).content.decode()
    assert "注册学籍" in body and '<span class="subject">学生' in body
    assert "student:" not in body  # the stored code is not shown
    assert mask_name("林小雨") not in body and "林小雨" not in body  # 三权分立
    assert f'href="?subject={e.person_id}"' in body  # the subject's own records, one click away


@pytest.mark.django_db
def test_the_audit_log_costs_no_query_per_event(client, school_a, registrar_a):
    auditor = f.user("audit_admin", f.dept("440000"))
    pupil(school_a, registrar_a, "甲")
    client.force_login(auditor)
    client.get(reverse("audit:list"))
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("audit:list"))
    for name in ("乙", "丙", "丁", "戊", "己", "庚"):
        pupil(school_a, registrar_a, name)
    with CaptureQueriesContext(connection) as many:
        body = client.get(reverse("audit:list")).content.decode()
    assert body.count('<span class="subject">学生') >= 7
    assert len(many) == len(few)


@pytest.mark.django_db
def test_the_date_filter_reads_yyyy_mm_dd_in_a_text_box(client, school_a, registrar_a):
    pupil(school_a, registrar_a, "甲")
    client.force_login(f.user("audit_admin", f.dept("000000")))
    today = timezone.localdate()
    body = client.get(reverse("audit:list")).content.decode()
    assert 'type="date"' not in body
    assert 'id="a-from" type="text" name="from"' in body and 'placeholder="YYYY-MM-DD"' in body
    for typed in (today.isoformat(), f"{today.year}/{today.month}/{today.day}", f"{today:%Y%m%d}"):
        response = client.get(reverse("audit:list"), {"from": typed, "to": typed})
        assert response.status_code == 200 and "注册学籍" in response.content.decode(), typed
    response = client.get(reverse("audit:list"), {"from": "2026-02-30"})
    body = response.content.decode()
    assert response.status_code == 400
    assert "起始日期“2026-02-30”不是有效日期（格式 YYYY-MM-DD）" in body
    assert 'value="2026-02-30"' in body  # what was typed stays in the box
