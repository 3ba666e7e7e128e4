"""Verification (security.md §4, acceptance test 22): tampering, revocation, expiry, unknown keys, rotation —
the online check and the standalone offline verifier agree on every case."""

from __future__ import annotations

import copy
import json
import random
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from tests.certificates.conftest import graduate
from tests.factories import changes as c
from xueji.certificates import services, statuslist, verifier
from xueji.certificates.enums import Result
from xueji.certificates.models import IssuerKey

pytestmark = pytest.mark.django_db


def _offline(document: Any, now=None) -> str:
    return verifier.verify(document, verifier.KeySet(services.key_set()), now=now).result


def _both(document: Any, now=None) -> tuple[str, str]:
    return str(services.verify_online(document, now=now).result), _offline(document, now=now)


@pytest.fixture
def issued(env, graduated):
    return services.certificate_issue(actor=env["county"], person_id=graduated.person_id, kind="graduation")


# --- tampering -------------------------------------------------------------------------------------------------


def _leaves(value: Any, path: tuple = ()) -> list[tuple]:
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _leaves(v, (*path, k))] + [path] * bool(path)
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _leaves(v, (*path, i))] + [path] * bool(path)
    return [path]


def _get(doc: Any, path: tuple) -> Any:
    for part in path:
        doc = doc[part]
    return doc


def _mutate_field(doc: dict, rng: random.Random) -> dict:
    """One single-field mutation: change a leaf's value, delete a member, or add one."""
    out = copy.deepcopy(doc)
    path = rng.choice(_leaves(out))
    parent, last = _get(out, path[:-1]), path[-1]
    value = parent[last]
    action = rng.choice(["change", "change", "delete", "add"])
    if action == "delete" and isinstance(parent, dict):
        del parent[last]
    elif action == "add" and isinstance(value, dict):
        value[f"x{rng.randrange(10**6)}"] = "附加"
    elif isinstance(value, str) and value:
        i = rng.randrange(len(value))
        ch = value[i]
        repl = rng.choice([x for x in "0123456789abcdefXYZ张王李-:" if x != ch])
        parent[last] = value[:i] + repl + value[i + 1 :]
    elif isinstance(value, bool):
        parent[last] = not value
    elif isinstance(value, (int, float)):
        parent[last] = value + 1
    elif isinstance(value, list):
        parent[last] = [*value, "附加"]
    else:
        parent[last] = "变更"
    return out


def _mutate_byte(text: bytes, rng: random.Random) -> Any:
    """One single-byte mutation of the compact UTF-8 serialisation (no insignificant whitespace, so any change
    changes the document or breaks it)."""
    i = rng.randrange(len(text))
    b = rng.choice([x for x in range(256) if x != text[i]])
    mutated = text[:i] + bytes([b]) + text[i + 1 :]
    return verifier.load_document(mutated)


def test_a_thousand_single_mutations_are_all_rejected(issued):
    """Acceptance test 22: 1 000 random single-field or single-byte mutations → 100 % rejected (bad-signature;
    a mutated key reference reads unknown-issuer), by both verifiers."""
    rng = random.Random(20261204)
    original = issued.credential
    text = json.dumps(original, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    assert verifier.load_document(text) == original
    keys = verifier.KeySet(services.key_set())
    outcomes: dict[str, int] = {}
    for n in range(1000):
        mutated = _mutate_field(original, rng) if n % 2 else _mutate_byte(text, rng)
        if mutated == original:  # e.g. a byte change inside an escape that decodes to the same text
            continue
        offline = verifier.verify(mutated, keys).result
        online = services.verify_online(mutated).result if n % 10 == 0 else offline
        assert Result.VALID not in (offline, online), mutated
        assert offline in {Result.BAD_SIGNATURE, Result.UNKNOWN_ISSUER}
        outcomes[offline] = outcomes.get(offline, 0) + 1
    assert sum(outcomes.values()) >= 990
    assert outcomes[Result.BAD_SIGNATURE] > 900


def test_each_proof_is_required(issued):
    """A proof set missing either suite, or with a proof replaced by the other's copy, is rejected."""
    for keep in (0, 1):
        doc = copy.deepcopy(issued.credential)
        doc["proof"] = [doc["proof"][keep]]
        assert _both(doc) == (Result.BAD_SIGNATURE, Result.BAD_SIGNATURE)
    doc = copy.deepcopy(issued.credential)
    doc["proof"][1]["proofValue"] = doc["proof"][0]["proofValue"]
    assert _both(doc) == (Result.BAD_SIGNATURE, Result.BAD_SIGNATURE)


# --- revocation, expiry, unknown issuer -----------------------------------------------------------------------


def test_revoked_reads_revoked_through_the_status_list_bit(env, issued):
    assert _both(issued.credential) == (Result.VALID, Result.VALID)
    services.certificate_revoke(actor=env["county"], certificate=issued, reason="重复发证")
    assert _both(issued.credential) == (Result.REVOKED, Result.REVOKED)
    # the published list is a signed BitstringStatusListCredential of ≥ 131 072 bits with that bit set
    listed = services.key_set()["statusLists"][0]
    assert listed["type"] == ["VerifiableCredential", "BitstringStatusListCredential"]
    bits = statuslist.decode(listed["credentialSubject"]["encodedList"])
    assert len(bits) * 8 >= 131_072
    assert statuslist.get_bit(bits, issued.status_index)
    assert sum(bin(b).count("1") for b in bits) == 1
    # a status list whose bit was cleared by someone other than the issuer is rejected (its proofs break)
    forged = copy.deepcopy(listed)
    forged["credentialSubject"]["encodedList"] = statuslist.encode(statuslist.empty())
    keys = services.key_set()
    keys["statusLists"] = [forged]
    assert verifier.verify(issued.credential, verifier.KeySet(keys)).result == Result.BAD_SIGNATURE


def test_revocation_needs_the_department_and_a_reason(env, issued):
    from xueji.core.errors import FieldError, Forbidden, NotFound

    with pytest.raises(Forbidden):
        services.certificate_revoke(actor=env["reg_p"], certificate=issued, reason="x")
    with pytest.raises(NotFound):
        from xueji.certificates.queries import certificate_get

        certificate_get(viewer=env["county_other"], certificate_id=issued.pk)
    with pytest.raises(FieldError) as exc:
        services.certificate_revoke(actor=env["county"], certificate=issued, reason="  ")
    assert exc.value.field == "reason"
    issued.refresh_from_db()
    assert issued.revoked_at is None
    assert _both(issued.credential) == (Result.VALID, Result.VALID)


def test_past_valid_until_is_expired(env):
    """An enrolment proof is valid for a period; after its validUntil both verifiers answer expired."""
    e = c.enrolled(env["primary"], grade=2)
    proof = services.certificate_issue(actor=env["county"], person_id=e.person_id, kind="enrollment")
    later = timezone.now() + timedelta(days=365)
    assert _both(proof.credential) == (Result.VALID, Result.VALID)
    assert _both(proof.credential, now=later) == (Result.EXPIRED, Result.EXPIRED)


def test_unknown_kid_is_unknown_issuer(issued):
    doc = copy.deepcopy(issued.credential)
    for proof in doc["proof"]:
        proof["verificationMethod"] = proof["verificationMethod"].replace("440000-k1", "440000-k9")
    assert _both(doc) == (Result.UNKNOWN_ISSUER, Result.UNKNOWN_ISSUER)
    # a key set without the issuer: unknown-issuer offline
    assert (
        verifier.verify(issued.credential, verifier.KeySet({"issuers": []})).result == Result.UNKNOWN_ISSUER
    )


def test_a_credential_signed_by_another_issuer_key_is_unknown_issuer(env, issued):
    """A Beijing key cannot vouch for a Guangdong credential (the key must belong to the issuer)."""
    services.key_create(province_code="110000")
    doc = copy.deepcopy(issued.credential)
    doc["issuer"]["id"] = doc["issuer"]["id"].replace("440000", "110000")
    assert _both(doc)[1] == Result.UNKNOWN_ISSUER


# --- key rotation ---------------------------------------------------------------------------------------------


def test_key_rotation_new_key_signs_old_keys_keep_verifying(env, graduated):
    """Rotation: credentials signed before keep verifying with the old key; new ones use the new key; a key
    must be valid at the credential's validFrom (the old key cannot sign after it was retired)."""
    old = services.certificate_issue(actor=env["county"], person_id=graduated.person_id, kind="graduation")
    new_key = services.key_rotate(province_code="440000", now=timezone.now() + timedelta(seconds=2))
    assert new_key.kid == "440000-k2"
    retired = IssuerKey.objects.get(kid="440000-k1")
    assert retired.valid_until == new_key.valid_from
    assert _both(old.credential) == (Result.VALID, Result.VALID)
    e2 = graduate(env, c.enrolled(env["primary"], grade=6))
    fresh = services.certificate_issue(
        actor=env["county"],
        person_id=e2.person_id,
        kind="graduation",
        now=timezone.now() + timedelta(seconds=3),
    )
    assert fresh.kid == "440000-k2"
    assert all("#440000-k2-" in p["verificationMethod"] for p in fresh.credential["proof"])
    soon = timezone.now() + timedelta(seconds=10)
    assert _both(fresh.credential, now=soon) == (Result.VALID, Result.VALID)
    # the status list was re-signed with the new key and still verifies offline
    assert "#440000-k2-" in services.key_set()["statusLists"][0]["proof"][0]["verificationMethod"]
    # the old key, used for a credential dated after its retirement: not the issuer's key at that time
    late = copy.deepcopy(old.credential)
    late["validFrom"] = services.iso(timezone.now() + timedelta(seconds=5))
    signed = services.sign({k: v for k, v in late.items() if k != "proof"}, retired, late["validFrom"])
    assert _both(signed, now=soon) == (Result.UNKNOWN_ISSUER, Result.UNKNOWN_ISSUER)
    # revoking the old certificate after rotation still works (the list is re-signed by the new key)
    services.certificate_revoke(actor=env["county"], certificate=old, reason="补发", now=soon)
    assert _both(old.credential, now=soon) == (Result.REVOKED, Result.REVOKED)
