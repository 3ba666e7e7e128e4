"""The ``xueji.verify`` scope (第24条: "is enrolled at school X" answered, no record given; security.md test 23
and 28): POST /api/v1/identity/verify answers yes or no, is rate-limited and audited; a provider token opens
no other endpoint of /api/v1 (every operation of the schema is tried)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from django.test import Client, RequestFactory

from config.api import api
from tests.identity.helpers import guardian_browser, guardian_rp
from tests.identity.test_oidc import RelyingPartyClient
from xueji.accounts.auth import TokenAuth, issue_token
from xueji.audit.models import AuditEvent
from xueji.core.errors import Forbidden
from xueji.identity.api import verify_bucket

pytestmark = pytest.mark.django_db
URL = "/api/v1/identity/verify"


def _token(
    fam: dict[str, Any], registered: list[str], scope: str, host: str = "aid.example.cn"
) -> dict[str, Any]:
    client_id, secret, redirect = guardian_rp(fam, host, registered)
    return RelyingPartyClient(guardian_browser(fam["account"]), client_id, secret, redirect).login(scope)


def _ask(token: str, **body: Any) -> Any:
    return Client().post(
        URL, json.dumps(body), content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}"
    )


def test_verify_answers_yes_or_no_and_nothing_else(fam: dict[str, Any]) -> None:
    out = _token(fam, ["xueji.verify"], "openid xueji.verify")
    token, code = out["access_token"], fam["school"].school_code
    yes = _ask(token, school_code=code)
    assert yes.status_code == 200, yes.content
    assert yes.json()["enrolled"] is True and yes.json()["sub"] == out["claims"]["sub"]
    assert set(yes.json()) == {"sub", "enrolled", "as_of"}
    assert _ask(token, school_code=code, grade=5).json()["enrolled"] is True
    assert _ask(token, school_code=code, grade=4).json()["enrolled"] is False
    assert _ask(token, school_code=fam["other"].school_code).json()["enrolled"] is False
    assert _ask(token, school_code=code, pupil="not-a-child").json()["enrolled"] is False
    event = AuditEvent.objects.filter(event_type="identity.verified").latest("occurred_at")
    assert event.after["outcome"] == "no" and event.after["school_code"] == code and "否" in event.summary
    assert event.actor_role == "guardian" and "林小雨" not in json.dumps(event.after, ensure_ascii=False)


def test_verify_about_one_child_by_its_pairwise_subject(fam: dict[str, Any]) -> None:
    out = _token(fam, ["xueji.enrollment", "xueji.verify"], "openid xueji.enrollment xueji.verify")
    pupil = out["claims"]["xueji_enrollment"][0]["pupil"]
    answer = _ask(out["access_token"], school_code=fam["school"].school_code, pupil=pupil)
    assert answer.json()["enrolled"] is True
    event = AuditEvent.objects.filter(event_type="identity.verified").latest("occurred_at")
    assert event.subject_type == "student" and event.subject_id == str(fam["pupil"].person_id)
    # the same child's subject at another relying party is not this child here
    other = _token(fam, ["xueji.enrollment"], "openid xueji.enrollment", host="library.example.cn")
    foreign = other["claims"]["xueji_enrollment"][0]["pupil"]
    assert (
        _ask(out["access_token"], school_code=fam["school"].school_code, pupil=foreign).json()["enrolled"]
        is False
    )


def test_a_pupil_out_of_school_is_no(fam: dict[str, Any]) -> None:
    out = _token(fam, ["xueji.verify"], "openid xueji.verify")
    type(fam["pupil"]).objects.filter(pk=fam["pupil"].pk).update(status="02")  # 休学
    assert _ask(out["access_token"], school_code=fam["school"].school_code).json()["enrolled"] is False


def test_verify_refusals(fam: dict[str, Any], settings: Any) -> None:
    without = _token(fam, ["xueji.enrollment"], "openid xueji.enrollment")
    refused = _ask(without["access_token"], school_code="1")
    assert refused.status_code == 403 and refused.json()["code"] == "scope_missing"
    assert _ask("not-a-token", school_code="1").status_code == 401
    assert Client().post(URL, "{}", content_type="application/json").status_code == 401
    staff_token, _row = issue_token(fam["registrar"])
    assert _ask(staff_token, school_code="1").status_code == 401
    assert not AuditEvent.objects.filter(event_type="identity.verified").exists()
    # rate-limited per guardian (security.md test 28)
    settings.XUEJI_RATE_LIMITS = {**settings.XUEJI_RATE_LIMITS, "verify": (2, 3600)}
    assert verify_bucket() == "verify"
    token = _token(fam, ["xueji.verify"], "openid xueji.verify", host="v.example.cn")["access_token"]
    assert _ask(token, school_code="1").status_code == 200
    assert _ask(token, school_code="1").status_code == 200
    limited = _ask(token, school_code="1")
    assert limited.status_code == 429 and limited.json()["code"] == "rate_limited"
    settings.XUEJI_RATE_LIMITS = {k: v for k, v in settings.XUEJI_RATE_LIMITS.items() if k != "verify"}
    assert verify_bucket() == "lookup"


def _operations() -> list[tuple[str, str, dict[str, Any]]]:
    schema = api.get_openapi_schema(path_prefix="/api/v1")
    out = []
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            if operation.get("security") and path != URL:
                out.append((method, path, operation))
    return out


def _fill(path: str, operation: dict[str, Any]) -> str:
    for param in operation.get("parameters", []):
        if param.get("in") != "path":
            continue
        kind = param.get("schema", {})
        value = (
            str(uuid.uuid4())
            if kind.get("format") == "uuid"
            else "1"
            if kind.get("type") == "integer"
            else "x"
        )
        path = path.replace("{" + param["name"] + "}", value)
    return path


def test_a_verify_only_token_opens_no_list_or_detail_endpoint(fam: dict[str, Any]) -> None:
    """security.md test 23: a client with only the verify scope reads nothing from /api/v1 — every operation
    of the schema (lists, details and the rest) refuses the token with 403 (the staff bearer scheme recognises
    provider tokens)."""
    token = _token(fam, ["xueji.verify"], "openid xueji.verify")["access_token"]
    expected = 403
    operations = _operations()
    gets = [o for o in operations if o[0] == "get"]
    assert len(gets) > 20 and any("/students" in p for _m, p, _o in gets)
    for method, path, operation in operations:
        url = _fill(path, operation)
        response = getattr(Client(), method)(url, HTTP_AUTHORIZATION=f"Bearer {token}")
        assert response.status_code == expected, (method, url, response.status_code)
        assert set(response.json()) == {"code", "message", "fields"}, (method, url)


def test_the_refusal_scheme_refuses_provider_tokens_only(fam: dict[str, Any]) -> None:
    token = _token(fam, ["xueji.verify"], "openid xueji.verify")["access_token"]
    scheme = TokenAuth()
    request = RequestFactory().get("/api/v1/students/", HTTP_AUTHORIZATION=f"Bearer {token}")
    with pytest.raises(Forbidden):
        scheme(request)
    staff_token, _row = issue_token(fam["registrar"])
    assert scheme(RequestFactory().get("/", HTTP_AUTHORIZATION=f"Bearer {staff_token}")) == fam["registrar"]
    assert scheme(RequestFactory().get("/", HTTP_AUTHORIZATION="Bearer not-a-token")) is None
    assert scheme(RequestFactory().get("/")) is None
