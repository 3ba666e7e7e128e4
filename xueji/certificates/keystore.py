"""Where the issuers' private keys live: a :class:`KeyStore` signs by key id and never hands a private key out.

- :class:`FileKeyStore` (the default, ``settings.XUEJI_CERT_KEYSTORE``) keeps one JSON file per key id in
  ``settings.XUEJI_CERT_KEY_DIR``: the directory is created 0700, each file 0600 and written once (``O_EXCL``).
  Private keys never enter the database (security.md §4: 私钥不入库); the database holds public keys only
  (:class:`~xueji.certificates.models.IssuerKey`).
- Hardware hook (密码机/HSM, PKCS#11): implement the three methods of :class:`KeyStore` on a PKCS#11 session
  (``generate`` = C_GenerateKeyPair with CKM_EC_EDWARDS_KEY_PAIR_GEN / the vendor's SM2 mechanism, labelled with
  the key id; ``sign`` = C_Sign with CKM_EDDSA over the hash data, or the SM2 mechanism returning DER r‖s;
  ``public_keys`` = the CKA_EC_POINT of the public objects) and name the class in ``XUEJI_CERT_KEYSTORE``.
  See docs/certificates.md.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import gmssl_pyx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from . import proofs

KID_RE = re.compile(r"^[0-9]{6}-k[0-9]{1,4}$")


class KeyStoreError(RuntimeError):
    """The key store cannot create or use a key (missing file, bad permissions, existing key id)."""


@dataclass(frozen=True)
class PublicKeys:
    """The two public keys of one key id, as Multikey ``publicKeyMultibase`` values."""

    ed25519: str
    sm2: str


class KeyStore(Protocol):
    """Signing by key id. ``suite`` is a cryptosuite name of :mod:`proofs` (``eddsa-jcs-2022`` → raw Ed25519
    signature, ``sm2-jcs-2026`` → DER SM2 signature with the default signer id over SM3 of ``data``)."""

    def generate(self, kid: str) -> PublicKeys: ...

    def sign(self, kid: str, suite: str, data: bytes) -> bytes: ...

    def public_keys(self, kid: str) -> PublicKeys: ...

    def discard(self, kid: str) -> None:
        """Destroy a key :meth:`generate` made whose database row was never committed (no credential can have
        been signed by it). Never called for a key that has a row."""
        ...


class FileKeyStore:
    """Private keys in files (0600) under one directory (0700)."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)

    def _path(self, kid: str) -> Path:
        if not KID_RE.match(kid):
            raise KeyStoreError(f"invalid key id {kid!r}")
        return self.directory / f"{kid}.json"

    def generate(self, kid: str) -> PublicKeys:
        path = self._path(kid)
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.directory.chmod(0o700)
        ed = Ed25519PrivateKey.generate()
        sm2 = proofs.Sm2KeyPair.generate()
        raw = ed.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        body = {
            "kid": kid,
            "ed25519": proofs.multibase(proofs.ED25519_PRIV + raw),
            "sm2_private": sm2.private.hex(),
            "sm2_public": sm2.public.hex(),
        }
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise KeyStoreError(f"key {kid} already exists in {self.directory}") from None
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(body, fh)
        return PublicKeys(ed25519=proofs.ed25519_public_multibase(ed.public_key()), sm2=sm2.public_multibase)

    def discard(self, kid: str) -> None:
        self._path(kid).unlink(missing_ok=True)

    def _load(self, kid: str) -> dict[str, str]:
        path = self._path(kid)
        try:
            mode = path.stat().st_mode & 0o777
        except FileNotFoundError:
            raise KeyStoreError(f"private key {kid} not found in {self.directory}") from None
        if mode & 0o077:
            raise KeyStoreError(f"private key file {path} is readable by others (mode {mode:o}); chmod 600")
        data = json.loads(path.read_text(encoding="utf-8"))
        assert isinstance(data, dict)
        return data

    def sign(self, kid: str, suite: str, data: bytes) -> bytes:
        body = self._load(kid)
        if suite == proofs.EDDSA_JCS:
            return proofs.ed25519_private_from_multibase(body["ed25519"]).sign(data)
        if suite == proofs.SM2_JCS:
            private, public = bytes.fromhex(body["sm2_private"]), bytes.fromhex(body["sm2_public"])
            return bytes(gmssl_pyx.sm2_sign(private, public, data, proofs.SM2_SIGNER_ID))
        raise KeyStoreError(f"unknown cryptosuite {suite}")

    def public_keys(self, kid: str) -> PublicKeys:
        body = self._load(kid)
        ed = proofs.ed25519_private_from_multibase(body["ed25519"])
        return PublicKeys(
            ed25519=proofs.ed25519_public_multibase(ed.public_key()),
            sm2=proofs.sm2_public_multibase(bytes.fromhex(body["sm2_public"])),
        )
