"""Issue #6 §3 leak 10: sensitive reads are rate-limited per account with a Chinese 429 — reveals (web htmx and
API), roster exports, list pages and list API calls (students, audit), a student's full record."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.urls import reverse

from tests.api.conftest import Api, World, world  # noqa: F401 - the populated little world of the API tests
from xueji.audit.models import AuditEvent

pytestmark = pytest.mark.django_db

TOO_MANY = "操作过于频繁"


def limits(settings: Any, **buckets: tuple[int, int]) -> None:
    settings.XUEJI_RATE_LIMITS = {"reveal": (100, 3600), "lookup": (100, 86400), "export": (20, 86400)} | {
        "list": (600, 3600),
        **buckets,
    }


def refused_once(user: Any) -> int:
    return AuditEvent.objects.filter(event_type="security.rate_limited", actor_id=user.pk).count()


def assert_api_429(response: Any, start: str) -> None:
    assert response.status_code == 429
    out = response.json()
    assert set(out) == {"code", "message", "fields"}
    assert (out["code"], out["fields"]) == ("rate_limited", {})
    assert out["message"].startswith(start)
    assert int(response["Retry-After"]) > 0


def test_api_reveal_is_limited_and_the_refused_reveal_shows_nothing(settings, world: World) -> None:  # noqa: F811
    limits(settings, reveal=(2, 3600))
    api = world.api("registrar_a")
    url = f"/api/v1/students/{world.student.pk}/reveal"

    answers = [api.post(url, {"field": "id_number"}) for _ in range(3)]

    assert [a.status_code for a in answers] == [200, 200, 429]
    assert_api_429(answers[2], f"{TOO_MANY}：查看完整证件号、电话或学籍号每小时最多 2 次")
    assert world.student.id_number not in answers[2].content.decode()
    assert AuditEvent.objects.filter(event_type="student.revealed").count() == 2
    assert refused_once(world.users["registrar_a"]) == 1


def test_web_reveal_answers_htmx_with_a_429_fragment(client, settings, world: World) -> None:  # noqa: F811
    limits(settings, reveal=(1, 3600))
    client.force_login(world.users["registrar_a"])
    url = reverse("students:reveal", args=[world.student.pk, "id_number"])

    shown = client.post(url, HTTP_HX_REQUEST="true")
    refused = client.post(url, HTTP_HX_REQUEST="true")

    assert shown.status_code == 200 and world.student.id_number in shown.content.decode()
    assert refused.status_code == 429
    body = refused.content.decode()
    assert 'data-error-code="rate_limited"' in body and f"{TOO_MANY}：" in body
    assert "<html" not in body  # a fragment swapped in place of the number
    assert world.student.id_number not in body
    assert int(refused["Retry-After"]) > 0


def test_api_student_list_is_limited(settings, world: World) -> None:  # noqa: F811
    limits(settings, list=(2, 3600))
    api = world.api("registrar_a")

    answers = [api.get("/api/v1/students/") for _ in range(3)]

    assert [a.status_code for a in answers] == [200, 200, 429]
    assert_api_429(answers[2], f"{TOO_MANY}：浏览列表和学生详情每小时最多 2 次")
    assert world.student.name not in answers[2].content.decode()


def test_web_student_list_and_detail_share_the_list_limit(client, settings, world: World) -> None:  # noqa: F811
    limits(settings, list=(2, 3600))
    client.force_login(world.users["registrar_a"])

    listed = client.get(reverse("students:list"))
    detail = client.get(reverse("students:detail", args=[world.student.pk]))
    refused = client.get(reverse("students:list"))

    assert (listed.status_code, detail.status_code, refused.status_code) == (200, 200, 429)
    body = refused.content.decode()
    assert f"{TOO_MANY}：浏览列表和学生详情每小时最多 2 次" in body
    assert world.student.name not in body


def test_api_student_detail_counts_towards_the_list_limit(settings, world: World) -> None:  # noqa: F811
    limits(settings, list=(1, 3600))
    api = world.api("registrar_a")

    first = api.get(f"/api/v1/students/{world.student.pk}")
    second = api.get(f"/api/v1/students/{world.student.pk}")

    assert first.status_code == 200
    assert_api_429(second, TOO_MANY)
    assert AuditEvent.objects.filter(event_type="student.viewed").count() == 1


def test_audit_list_api_and_page_are_limited(client, settings, world: World) -> None:  # noqa: F811
    limits(settings, list=(2, 3600))
    auditor = world.users["audit_gd"]
    api = world.api("audit_gd")

    first = api.get("/api/v1/audit/events")
    client.force_login(auditor)
    page = client.get(reverse("audit:list"))
    refused_api = api.get("/api/v1/audit/events")
    refused_page = client.get(reverse("audit:list"))

    assert (first.status_code, page.status_code) == (200, 200)
    assert_api_429(refused_api, TOO_MANY)
    assert refused_page.status_code == 429 and TOO_MANY in refused_page.content.decode()
    assert refused_once(auditor) == 1


def test_roster_export_is_limited_per_day(client, settings, world: World) -> None:  # noqa: F811
    """Rosters leave only through approved exports (第24条, issue 11 §4): the old button hands out no file and
    counts nothing; the daily export limit applies to the downloads of approved exports
    (tests/exports/test_views.py::test_downloads_are_rate_limited)."""
    limits(settings, export=(1, 86400))
    client.force_login(world.users["registrar_a"])
    url = reverse("imports:export_roster")
    data = {"school": world.school_a.school_code}

    for _ in range(2):
        answer = client.post(url, data)
        assert answer.status_code == 302 and answer["Location"].startswith(reverse("exports:new"))
    assert not AuditEvent.objects.filter(event_type="export.roster").exists()


def test_limits_do_not_leak_between_accounts(settings, world: World) -> None:  # noqa: F811
    limits(settings, list=(1, 3600))
    assert world.api("registrar_a").get("/api/v1/students/").status_code == 200
    assert world.api("county_a").get("/api/v1/students/").status_code == 200
    assert world.api("registrar_a").get("/api/v1/students/").status_code == 429
    assert json.loads(world.api("county_a").get("/api/v1/students/").content)["code"] == "rate_limited"
