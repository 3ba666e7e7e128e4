"""Data Integrity proofs of the electronic certificates (第19条: 电子学籍证明 equal to paper ones; issue 12 §2).

A certificate is a W3C Verifiable Credential 2.0 carrying a *proof set* of two proofs over the same document:

* ``eddsa-jcs-2022`` — W3C Data Integrity EdDSA Cryptosuites v1.0, §3.3: the proof configuration and the
  document (without ``proof``) are canonicalised with JCS (RFC 8785, package ``rfc8785``), each hashed with
  SHA-256, and the concatenation ``SHA-256(config) ‖ SHA-256(document)`` is signed with Ed25519
  (``cryptography``). ``proofValue`` is the signature in multibase base58-btc (``z…``). Passes the W3C test
  vectors (tests/certificates/vectors/).
* ``sm2-jcs-2026`` — the same transformation with the national algorithms (GB/T 32918 SM2, GB/T 32905 SM3),
  for verifiers that must use 商用密码: ``SM3(config) ‖ SM3(document)`` signed with SM2 (``gmssl-pyx``, whose
  nonce comes from GmSSL's CSPRNG — never the ``gmssl`` package, whose nonce comes from ``random``) under the
  default signer id ``1234567812345678`` (GB/T 35276); the DER signature in base58-btc. This cryptosuite name is
  ours (no W3C suite for SM2 exists yet); it is documented here and in docs/certificates.md.

Keys are named by Multikey ``publicKeyMultibase`` values: Ed25519 ``0xed01`` + 32 bytes, SM2 ``0x1206``
(multicodec ``sm2-pub``) + the 64-byte uncompressed point without its ``04`` prefix.

Verification never raises on a malformed proof: it answers False, so a tampered certificate reads "invalid".
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import gmssl_pyx
import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

EDDSA_JCS = "eddsa-jcs-2022"
SM2_JCS = "sm2-jcs-2026"
PROOF_TYPE = "DataIntegrityProof"
ED25519_PUB = b"\xed\x01"
ED25519_PRIV = b"\x80\x26"
SM2_PUB = b"\x86\x24"  # varint of multicodec 0x1206 (sm2-pub)
SM2_SIGNER_ID = gmssl_pyx.SM2_DEFAULT_SIGNER_ID

_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_INDEX = {c: i for i, c in enumerate(_ALPHABET)}


class ProofError(ValueError):
    """A proof could not be made (bad key, bad document)."""


def b58encode(data: bytes) -> str:
    """Base58-btc (the Bitcoin alphabet), leading zero bytes kept as ``1``."""
    n = int.from_bytes(data, "big")
    out = ""
    while n:
        n, r = divmod(n, 58)
        out = _ALPHABET[r] + out
    return "1" * (len(data) - len(data.lstrip(b"\0"))) + out


def b58decode(text: str) -> bytes:
    n = 0
    for c in text:
        if c not in _INDEX:
            raise ValueError("not base58-btc")
        n = n * 58 + _INDEX[c]
    body = n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b""
    return b"\0" * (len(text) - len(text.lstrip("1"))) + body


def multibase(data: bytes) -> str:
    return "z" + b58encode(data)


def from_multibase(value: str) -> bytes:
    if not value.startswith("z"):
        raise ValueError("only base58-btc multibase (z…) is supported")
    return b58decode(value[1:])


def jcs(value: Any) -> bytes:
    """RFC 8785 canonical JSON (the ``rfc8785`` package)."""
    return bytes(rfc8785.dumps(value))


@dataclass(frozen=True)
class Suite:
    name: str
    digest: Callable[[bytes], bytes]


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _sm3(data: bytes) -> bytes:
    return bytes(gmssl_pyx.sm3_hash(data))


SUITES = {EDDSA_JCS: Suite(EDDSA_JCS, _sha256), SM2_JCS: Suite(SM2_JCS, _sm3)}


def hash_data(document: Mapping[str, Any], proof_config: Mapping[str, Any], suite: Suite) -> bytes:
    """Transformation + hashing of the JCS suites: ``H(JCS(proof config)) ‖ H(JCS(document without proof))``."""
    unsecured = {k: v for k, v in document.items() if k != "proof"}
    return suite.digest(jcs(dict(proof_config))) + suite.digest(jcs(unsecured))


def _config(
    document: Mapping[str, Any], *, suite: str, verification_method: str, created: str, purpose: str
) -> dict:
    config: dict[str, Any] = {
        "type": PROOF_TYPE,
        "cryptosuite": suite,
        "created": created,
        "verificationMethod": verification_method,
        "proofPurpose": purpose,
    }
    if "@context" in document:
        config["@context"] = copy.deepcopy(document["@context"])
    return config


# --- keys -----------------------------------------------------------------------------------------------------


def ed25519_public_multibase(key: Ed25519PublicKey) -> str:
    return multibase(ED25519_PUB + key.public_bytes(Encoding.Raw, PublicFormat.Raw))


def ed25519_public_from_multibase(value: str) -> Ed25519PublicKey:
    raw = from_multibase(value)
    if not raw.startswith(ED25519_PUB) or len(raw) != 34:
        raise ValueError("not an Ed25519 Multikey")
    return Ed25519PublicKey.from_public_bytes(raw[2:])


def ed25519_private_from_multibase(value: str) -> Ed25519PrivateKey:
    raw = from_multibase(value)
    if not raw.startswith(ED25519_PRIV) or len(raw) != 34:
        raise ValueError("not an Ed25519 private Multikey")
    return Ed25519PrivateKey.from_private_bytes(raw[2:])


@dataclass(frozen=True)
class Sm2KeyPair:
    public: bytes  # 64 bytes: x ‖ y
    private: bytes  # 32 bytes

    @classmethod
    def generate(cls) -> Sm2KeyPair:
        public, private = gmssl_pyx.sm2_key_generate()
        return cls(public=bytes(public), private=bytes(private))

    @property
    def public_multibase(self) -> str:
        return sm2_public_multibase(self.public)


def sm2_public_multibase(public: bytes) -> str:
    return multibase(SM2_PUB + public)


def sm2_public_from_multibase(value: str) -> bytes:
    raw = from_multibase(value)
    if not raw.startswith(SM2_PUB) or len(raw) != 66:
        raise ValueError("not an SM2 Multikey")
    return raw[2:]


# --- create ---------------------------------------------------------------------------------------------------


def eddsa_proof(
    document: Mapping[str, Any],
    *,
    key: Ed25519PrivateKey,
    verification_method: str,
    created: str,
    purpose: str = "assertionMethod",
) -> dict[str, Any]:
    """An ``eddsa-jcs-2022`` proof of ``document`` (Data Integrity EdDSA §3.3.1, Create Proof)."""
    config = _config(
        document, suite=EDDSA_JCS, verification_method=verification_method, created=created, purpose=purpose
    )
    signature = key.sign(hash_data(document, config, SUITES[EDDSA_JCS]))
    return {**config, "proofValue": multibase(signature)}


def sm2_proof(
    document: Mapping[str, Any],
    *,
    key: Sm2KeyPair,
    verification_method: str,
    created: str,
    purpose: str = "assertionMethod",
) -> dict[str, Any]:
    """An ``sm2-jcs-2026`` proof of ``document``: the same transformation, SM3 hashes, an SM2 signature."""
    config = _config(
        document, suite=SM2_JCS, verification_method=verification_method, created=created, purpose=purpose
    )
    try:
        signature = gmssl_pyx.sm2_sign(
            key.private, key.public, hash_data(document, config, SUITES[SM2_JCS]), SM2_SIGNER_ID
        )
    except (gmssl_pyx.GmsslInnerError, gmssl_pyx.InvalidValueError) as exc:
        raise ProofError(str(exc)) from exc
    return {**config, "proofValue": multibase(bytes(signature))}


def signed_proof(
    document: Mapping[str, Any],
    *,
    suite: str,
    sign: Callable[[bytes], bytes],
    verification_method: str,
    created: str,
    purpose: str = "assertionMethod",
) -> dict[str, Any]:
    """A proof of ``document`` in ``suite`` whose signature is made by ``sign`` (hash data → signature bytes,
    DER for SM2): the hook through which a key store that never hands out its private key (a file store, a
    PKCS#11 hardware module) signs. Same output as :func:`eddsa_proof` / :func:`sm2_proof` for the same key."""
    if suite not in SUITES:
        raise ProofError(f"unknown cryptosuite {suite}")
    config = _config(
        document, suite=suite, verification_method=verification_method, created=created, purpose=purpose
    )
    return {**config, "proofValue": multibase(sign(hash_data(document, config, SUITES[suite])))}


def with_proofs(document: Mapping[str, Any], proofs: list[dict[str, Any]]) -> dict[str, Any]:
    """The secured document: a proof set (each proof over the document without ``proof``)."""
    secured = {k: v for k, v in document.items() if k != "proof"}
    secured["proof"] = proofs[0] if len(proofs) == 1 else list(proofs)
    return secured


# --- verify ---------------------------------------------------------------------------------------------------


def proofs_of(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    proof = document.get("proof")
    if isinstance(proof, Mapping):
        return [proof]
    if isinstance(proof, list):
        return [p for p in proof if isinstance(p, Mapping)]
    return []


def verify_proof(
    document: Mapping[str, Any],
    proof: Mapping[str, Any],
    *,
    resolve: Callable[[str], str | None],
) -> bool:
    """Is ``proof`` a valid proof of ``document``? ``resolve`` maps a verificationMethod to its
    ``publicKeyMultibase`` (None = unknown key → False). Data Integrity EdDSA §3.3.2 (Verify Proof): the proof's
    ``@context``, when present, must equal the document's; the type and cryptosuite must be known."""
    try:
        suite = SUITES.get(str(proof.get("cryptosuite")))
        if proof.get("type") != PROOF_TYPE or suite is None:
            return False
        config = {k: v for k, v in proof.items() if k != "proofValue"}
        if "@context" in config and config["@context"] != document.get("@context"):
            return False
        key_value = resolve(str(proof.get("verificationMethod", "")))
        if not key_value:
            return False
        signature = from_multibase(str(proof.get("proofValue", "")))
        data = hash_data(document, config, suite)
        if suite.name == EDDSA_JCS:
            ed25519_public_from_multibase(key_value).verify(signature, data)
            return True
        return bool(
            gmssl_pyx.sm2_verify(sm2_public_from_multibase(key_value), data, signature, SM2_SIGNER_ID)
        )
    except (InvalidSignature, ValueError, TypeError, gmssl_pyx.GmsslInnerError, gmssl_pyx.InvalidValueError):
        return False
