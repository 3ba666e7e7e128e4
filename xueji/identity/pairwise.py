"""Pairwise subject identifiers (OpenID Connect Core §8.1; 第24条: other systems recognise a person without
collecting its data or being able to link it across systems).

``sub = base32(HMAC-SM3(key, sector ‖ 0x00 ‖ internal id))``: the key is ``XUEJI_PAIRWISE_KEY`` (its own key,
not the session secret; in development derived from SECRET_KEY with a label), the sector is the relying party's
registered sector, the internal id a random value per account (:class:`xueji.identity.models.Subject`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac as std_hmac

from cryptography.hazmat.primitives import hashes, hmac
from django.conf import settings


def pairwise_key() -> bytes:
    configured: str = getattr(settings, "XUEJI_PAIRWISE_KEY", "")
    if configured:
        return configured.encode()
    return std_hmac.new(settings.SECRET_KEY.encode(), b"xueji.identity.pairwise", hashlib.sha256).digest()


def pairwise_sub(sector: str, internal_id: str) -> str:
    mac = hmac.HMAC(pairwise_key(), hashes.SM3())
    mac.update(sector.encode() + b"\0" + internal_id.encode())
    return base64.b32encode(mac.finalize()).decode().rstrip("=").lower()
