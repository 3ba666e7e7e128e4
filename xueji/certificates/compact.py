"""The compact signed payload of a certificate's QR code (issue 12 §2; security.md §4 "QR codes").

Pure functions (no Django): the standalone verifier checks QR payloads offline too.

Layout (version 1), base64url without padding in the URL ``<base>/v/q/<token>``::

    0x01 ‖ certificate uuid (16) ‖ len(kid) (1) ‖ kid (ASCII, e.g. ``440000-k2``) ‖ SHA-256(JCS(credential))[:16]
         ‖ Ed25519 signature (64) over ``b"xueji-qr-v1" ‖`` all the preceding bytes

About 110 bytes → a URL under 200 bytes (limit 400, QR version ≈ 8 at level M). It names the certificate and
binds the printed code to the one signed credential; it never carries a name, an ID number or a 学籍号
(第24条: 严防学籍数据泄露).
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from . import proofs

VERSION = 1
DOMAIN = b"xueji-qr-v1"
MAX_BYTES = 400


@dataclass(frozen=True)
class Payload:
    certificate_id: uuid.UUID
    kid: str
    digest: bytes
    signed: bytes  # the bytes the signature covers (without DOMAIN)
    signature: bytes


def credential_digest(credential: Mapping[str, Any]) -> bytes:
    return hashlib.sha256(proofs.jcs(dict(credential))).digest()[:16]


def encode(
    *, certificate_id: uuid.UUID, kid: str, credential: Mapping[str, Any], sign: Callable[[bytes], bytes]
) -> str:
    kid_bytes = kid.encode("ascii")
    if len(kid_bytes) > 40:
        raise ValueError("kid too long")
    body = bytes([VERSION]) + certificate_id.bytes + bytes([len(kid_bytes)]) + kid_bytes
    body += credential_digest(credential)
    signature = sign(DOMAIN + body)
    return base64.urlsafe_b64encode(body + signature).rstrip(b"=").decode("ascii")


def decode(token: str) -> Payload:
    """Parse a token (no signature check). Raises ValueError on anything malformed."""
    if not token or len(token) > MAX_BYTES:
        raise ValueError("bad token length")
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    if len(raw) < 1 + 16 + 1 + 16 + 64 or raw[0] != VERSION:
        raise ValueError("bad payload")
    n = raw[17]
    end = 18 + n
    if len(raw) != end + 16 + 64:
        raise ValueError("bad payload length")
    kid = raw[18:end].decode("ascii")
    return Payload(
        certificate_id=uuid.UUID(bytes=raw[1:17]),
        kid=kid,
        digest=raw[end : end + 16],
        signed=raw[: end + 16],
        signature=raw[end + 16 :],
    )


def signature_ok(payload: Payload, public_multibase: str) -> bool:
    try:
        proofs.ed25519_public_from_multibase(public_multibase).verify(
            payload.signature, DOMAIN + payload.signed
        )
    except Exception:
        return False
    return True


def token_of(url: str) -> str:
    """The token of a QR text ``…/v/q/<token>`` (or the bare token)."""
    return url.rstrip("/").rsplit("/", 1)[-1]
