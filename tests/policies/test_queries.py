"""Reads: the active set, the validator handed to registration (第3条), and scoping (第5条)."""

from __future__ import annotations

from datetime import date

import pytest

from tests.factories import core as f
from tests.factories import policies as pf
from xueji.accounts.enums import Role
from xueji.core.errors import NotFound
from xueji.policies.queries import (
    active_field_set,
    extra_validator_for,
    field_set_get,
    field_sets_for,
    state_of,
)
from xueji.students.models import Person
from xueji.students.services import register_students
from xueji.students.validation import RegistrationInvalid, clean_registration

pytestmark = pytest.mark.django_db
TODAY = date(2026, 11, 27)


def _clean(school, raw_extra):
    version, validator = extra_validator_for(school.province_code)
    reg = clean_registration(
        f.person_data(),
        f.enrollment_data(),
        [f.guardian_data()],
        school_stages=school.stages,
        today=TODAY,
        extra_validator=validator,
        raw_extra=raw_extra,
    )
    return version, reg


def test_no_active_set_is_the_national_default(tree):
    assert active_field_set("440000") is None
    version, validator = extra_validator_for("440000")
    assert version is None
    assert validator({}) == ({}, {})
    assert validator({"bus_route": "01"})[1] == {"bus_route": "“bus_route”不是本省已确定的非基础学籍信息字段"}


def test_drafts_and_filed_versions_do_not_apply(gd_registrar):
    pf.field_set(actor=gd_registrar)
    pf.field_set(actor=gd_registrar, filed=True)
    assert extra_validator_for("440000")[0] is None


def test_guangdong_student_validated_against_active_set(school_a, registrar_a, gd_registrar):
    """End to end: a Guangdong student's extra values pass clean_registration and are stored with the version."""
    pf.field_set(actor=gd_registrar, active=True)
    version, reg = _clean(school_a, {"bus_route": "二号线", "siblings": "1", "interests": "体育"})
    assert version == 1
    assert reg.extra == {"bus_route": "02", "siblings": 1, "interests": ["A"]}

    register_students(actor=registrar_a, school=school_a, registrations=[reg], extra_version=version)
    person = Person.objects.get()
    assert (person.extra, person.extra_version) == ({"bus_route": "02", "siblings": 1, "interests": ["A"]}, 1)


def test_bad_extra_value_yields_extra_key_error(school_a, gd_registrar):
    pf.field_set(actor=gd_registrar, active=True)
    with pytest.raises(RegistrationInvalid) as info:
        _clean(school_a, {"bus_route": "09", "siblings": "很多", "blood_type": "A"})
    assert info.value.fields == {
        "extra.bus_route": "校车线路“09”不是代码表中的有效代码",
        "extra.siblings": "兄弟姐妹人数“很多”不是整数",
        "extra.blood_type": "“blood_type”不是本省已确定的非基础学籍信息字段",
    }


def test_required_extra_value_missing(school_a, gd_registrar):
    pf.field_set(actor=gd_registrar, active=True)
    with pytest.raises(RegistrationInvalid) as info:
        _clean(school_a, {})
    assert info.value.fields == {"extra.bus_route": "校车线路为必填项"}


def test_beijing_set_does_not_apply_to_guangdong(school_a, bj_registrar):
    pf.field_set("110000", actor=bj_registrar, active=True)
    version, reg = _clean(school_a, {})
    assert (version, reg.extra) == (None, {})


def test_field_sets_scoped_by_province(gd_registrar, bj_registrar, county_registrar, registrar_a):
    gd = pf.field_set(actor=gd_registrar)
    bj = pf.field_set("110000", actor=bj_registrar)
    national = f.user(Role.DEPT_REGISTRAR, f.dept("000000"))
    admin = f.user(Role.SYSTEM_ADMIN, f.dept("440000"))
    assert list(field_sets_for(gd_registrar)) == [gd]
    assert list(field_sets_for(bj_registrar)) == [bj]
    assert list(field_sets_for(county_registrar)) == [gd]
    assert list(field_sets_for(registrar_a)) == [gd]
    assert set(field_sets_for(national)) == {gd, bj}
    assert list(field_sets_for(admin)) == []
    with pytest.raises(NotFound):
        field_set_get(viewer=bj_registrar, pk=gd.pk)
    assert field_set_get(viewer=county_registrar, pk=gd.pk) == gd


def test_states(gd_registrar):
    assert state_of(pf.field_set(actor=gd_registrar)) == "draft"
    assert state_of(pf.field_set(actor=gd_registrar, filed=True)) == "filed"
    assert state_of(pf.field_set(actor=gd_registrar, active=True)) == "active"
