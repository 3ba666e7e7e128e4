"""W3C Bitstring Status List v1.0 (Recommendation 2025-05-15): the bits, their encoding, the list credential.

Pure functions (no Django): the standalone verifier uses them too.

- A list holds :data:`LIST_BITS` = 131 072 bits (16 KiB, the specification's minimum for group privacy); bit
  ``i`` is the ``i``-th bit from the left (the most significant bit of byte ``i // 8`` first, §4 "left-most
  bit is index 0").
- ``encodedList``: GZIP of the bitstring, base64url without padding, multibase prefix ``u`` (§2.1).
"""

from __future__ import annotations

import base64
import gzip
import io
from collections.abc import Mapping
from typing import Any

LIST_BITS = 131_072
LIST_BYTES = LIST_BITS // 8
ENTRY_TYPE = "BitstringStatusListEntry"
LIST_TYPE = "BitstringStatusList"
CREDENTIAL_TYPE = "BitstringStatusListCredential"
PURPOSE = "revocation"


def empty() -> bytes:
    return bytes(LIST_BYTES)


def get_bit(bits: bytes, index: int) -> bool:
    if not 0 <= index < len(bits) * 8:
        raise IndexError("status list index out of range")
    return bool(bits[index // 8] & (0x80 >> (index % 8)))


def set_bit(bits: bytes, index: int, value: bool = True) -> bytes:
    if not 0 <= index < len(bits) * 8:
        raise IndexError("status list index out of range")
    out = bytearray(bits)
    mask = 0x80 >> (index % 8)
    out[index // 8] = (out[index // 8] | mask) if value else (out[index // 8] & ~mask)
    return bytes(out)


def encode(bits: bytes) -> str:
    """``encodedList`` of ``bits``: multibase base64url (``u``) of its GZIP (mtime 0: the same bits always
    encode to the same text)."""
    return "u" + base64.urlsafe_b64encode(gzip.compress(bits, mtime=0)).rstrip(b"=").decode("ascii")


def decode(encoded: str, *, max_bytes: int = 16 * LIST_BYTES) -> bytes:
    """The bitstring of an ``encodedList``; refuses non-base64url multibase and bitstrings shorter than the
    minimum or larger than ``max_bytes`` (a decompression bomb)."""
    if not isinstance(encoded, str) or not encoded.startswith("u"):
        raise ValueError("encodedList must be multibase base64url (u…)")
    body = encoded[1:]
    raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    with gzip.GzipFile(fileobj=io.BytesIO(raw)) as fh:
        bits = fh.read(max_bytes + 1)
    if len(bits) > max_bytes or len(bits) < LIST_BYTES:
        raise ValueError("status list size out of bounds")
    return bits


def entry(list_url: str, index: int) -> dict[str, str]:
    """The ``credentialStatus`` of a credential at ``index`` of the list published at ``list_url``."""
    return {
        "id": f"{list_url}#{index}",
        "type": ENTRY_TYPE,
        "statusPurpose": PURPOSE,
        "statusListIndex": str(index),
        "statusListCredential": list_url,
    }


def list_credential(
    *, list_url: str, issuer: Mapping[str, Any], bits: bytes, valid_from: str, valid_until: str
) -> dict[str, Any]:
    """The unsigned BitstringStatusListCredential (§2.2) publishing ``bits``."""
    return {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "id": list_url,
        "type": ["VerifiableCredential", CREDENTIAL_TYPE],
        "issuer": dict(issuer),
        "validFrom": valid_from,
        "validUntil": valid_until,
        "credentialSubject": {
            "id": f"{list_url}#list",
            "type": LIST_TYPE,
            "statusPurpose": PURPOSE,
            "encodedList": encode(bits),
        },
    }
