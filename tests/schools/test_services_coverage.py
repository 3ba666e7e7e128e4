"""``school_create`` refusals and the separately listed schools (第5、27条) that the view and API tests do not
reach: each refusal names its field and code and writes nothing."""

from __future__ import annotations

import pytest

from tests.factories import core as f
from xueji.core.errors import FieldError
from xueji.regions.models import OrgUnit
from xueji.schools.enums import Listing
from xueji.schools.models import School
from xueji.schools.services import school_create


def _create(**overrides):  # type: ignore[no-untyped-def]
    args = {
        "actor": None,
        "name": "海珠区新建小学",
        "school_code": "2144900101",
        "school_type": "primary",
        "county_code": "440105",
    }
    args.update(overrides)
    return school_create(**args)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("overrides", "field", "code"),
    [
        ({"county_code": "449999"}, "county_code", "county_unknown"),
        ({"school_type": "university"}, "school_type", "school_type_unknown"),
        ({"school_type": "teaching_point"}, "central_school", "central_school_required"),
    ],
    ids=["county-not-a-division", "unknown-type", "teaching-point-without-central-school"],
)
def test_refusals_name_the_field(tree, overrides, field, code):  # type: ignore[no-untyped-def]
    with pytest.raises(FieldError) as exc:
        _create(**overrides)

    assert (exc.value.field, exc.value.code) == (field, code)
    assert not School.objects.exists()


@pytest.mark.django_db
def test_a_school_cannot_supervise_a_school(school_a):  # type: ignore[no-untyped-def]
    with pytest.raises(FieldError) as exc:
        _create(supervising_dept=school_a.org)

    assert (exc.value.field, exc.value.code) == ("supervising_dept", "supervisor_not_dept")
    assert School.objects.count() == 1


@pytest.mark.django_db
def test_the_supervisor_must_be_in_the_schools_province(tree):  # type: ignore[no-untyped-def]
    with pytest.raises(FieldError) as exc:
        _create(supervising_dept=f.dept("110000"))

    assert (exc.value.field, exc.value.code) == ("supervising_dept", "supervisor_other_province")
    assert not School.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("listing", [Listing.OVERSEAS, Listing.HK_MACAO])
def test_separately_listed_school_sits_under_the_ministry(tree, listing):  # type: ignore[no-untyped-def]
    """第27条: overseas and HK/Macau schools are listed separately, supervised by the ministry (province
    000000), whatever county code the form carried."""
    school = _create(listing=listing, school_code="2181000001")

    ministry = OrgUnit.objects.get(level="national")
    assert (school.listing, school.province_code) == (listing, "000000")
    assert school.supervising_dept == ministry
    assert school.org.parent == ministry
