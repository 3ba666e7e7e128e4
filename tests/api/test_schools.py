"""Schools API: scoped list with filters and pages, detail, and who may create a school where (第5条)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from tests.api.conftest import World
from tests.factories import core as f
from xueji.accounts.enums import Role
from xueji.audit.enums import EventType
from xueji.audit.models import AuditEvent
from xueji.schools.models import School


def _new(**overrides: Any) -> dict[str, Any]:
    return {
        "name": "海珠区新建小学",
        "school_code": "2144900001",
        "school_type": "primary",
        "county_code": "440105",
    } | overrides


@pytest.mark.django_db
def test_list_filters_and_pages(world: World) -> None:
    f.school("440105", "junior", name="海珠区第二中学")
    api = world.api("province_gd")

    everything = api.get("/api/v1/schools/").json()
    juniors = api.get("/api/v1/schools/", {"type": "junior"}).json()
    by_name = api.get("/api/v1/schools/", {"q": "天河"}).json()
    by_code = api.get("/api/v1/schools/", {"q": world.school_a.school_code}).json()
    closed = api.get("/api/v1/schools/", {"state": "closed"}).json()
    page2 = api.get("/api/v1/schools/", {"page": 2, "page_size": 2}).json()

    assert everything["count"] == 3
    assert [s["name"] for s in juniors["items"]] == ["海珠区第二中学"]
    assert [s["name"] for s in by_name["items"]] == ["天河区实验小学"]
    assert [s["id"] for s in by_code["items"]] == [world.school_a.pk]
    assert closed["count"] == 0
    assert (page2["count"], page2["page"], page2["page_size"], len(page2["items"])) == (3, 2, 2, 1)


@pytest.mark.django_db
def test_list_counts_active_students(world: World) -> None:
    items = world.api("county_a").get("/api/v1/schools/").json()["items"]

    assert [(s["name"], s["active_students"]) for s in items] == [("海珠区第一小学", 3)]


@pytest.mark.django_db
def test_detail(world: World) -> None:
    d = world.api("registrar_a").get(f"/api/v1/schools/{world.school_a.pk}").json()

    assert (d["school_code"], d["school_type"], d["stages"], d["state"], d["county_code"]) == (
        world.school_a.school_code,
        "primary",
        ["primary"],
        "active",
        "440105",
    )
    assert d["supervising_dept_id"] == f.dept("440105").pk
    assert d["active_students"] == 3


@pytest.mark.django_db
def test_county_registrar_creates_a_school_of_its_county(world: World) -> None:
    response = world.api("county_a").post("/api/v1/schools/", _new(stages=["primary"], address="新港东路"))

    assert response.status_code == 201
    school = School.objects.get(school_code="2144900001")
    assert response.json()["id"] == school.pk
    assert school.supervising_dept == f.dept("440105")
    assert school.org.path.startswith(f.dept("440105").path)
    assert (
        AuditEvent.objects.filter(
            event_type=EventType.SCHOOL_CREATED, subject_id=str(school.pk), actor=world.users["county_a"]
        ).count()
        == 1
    )


@pytest.mark.django_db
def test_city_may_create_a_school_it_administers_directly(world: World) -> None:
    """第5条: a city may supervise a school itself."""
    city = f.dept("440100")
    response = world.api("province_gd").post("/api/v1/schools/", _new(supervising_dept_id=city.pk))

    assert response.status_code == 201
    assert School.objects.get(school_code="2144900001").supervising_dept == city


@pytest.mark.django_db
def test_county_outside_is_403_and_unseen_department_is_404(world: World) -> None:
    county = world.api("county_a")

    other_county = county.post("/api/v1/schools/", _new(county_code="440106"))
    above = county.post("/api/v1/schools/", _new(supervising_dept_id=f.dept("440100").pk))
    unseen = world.api("county_bj").post(
        "/api/v1/schools/",
        _new(county_code="110101", school_code="2111900001", supervising_dept_id=f.dept("440105").pk),
    )

    assert (other_county.status_code, other_county.json()["code"]) == (403, "outside_jurisdiction")
    assert (above.status_code, above.json()["code"]) == (403, "outside_jurisdiction")
    assert (unseen.status_code, unseen.json()["code"]) == (404, "not_found")
    assert School.objects.count() == 2


@pytest.mark.django_db
def test_supervisor_must_be_above_the_schools_county(world: World) -> None:
    response = world.api("province_gd").post(
        "/api/v1/schools/", _new(supervising_dept_id=f.dept("440106").pk)
    )

    assert response.status_code == 400
    assert response.json()["fields"] == {"supervising_dept": "主管部门须为学校所在县区或其上级教育行政部门"}


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["registrar_a", "audit_gd", "security_gd"])
def test_roles_that_may_not_create_schools(world: World, who: str) -> None:
    response = world.api(who).post("/api/v1/schools/", _new())

    assert (response.status_code, response.json()["code"]) == (403, "not_school_creator")


@pytest.mark.django_db
def test_unfiled_department_registrar_may_not_create_schools(world: World) -> None:
    unfiled = f.user(Role.DEPT_REGISTRAR, f.dept("440105"), filed=False)
    client = Client()
    client.force_login(unfiled)

    response = client.post("/api/v1/schools/", _new(), content_type="application/json")

    assert (response.status_code, response.json()["code"]) == (403, "registrar_not_filed")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"name": "  "}, "name"),
        ({"school_code": "123"}, "school_code"),
        ({"school_code": "3144900001"}, "school_code"),  # a 31 (junior) prefix for a primary school
        ({"school_code": "2111900001"}, "school_code"),  # Beijing's province digits in Guangdong
        ({"school_type": "university"}, "school_type"),
        ({"county_code": "449999"}, "county_code"),
        ({"operator": "church"}, "operator"),
        ({"stages": ["college"]}, "stages"),
        ({"stages": []}, "stages"),
        ({"school_type": "teaching_point"}, "central_school"),
    ],
)
def test_create_validates_fields(world: World, overrides: dict[str, Any], field: str) -> None:
    response = world.api("county_a").post("/api/v1/schools/", _new(**overrides))

    assert response.status_code == 400
    assert set(response.json()["fields"]) == {field}
    assert School.objects.count() == 2


@pytest.mark.django_db
def test_duplicate_school_code_is_refused(world: World) -> None:
    response = world.api("county_a").post("/api/v1/schools/", _new(school_code=world.school_a.school_code))

    assert (response.status_code, response.json()["code"]) == (400, "school_code_taken")


@pytest.mark.django_db
def test_teaching_point_hangs_under_its_central_school(world: World) -> None:
    response = world.api("county_a").post(
        "/api/v1/schools/",
        _new(name="海珠区某教学点", school_type="teaching_point", central_school_id=world.school_a.pk),
    )

    assert response.status_code == 201
    point = School.objects.get(school_code="2144900001")
    assert (point.central_school, point.org.parent) == (world.school_a, world.school_a.org)


@pytest.mark.django_db
def test_central_school_elsewhere_is_404(world: World) -> None:
    response = world.api("county_a").post(
        "/api/v1/schools/", _new(school_type="teaching_point", central_school_id=world.school_b.pk)
    )

    assert response.status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("state", "closed"),
        ("province_code", "110000"),
        ("org_id", 1),
        ("successor_id", 1),
        ("is_staff", True),
    ],
)
def test_create_refuses_smuggled_fields(world: World, key: str, value: Any) -> None:
    response = world.api("county_a").post("/api/v1/schools/", _new(**{key: value}))

    assert response.status_code == 422
    assert set(response.json()["fields"]) == {key}
    assert School.objects.count() == 2
