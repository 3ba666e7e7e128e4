"""Export of the signed audit-chain checkpoints to the audit administrator (issue 11 §2; 三权分立, 等保 8.1.5.3):
the page download and the API answer audit administrators only; the export verifies offline."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from tests.factories import accounts as fa
from tests.factories import core as f
from xueji.audit import chain, signing
from xueji.audit.enums import EventType
from xueji.audit.models import AuditEvent
from xueji.audit.services import record

pytestmark = pytest.mark.django_db


@pytest.fixture
def signed(tmp_path, settings):  # type: ignore[no-untyped-def]
    settings.AUDIT_CHAIN_KEY_DIR = tmp_path / "keys"
    signing.generate_files()
    for i in range(30):
        record(event_type=EventType.LOGIN, actor=None, subject_type="user", subject_id=i)
    chain.chain_pending(checkpoints=False)
    return chain.make_checkpoint()


def _api(user) -> tuple:  # type: ignore[no-untyped-def]
    c = fa.client()
    token = fa.token(c, user.username).json()["token"]
    return c, {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def _verifies_offline(data: dict) -> bool:
    """What the audit administrator can do with the file alone: check both signatures of every statement."""
    keys = {k["kid"]: signing.PublicKey(k["alg"], bytes.fromhex(k["public"])) for k in data["keys"]}
    for item in data["checkpoints"]:
        message = item["statement"].encode()
        statement = json.loads(message)
        assert (statement["seq"], statement["head"]) == (item["seq"], item["head"])
        for sig in item["signatures"]:
            if not keys[sig["kid"]].verify(message, bytes.fromhex(sig["value"])):
                return False
    return True


def test_audit_admin_downloads_checkpoints(client, signed, tree):
    admin = f.user("audit_admin", f.dept("440000"))
    client.force_login(admin)
    response = client.get(reverse("audit:checkpoints"))
    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"] and response["Cache-Control"] == "no-store"
    data = json.loads(response.content)
    assert [c["seq"] for c in data["checkpoints"]] == [signed.seq]
    assert _verifies_offline(data)
    # the exported copy is accepted by the verifier, and the export is itself an audit event
    assert chain.verify_chain(extra_checkpoints=chain.parse_export(data)).ok
    event = AuditEvent.objects.get(event_type=EventType.AUDIT_CHECKPOINTS_EXPORTED)
    assert (event.actor_id, event.subject_id) == (admin.pk, str(signed.seq))


def test_tampered_export_does_not_verify(client, signed, tree):
    client.force_login(f.user("audit_admin", f.dept("440000")))
    data = json.loads(client.get(reverse("audit:checkpoints")).content)
    data["checkpoints"][0]["head"] = "0" * 64
    parsed = chain.parse_export(data)
    result = chain.verify_chain(extra_checkpoints=parsed)
    assert result.first is not None and (result.first.kind, result.first.seq) == (
        chain.BAD_CHECKPOINT,
        signed.seq,
    )


@pytest.mark.parametrize("role", ["school_registrar", "dept_registrar", "system_admin", "security_admin"])
def test_other_roles_get_404(client, signed, school_a, role):
    unit = school_a.org if role == "school_registrar" else f.dept("440000")
    client.force_login(f.user(role, unit))
    assert client.get(reverse("audit:checkpoints")).status_code == 404
    assert not AuditEvent.objects.filter(event_type=EventType.AUDIT_CHECKPOINTS_EXPORTED).exists()


def test_api_export_for_audit_admin_only(signed, tree, school_a):
    c, auth = _api(f.user("audit_admin", f.dept("440000"), username="auditor_api"))
    response = c.get("/api/v1/audit/checkpoints", **auth)
    assert response.status_code == 200, response.content
    data = response.json()
    assert [cp["seq"] for cp in data["checkpoints"]] == [signed.seq] and _verifies_offline(data)
    assert c.get("/api/v1/audit/checkpoints", {"since_seq": signed.seq}, **auth).json()["checkpoints"] == []
    c, auth = _api(f.registrar(school_a, username="reg_api"))
    refused = c.get("/api/v1/audit/checkpoints", **auth)
    assert refused.status_code == 403 and refused.json()["code"] == "not_audit_admin"
