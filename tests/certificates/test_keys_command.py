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


def test_keys_refuse_a_non_province_code_and_rotating_nothing(settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from xueji.certificates import services
    from xueji.core.errors import Conflict, FieldError

    settings.XUEJI_CERT_KEY_DIR = tmp_path / "keys"
    with pytest.raises(FieldError) as err:
        services.key_create(province_code="440105")  # a county, not a province issuer
    assert err.value.field == "province"
    with pytest.raises(Conflict):
        services.key_rotate(province_code="110000")  # no key yet
    assert not IssuerKey.objects.exists()
