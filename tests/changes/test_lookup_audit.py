"""Issue #6 §3 leaks 2 and 10: the national 学籍号+姓名 lookups (转学 第15条, 升学 第14条, 境外返回 第20条) are
cross-region identity lookups — every one is audited (``identity.lookup``, found or not, no personal data in the
payload) and rate-limited per account per day (``lookup``), through the API and the web form alike."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.urls import reverse

from tests.api.conftest import World, world  # noqa: F401 - the populated little world of the API tests
from tests.factories import changes as c
from tests.factories import core as f
from xueji.accounts.auth import issue_token
from xueji.audit.models import AuditEvent
from xueji.changes.models import ChangeRequest
from xueji.changes.policy import NATIONAL_DEFAULTS
from xueji.core.models import RateCounter

pytestmark = pytest.mark.django_db

CHANGES = "/api/v1/changes/"


@pytest.fixture(autouse=True)
def _no_blackout(monkeypatch: pytest.MonkeyPatch, tree: Any) -> None:
    monkeypatch.setitem(NATIONAL_DEFAULTS, "transfer_blackout", [])
    c.calendar()


def submit(client: Any, user: Any, body: dict[str, Any], key: str) -> Any:
    return client.post(
        CHANGES,
        json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {issue_token(user)[0]}",
        HTTP_IDEMPOTENCY_KEY=key,
    )


def lookups() -> list[tuple[Any, ...]]:
    return list(
        AuditEvent.objects.filter(event_type="identity.lookup")
        .order_by("id")
        .values_list("actor_id", "subject_type", "subject_id", "org_unit_id", "success", "after")
    )


def transfer_body(w: World, name: str, number: str | None = None) -> dict[str, Any]:
    return {
        "kind": "transfer",
        "lookup": {"student_number": number or w.student.student_number, "name": name},
        "target_school_id": w.school_b.pk,
        "facts": {"class_name": "2班"},
    }


def test_api_transfer_lookup_found_is_audited_without_personal_data(client, world: World) -> None:  # noqa: F811
    receiving = world.users["registrar_b"]

    response = submit(client, receiving, transfer_body(world, world.student.name), "t-1")

    assert response.status_code == 201, response.content.decode()
    assert lookups() == [
        (
            receiving.pk,
            "student",
            str(world.student.pk),
            world.school_a.pk,
            True,
            {"kind": "transfer", "outcome": "found"},
        )
    ]
    event = AuditEvent.objects.get(event_type="identity.lookup")
    stored = json.dumps([event.summary, event.before, event.after], ensure_ascii=False)
    assert world.student.name not in stored and world.student.student_number not in stored


def test_api_transfer_lookup_miss_is_audited_as_failed(client, world: World) -> None:  # noqa: F811
    receiving = world.users["registrar_b"]

    response = submit(client, receiving, transfer_body(world, "王猜测"), "t-2")

    assert response.status_code == 404
    assert lookups() == [(receiving.pk, "", "", None, False, {"kind": "transfer", "outcome": "not_found"})]


def test_api_lookups_are_rate_limited_per_account_per_day(client, settings, world: World) -> None:  # noqa: F811
    settings.XUEJI_RATE_LIMITS = {"lookup": (2, 86400)}
    receiving = world.users["registrar_b"]
    before = ChangeRequest.objects.count()

    answers = [submit(client, receiving, transfer_body(world, f"王猜{i}"), f"r-{i}") for i in range(3)]
    other = submit(client, world.users["registrar_a"], transfer_body(world, "王猜测"), "r-x")

    assert [a.status_code for a in answers] == [404, 404, 429]
    out = answers[2].json()
    assert set(out) == {"code", "message", "fields"}
    assert (out["code"], out["fields"]) == ("rate_limited", {})
    assert out["message"].startswith("操作过于频繁：跨区域身份查询每天最多 2 次")
    assert other.status_code == 404  # another account has its own count
    assert len(lookups()) == 3  # the refused lookup never ran
    assert AuditEvent.objects.filter(event_type="security.rate_limited", actor_id=receiving.pk).count() == 1
    assert RateCounter.objects.get(account_id=receiving.pk, bucket="lookup").count == 3
    assert ChangeRequest.objects.count() == before


def test_api_progression_lookup_is_audited(client, world: World) -> None:  # noqa: F811
    receiving = world.users["registrar_b"]
    body = {**transfer_body(world, "王猜测"), "kind": "progression"}

    response = submit(client, receiving, body, "p-1")

    assert response.status_code == 404
    assert lookups() == [(receiving.pk, "", "", None, False, {"kind": "progression", "outcome": "not_found"})]


def test_api_return_from_abroad_lookup_is_audited_and_rate_limited(client, settings, world: World) -> None:  # noqa: F811
    settings.XUEJI_RATE_LIMITS = {"lookup": (1, 86400)}
    receiving = world.users["registrar_b"]
    body = {
        "kind": "return_from_abroad",
        "lookup": {"student_number": world.student.student_number, "name": world.student.name},
        "target_school_id": world.school_b.pk,
        "facts": {
            "grade": 2,
            "study_record": "成绩单",
            "abroad_from": "2025-09-01",
            "abroad_to": "2026-06-30",
        },
    }

    first = submit(client, receiving, body, "a-1")
    second = submit(client, receiving, body, "a-2")

    # The student is enrolled at 海珠区: the engine refuses (第九条); the lookup itself was recorded.
    assert first.status_code == 400 and first.json()["code"] == "student_already_enrolled"
    assert second.status_code == 429 and second.json()["code"] == "rate_limited"
    assert lookups() == [
        (
            receiving.pk,
            "student",
            str(world.student.pk),
            world.school_a.pk,
            True,
            {"kind": "return_from_abroad", "outcome": "found"},
        )
    ]


def test_web_transfer_lookup_is_audited_and_rate_limited_with_a_chinese_429(
    client,
    settings,
    world: World,  # noqa: F811
) -> None:
    settings.XUEJI_RATE_LIMITS = {"lookup": (1, 86400)}
    receiving = world.users["registrar_b"]
    client.force_login(receiving)
    url = reverse("changes:new", args=["transfer"])
    data = {"step": "lookup", "student_number": world.student.student_number, "name": world.student.name}

    found = client.post(url, data)
    refused = client.post(url, data)

    assert found.status_code == 200 and 'data-testid="found"' in found.content.decode()
    assert refused.status_code == 429
    body = refused.content.decode()
    assert "操作过于频繁：跨区域身份查询每天最多 1 次" in body
    assert world.school_a.name not in body
    assert lookups() == [
        (
            receiving.pk,
            "student",
            str(world.student.pk),
            world.school_a.pk,
            True,
            {"kind": "transfer", "outcome": "found"},
        )
    ]


def test_key_data_change_does_not_name_the_school_holding_an_identity(tree: Any) -> None:
    """A 关键信息变更 to an ID number enrolled elsewhere is refused without saying where (issue #6 §3.2)."""
    from xueji.changes.services import change_submit
    from xueji.core.errors import Conflict
    from xueji.students.models import Person

    school = f.school("440105", "primary", name="海珠一小")
    e = c.enrolled(school, grade=3)
    other = c.enrolled(f.school("440106", "primary", name="天河一小"), grade=2)
    taken = Person.objects.get(pk=other.person_id).id_number
    with pytest.raises(Conflict) as exc:
        change_submit(
            actor=f.registrar(school),
            kind="key_data_change",
            enrollment=e,
            facts={"id_number": taken, "evidence_ref": "户口簿首页及本人页"},
        )
    assert exc.value.code == "student_already_enrolled"
    assert exc.value.message == "该身份证件号的学生已在其他学校有学籍，请发起转学"
    assert "天河一小" not in exc.value.message


def test_web_return_from_abroad_lookup_is_audited(client, world: World) -> None:  # noqa: F811
    receiving = world.users["registrar_b"]
    client.force_login(receiving)
    url = reverse("changes:new", args=["return_from_abroad"])

    response = client.post(url, {"student_number": world.student.student_number, "name": "王猜测"})

    assert response.status_code == 400
    assert "未找到学籍号（或身份证件号）与姓名均匹配的学生" in response.content.decode()
    assert lookups() == [
        (receiving.pk, "", "", None, False, {"kind": "return_from_abroad", "outcome": "not_found"})
    ]
