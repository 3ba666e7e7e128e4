"""/api/v1/policies/: anonymous, wrong role, out of jurisdiction and allowed, with the {code, message, fields}
error shape."""

from __future__ import annotations

import pytest

from tests.factories import core as f
from tests.factories import policies as pf
from xueji.accounts.auth import issue_token
from xueji.accounts.enums import Role
from xueji.policies.models import ExtraFieldSet

pytestmark = pytest.mark.django_db
BASE = "/api/v1/policies/"


def _auth(user):
    raw, _ = issue_token(user)
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


def _post(client, user, url, body=None):
    return client.post(url, body or {}, content_type="application/json", **_auth(user))


def test_anonymous_is_401(client, tree):
    response = client.get(BASE)
    assert response.status_code == 401
    assert response.json()["code"] == "unauthenticated"


def test_define_file_activate_roundtrip(client, gd_registrar):
    body = {"province_code": "440000", "fields": pf.guangdong_fields()}
    response = _post(client, gd_registrar, BASE, body)
    assert response.status_code == 201, response.json()
    created = response.json()
    assert (created["version"], created["state"], created["is_active"], created["created_by"]) == (
        1,
        "draft",
        False,
        "gd_prov",
    )
    assert created["fields"][1] == {
        "key": "bus_route",
        "label": "校车线路",
        "type": "choice",
        "required": True,
        "help": "",
        "max_length": None,
        "min_value": None,
        "max_value": None,
        "decimal_places": None,
        "choices": [
            {"code": "01", "label": "一号线"},
            {"code": "02", "label": "二号线"},
            {"code": "00", "label": "不乘校车"},
        ],
    }
    assert created["fields"][3]["min_value"] == "0"

    fid = created["id"]
    response = _post(client, gd_registrar, f"{BASE}{fid}/activate")
    assert response.status_code == 409
    assert response.json()["code"] == "not_filed"

    response = _post(
        client,
        gd_registrar,
        f"{BASE}{fid}/file",
        {"filed_on": "2026-03-01", "filing_reference": "教基备〔2026〕3号"},
    )
    assert response.status_code == 200
    assert (response.json()["state"], response.json()["filed_on"]) == ("filed", "2026-03-01")

    response = _post(client, gd_registrar, f"{BASE}{fid}/activate")
    assert response.status_code == 200
    assert response.json()["state"] == "active"

    active = client.get(f"{BASE}active/440000", **_auth(gd_registrar)).json()
    assert active["version"] == 1
    assert [d["key"] for d in active["fields"]][:2] == ["residence_permit_no", "bus_route"]


def test_define_invalid_returns_field_messages(client, gd_registrar):
    body = {
        "province_code": "440000",
        "fields": [
            {"key": "name", "label": "学生姓名", "type": "text"},
            {"key": "bus", "label": "校车", "type": "choice"},
        ],
    }
    response = _post(client, gd_registrar, BASE, body)
    assert response.status_code == 400
    data = response.json()
    assert data["code"] == "invalid_extra_fields"
    assert set(data["fields"]) == {"fields.0.key", "fields.1.choices"}
    assert "国家基础学籍信息字段重名" in data["fields"]["fields.0.key"]
    assert ExtraFieldSet.objects.count() == 0


def test_define_for_other_province_is_404(client, bj_registrar):
    response = _post(client, bj_registrar, BASE, {"province_code": "440000", "fields": pf.guangdong_fields()})
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_define_by_county_is_403(client, county_registrar):
    response = _post(
        client, county_registrar, BASE, {"province_code": "440000", "fields": pf.guangdong_fields()}
    )
    assert response.status_code == 403
    assert response.json()["code"] == "not_province_registrar"


def test_list_is_scoped(client, gd_registrar, bj_registrar, county_registrar):
    gd = pf.field_set(actor=gd_registrar)
    pf.field_set("110000", actor=bj_registrar)
    assert [s["id"] for s in client.get(BASE, **_auth(county_registrar)).json()] == [gd.pk]
    national = f.user(Role.DEPT_REGISTRAR, f.dept("000000"))
    assert {s["province_code"] for s in client.get(BASE, **_auth(national)).json()} == {"440000", "110000"}
    assert (
        client.get(BASE, {"province_code": "110000"}, **_auth(national)).json()[0]["province_code"]
        == "110000"
    )
    admin = f.user(Role.SYSTEM_ADMIN, f.dept("440000"))
    response = client.get(BASE, **_auth(admin))  # 三权分立: refused, not an empty list
    assert response.status_code == 403 and response.json()["code"] == "no_student_data_role"


def test_get_one_out_of_jurisdiction_is_404(client, gd_registrar, bj_registrar):
    gd = pf.field_set(actor=gd_registrar)
    assert client.get(f"{BASE}{gd.pk}", **_auth(gd_registrar)).json()["id"] == gd.pk
    assert client.get(f"{BASE}{gd.pk}", **_auth(bj_registrar)).status_code == 404


def test_file_and_activate_out_of_jurisdiction(client, gd_registrar, bj_registrar, county_registrar):
    draft = pf.field_set(actor=gd_registrar)
    filed = pf.field_set(actor=gd_registrar, filed=True)
    body = {"filed_on": "2026-03-01", "filing_reference": "x"}
    assert _post(client, bj_registrar, f"{BASE}{draft.pk}/file", body).status_code == 404
    assert _post(client, county_registrar, f"{BASE}{draft.pk}/file", body).status_code == 403
    assert _post(client, bj_registrar, f"{BASE}{filed.pk}/activate").status_code == 404
    assert _post(client, county_registrar, f"{BASE}{filed.pk}/activate").status_code == 403
    draft.refresh_from_db()
    filed.refresh_from_db()
    assert (draft.filed_on, filed.is_active) == (None, False)


def test_file_twice_and_bad_body(client, gd_registrar):
    fs = pf.field_set(actor=gd_registrar, filed=True)
    response = _post(
        client, gd_registrar, f"{BASE}{fs.pk}/file", {"filed_on": "2026-03-01", "filing_reference": "x"}
    )
    assert (response.status_code, response.json()["code"]) == (409, "already_filed")
    draft = pf.field_set(actor=gd_registrar)
    response = _post(
        client, gd_registrar, f"{BASE}{draft.pk}/file", {"filed_on": "not a date", "filing_reference": "x"}
    )
    assert (response.status_code, response.json()["code"]) == (422, "invalid_input")
    response = _post(
        client, gd_registrar, f"{BASE}{draft.pk}/file", {"filed_on": "2026-03-01", "filing_reference": " "}
    )
    assert response.status_code == 400
    assert response.json()["fields"] == {"filing_reference": "备案文号为必填项"}


def test_active_national_default_and_scoping(client, gd_registrar, bj_registrar):
    response = client.get(f"{BASE}active/440000", **_auth(gd_registrar))
    assert response.json() == {"province_code": "440000", "version": None, "fields": []}
    assert client.get(f"{BASE}active/440000", **_auth(bj_registrar)).status_code == 404
