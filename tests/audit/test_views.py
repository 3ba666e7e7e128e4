"""The audit log page (audit admins only, within their subtree) and the per-subject history query."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.factories import core as f
from tests.factories import students as sf
from xueji.audit.enums import EventType
from xueji.audit.models import AuditEvent
from xueji.audit.queries import history_for
from xueji.core.errors import NotFound
from xueji.students.records import student_view


@pytest.fixture
def events(school_a, registrar_a, tree):  # type: ignore[no-untyped-def]
    """A registration in Guangdong and one in Beijing."""
    bj_school = f.school("110101", "primary", name="东城区小学")
    gd = sf.student(school_a, registrar_a, name="粤生")
    bj = sf.student(bj_school, f.registrar(bj_school, username="reg_bj"), name="京生")
    return gd, bj


@pytest.mark.django_db
def test_anonymous_is_sent_to_login(client):
    response = client.get(reverse("audit:list"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("accounts:login"))


@pytest.mark.django_db
@pytest.mark.parametrize(
    "role,unit",
    [
        ("school_registrar", None),
        ("dept_registrar", "440000"),
        ("system_admin", "440000"),
        ("security_admin", "440000"),
    ],
)
def test_other_roles_get_404(client, school_a, role, unit):
    client.force_login(f.user(role, school_a.org if unit is None else f.dept(unit)))
    assert client.get(reverse("audit:list")).status_code == 404


@pytest.mark.django_db
def test_province_audit_admin_sees_own_province_only(client, events):
    client.force_login(f.user("audit_admin", f.dept("440000")))
    response = client.get(reverse("audit:list"), {"type": EventType.STUDENT_REGISTERED})
    body = response.content.decode()
    assert response.status_code == 200
    assert "reg_a" in body and "reg_bj" not in body


@pytest.mark.django_db
def test_national_audit_admin_sees_all_and_filters(client, events, registrar_a):
    client.force_login(f.user("audit_admin", f.dept("000000")))
    body = client.get(reverse("audit:list"), {"type": EventType.STUDENT_REGISTERED}).content.decode()
    assert "reg_a" in body and "reg_bj" in body
    body = client.get(reverse("audit:list"), {"actor": "reg_bj"}).content.decode()
    assert "reg_bj" in body and "reg_a" not in body
    gd, _bj = events
    body = client.get(reverse("audit:list"), {"subject": str(gd.person_id)}).content.decode()
    assert "reg_a" in body and "reg_bj" not in body
    body = client.get(reverse("audit:list"), {"from": "2999-01-01"}).content.decode()
    assert "reg_a" not in body and "没有符合条件的审计记录" in body


@pytest.mark.django_db
def test_history_for_is_scoped_to_the_student(events, registrar_a, school_b):
    gd, bj = events
    student_view(actor=registrar_a, enrollment=gd)
    history = list(history_for(viewer=registrar_a, subject_type="student", subject_id=gd.person_id))
    assert [e.event_type for e in history] == [EventType.STUDENT_VIEWED, EventType.STUDENT_REGISTERED]
    changes = history_for(
        viewer=registrar_a, subject_type="student", subject_id=gd.person_id, include_views=False
    )
    assert [e.event_type for e in changes] == [EventType.STUDENT_REGISTERED]
    with pytest.raises(NotFound):
        history_for(viewer=registrar_a, subject_type="student", subject_id=bj.person_id)
    with pytest.raises(NotFound):
        history_for(viewer=f.registrar(school_b), subject_type="student", subject_id=gd.person_id)
    with pytest.raises(NotFound):
        history_for(viewer=registrar_a, subject_type="account", subject_id=registrar_a.pk)
    assert AuditEvent.objects.filter(subject_id=str(gd.person_id)).count() == 2
