"""The verification API (/api/v1/verification/): same services and scope checks as the pages — out of
jurisdiction is 404 with nothing written, the blocked submit answers 409 with its code."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.test import Client

from tests.factories import core as f
from xueji.students.models import ProblemRecord
from xueji.verification.enums import ReturnState
from xueji.verification.models import Finding, SchoolReturn, VerificationRound

pytestmark = pytest.mark.django_db
BASE = "/api/v1/verification"


def _client(user):  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(user)
    return client


def _post(client, url, data=None):  # type: ignore[no-untyped-def]
    return client.post(url, json.dumps(data or {}), content_type="application/json")


def test_open_round_and_list(v, today):  # type: ignore[no-untyped-def]
    body = {"unit": f.dept("440000").pk, "title": "核查", "school_year": 2026, "semester": "1",
            "deadline": (today + timedelta(days=5)).isoformat()}  # fmt: skip
    assert _post(Client(), f"{BASE}/rounds", body).status_code == 401
    response = _post(_client(v["haizhu"]), f"{BASE}/rounds", {**body, "unit": f.dept("440105").pk})
    assert response.status_code == 403 and response.json()["code"] == "not_round_opener"
    response = _post(_client(v["bj_province"]), f"{BASE}/rounds", body)
    assert response.status_code == 404
    response = _post(_client(v["province"]), f"{BASE}/rounds", {**body, "deadline": today.isoformat()})
    assert response.status_code == 400 and "deadline" in response.json()["fields"]
    assert not VerificationRound.objects.exists()
    response = _post(_client(v["province"]), f"{BASE}/rounds", body)
    assert response.status_code == 201 and response.json()["state"] == "open"
    listed = _client(v["reg"]).get(f"{BASE}/rounds").json()
    assert [r["id"] for r in listed] == [response.json()["id"]]
    assert _client(v["bj_province"]).get(f"{BASE}/rounds").json() == []
    assert _client(v["audit"]).get(f"{BASE}/rounds").status_code == 403


def test_return_scope_and_findings(v, rnd):  # type: ignore[no-untyped-def]
    url = f"{BASE}/rounds/{rnd.pk}/schools/{v['school'].pk}"
    finding = {"enrollment_id": str(v["pupil"].pk), "kind": "phantom", "detail": "查无此人"}
    for who in ("reg_other", "tianhe", "bj_province"):
        assert _client(v[who]).get(url).status_code == 404
        assert _post(_client(v[who]), f"{url}/findings", finding).status_code == 404
        assert _post(_client(v[who]), f"{url}/submit").status_code == 404
    assert not Finding.objects.exists()
    other_pupil = {**finding, "enrollment_id": str(v["sibling_pupil"].pk)}
    assert _post(_client(v["reg"]), f"{url}/findings", other_pupil).status_code == 404
    response = _post(_client(v["reg"]), f"{url}/findings", finding)
    assert response.status_code == 200 and response.json()["findings"][0]["kind"] == "phantom"
    response = _client(v["reg"]).delete(f"{url}/findings/{v['pupil'].pk}")
    assert response.status_code == 200 and response.json()["findings"] == []


def test_blocked_submit_then_review(v, rnd):  # type: ignore[no-untyped-def]
    url = f"{BASE}/rounds/{rnd.pk}/schools/{v['school'].pk}"
    problem = ProblemRecord.objects.create(kind=ProblemRecord.Kind.ID_INVALID, person_id=v["pupil"].person_id,
                                           province_code="440000", scope_path=v["school"].org.path)  # fmt: skip
    response = _post(_client(v["reg"]), f"{url}/submit")
    assert response.status_code == 409 and response.json()["code"] == "problems_unexplained"
    problem.explanation = "待公安核实"
    problem.save()
    response = _post(_client(v["reg"]), f"{url}/submit")
    assert response.status_code == 200 and response.json()["roster_count"] == 2
    response = _post(_client(v["tianhe"]), f"{url}/review", {"decision": "accept"})
    assert response.status_code == 404
    response = _post(_client(v["haizhu"]), f"{url}/review", {"decision": "return"})
    assert response.status_code == 400 and "note" in response.json()["fields"]
    response = _post(_client(v["haizhu"]), f"{url}/review", {"decision": "accept", "note": "属实"})
    assert response.status_code == 200 and response.json()["state"] == ReturnState.ACCEPTED
    assert SchoolReturn.objects.get(round=rnd, school=v["school"]).state == ReturnState.ACCEPTED


def test_progress_api(v, rnd):  # type: ignore[no-untyped-def]
    response = _client(v["province"]).get(f"{BASE}/rounds/{rnd.pk}/progress")
    data = response.json()
    assert response.status_code == 200 and data["totals"]["total"] == 3
    assert [r["unit_id"] for r in data["rows"]] == [f.dept("440100").pk]
    response = _client(v["haizhu"]).get(f"{BASE}/rounds/{rnd.pk}/progress", {"unit": f.dept("440106").pk})
    assert response.status_code == 404
