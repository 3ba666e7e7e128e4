"""The keys that sign audit-chain checkpoints (issue 11 §2; GB/T 39786-2021 §8.4 f/g/h; 等保 8.1.4.3).

A checkpoint statement is signed twice: Ed25519 (``cryptography``) and SM2 with the SM3 digest under the default
signer id ``1234567812345678`` (GB/T 32918 / GB/T 35276; ``gmssl-pyx``, whose nonce comes from GmSSL's CSPRNG —
never the ``gmssl`` package, security.md §0).

Keys live in files of ``settings.AUDIT_CHAIN_KEY_DIR`` (default ``var/keys/audit``), one JSON object per file:

* ``ed25519.json`` / ``sm2.json`` — the current signing keys: ``{"alg", "public", "private"}`` in hex, mode 0600
  (a private key file that the group or others may read is refused);
* ``retired/*.json`` — former keys, public part only (``{"alg", "public"}``), so checkpoints signed before a
  rotation still verify.

A key is named by its *key id*: ``"<alg>:" + the first 16 bytes of SM3(public key)`` in hex, so a checkpoint says
which key signed it and a verifier needs nothing but the public keys. ``manage.py audit_checkpoint --generate-keys``
creates the two files (never overwrites); ``--rotate-keys`` moves the current public keys to ``retired/`` and
creates new ones.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import gmssl_pyx
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat
from django.conf import settings

from xueji.core.errors import ApplicationError

ED25519 = "ed25519"
SM2 = "sm2"
ALGORITHMS = (ED25519, SM2)
SM2_SIGNER_ID = gmssl_pyx.SM2_DEFAULT_SIGNER_ID
RETIRED = "retired"


class SigningKeyError(ApplicationError):
    """A key file is missing, unreadable, malformed or too widely readable."""


def key_dir() -> Path:
    configured = getattr(settings, "AUDIT_CHAIN_KEY_DIR", None)
    return Path(configured) if configured else Path(settings.VAR_DIR) / "keys" / "audit"


def key_id(alg: str, public: bytes) -> str:
    return f"{alg}:{bytes(gmssl_pyx.sm3_hash(public))[:16].hex()}"


@dataclass(frozen=True)
class PublicKey:
    alg: str
    public: bytes

    @property
    def kid(self) -> str:
        return key_id(self.alg, self.public)

    def verify(self, message: bytes, signature: bytes) -> bool:
        """Never raises on a malformed signature: False."""
        try:
            if self.alg == ED25519:
                Ed25519PublicKey.from_public_bytes(self.public).verify(signature, message)
                return True
            if self.alg == SM2:
                return bool(gmssl_pyx.sm2_verify(self.public, message, signature, SM2_SIGNER_ID))
        except (
            InvalidSignature,
            ValueError,
            TypeError,
            gmssl_pyx.GmsslInnerError,
            gmssl_pyx.InvalidValueError,
        ):
            return False
        return False

    def as_dict(self) -> dict[str, str]:
        return {"kid": self.kid, "alg": self.alg, "public": self.public.hex()}


@dataclass(frozen=True)
class SigningKey:
    alg: str
    public: bytes
    private: bytes

    @property
    def kid(self) -> str:
        return key_id(self.alg, self.public)

    @property
    def public_key(self) -> PublicKey:
        return PublicKey(self.alg, self.public)

    def sign(self, message: bytes) -> bytes:
        if self.alg == ED25519:
            return Ed25519PrivateKey.from_private_bytes(self.private).sign(message)
        return bytes(gmssl_pyx.sm2_sign(self.private, self.public, message, SM2_SIGNER_ID))


def generate(alg: str) -> SigningKey:
    if alg == ED25519:
        key = Ed25519PrivateKey.generate()
        private = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        return SigningKey(ED25519, key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw), private)
    if alg == SM2:
        public, private = gmssl_pyx.sm2_key_generate()
        return SigningKey(SM2, bytes(public), bytes(private))
    raise ValueError(alg)


def _bad(path: Path, why: str) -> SigningKeyError:
    return SigningKeyError("audit_key_invalid", f"审计链签名密钥文件 {path.name} {why}")


def _read(path: Path, *, private: bool) -> dict[str, str]:
    try:
        if private and os.name == "posix" and stat.S_IMODE(path.stat().st_mode) & 0o077:
            raise _bad(path, "的权限过宽（应为 0600）")
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise SigningKeyError("audit_key_missing", f"缺少审计链签名密钥文件 {path}") from exc
    except (OSError, ValueError) as exc:
        raise _bad(path, "无法读取") from exc
    if not isinstance(data, dict) or data.get("alg") not in ALGORITHMS:
        raise _bad(path, "格式无效")
    return data


def _hex(path: Path, data: dict[str, str], field: str, size: int) -> bytes:
    try:
        value = bytes.fromhex(str(data.get(field, "")))
    except ValueError as exc:
        raise _bad(path, "格式无效") from exc
    if len(value) != size:
        raise _bad(path, "格式无效")
    return value


_SIZES = {ED25519: (32, 32), SM2: (64, 32)}


def load_signing_key(alg: str, directory: Path | None = None) -> SigningKey:
    path = (directory or key_dir()) / f"{alg}.json"
    data = _read(path, private=True)
    if data["alg"] != alg:
        raise _bad(path, "的算法不符")
    pub_size, priv_size = _SIZES[alg]
    key = SigningKey(alg, _hex(path, data, "public", pub_size), _hex(path, data, "private", priv_size))
    probe = b"xueji audit key check"
    if not key.public_key.verify(probe, key.sign(probe)):  # the public half must belong to the private one
        raise _bad(path, "的公钥与私钥不匹配")
    return key


def signing_keys(directory: Path | None = None) -> dict[str, SigningKey]:
    """The current Ed25519 and SM2 keys; raises :class:`SigningKeyError` if either is missing or malformed."""
    return {alg: load_signing_key(alg, directory) for alg in ALGORITHMS}


def public_keys(directory: Path | None = None) -> dict[str, PublicKey]:
    """Every public key a checkpoint may name, by key id: the current keys (when present) and ``retired/``."""
    base = directory or key_dir()
    found: dict[str, PublicKey] = {}
    for alg in ALGORITHMS:
        if (base / f"{alg}.json").exists():
            key = load_signing_key(alg, base).public_key
            found[key.kid] = key
    retired = base / RETIRED
    if retired.is_dir():
        for path in sorted(retired.glob("*.json")):
            data = _read(path, private=False)
            key = PublicKey(data["alg"], _hex(path, data, "public", _SIZES[data["alg"]][0]))
            found[key.kid] = key
    return found


def signatures_valid(
    message: bytes, signatures: Iterable[tuple[str, str, str]], keys: Mapping[str, PublicKey]
) -> bool:
    """Every ``(key id, signature as hex, algorithm)`` verifies ``message`` with the named public key of that
    algorithm (an unknown key, a wrong algorithm or bad hex is a failure)."""
    for kid, signature, alg in signatures:
        key = keys.get(kid)
        try:
            raw = bytes.fromhex(signature)
        except ValueError:
            return False
        if key is None or key.alg != alg or not key.verify(message, raw):
            return False
    return True


def _write_private(path: Path, key: SigningKey) -> None:
    body = json.dumps({"alg": key.alg, "public": key.public.hex(), "private": key.private.hex()})
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(body)


def generate_files(directory: Path | None = None) -> list[str]:
    """Create the missing key files (mode 0600; existing ones are never overwritten); returns the new key ids."""
    base = directory or key_dir()
    base.mkdir(parents=True, exist_ok=True)
    created = []
    for alg in ALGORITHMS:
        path = base / f"{alg}.json"
        if not path.exists():
            key = generate(alg)
            _write_private(path, key)
            created.append(key.kid)
    return created


def rotate_files(directory: Path | None = None) -> list[str]:
    """Retire the current keys (public part kept under ``retired/``, private part deleted) and create new ones."""
    base = directory or key_dir()
    (base / RETIRED).mkdir(parents=True, exist_ok=True)
    for alg in ALGORITHMS:
        path = base / f"{alg}.json"
        if path.exists():
            old = load_signing_key(alg, base).public_key
            target = base / RETIRED / f"{old.kid.replace(':', '-')}.json"
            target.write_text(json.dumps({"alg": old.alg, "public": old.public.hex()}), encoding="utf-8")
            path.unlink()
    return generate_files(base)
