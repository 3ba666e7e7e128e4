"""The jurisdiction matrix (issue §7, architecture.md convention 11): every endpoint of the orgs, schools,
students and audit routers × anonymous, wrong role, other region and allowed.

- anonymous → 401 ``unauthenticated``;
- wrong role: the audit and security administrators (三权分立) on student endpoints → 403 without data; a
  registrar on the audit trail → 403;
- other region: the registrar of 天河区's school and a 北京东城区 department registrar on 海珠区's student → 404
  (a list answers 200 without the student);
- allowed: 海珠区第一小学's registrar, the 海珠区 department registrar and the 广东省 registrar → 2xx. Writes on a
  record belong to the school's registrar (第7条) and problem records to the department (第9条), so the other
  allowed readers get 403 there.

Every refusal has exactly the error shape and carries no student data.
"""

from __future__ import annotations

import pytest

from tests.api import matrix
from tests.api.conftest import World, pdf_upload
from tests.api.matrix import ACTORS, LIST_OTHER_REGION, READERS
from tests.factories import core as f

Endpoint = matrix.Endpoint[World]
_expect = matrix.expect

SCHOOL_WRITE = {"registrar_a": 200, "county_a": 403, "province_gd": 403}
TREE_READ = {"audit_gd": 200, "security_gd": 200}


def _student(w: World) -> str:
    return f"/api/v1/students/{w.student.pk}"


ENDPOINTS = [
    Endpoint(
        "orgs.roots",
        "GET",
        lambda w: "/api/v1/orgs/",
        _expect(**TREE_READ, **LIST_OTHER_REGION),
        marker=lambda w: w.school_a.name,
        shows=("registrar_a",),
    ),
    Endpoint(
        "orgs.detail",
        "GET",
        lambda w: f"/api/v1/orgs/{w.school_a.pk}",
        _expect(**TREE_READ),
        marker=lambda w: w.school_a.name,
        shows=(*READERS, "audit_gd", "security_gd"),
    ),
    Endpoint(
        "orgs.children",
        "GET",
        lambda w: f"/api/v1/orgs/{f.dept('440105').pk}/children",
        _expect(**TREE_READ),
        marker=lambda w: w.school_a.name,
        shows=(*READERS, "audit_gd", "security_gd"),
    ),
    Endpoint(
        "schools.list",
        "GET",
        lambda w: "/api/v1/schools/",
        _expect(**TREE_READ, **LIST_OTHER_REGION),
        marker=lambda w: w.school_a.name,
        shows=(*READERS, "audit_gd", "security_gd"),
    ),
    Endpoint(
        "schools.detail",
        "GET",
        lambda w: f"/api/v1/schools/{w.school_a.pk}",
        _expect(**TREE_READ),
        marker=lambda w: w.school_a.name,
        shows=(*READERS, "audit_gd", "security_gd"),
    ),
    Endpoint(
        "schools.create",
        "POST",
        lambda w: "/api/v1/schools/",
        _expect(registrar_b=403, county_bj=403, registrar_a=403, county_a=201, province_gd=201),
        body=lambda w: {
            "name": "海珠区新建小学",
            "school_code": "2144900001",
            "school_type": "primary",
            "county_code": "440105",
        },
        marker=lambda w: "海珠区新建小学",
        shows=("county_a", "province_gd"),
    ),
    Endpoint("students.list", "GET", lambda w: "/api/v1/students/", _expect(**LIST_OTHER_REGION)),
    Endpoint(
        "students.register",
        "POST",
        lambda w: "/api/v1/students/",
        _expect(registrar_a=201, county_a=403, province_gd=403),
        body=lambda w: {
            "school_id": w.school_a.pk,
            "person": f.person_data(name="陈新生"),
            "enrollment": f.enrollment_data(),
            "guardians": [f.guardian_data()],
        },
        marker=lambda w: "陈新生",
        shows=(),
    ),
    Endpoint(
        "students.problems",
        "GET",
        lambda w: "/api/v1/students/problems",
        _expect(**LIST_OTHER_REGION),
        marker=lambda w: w.suspect.name,
    ),
    Endpoint(
        "students.problem_resolve",
        "POST",
        lambda w: f"/api/v1/students/problems/{w.problem.pk}/resolve",
        _expect(registrar_a=403),
        body=lambda w: {"outcome": "distinct", "note": "经核实为同名同生日的两名学生"},
        marker=lambda w: w.suspect.name,
        shows=(),
    ),
    Endpoint("students.detail", "GET", _student, _expect()),
    Endpoint(
        "students.update",
        "PATCH",
        _student,
        _expect(**SCHOOL_WRITE),
        body=lambda w: {"current_address": "广州市海珠区江南大道中100号"},
    ),
    Endpoint(
        "students.reveal",
        "POST",
        lambda w: f"{_student(w)}/reveal",
        _expect(),
        body=lambda w: {"field": "id_number"},
        marker=lambda w: w.student.id_number,
    ),
    Endpoint(
        "students.guardians",
        "POST",
        lambda w: f"{_student(w)}/guardians",
        _expect(**{**SCHOOL_WRITE, "registrar_a": 201}),
        body=lambda w: f.guardian_data(name="李妈妈", relation="2"),
        marker=lambda w: "李妈妈",
        shows=("registrar_a",),
    ),
    Endpoint(
        "students.archive",
        "UPLOAD",
        lambda w: f"{_student(w)}/archive",
        _expect(**{**SCHOOL_WRITE, "registrar_a": 201}),
        body=lambda w: {"file": pdf_upload(), "kind": "identity", "title": "身份证复印件"},
        marker=lambda w: "身份证复印件",
        shows=("registrar_a",),
    ),
    Endpoint(
        "students.archive_complete",
        "POST",
        lambda w: f"{_student(w)}/archive/complete",
        _expect(**SCHOOL_WRITE),
        marker=lambda w: w.student.name,
        shows=(),
    ),
    Endpoint(
        "students.history", "GET", lambda w: f"{_student(w)}/history", _expect(), marker=lambda w: "注册学籍"
    ),
    Endpoint(
        "audit.events",
        "GET",
        lambda w: "/api/v1/audit/events",
        {**dict.fromkeys(ACTORS, 403), "anonymous": 401, "audit_gd": 200},
        marker=lambda w: str(w.student.pk),
        shows=("audit_gd",),
    ),
]

CASES = matrix.cases(ENDPOINTS)


@pytest.mark.django_db
@pytest.mark.parametrize(("endpoint", "who"), CASES)
def test_jurisdiction_matrix(world: World, endpoint: Endpoint, who: str) -> None:
    response = world.api(who).call(endpoint.method, endpoint.url(world), endpoint.body(world))

    matrix.check(
        response,
        who=who,
        expected=endpoint.expect[who],
        marker=endpoint.marker(world),
        shows=endpoint.shows,
        hidden=(world.student.student_number, world.student.name),
    )


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["audit_gd", "security_gd", "registrar_b", "county_bj"])
def test_refused_reader_leaves_no_view_event(world: World, who: str) -> None:
    from xueji.audit.enums import EventType
    from xueji.audit.models import AuditEvent

    response = world.api(who).get(_student(world))

    assert response.status_code == _expect()[who]
    assert not AuditEvent.objects.filter(event_type=EventType.STUDENT_VIEWED).exists()


@pytest.mark.django_db
def test_system_admin_creates_school_in_its_province(world: World) -> None:
    response = world.api("sysadmin_gd").post(
        "/api/v1/schools/",
        {
            "name": "海珠区新建小学",
            "school_code": "2144900001",
            "school_type": "primary",
            "county_code": "440105",
        },
    )

    assert response.status_code == 201
    assert response.json()["supervising_dept_id"] == f.dept("440105").pk


@pytest.mark.django_db
def test_system_admin_sees_no_student_data(world: World) -> None:
    response = world.api("sysadmin_gd").get("/api/v1/students/")

    assert response.status_code == 403
    assert response.json()["code"] == "no_student_data_role"


@pytest.mark.django_db
def test_other_province_audit_admin_does_not_see_the_student(world: World) -> None:
    response = world.api("audit_bj").get("/api/v1/audit/events", {"subject_id": str(world.student.pk)})

    assert response.status_code == 200
    assert response.json()["count"] == 0


@pytest.mark.django_db
def test_a_grant_the_filing_does_not_cover_opens_nothing(world: World) -> None:
    """Issue #6 §3.6 (第22条): 东城区's department registrar, filed with 北京市, is also granted the registrar
    role at 广东省. Until filed for that unit the grant opens nothing: 海珠区's student is 404 and absent from
    the list; the 东城区 grant keeps working (200, an empty list)."""
    from xueji.accounts.enums import Role
    from xueji.accounts.models import RoleGrant

    county_bj = world.users["county_bj"]
    RoleGrant.objects.create(user=county_bj, role=Role.DEPT_REGISTRAR, org_unit=f.dept("440000"))
    api = world.api("county_bj")

    detail = api.get(_student(world))
    listing = api.get("/api/v1/students/", {"q": world.student.name})

    assert (detail.status_code, detail.json()["code"]) == (404, "not_found")
    assert listing.status_code == 200
    assert listing.json()["count"] == 0
    assert world.student.name not in detail.content.decode() + listing.content.decode()
