"""The org tree pages: the viewer's roots, lazy children, detail; other regions are 404."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.factories import core as f
from tests.factories import students as sf

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.mark.django_db
def test_anonymous_is_sent_to_login(client, school_a):
    for url in (
        reverse("regions:tree"),
        reverse("regions:detail", args=[school_a.pk]),
        reverse("regions:children", args=[school_a.org.parent_id]),
    ):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith(reverse("accounts:login"))


@pytest.mark.django_db
def test_county_tree_opens_on_its_schools_with_counts(client, school_a, registrar_a):
    sf.student(school_a, registrar_a)
    client.force_login(f.user("dept_registrar", f.dept("440105")))
    response = client.get(reverse("regions:tree"))
    body = response.content.decode()
    assert response.status_code == 200
    assert "广东省广州市海珠区教育局" in body
    assert school_a.name in body and "在籍 1 人" in body
    assert "天河区" not in body


@pytest.mark.django_db
def test_children_partial_loads_one_level(client, school_a, school_b):
    client.force_login(f.user("dept_registrar", f.dept("440100")))
    tree = client.get(reverse("regions:tree")).content.decode()
    haizhu = f.dept("440105")
    assert f'hx-get="{reverse("regions:children", args=[haizhu.pk])}"' in tree
    assert school_a.name not in tree  # schools are two levels down: loaded on demand
    response = client.get(reverse("regions:children", args=[haizhu.pk]), **HTMX)
    body = response.content.decode()
    assert response.status_code == 200 and "<html" not in body
    assert school_a.name in body and school_b.name not in body


@pytest.mark.django_db
@pytest.mark.parametrize("viewer", ["registrar_b", "beijing"])
def test_other_region_is_404(client, school_a, school_b, viewer):
    user = f.registrar(school_b) if viewer == "registrar_b" else f.user("dept_registrar", f.dept("110101"))
    client.force_login(user)
    for url in (
        reverse("regions:detail", args=[school_a.pk]),
        reverse("regions:children", args=[school_a.org.parent_id]),
        reverse("regions:detail", args=[f.dept("440105").pk]),
    ):
        assert client.get(url).status_code == 404, url


@pytest.mark.django_db
def test_detail_shows_ancestors_and_children(client, school_a):
    client.force_login(f.user("dept_registrar", f.dept("440100")))
    response = client.get(reverse("regions:detail", args=[f.dept("440105").pk]))
    body = response.content.decode()
    assert response.status_code == 200
    assert "广东省广州市教育局" in body  # ancestor crumb
    assert school_a.name in body and school_a.school_code in body


@pytest.mark.django_db
def test_school_registrar_sees_own_school_only(client, school_a, school_b, registrar_a):
    client.force_login(registrar_a)
    body = client.get(reverse("regions:tree")).content.decode()
    assert school_a.name in body and school_b.name not in body
    assert client.get(reverse("regions:detail", args=[school_a.pk])).status_code == 200


@pytest.mark.django_db
def test_admin_sees_the_tree_of_their_unit(client, school_a):
    client.force_login(f.user("system_admin", f.dept("440000")))
    response = client.get(reverse("regions:tree"))
    assert response.status_code == 200
    assert "广东省教育厅" in response.content.decode()
    assert client.get(reverse("regions:detail", args=[f.dept("110000").pk])).status_code == 404
