"""Data Integrity proofs of electronic certificates (第19条, issue 12 §2): the W3C vc-di-eddsa eddsa-jcs-2022 test
vectors pass, SM2 proofs verify, and any change of the document, the proof or the key reads invalid."""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from xueji.certificates import proofs as p

VECTORS = Path(__file__).parent / "vectors"


def _vector() -> tuple[dict, dict]:
    return (
        json.loads((VECTORS / "signedJCS.json").read_text()),
        json.loads((VECTORS / "keyPair.json").read_text()),
    )


def test_w3c_vector_document_hash() -> None:
    """The transformation of eddsa-jcs-2022 (JCS of the document without proof, SHA-256) gives the W3C value."""
    signed, _keys = _vector()
    unsecured = {k: v for k, v in signed.items() if k != "proof"}
    assert hashlib.sha256(p.jcs(unsecured)).hexdigest() == (VECTORS / "docHashJCS.txt").read_text().strip()


def test_w3c_vector_verifies_and_is_reproduced_exactly() -> None:
    """The W3C signed credential verifies with its public key, and signing the same document with the vector's
    private key, date and method reproduces its proofValue byte for byte (Ed25519 is deterministic)."""
    signed, keys = _vector()
    proof = signed["proof"]
    resolve = {proof["verificationMethod"]: keys["publicKeyMultibase"]}.get
    assert p.verify_proof(signed, proof, resolve=resolve)

    key = p.ed25519_private_from_multibase(keys["privateKeyMultibase"])
    assert p.ed25519_public_multibase(key.public_key()) == keys["publicKeyMultibase"]
    made = p.eddsa_proof(
        signed, key=key, verification_method=proof["verificationMethod"], created=proof["created"]
    )
    assert made == proof
    assert p.from_multibase(made["proofValue"]).hex() == (VECTORS / "sigHexJCS.txt").read_text().strip()


@pytest.mark.parametrize(
    "tamper",
    [
        lambda d: d["credentialSubject"].update(alumniOf="Another School"),
        lambda d: d.update(validFrom="2024-01-01T00:00:00Z"),
        lambda d: d["proof"].update(created="2023-02-25T00:00:00Z"),
        lambda d: d["proof"].update(proofPurpose="authentication"),
        lambda d: d["proof"].update(proofValue=d["proof"]["proofValue"][:-2] + "11"),
        lambda d: d["proof"].update(proofValue="not base58 0OIl"),
        lambda d: d["proof"].update(cryptosuite="eddsa-rdfc-2022"),
        lambda d: d["proof"].update({"@context": ["https://www.w3.org/ns/credentials/v2"]}),
    ],
)
def test_w3c_vector_tampered_is_invalid(tamper) -> None:  # type: ignore[no-untyped-def]
    signed, keys = _vector()
    changed = copy.deepcopy(signed)
    tamper(changed)
    resolve = {signed["proof"]["verificationMethod"]: keys["publicKeyMultibase"]}.get
    assert not p.verify_proof(changed, changed["proof"], resolve=resolve)


def test_unknown_key_is_invalid() -> None:
    signed, _keys = _vector()
    other = p.ed25519_public_multibase(Ed25519PrivateKey.generate().public_key())
    assert not p.verify_proof(signed, signed["proof"], resolve=lambda _vm: None)
    assert not p.verify_proof(signed, signed["proof"], resolve=lambda _vm: other)


def test_proof_set_with_sm2_verifies_each_and_detects_tampering() -> None:
    """A certificate carries two proofs over the same document: eddsa-jcs-2022 and the national-algorithm
    sm2-jcs-2026 (SM3 + SM2, gmssl-pyx); each verifies alone, and a change of the document breaks both."""
    document = {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "type": ["VerifiableCredential"],
        "issuer": "https://xueji.example/issuers/440000",
        "validFrom": "2026-07-01T00:00:00Z",
        "credentialSubject": {"name": "张三", "school": "广州市海珠区实验小学", "kind": "毕业"},
    }
    ed = Ed25519PrivateKey.generate()
    sm2 = p.Sm2KeyPair.generate()
    keys = {
        "ed#1": p.ed25519_public_multibase(ed.public_key()),
        "sm2#1": sm2.public_multibase,
    }
    secured = p.with_proofs(
        document,
        [
            p.eddsa_proof(document, key=ed, verification_method="ed#1", created="2026-07-01T00:00:00Z"),
            p.sm2_proof(document, key=sm2, verification_method="sm2#1", created="2026-07-01T00:00:00Z"),
        ],
    )
    got = p.proofs_of(secured)
    assert [x["cryptosuite"] for x in got] == [p.EDDSA_JCS, p.SM2_JCS]
    assert all(p.verify_proof(secured, x, resolve=keys.get) for x in got)
    # the SM2 signature is randomised (fresh nonce from GmSSL's generator) yet verifies
    again = p.sm2_proof(document, key=sm2, verification_method="sm2#1", created="2026-07-01T00:00:00Z")
    assert again["proofValue"] != got[1]["proofValue"]
    assert p.verify_proof(secured, again, resolve=keys.get)

    tampered = copy.deepcopy(secured)
    tampered["credentialSubject"]["kind"] = "结业"
    assert not any(p.verify_proof(tampered, x, resolve=keys.get) for x in p.proofs_of(tampered))
    # an SM2 proof checked against another SM2 key fails
    stranger = p.Sm2KeyPair.generate().public_multibase
    assert not p.verify_proof(secured, got[1], resolve=lambda _vm: stranger)


def test_base58_round_trip_keeps_leading_zeros() -> None:
    for data in (b"", b"\0", b"\0\0\x01", bytes(range(40))):
        assert p.b58decode(p.b58encode(data)) == data
