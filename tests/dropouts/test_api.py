"""The dropout ledger API (/api/v1/dropouts/, 第17条) runs the pages' checks: anonymous 401, admin roles 403,
a case or pupil outside the caller's jurisdiction 404 with nothing written, a lead naming a pupil elsewhere the
same 404 as one naming nobody (no oracle), refusals in the one error shape naming the field."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from tests.factories import changes as c
from tests.factories import core as f
from xueji.accounts.auth import issue_token
from xueji.accounts.enums import Role
from xueji.dropouts.enums import Escalation, Reason, Source, State
from xueji.dropouts.models import DropoutCase, FollowUp
from xueji.dropouts.services import case_open, cases_escalate

pytestmark = pytest.mark.django_db
BASE = "/api/v1/dropouts/"


@pytest.fixture
def s(tree):  # type: ignore[no-untyped-def]
    c.calendar()
    school = f.school("440105", "primary", name="海珠一小")
    other = f.school("440106", "primary", name="天河一小")
    return {
        "school": school,
        "pupil": c.enrolled(school, grade=4, name="林小雨"),
        "elsewhere": c.enrolled(other, grade=4, name="陈晓东"),
        "reg": f.registrar(school),
        "reg_other": f.registrar(other),
        "haizhu": c.dept_registrar("440105"),
        "tianhe": c.dept_registrar("440106"),
    }


def call(user: Any, method: str, path: str, body: Any = None, **query: Any) -> Any:
    client = Client()
    headers = {"HTTP_AUTHORIZATION": f"Bearer {issue_token(user)[0]}"} if user is not None else {}
    if method == "get":
        return client.get(BASE + path, query, **headers)
    return client.post(BASE + path, json.dumps(body or {}), content_type="application/json", **headers)


def _case(s: dict[str, Any]) -> DropoutCase:
    return case_open(
        actor=s["reg"],
        enrollment=s["pupil"],
        source=Source.SCHOOL,
        days_absent=12,
        last_seen=None,
        reason=Reason.WORK,
    )


def test_open_a_school_report_and_read_it_back(s):  # type: ignore[no-untyped-def]
    body = {"person_id": str(s["pupil"].person_id), "source": "school", "reason": "work", "days_absent": 12}
    r = call(s["reg"], "post", "", body)
    assert r.status_code == 201, r.content
    out = r.json()
    assert out["name"] == "林小雨" and out["state"] == "open" and out["can_handle"] is True
    assert out["next_follow_up"] is not None and out["escalation"] == "none"
    listed = call(s["haizhu"], "get", "").json()
    assert listed["count"] == 1 and listed["items"][0]["id"] == out["id"]
    assert call(s["tianhe"], "get", "").json()["count"] == 0


def test_open_outside_scope_is_404_and_creates_nothing(s):  # type: ignore[no-untyped-def]
    body = {
        "person_id": str(s["elsewhere"].person_id),
        "source": "school",
        "reason": "work",
        "days_absent": 3,
    }
    r = call(s["reg"], "post", "", body)
    assert r.status_code == 404 and r.json()["code"] == "not_found"
    assert not DropoutCase.objects.exists()


def test_lead_outside_the_region_is_the_same_404_as_nobody(s):  # type: ignore[no-untyped-def]
    """第17条 leads are looked up in the caller's region only; a pupil elsewhere and a made-up one answer alike."""
    elsewhere = {
        "number": s["elsewhere"].person.student_number,
        "name": "陈晓东",
        "lead_from": "派出所",
        "reason": "work",
        "days_absent": 5,
    }
    nobody = {**elsewhere, "name": "不存在"}
    a, b = call(s["haizhu"], "post", "leads", elsewhere), call(s["haizhu"], "post", "leads", nobody)
    assert a.status_code == b.status_code == 404
    assert a.json() == b.json()
    assert not DropoutCase.objects.exists()
    mine = {**elsewhere, "number": s["pupil"].person.student_number, "name": "林小雨"}
    r = call(s["haizhu"], "post", "leads", mine)
    assert r.status_code == 201 and r.json()["source"] == "lead" and r.json()["lead_from"] == "派出所"
    assert call(s["reg"], "post", "leads", mine).status_code == 403  # a school registrar enters no lead


def test_detail_follow_up_and_close_outside_scope_are_404(s):  # type: ignore[no-untyped-def]
    case = _case(s)
    today = timezone.localdate()
    follow = {"date": today.isoformat(), "kind": "phone", "people": "班主任", "result": "已联系"}
    close = {"outcome": "returned", "returned_class": "4年级1班", "returned_on": today.isoformat()}
    for user in (s["tianhe"], s["reg_other"]):
        assert call(user, "get", f"{case.pk}").status_code == 404
        assert call(user, "post", f"{case.pk}/follow-ups", follow).status_code == 404
        assert call(user, "post", f"{case.pk}/close", close).status_code == 404
    assert call(s["haizhu"], "get", "not-a-uuid").status_code in {404, 422}
    case.refresh_from_db()
    assert case.state == State.OPEN and not FollowUp.objects.exists()


def test_follow_up_and_close_through_the_api(s):  # type: ignore[no-untyped-def]
    case = _case(s)
    case.opened_on = timezone.localdate() - timedelta(days=10)
    case.save(update_fields=["opened_on"])
    today = timezone.localdate()
    r = call(
        s["reg"],
        "post",
        f"{case.pk}/follow-ups",
        {
            "date": today.isoformat(),
            "kind": "visit",
            "people": "班主任",
            "result": "家访",
            "next_in_working_days": 3,
        },
    )
    assert r.status_code == 200, r.content
    assert [x["kind"] for x in r.json()["follow_ups"]] == ["visit"]
    bad = call(s["reg"], "post", f"{case.pk}/close", {"outcome": "returned"})
    assert bad.status_code == 409 and set(bad.json()["fields"]) == {"returned_class", "returned_on"}
    other = call(s["reg"], "post", f"{case.pk}/close", {"outcome": "other", "note": "x"})
    assert other.status_code == 403 and other.json()["code"] == "county_approval_required"
    ok = call(
        s["haizhu"], "post", f"{case.pk}/close", {"outcome": "other", "note": "经县级批准：随父母在外地就读"}
    )
    assert ok.status_code == 200 and ok.json()["state"] == "closed" and ok.json()["outcome"] == "other"
    again = call(s["haizhu"], "post", f"{case.pk}/close", {"outcome": "death"})
    assert again.status_code == 409 and again.json()["code"] == "case_closed"


def test_escalation_shows_in_the_api(s):  # type: ignore[no-untyped-def]
    case = _case(s)
    DropoutCase.objects.filter(pk=case.pk).update(next_follow_up=date(2026, 11, 2))
    cases_escalate(today=date(2026, 11, 4), up_after=10)
    out = call(s["haizhu"], "get", f"{case.pk}").json()
    assert out["escalation"] == Escalation.COUNTY
    assert [(e["level"], e["missed"]) for e in out["escalations"]] == [("county", "2026-11-02")]
    assert call(s["haizhu"], "get", "", escalation="county").json()["count"] == 1
    assert call(s["haizhu"], "get", "", escalation="city").json()["count"] == 0


def test_anonymous_admin_and_unknown_keys_are_refused(s):  # type: ignore[no-untyped-def]
    assert call(None, "get", "").status_code == 401
    admin = f.user(Role.SECURITY_ADMIN, f.dept("440105"))
    assert call(admin, "get", "").status_code == 403
    body = {"person_id": str(s["pupil"].person_id), "source": "school", "reason": "work", "days_absent": 1}
    r = call(s["reg"], "post", "", {**body, "state": "closed"})
    assert r.status_code == 422
    assert not DropoutCase.objects.exists()
