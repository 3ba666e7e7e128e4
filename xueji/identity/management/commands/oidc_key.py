"""Create the OpenID Connect signing key (RSA 3072, PEM, mode 0600) at XUEJI_OIDC_KEY_FILE unless it exists."""

from __future__ import annotations

import os
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "创建 OpenID Connect 签名密钥（已存在则不变）"

    def handle(self, *args: Any, **options: Any) -> None:
        path = settings.XUEJI_OIDC_KEY_FILE
        if path.exists():
            self.stdout.write(f"OIDC key exists: {path}")
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(pem)
        self.stdout.write(f"OIDC key created: {path}")
