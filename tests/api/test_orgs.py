"""Org tree API: roots, one unit with its ancestors, children (第5条)."""

from __future__ import annotations

import pytest

from tests.api.conftest import World
from tests.factories import core as f


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("who", "root"),
    [("registrar_a", "school_a"), ("county_a", "440105"), ("province_gd", "440000"), ("audit_gd", "440000")],
)
def test_roots_are_the_viewers_grants(world: World, who: str, root: str) -> None:
    expected = world.school_a.pk if root == "school_a" else f.dept(root).pk

    response = world.api(who).get("/api/v1/orgs/")

    assert response.status_code == 200
    assert [u["id"] for u in response.json()] == [expected]


@pytest.mark.django_db
def test_detail_carries_the_ancestor_chain(world: World) -> None:
    d = world.api("registrar_a").get(f"/api/v1/orgs/{world.school_a.pk}").json()

    assert (d["level"], d["name"], d["parent_id"]) == ("school", "海珠区第一小学", f.dept("440105").pk)
    assert [a["level"] for a in d["ancestors"]] == ["national", "province", "city", "county"]
    assert [a["code"] for a in d["ancestors"]] == ["000000", "440000", "440100", "440105"]


@pytest.mark.django_db
def test_school_registrar_sees_its_ancestors_but_not_its_neighbours(world: World) -> None:
    api = world.api("registrar_a")

    assert api.get(f"/api/v1/orgs/{f.dept('440100').pk}").status_code == 200
    assert api.get(f"/api/v1/orgs/{f.dept('440106').pk}").status_code == 404
    assert api.get(f"/api/v1/orgs/{world.school_b.pk}").status_code == 404
    children = api.get(f"/api/v1/orgs/{f.dept('440100').pk}/children").json()
    assert [c["code"] for c in children["items"]] == ["440105"]


@pytest.mark.django_db
def test_children_are_paged(world: World) -> None:
    api = world.api("province_gd")
    city = f.dept("440100")
    all_children = api.get(f"/api/v1/orgs/{city.pk}/children", {"page_size": 200}).json()

    page = api.get(f"/api/v1/orgs/{city.pk}/children", {"page": 2, "page_size": 3}).json()

    assert all_children["count"] == city.children.count()
    assert all_children["count"] > 6
    assert [c["id"] for c in page["items"]] == [c["id"] for c in all_children["items"][3:6]]
    assert all(c["level"] == "county" for c in all_children["items"])


@pytest.mark.django_db
def test_nonexistent_org_is_404(world: World) -> None:
    response = world.api("province_gd").get("/api/v1/orgs/999999")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
