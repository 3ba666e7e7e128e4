"""The provider's signing key and the pairwise-subject key for every identity test: a clean clone has no
``var/oidc`` key file, so the tests must not depend on ``manage.py oidc_key`` having run."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


@pytest.fixture(scope="session")
def _oidc_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


@pytest.fixture(autouse=True)
def _oidc_key(settings: Any, _oidc_pem: str) -> None:
    settings.OAUTH2_PROVIDER = {**settings.OAUTH2_PROVIDER, "OIDC_RSA_PRIVATE_KEY": _oidc_pem}
    settings.XUEJI_PAIRWISE_KEY = "test-pairwise-key"
