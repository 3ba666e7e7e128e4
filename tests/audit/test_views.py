"""The audit log page (audit admins only, within their subtree) and the per-subject history query."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.factories import core as f
from tests.factories import students as sf
from xueji.accounts.models import RoleGrant
from xueji.audit.enums import EventType
from xueji.audit.models import AuditEvent
from xueji.audit.queries import audit_scope_q
from xueji.core.errors import NotFound
from xueji.regions.models import OrgUnit
from xueji.students.queries import student_history
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
def test_student_history_is_scoped_to_the_student(events, registrar_a, school_b):
    gd, bj = events
    student_view(actor=registrar_a, enrollment=gd)
    history = list(student_history(viewer=registrar_a, person_id=gd.person_id))
    assert [e.event_type for e in history] == [EventType.STUDENT_VIEWED, EventType.STUDENT_REGISTERED]
    changes = student_history(viewer=registrar_a, person_id=gd.person_id, include_views=False)
    assert [e.event_type for e in changes] == [EventType.STUDENT_REGISTERED]
    with pytest.raises(NotFound):
        student_history(viewer=registrar_a, person_id=bj.person_id)
    with pytest.raises(NotFound):
        student_history(viewer=f.registrar(school_b), person_id=gd.person_id)
    with pytest.raises(NotFound):
        student_history(viewer=f.user("audit_admin", f.dept("000000")), person_id=gd.person_id)
    assert AuditEvent.objects.filter(subject_id=str(gd.person_id)).count() == 2


# --- the one audit scope (audit.queries.audit_scope_q), on the page: every branch ---------------------------


@pytest.mark.django_db
def test_scope_of_another_role_is_404(tree, registrar_a):
    with pytest.raises(NotFound):
        audit_scope_q(registrar_a)
    with pytest.raises(NotFound):
        audit_scope_q(f.user("security_admin", f.dept("000000")))


@pytest.mark.django_db
def test_audit_admin_of_an_inactive_unit_gets_404_on_the_page(client, events):
    unit = f.dept("440000")
    client.force_login(f.user("audit_admin", unit))
    assert client.get(reverse("audit:list")).status_code == 200
    OrgUnit.objects.filter(pk=unit.pk).update(is_active=False)
    response = client.get(reverse("audit:list"))
    assert response.status_code == 404
    assert "reg_a" not in response.content.decode()


@pytest.mark.django_db
def test_only_the_active_grants_open_the_log(client, events):
    gd_unit, bj_unit = f.dept("440000"), f.dept("110000")
    admin = f.user("audit_admin", gd_unit)
    RoleGrant.objects.create(user=admin, role="audit_admin", org_unit=bj_unit)
    OrgUnit.objects.filter(pk=gd_unit.pk).update(is_active=False)
    client.force_login(admin)
    body = client.get(reverse("audit:list"), {"type": EventType.STUDENT_REGISTERED}).content.decode()
    assert "reg_bj" in body and "reg_a" not in body


@pytest.mark.django_db
def test_county_audit_admin_sees_its_subtree_only(client, events, school_b):
    sf.student(school_b, f.registrar(school_b, username="reg_tianhe"), name="天河生")
    client.force_login(f.user("audit_admin", f.dept("440105")))  # 海珠区: school_a, not school_b (天河区)
    body = client.get(reverse("audit:list"), {"type": EventType.STUDENT_REGISTERED}).content.decode()
    assert "reg_a" in body and "reg_tianhe" not in body and "reg_bj" not in body
