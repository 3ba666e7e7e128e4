"""`manage.py certificate_keys ensure` (make run): creates a province issuer's first key once, never a second."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from xueji.certificates.models import IssuerKey

pytestmark = pytest.mark.django_db


def test_ensure_creates_once(settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings.XUEJI_CERT_KEY_DIR = tmp_path / "keys"
    call_command("certificate_keys", "ensure", "--province", "440000", stdout=StringIO())
    first = list(IssuerKey.objects.values_list("kid", flat=True))
    call_command("certificate_keys", "ensure", "--province", "440000", stdout=StringIO())
    assert len(first) == 1 and list(IssuerKey.objects.values_list("kid", flat=True)) == first
