"""``manage.py certificate_keys create|rotate|list|export`` — the province issuers' signing keys (第19条).

- ``create --province 440000``: the first key (Ed25519 + SM2) of an issuer; private halves into the key store
  (``XUEJI_CERT_KEY_DIR``, files 0600), public halves into the database.
- ``rotate --province 440000``: the current key stops signing now, a new one signs; old keys keep verifying.
- ``list``: key ids and validity windows.
- ``export [--province …] [--output keys.json]``: the pinned key set (+ signed status lists) for offline verifiers.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from xueji.core.errors import ApplicationError

from ... import services
from ...keystore import KeyStoreError
from ...models import IssuerKey


class Command(BaseCommand):
    help = "Create, rotate, list and export the certificate issuers' keys."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["create", "ensure", "rotate", "list", "export"])
        parser.add_argument("--province", action="append", default=[], help="province code, e.g. 440000")
        parser.add_argument("--output", help="export: write keys.json here (default: stdout)")

    def handle(self, *args: Any, **options: Any) -> None:
        action, provinces = options["action"], options["province"]
        try:
            if action == "ensure":  # create where missing (make run: the demo province's issuer)
                for code in provinces:
                    if not IssuerKey.objects.filter(province_code=code).exists():
                        key = services.key_create(province_code=code)
                        self.stdout.write(f"{key.kid} valid from {services.iso(key.valid_from)}")
            elif action in {"create", "rotate"}:
                if not provinces:
                    raise CommandError("--province is required")
                for code in provinces:
                    job = services.key_create if action == "create" else services.key_rotate
                    key = job(province_code=code)
                    self.stdout.write(f"{key.kid} valid from {services.iso(key.valid_from)}")
            elif action == "list":
                keys = IssuerKey.objects.order_by("province_code", "valid_from")
                if provinces:
                    keys = keys.filter(province_code__in=provinces)
                for key in keys:
                    until = services.iso(key.valid_until) if key.valid_until else "current"
                    self.stdout.write(f"{key.kid}\t{services.iso(key.valid_from)}\t{until}")
            else:
                text = json.dumps(services.key_set(provinces or None), ensure_ascii=False, indent=1)
                if options.get("output"):
                    Path(options["output"]).write_text(text, encoding="utf-8")
                else:
                    self.stdout.write(text)
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        except KeyStoreError as exc:  # e.g. the key directory is not writable, or the key file already exists
            raise CommandError(f"key store: {exc}") from exc
