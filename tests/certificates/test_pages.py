"""Pages: the public verification page (no login) shows valid / revoked / tampered; the staff pages scope,
audit downloads and issue/revoke through the services; the API mirrors them."""

from __future__ import annotations

import copy
import json

import pytest

from tests.certificates.conftest import graduate
from tests.factories import accounts as fa
from tests.factories import changes as c
from xueji.audit.models import AuditEvent
from xueji.certificates import presenters, services
from xueji.certificates.enums import EVENT_DOWNLOADED, EVENT_ISSUED, EVENT_REVOKED
from xueji.certificates.models import Certificate

pytestmark = pytest.mark.django_db


@pytest.fixture
def issued(env, graduated):
    return services.certificate_issue(actor=env["county"], person_id=graduated.person_id, kind="graduation")


def _login(user):
    client = fa.client()
    fa.web_login(client, user.username)
    return client


def _result(response) -> str:
    text = response.content.decode()
    marker = 'data-testid="verify-result" data-result="'
    return text.split(marker, 1)[1].split('"', 1)[0]


def test_public_page_shows_valid_revoked_and_tampered_without_login(env, issued, graduated):
    anonymous = fa.client()
    page = anonymous.get(f"/v/c/{issued.pk}")
    assert page.status_code == 200 and _result(page) == "valid"
    body = page.content.decode()
    person = graduated.person
    assert presenters.masked_name(person.name) in body and person.name not in body
    assert person.id_number not in body and person.student_number not in body
    # the QR code's URL leads to the same answer
    qr = anonymous.get(f"/v/q/{issued.qr_token}")
    assert qr.status_code == 200 and _result(qr) == "valid"
    # tampered: an uploaded credential with one changed letter
    forged = copy.deepcopy(issued.credential)
    forged["credentialSubject"]["name"] = "王小明"
    tampered = anonymous.post("/v/", {"text": json.dumps(forged, ensure_ascii=False)})
    assert tampered.status_code == 200 and _result(tampered) == "bad-signature"
    assert "王小明" not in tampered.content.decode()  # nothing of a forged document is echoed
    genuine = anonymous.post("/v/", {"text": json.dumps(issued.credential, ensure_ascii=False)})
    assert _result(genuine) == "valid"
    # a tampered QR token
    bad_qr = anonymous.get(f"/v/q/{issued.qr_token[:-3]}AAA")
    assert _result(bad_qr) == "bad-signature"
    # revoked
    services.certificate_revoke(actor=env["county"], certificate=issued, reason="信息有误")
    assert _result(anonymous.get(f"/v/c/{issued.pk}")) == "revoked"
    assert anonymous.get("/v/c/01a24321-56be-77a3-9a32-855ea9c751a0").status_code == 404


def test_public_key_set_and_status_list_are_published(issued):
    anonymous = fa.client()
    keys = anonymous.get("/v/issuers/keys.json").json()
    assert keys["issuers"][0]["verificationMethod"][0]["type"] == "Multikey"
    issuer = anonymous.get("/v/issuers/440000").json()
    assert issuer["id"].endswith("/v/issuers/440000")
    url = issued.credential["credentialStatus"]["statusListCredential"]
    path = url.split("://", 1)[1].split("/", 1)[1]
    listed = anonymous.get(f"/{path}").json()
    assert listed["type"][1] == "BitstringStatusListCredential"
    assert anonymous.get("/v/issuers/999900").status_code == 404


def test_staff_issue_download_revoke_with_audit(env, graduated):
    county = _login(env["county"])
    response = county.post(
        "/certificates/issue/", {"person_id": str(graduated.person_id), "kind": "graduation"}
    )
    cert = Certificate.objects.get()
    assert response.status_code == 302 and response["Location"].endswith(f"/certificates/{cert.pk}/")
    page = county.get(f"/certificates/{cert.pk}/")
    assert page.status_code == 200 and 'data-result="valid"' in page.content.decode()
    pdf = county.get(f"/certificates/{cert.pk}/certificate.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    as_json = county.get(f"/certificates/{cert.pk}/credential.json")
    assert json.loads(as_json.content) == cert.credential
    assert AuditEvent.objects.filter(event_type=EVENT_DOWNLOADED).count() == 2
    county.post(f"/certificates/{cert.pk}/revoke/", {"reason": "重复发证"})
    cert.refresh_from_db()
    assert cert.revoked_at is not None
    assert AuditEvent.objects.filter(event_type=EVENT_REVOKED).count() == 1


def test_staff_pages_out_of_scope_are_404_and_write_nothing(env, issued, graduated):
    other = _login(env["county_other"])
    e = graduate(env, c.enrolled(env["primary"], grade=6))
    events = AuditEvent.objects.exclude(event_type__startswith="auth.").count()
    assert other.get(f"/certificates/{issued.pk}/").status_code == 404
    assert other.get(f"/certificates/{issued.pk}/certificate.pdf").status_code == 404
    assert other.get(f"/certificates/{issued.pk}/credential.json").status_code == 404
    assert other.post(f"/certificates/{issued.pk}/revoke/", {"reason": "x"}).status_code == 404
    assert (
        other.post("/certificates/issue/", {"person_id": str(e.person_id), "kind": "graduation"}).status_code
        == 404
    )
    school = env["primary"].school_code
    assert (
        other.post("/certificates/batches/", {"school_code": school, "kind": "graduation"}).status_code == 404
    )
    assert AuditEvent.objects.exclude(event_type__startswith="auth.").count() == events
    assert Certificate.objects.count() == 1
    issued.refresh_from_db()
    assert issued.revoked_at is None
    # the list shows only the viewer's certificates
    assert str(issued.pk) not in other.get("/certificates/").content.decode()
    assert str(issued.pk) in _login(env["county"]).get("/certificates/").content.decode()


def test_api_issue_read_revoke_and_public_verify(env, graduated):
    client = fa.client()
    token = fa.token(client, env["county"].username).json()["token"]
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    created = client.post(
        "/api/v1/certificates/",
        {"person_id": str(graduated.person_id), "kind": "graduation"},
        content_type="application/json",
        **auth,
    )
    assert created.status_code == 201, created.content
    body = created.json()
    verified = fa.client().post(
        "/api/v1/certificates/verify", body["credential"], content_type="application/json"
    )
    assert verified.status_code == 200 and verified.json()["result"] == "valid"
    other_token = fa.token(client, env["county_other"].username).json()["token"]
    hidden = client.get(f"/api/v1/certificates/{body['id']}", HTTP_AUTHORIZATION=f"Bearer {other_token}")
    assert hidden.status_code == 404
    revoked = client.post(
        f"/api/v1/certificates/{body['id']}/revoke",
        {"reason": "误发"},
        content_type="application/json",
        **auth,
    )
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    again = fa.client().post(
        "/api/v1/certificates/verify", body["credential"], content_type="application/json"
    )
    assert again.json()["result"] == "revoked"
    assert AuditEvent.objects.filter(event_type=EVENT_ISSUED).count() == 1
