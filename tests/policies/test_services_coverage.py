"""Field-set service paths the scenario tests do not reach: an anonymous actor, a version deleted under the
caller, and the two races the database settles (a second version defined, or another version activated, at
the same moment). Each refusal is exact and leaves the stored versions as they were (第3条)."""

from __future__ import annotations

from unittest import mock

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import IntegrityError

from tests.factories import policies as pf
from xueji.core.errors import Conflict, Forbidden, NotFound
from xueji.policies.models import ExtraFieldSet
from xueji.policies.services import extra_fields_activate, extra_fields_define

pytestmark = pytest.mark.django_db

NOTE = [{"key": "note", "label": "备注", "type": "text"}]


@pytest.mark.parametrize("actor", [None, AnonymousUser()], ids=["none", "anonymous"])
def test_no_signed_in_actor_may_define(tree, actor):  # type: ignore[no-untyped-def]
    with pytest.raises(Forbidden) as exc:
        extra_fields_define(actor=actor, province_code="440000", fields=NOTE)

    assert exc.value.code == "not_province_registrar"
    assert not ExtraFieldSet.objects.exists()


def test_a_version_defined_at_the_same_moment_is_a_conflict(gd_registrar):  # type: ignore[no-untyped-def]
    race = mock.patch.object(ExtraFieldSet.objects, "create", side_effect=IntegrityError("unique version"))
    with race, pytest.raises(Conflict) as exc:
        extra_fields_define(actor=gd_registrar, province_code="440000", fields=NOTE)

    assert exc.value.code == "version_conflict"
    assert not ExtraFieldSet.objects.exists()


def test_activating_a_version_deleted_meanwhile_is_not_found(gd_registrar):  # type: ignore[no-untyped-def]
    fs = pf.field_set("440000", actor=gd_registrar, fields=NOTE, filed=True)
    ExtraFieldSet.objects.filter(pk=fs.pk).delete()

    with pytest.raises(NotFound):
        extra_fields_activate(actor=gd_registrar, field_set=fs)

    assert not ExtraFieldSet.objects.exists()


def test_another_version_activated_at_the_same_moment_is_a_conflict(gd_registrar):  # type: ignore[no-untyped-def]
    first = pf.field_set("440000", actor=gd_registrar, fields=NOTE, active=True)
    second = pf.field_set("440000", actor=gd_registrar, fields=NOTE, filed=True)
    original = ExtraFieldSet.save

    def save(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        if self.pk == second.pk and self.is_active:
            raise IntegrityError("one active version per province")
        return original(self, *args, **kwargs)

    with mock.patch.object(ExtraFieldSet, "save", save), pytest.raises(Conflict) as exc:
        extra_fields_activate(actor=gd_registrar, field_set=second)

    assert exc.value.code == "activation_conflict"
    assert list(ExtraFieldSet.objects.filter(is_active=True).values_list("pk", flat=True)) == [first.pk]
