"""School pages: list with filters, detail with grade × class counts, and creating a school (第5条)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.factories import core as f
from tests.factories import students as sf
from xueji.schools.models import School


def _new_school(**overrides: str) -> dict[str, str]:
    data = {
        "name": "海珠区新建小学",
        "school_code": "2144999901",
        "school_type": "primary",
        "county_code": "440105",
        "operator": "public",
        "listing": "mainland",
        "central_school_code": "",
        "address": "",
    }
    data.update(overrides)
    return data


@pytest.mark.django_db
def test_anonymous_is_sent_to_login(client, school_a):
    for url in (
        reverse("schools:list"),
        reverse("schools:detail", args=[school_a.pk]),
        reverse("schools:new"),
    ):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith(reverse("accounts:login"))


@pytest.mark.django_db
def test_list_is_scoped_and_filterable(client, school_a, school_b):
    junior = f.school("440105", "junior", name="海珠区第二中学")
    client.force_login(f.user("dept_registrar", f.dept("440105")))
    body = client.get(reverse("schools:list")).content.decode()
    assert school_a.name in body and junior.name in body and school_b.name not in body
    body = client.get(reverse("schools:list"), {"type": "junior"}).content.decode()
    assert junior.name in body and school_a.name not in body
    body = client.get(reverse("schools:list"), {"q": school_a.school_code[:6] + "xx"}).content.decode()
    assert school_a.name not in body
    body = client.get(reverse("schools:list"), {"q": "第二"}).content.decode()
    assert junior.name in body and school_a.name not in body


@pytest.mark.django_db
def test_detail_shows_grade_and_class_counts(client, school_a, registrar_a):
    sf.student(school_a, registrar_a)
    sf.student(school_a, registrar_a)
    client.force_login(registrar_a)
    response = client.get(reverse("schools:detail", args=[school_a.pk]))
    body = response.content.decode()
    assert response.status_code == 200
    assert response.context["grades"] == [
        {"grade": 1, "label": "一年级", "classes": [("1班", 2)], "total": 2}
    ]
    assert school_a.school_code in body and "广东省广州市海珠区教育局" in body


@pytest.mark.django_db
@pytest.mark.parametrize("viewer", ["registrar_b", "beijing"])
def test_detail_other_region_is_404(client, school_a, school_b, viewer):
    user = f.registrar(school_b) if viewer == "registrar_b" else f.user("dept_registrar", f.dept("110101"))
    client.force_login(user)
    assert client.get(reverse("schools:detail", args=[school_a.pk])).status_code == 404
    assert school_a.name not in client.get(reverse("schools:list")).content.decode()


@pytest.mark.django_db
def test_admin_sees_school_but_no_student_counts_by_class(client, school_a, registrar_a):
    sf.student(school_a, registrar_a)
    client.force_login(f.user("system_admin", f.dept("440000")))
    response = client.get(reverse("schools:detail", args=[school_a.pk]))
    assert response.status_code == 200
    assert response.context["grades"] == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    "role,unit", [("school_registrar", "school"), ("audit_admin", "440000"), ("approver", "440105")]
)
def test_new_school_refused_for_other_roles(client, school_a, role, unit):
    org = school_a.org if unit == "school" else f.dept(unit)
    client.force_login(f.user(role, org))
    assert client.get(reverse("schools:new")).status_code == 404
    assert client.post(reverse("schools:new"), _new_school()).status_code == 404
    assert not School.objects.filter(school_code="2144999901").exists()


@pytest.mark.django_db
def test_county_registrar_creates_school_in_own_county(client, tree):
    client.force_login(f.user("dept_registrar", f.dept("440105")))
    response = client.post(reverse("schools:new"), _new_school())
    school = School.objects.get(school_code="2144999901")
    assert response.status_code == 302
    assert response["Location"] == reverse("schools:detail", args=[school.pk])
    assert school.supervising_dept == f.dept("440105")


@pytest.mark.django_db
def test_county_registrar_cannot_create_in_another_county(client, tree):
    client.force_login(f.user("dept_registrar", f.dept("440105")))
    response = client.post(reverse("schools:new"), _new_school(county_code="440106"))
    body = response.content.decode()
    assert response.status_code == 400
    assert 'data-error-code="county_out_of_scope"' in body
    assert 'id="id_county_code-error">所在县区不在您的管辖范围内' in body
    assert not School.objects.filter(school_code="2144999901").exists()


@pytest.mark.django_db
def test_service_errors_appear_at_their_fields(client, tree):
    client.force_login(f.user("system_admin", f.dept("440000")))
    response = client.post(reverse("schools:new"), _new_school(school_code="3144999901"))
    body = response.content.decode()
    assert response.status_code == 400
    assert 'id="id_school_code-error">' in body
    assert 'value="海珠区新建小学"' in body
    assert not School.objects.exists()


@pytest.mark.django_db
def test_teaching_point_needs_a_visible_central_school(client, school_a, school_b):
    client.force_login(f.user("dept_registrar", f.dept("440105")))
    response = client.post(
        reverse("schools:new"),
        _new_school(school_type="teaching_point", central_school_code=school_b.school_code),
    )
    assert response.status_code == 400
    assert 'id="id_central_school_code-error">中心校不存在或不在您的管辖范围内' in response.content.decode()
    response = client.post(
        reverse("schools:new"),
        _new_school(school_type="teaching_point", central_school_code=school_a.school_code),
    )
    point = School.objects.get(school_code="2144999901")
    assert response.status_code == 302 and point.central_school_id == school_a.pk
