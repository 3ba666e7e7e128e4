"""The provider's signing key and the pairwise-subject key for every identity test: a clean clone has no
``var/oidc`` key file, so the tests must not depend on ``manage.py oidc_key`` having run."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.identity.helpers import family
from xueji.identity.scopes import SCOPES


@pytest.fixture(scope="session")
def _oidc_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


@pytest.fixture(autouse=True)
def _oidc_key(settings: Any, _oidc_pem: str) -> None:
    # SCOPES: the catalog the settings must hold (test_scopes_in_settings checks the real settings do).
    settings.OAUTH2_PROVIDER = {
        **settings.OAUTH2_PROVIDER,
        "OIDC_RSA_PRIVATE_KEY": _oidc_pem,
        "SCOPES": dict(SCOPES),
    }
    settings.XUEJI_PAIRWISE_KEY = "test-pairwise-key"


@pytest.fixture
def fam(tree: Any, monkeypatch: Any, settings: Any) -> dict[str, Any]:
    """A pupil in grade 5 at 海珠一小 bound to a guardian account, its registrar, the security admin."""
    return family(monkeypatch, settings)
