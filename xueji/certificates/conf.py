"""Settings of the certificates app, with defaults (config/settings.py names them; docs/certificates.md)."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.utils.module_loading import import_string

from .keystore import KeyStore


def key_dir() -> Path:
    return Path(getattr(settings, "XUEJI_CERT_KEY_DIR", Path(settings.VAR_DIR) / "certificate-keys"))


def base_url() -> str:
    return str(getattr(settings, "XUEJI_CERT_BASE_URL", "http://localhost:8000")).rstrip("/")


def enrollment_proof_days() -> int:
    """How long a 在读证明 is valid (it certifies a state that changes)."""
    return int(getattr(settings, "XUEJI_CERT_ENROLLMENT_PROOF_DAYS", 90))


def keystore() -> KeyStore:
    cls = import_string(getattr(settings, "XUEJI_CERT_KEYSTORE", "xueji.certificates.keystore.FileKeyStore"))
    store: KeyStore = cls(key_dir())
    return store


def issuer_id(province_code: str) -> str:
    return f"{base_url()}/v/issuers/{province_code}"


def list_url(province_code: str, number: int) -> str:
    return f"{base_url()}/v/status/{province_code}/{number}"


def credential_url(certificate_id: object) -> str:
    return f"{base_url()}/v/c/{certificate_id}"


def qr_url(token: str) -> str:
    return f"{base_url()}/v/q/{token}"
