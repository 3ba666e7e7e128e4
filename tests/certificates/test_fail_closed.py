"""The verifiers fail closed (security.md §4, review of the certificates app): a signed document of the issuer
that is not a certificate (its status list), a certificate without exactly one revocation status entry, a key
set without the status list or with a lapsed one — none reads ``valid``; and untrusted JSON that is nested too
deep or names a member twice is refused (never a 500, never a second reading of the same bytes)."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from tests.factories import accounts as fa
from xueji.certificates import services, verifier
from xueji.certificates.enums import CREDENTIAL_TYPE, Result

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]
DEEP = "[" * 100_000 + "]" * 100_000


@pytest.fixture
def issued(env, graduated):
    return services.certificate_issue(actor=env["county"], person_id=graduated.person_id, kind="graduation")


def _resign(env: dict[str, Any], document: dict[str, Any]) -> dict[str, Any]:
    """``document`` signed with the issuer's real key: the signatures verify, only the shape can refuse it."""
    unsigned = {k: v for k, v in document.items() if k != "proof"}
    return services.sign(unsigned, env["key"], str(unsigned["validFrom"]))


def _both(document: Any, keys: dict[str, Any] | None = None, now=None) -> tuple[str, str]:
    offline = verifier.verify(document, verifier.KeySet(keys or services.key_set()), now=now)
    return str(services.verify_online(document, now=now).result), offline.result


def _cli(*args: str) -> tuple[int, dict]:
    code = "import sys; sys.modules['django'] = None; from xueji.certificates.verifier import main; sys.exit(main(sys.argv[1:]))"
    environ = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    done = subprocess.run(  # noqa: S603 — our own interpreter and arguments
        [sys.executable, "-c", code, *args],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.stderr == "", done.stderr
    return done.returncode, json.loads(done.stdout)


# --- 5a: only a certificate with one revocation entry is a certificate -----------------------------------------


def test_the_issuers_signed_status_list_is_not_a_certificate(issued):
    status_list = services.key_set()["statusLists"][0]
    assert verifier.verify(status_list, verifier.KeySet(services.key_set())).result == Result.BAD_SIGNATURE
    assert _both(status_list) == (Result.BAD_SIGNATURE, Result.BAD_SIGNATURE)


@pytest.mark.parametrize(
    "change",
    [
        "no_status",
        "status_list_of_entries",
        "two_entries",
        "suspension_purpose",
        "no_certificate_type",
        "two_certificate_types",
        "status_list_type_too",
        "index_not_decimal",
    ],
)
def test_a_validly_signed_document_of_the_wrong_shape_is_refused(env, issued, change):
    doc = copy.deepcopy(issued.credential)
    entry = doc["credentialStatus"]
    if change == "no_status":
        del doc["credentialStatus"]
    elif change == "status_list_of_entries":
        doc["credentialStatus"] = [entry]
    elif change == "two_entries":
        doc["credentialStatus"] = [entry, dict(entry, statusListIndex="7")]
    elif change == "suspension_purpose":
        doc["credentialStatus"] = dict(entry, statusPurpose="suspension")
    elif change == "no_certificate_type":
        doc["type"] = ["VerifiableCredential"]
    elif change == "two_certificate_types":
        doc["type"] = ["VerifiableCredential", *CREDENTIAL_TYPE.values()][:3]
    elif change == "status_list_type_too":
        doc["type"] = [*doc["type"], "BitstringStatusListCredential"]
    elif change == "index_not_decimal":
        doc["credentialStatus"] = dict(entry, statusListIndex="-1")
    signed = _resign(env, doc)
    assert _both(signed) == (Result.BAD_SIGNATURE, Result.BAD_SIGNATURE)
    assert _both(_resign(env, issued.credential)) == (Result.VALID, Result.VALID)  # the re-signing is sound


def test_the_verifier_knows_every_certificate_type():
    assert set(CREDENTIAL_TYPE.values()) == verifier.CERTIFICATE_TYPES


# --- 5b: a revocation state the key set cannot show is never valid -------------------------------------------


def test_a_key_set_without_the_status_list_is_not_valid(issued, tmp_path):
    keys = services.key_set()
    keys["statusLists"] = []
    outcome = verifier.verify(issued.credential, verifier.KeySet(keys))
    assert (outcome.result, outcome.status_checked) == (Result.UNKNOWN_ISSUER, False)
    assert "not in the key set" in outcome.detail
    (tmp_path / "keys.json").write_text(json.dumps(keys), encoding="utf-8")
    (tmp_path / "c.json").write_text(json.dumps(issued.credential, ensure_ascii=False), encoding="utf-8")
    status, out = _cli(str(tmp_path / "c.json"), "--keys", str(tmp_path / "keys.json"))
    assert (status, out["result"]) == (1, "unknown-issuer") and out["detail"]
    # a list of another URL does not stand in for it
    other = copy.deepcopy(services.key_set()["statusLists"][0])
    other["id"] = other["id"].replace("/1", "/2")
    keys["statusLists"] = [other]
    assert verifier.verify(issued.credential, verifier.KeySet(keys)).result != Result.VALID


def test_a_lapsed_status_list_is_not_valid_but_a_revocation_in_it_still_counts(env, issued):
    keys = services.key_set()
    later = timezone.now() + timedelta(days=8)
    lapsed = verifier.verify(issued.credential, verifier.KeySet(keys), now=later)
    assert lapsed.result == Result.UNKNOWN_ISSUER and "past its validUntil" in lapsed.detail
    services.certificate_revoke(actor=env["county"], certificate=issued, reason="重复发证")
    revoked = verifier.verify(issued.credential, verifier.KeySet(services.key_set()), now=later)
    assert revoked.result == Result.REVOKED


def test_a_status_list_without_validity_end_is_not_trusted(env, issued):
    keys = services.key_set()
    listed = {k: v for k, v in keys["statusLists"][0].items() if k != "validUntil"}
    keys["statusLists"] = [_resign(env, listed)]
    assert verifier.verify(issued.credential, verifier.KeySet(keys)).result == Result.UNKNOWN_ISSUER


# --- 7: hostile JSON -------------------------------------------------------------------------------------------


def test_deeply_nested_input_reads_bad_signature_on_the_public_page(issued):
    anonymous = fa.client()
    page = anonymous.post("/v/", {"text": DEEP})
    assert page.status_code == 200
    assert 'data-result="bad-signature"' in page.content.decode()
    assert verifier.load_document(DEEP.encode()) is None


def test_deeply_nested_input_reads_bad_signature_in_the_api_view(issued, rf):
    """The API view itself (the shared input middleware in front of it is the lead's: see the next test)."""
    from xueji.certificates import api

    request = rf.post("/api/v1/certificates/verify", "[" * 30_000, content_type="application/json")
    assert api.verify(request)["result"] == "bad-signature"


def test_deeply_nested_input_through_the_whole_api_stack(issued):
    """The shared input middleware (xueji.core.middleware) parses JSON bodies too: nesting too deep is not a 500."""
    api = fa.client().post("/api/v1/certificates/verify", "[" * 30_000, content_type="application/json")
    assert api.status_code in {200, 400}


def test_a_duplicate_member_name_is_refused_everywhere(issued):
    """``{"name": "伪造", …, "name": "<real>"}``: the signatures cover the last value (Python's reading) while
    another reader shows the first — such a document must read bad-signature, not valid."""
    text = json.dumps(issued.credential, ensure_ascii=False, separators=(",", ":"))
    doubled = '{"name":"伪造证书",' + text[1:]
    assert json.loads(doubled) == issued.credential  # the naive reading: the issued document
    assert verifier.load_document(doubled.encode()) is None
    page = fa.client().post("/v/", {"text": doubled})
    assert 'data-result="bad-signature"' in page.content.decode()
    api = fa.client().post("/api/v1/certificates/verify", doubled, content_type="application/json")
    assert api.json()["result"] == "bad-signature"
    genuine = fa.client().post("/api/v1/certificates/verify", text, content_type="application/json")
    assert genuine.json()["result"] == "valid"


def test_the_offline_cli_refuses_deep_and_doubled_files_without_a_traceback(issued, tmp_path):
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps(services.key_set()), encoding="utf-8")
    deep = tmp_path / "deep.json"
    deep.write_text(DEEP, encoding="utf-8")
    status, out = _cli(str(deep), "--keys", str(keys))
    assert (status, out["result"]) == (1, "bad-signature")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[" * 17 + "]" * 17, "nested deeper"),
        ('{"a":1,"a":1}', "duplicate member"),
        ('{"a":NaN}', "non-standard constant"),
        ('"\\"' * 50_000, "not JSON"),
    ],
)
def test_loads_untrusted_refuses(text, message):
    with pytest.raises(verifier.UntrustedJSONError, match=message):
        verifier.loads_untrusted(text)
    assert verifier.loads_untrusted('{"a":"[[[[[[[[[[[[[[[[[[[[[[[[[[","b":[[[[1]]]]}')["b"] == [[[[1]]]]


# --- keys: no orphan private key, no traceback, no signing with a key being rotated ----------------------------


def test_a_rolled_back_key_creation_leaves_no_private_key_file(tree, _cert_settings, monkeypatch):
    def failing_record(**kwargs: Any) -> None:
        raise RuntimeError("audit down")

    monkeypatch.setattr(services, "record", failing_record)
    with pytest.raises(RuntimeError):
        services.key_create(province_code="110000")
    assert not (_cert_settings / "110000-k1.json").exists()
    assert not services.IssuerKey.objects.filter(province_code="110000").exists()
    monkeypatch.undo()
    assert services.key_create(province_code="110000").kid == "110000-k1"  # not blocked by an orphan file
    monkeypatch.setattr(services, "record", failing_record)
    with pytest.raises(RuntimeError):
        services.key_rotate(province_code="110000")
    assert not (_cert_settings / "110000-k2.json").exists()
    assert (_cert_settings / "110000-k1.json").exists()  # the committed key is never touched


def test_a_key_store_error_is_a_command_error_not_a_traceback(tree, _cert_settings):
    from django.core.management import call_command
    from django.core.management.base import CommandError

    _cert_settings.mkdir(mode=0o700, parents=True, exist_ok=True)
    (_cert_settings / "120000-k1.json").write_text("{}", encoding="utf-8")  # left over from elsewhere
    with pytest.raises(CommandError, match="key store: key 120000-k1 already exists"):
        call_command("certificate_keys", "create", "--province", "120000")


def test_issuing_and_revoking_lock_the_signing_key_before_the_status_list(env, graduated, monkeypatch):
    """A rotation (which locks the current key row, then the lists) cannot retire the key between reading it and
    storing what it signed; revocation takes the locks in the same order (no deadlock with a rotation)."""
    from django.db.models.query import QuerySet

    locked: list[str] = []
    original = QuerySet.select_for_update

    def spy(self, *args: Any, **kwargs: Any):  # type: ignore[no-untyped-def]
        locked.append(self.model.__name__)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(QuerySet, "select_for_update", spy)
    cert = services.certificate_issue(actor=env["county"], person_id=graduated.person_id, kind="graduation")
    assert locked[:2] == ["IssuerKey", "StatusList"]
    locked.clear()
    services.certificate_revoke(actor=env["county"], certificate=cert, reason="信息有误")
    assert locked == ["Certificate", "IssuerKey", "StatusList"]


def test_the_offline_cli_prints_a_masked_summary_to_compare_with_the_paper(issued, tmp_path):
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps(services.key_set(), ensure_ascii=False), encoding="utf-8")
    good = tmp_path / "c.json"
    good.write_text(json.dumps(issued.credential, ensure_ascii=False), encoding="utf-8")
    status, out = _cli(str(good), "--keys", str(keys))
    name = issued.person.name
    assert (status, out["result"]) == (0, "valid")
    assert out["subject"] == {
        "name": verifier.masked_name(name),
        "school": issued.school.name,
        "kind": "毕业证书",
        "type": "XuejiGraduationCertificate",
        "date": issued.credential["credentialSubject"]["achievement"]["date"],
    }
    assert name not in json.dumps(out, ensure_ascii=False) and "*" in out["subject"]["name"]
    forged = tmp_path / "forged.json"
    forged.write_text(
        json.dumps(dict(issued.credential, name="伪造证书"), ensure_ascii=False), encoding="utf-8"
    )
    status, out = _cli(str(forged), "--keys", str(keys))
    assert (status, out["result"]) == (1, "bad-signature") and "subject" not in out


# --- the public endpoints are rate-limited per client address ---------------------------------------------------


def test_public_verification_is_rate_limited_per_address(issued, settings):
    from xueji.certificates.models import VerifyCounter

    settings.XUEJI_CERT_VERIFY_RATE_LIMIT = (2, 3600)
    client = fa.client()
    text = json.dumps(issued.credential, ensure_ascii=False)
    first = client.post("/v/", {"text": text}, REMOTE_ADDR="203.0.113.7")
    assert first.status_code == 200
    assert client.get(f"/v/c/{issued.pk}", REMOTE_ADDR="203.0.113.7").status_code == 200
    refused = client.get(f"/v/q/{issued.qr_token}", REMOTE_ADDR="203.0.113.7")
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    assert (
        "核验过于频繁" in refused.content.decode()
        and 'data-testid="verify-limited"' in refused.content.decode()
    )
    api = client.post(
        "/api/v1/certificates/verify", text, content_type="application/json", REMOTE_ADDR="203.0.113.7"
    )
    assert api.status_code == 429 and api.json()["code"] == "rate_limited"
    other = client.post(
        "/api/v1/certificates/verify", text, content_type="application/json", REMOTE_ADDR="198.51.100.2"
    )
    assert other.status_code == 200 and other.json()["result"] == "valid"
    # the published keys and lists stay open (static, cached, what offline verifiers download)
    assert client.get("/v/issuers/keys.json", REMOTE_ADDR="203.0.113.7").status_code == 200
    assert client.get("/v/", REMOTE_ADDR="203.0.113.7").status_code == 200
    stored = list(VerifyCounter.objects.values_list("subject", flat=True))
    assert len(stored) == 2 and not any("203.0.113.7" in s or "198.51" in s for s in stored)
