"""Input refusals of the account services that the view and API tests do not reach (等保 account management,
第22条 filing): each names the field and code and changes nothing."""

from __future__ import annotations

from datetime import date

import pytest

from tests.factories import core as f
from xueji.accounts.enums import Role
from xueji.accounts.models import RegistrarFiling, RoleGrant, User
from xueji.accounts.services import (
    account_seal,
    filing_record,
    password_reset_confirm,
    role_grant,
    user_create,
)
from xueji.core.errors import FieldError, Forbidden
from xueji.regions.models import OrgUnit

pytestmark = pytest.mark.django_db


def _closed(unit: OrgUnit) -> OrgUnit:
    OrgUnit.objects.filter(pk=unit.pk).update(is_active=False)
    unit.refresh_from_db()
    return unit


@pytest.mark.parametrize(
    ("arguments", "field", "code"),
    [
        ({"username": "  "}, "username", "required"),
        ({"username": "u" * 151}, "username", "too_long"),
        ({"display_name": "姓" * 61}, "display_name", "too_long"),
    ],
    ids=["no-username", "username-too-long", "name-too-long"],
)
def test_user_create_refusals(tree, arguments, field, code):  # type: ignore[no-untyped-def]
    before = User.objects.count()

    with pytest.raises(FieldError) as exc:
        user_create(actor=None, **{"username": "new_user", "display_name": "王老师", **arguments})

    assert (exc.value.field, exc.value.code) == (field, code)
    assert User.objects.count() == before


def test_no_account_in_a_closed_unit(tree):  # type: ignore[no-untyped-def]
    with pytest.raises(FieldError) as exc:
        user_create(
            actor=None, username="new_user", display_name="王老师", org_unit=_closed(f.dept("440105"))
        )

    assert (exc.value.field, exc.value.code) == ("org_unit", "org_unit_inactive")
    assert not User.objects.filter(username="new_user").exists()


def test_no_role_at_a_closed_unit(tree):  # type: ignore[no-untyped-def]
    user = f.user(None, f.dept("440105"), username="plain")

    with pytest.raises(FieldError) as exc:
        role_grant(actor=None, user=user, role=Role.DEPT_REGISTRAR, org_unit=_closed(f.dept("440105")))

    assert (exc.value.field, exc.value.code) == ("org_unit", "org_unit_inactive")
    assert not RoleGrant.objects.filter(user=user).exists()


def test_seal_reason_is_at_most_200_characters(registrar_a):  # type: ignore[no-untyped-def]
    with pytest.raises(FieldError) as exc:
        account_seal(actor=None, user=registrar_a, reason="长" * 201)

    assert (exc.value.field, exc.value.code) == ("reason", "too_long")
    assert User.objects.get(pk=registrar_a.pk).sealed_at is None


@pytest.mark.parametrize(
    ("arguments", "field", "code"),
    [
        ({"filed_on": None}, "filed_on", "required"),
        ({"filing_reference": "号" * 61}, "filing_reference", "too_long"),
    ],
    ids=["no-filing-date", "reference-too-long"],
)
def test_filing_refusals(registrar_a, arguments, field, code):  # type: ignore[no-untyped-def]
    before = RegistrarFiling.objects.get(user=registrar_a).filing_reference
    filing = {"filed_with": f.dept("440105"), "filed_on": date(2026, 1, 5), **arguments}

    with pytest.raises(FieldError) as exc:
        filing_record(actor=None, user=registrar_a, **filing)

    assert (exc.value.field, exc.value.code) == (field, code)
    assert RegistrarFiling.objects.get(user=registrar_a).filing_reference == before


def test_only_a_person_confirms_a_password_reset():  # type: ignore[no-untyped-def]
    with pytest.raises(Forbidden) as exc:
        password_reset_confirm(actor=None, reset=None)

    assert exc.value.code == "security_admin_required"
