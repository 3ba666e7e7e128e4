"""Keyed hashes of the guardian end's secrets (security.md §1.8, §2): SMS codes, captcha answers, binding codes,
session tokens and the phone blind index are stored only as HMAC-SM3 (GB/T 32905 SM3 via ``cryptography``),
keyed by ``XUEJI_GUARDIAN_CODE_KEY`` (production) or a key derived from ``SECRET_KEY`` (development). Each use
has its own purpose label, so a hash of one kind can never stand for another.
"""

from __future__ import annotations

import hmac as std_hmac
import secrets

from cryptography.hazmat.primitives import hashes, hmac
from django.conf import settings

# Crockford base32 without I, L, O, U: unambiguous on a printed slip and when typed on a phone.
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
BINDING_CODE_LENGTH = 12  # 12 × 5 = 60 bits (≥ 50 bits, issue 12 §1)


def _key() -> bytes:
    configured = getattr(settings, "XUEJI_GUARDIAN_CODE_KEY", "") or ""
    if configured:
        return configured.encode()
    return b"xueji.guardians:" + settings.SECRET_KEY.encode()


def keyed_hash(purpose: str, value: str) -> str:
    """HMAC-SM3(key, purpose ‖ 0x00 ‖ value) as 64 hex characters."""
    mac = hmac.HMAC(_key(), hashes.SM3())
    mac.update(purpose.encode() + b"\x00" + value.encode())
    return mac.finalize().hex()


def matches(stored: str, purpose: str, value: str) -> bool:
    """Constant-time comparison of a stored keyed hash with the hash of ``value``."""
    return std_hmac.compare_digest(stored, keyed_hash(purpose, value))


def numeric_code(digits: int = 6) -> str:
    """A one-time SMS code from the CSPRNG."""
    return "".join(secrets.choice("0123456789") for _ in range(digits))


def binding_code() -> str:
    """A one-time binding code of 60 bits (12 Crockford base32 characters) from the CSPRNG."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(BINDING_CODE_LENGTH))


def normalise_binding_code(raw: str) -> str:
    """What a guardian typed → the canonical code: case, spaces and dashes ignored, O→0, I/L→1."""
    cleaned = "".join(ch for ch in raw.upper() if ch not in " -\t")
    return cleaned.translate(str.maketrans("OIL", "011"))


def format_binding_code(code: str) -> str:
    """``ABCD2345WXYZ`` → ``ABCD-2345-WXYZ`` (how the slip prints it)."""
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


def session_token() -> str:
    """A session token with 256 bits of CSPRNG entropy (ASVS 7.2.3)."""
    return secrets.token_urlsafe(32)
