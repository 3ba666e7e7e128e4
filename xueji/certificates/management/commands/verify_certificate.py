"""``manage.py verify_certificate FILE [--qr TEXT]`` — the online check of a credential (JSON, or the PDF with
its attached credential.json) against this
system's keys and status lists. Prints the result JSON; exit status 0 when valid, 1 otherwise.
(The check needing no Django and no database: ``python -m xueji.certificates.verifier FILE --keys keys.json``.)"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from xueji.core.errors import NotFound

from ... import compact, services
from ...enums import Result
from ...verifier import Verification, load_document


class Command(BaseCommand):
    help = "Verify a certificate (W3C VC JSON) against this system's issuer keys and status lists."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file")
        parser.add_argument("--qr", help="the QR text printed on the certificate")

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["file"])
        try:
            document = load_document(path.read_bytes())  # a JSON credential or a certificate PDF
        except OSError as exc:
            raise CommandError(f"cannot read {path}: {exc}") from exc
        outcome = services.verify_online(document)
        if options.get("qr") and outcome.result == Result.VALID:
            outcome = _with_qr(outcome, document, compact.token_of(options["qr"]))
        self.stdout.write(
            json.dumps({**outcome.as_dict(), "result": str(outcome.result)}, ensure_ascii=False)
        )
        if outcome.result != Result.VALID:
            sys.exit(1)


def _with_qr(outcome: Verification, document: Any, token: str) -> Verification:
    """The QR must be signed by a known key, name a stored certificate and carry this file's digest."""
    try:
        payload = compact.decode(token)
    except (ValueError, UnicodeDecodeError):
        return Verification(Result.BAD_SIGNATURE, "malformed QR payload")
    if compact.credential_digest(document) != payload.digest:
        return Verification(Result.BAD_SIGNATURE, "QR does not belong to this credential")
    try:
        qr, _certificate = services.verify_qr_online(token)
    except NotFound:
        return Verification(Result.BAD_SIGNATURE, "QR names no certificate")
    return outcome if qr.result == Result.VALID else qr
