"""Audit API: the audit administrator's view of the trail (三权分立; 第23、24条)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.api.conftest import Api, World
from tests.factories import core as f
from xueji.accounts.enums import Role
from xueji.accounts.models import RoleGrant
from xueji.audit.enums import EventType
from xueji.audit.models import AuditEvent
from xueji.regions.models import OrgUnit


@pytest.mark.django_db
def test_audit_admin_finds_the_view_of_a_student(world: World) -> None:
    world.api("county_a").get(f"/api/v1/students/{world.student.pk}")

    response = world.api("audit_gd").get("/api/v1/audit/events", {"event_type": "student.viewed"})

    assert response.status_code == 200
    [event] = response.json()["items"]
    assert (event["actor_username"], event["subject_type"], event["subject_id"], event["org_unit_id"]) == (
        "county_haizhu",
        "student",
        str(world.student.pk),
        world.school_a.pk,
    )
    assert event["event_label"] == "查看学生完整信息"
    assert event["request_id"] != ""


@pytest.mark.django_db
def test_filters_and_pages(world: World) -> None:
    api = world.api("audit_gd")
    subject = {"subject_id": str(world.student.pk)}

    by_subject = api.get("/api/v1/audit/events", subject).json()
    by_actor = api.get("/api/v1/audit/events", {"actor": "reg_a", "event_type": "student.registered"}).json()
    today = timezone.localdate()
    tomorrow = api.get("/api/v1/audit/events", {"since": (today + timedelta(days=1)).isoformat()}).json()
    until_today = api.get("/api/v1/audit/events", {"until": today.isoformat(), **subject}).json()
    page = api.get("/api/v1/audit/events", {"page": 2, "page_size": 1, **subject}).json()

    assert [e["event_type"] for e in by_subject["items"]] == ["archive.attached", "student.registered"]
    assert by_actor["count"] == 3  # 李小红 and the two 王无证
    assert tomorrow["count"] == 0
    assert until_today["count"] == 2
    assert (page["count"], page["page"], [e["event_type"] for e in page["items"]]) == (
        2,
        2,
        ["student.registered"],
    )


@pytest.mark.django_db
def test_provincial_audit_admin_sees_its_province_only(world: World) -> None:
    AuditEvent.objects.create(
        occurred_at=timezone.now(),
        event_type=EventType.LOGIN,
        actor=world.users["county_bj"],
        actor_username="county_dongcheng",
    )
    AuditEvent.objects.create(
        occurred_at=timezone.now(),
        event_type=EventType.LOGIN,
        actor=world.users["county_a"],
        actor_username="county_haizhu",
    )

    gd = world.api("audit_gd").get("/api/v1/audit/events", {"event_type": "auth.login"}).json()
    bj = world.api("audit_bj").get("/api/v1/audit/events", {"event_type": "auth.login"}).json()

    assert [e["actor_username"] for e in gd["items"]] == ["county_haizhu"]
    assert [e["actor_username"] for e in bj["items"]] == ["county_dongcheng"]


@pytest.mark.django_db
def test_national_audit_admin_sees_everything(world: World) -> None:
    national = f.user(Role.AUDIT_ADMIN, OrgUnit.objects.get(level="national"), username="audit_moe")

    response = Api(national).get("/api/v1/audit/events", {"page_size": 200})

    assert response.status_code == 200
    assert response.json()["count"] == AuditEvent.objects.count()


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["security_gd", "sysadmin_gd", "province_gd", "registrar_a"])
def test_only_the_audit_admin_reads_the_trail(world: World, who: str) -> None:
    response = world.api(who).get("/api/v1/audit/events")

    assert response.status_code == 403
    assert response.json() == {
        "code": "not_audit_admin",
        "message": "只有审计管理员可以查询审计记录（三权分立）",
        "fields": {},
    }


@pytest.mark.django_db
def test_an_audit_admin_of_an_inactive_unit_gets_404(world: World) -> None:
    """The page's scope (audit.queries.audit_scope_q): a unit merged or closed opens nothing — 404, not 403."""
    assert world.api("audit_gd").get("/api/v1/audit/events").status_code == 200
    OrgUnit.objects.filter(code="440000").update(is_active=False)

    response = world.api("audit_gd").get("/api/v1/audit/events")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


@pytest.mark.django_db
def test_only_the_active_grants_open_the_trail(world: World) -> None:
    audit = world.users["audit_gd"]
    RoleGrant.objects.create(user=audit, role=Role.AUDIT_ADMIN, org_unit=OrgUnit.objects.get(code="110000"))
    OrgUnit.objects.filter(code="440000").update(is_active=False)

    response = Api(audit).get("/api/v1/audit/events", {"event_type": "student.registered", "page_size": 200})

    assert response.status_code == 200
    actors = {e["actor_username"] for e in response.json()["items"]}
    assert "reg_a" not in actors and "reg_b" not in actors


@pytest.mark.django_db
def test_a_county_audit_admin_reads_its_subtree_only(world: World) -> None:
    county = f.user(Role.AUDIT_ADMIN, OrgUnit.objects.get(code="440105"), username="audit_haizhu")

    response = Api(county).get("/api/v1/audit/events", {"event_type": "student.registered", "page_size": 200})

    assert response.status_code == 200
    actors = {e["actor_username"] for e in response.json()["items"]}
    assert "reg_a" in actors and "reg_b" not in actors
