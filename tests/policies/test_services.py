"""Defining, filing and activating province field sets (第3条), with jurisdiction (第5条)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.utils import timezone

from tests.factories import core as f
from tests.factories import policies as pf
from xueji.accounts.enums import Role
from xueji.audit.enums import EventType
from xueji.audit.models import AuditEvent
from xueji.core.errors import ApplicationError, Conflict, Forbidden, NotFound
from xueji.policies.extra_fields import DefinitionInvalid
from xueji.policies.models import ExtraFieldSet
from xueji.policies.queries import active_field_set
from xueji.policies.services import (
    extra_fields_activate,
    extra_fields_define,
    extra_fields_file,
    extra_fields_revise,
)

pytestmark = pytest.mark.django_db

NOTE = [{"key": "note", "label": "备注", "type": "text"}]


def _events(event_type):
    return list(AuditEvent.objects.filter(event_type=event_type).order_by("id"))


def test_define_creates_inactive_unfiled_draft_with_audit(gd_registrar):
    fs = extra_fields_define(actor=gd_registrar, province_code="440000", fields=pf.guangdong_fields())
    assert (fs.province_code, fs.version, fs.is_active, fs.filed_on, fs.created_by) == (
        "440000",
        1,
        False,
        None,
        gd_registrar,
    )
    assert fs.fields[1]["choices"][0] == {"code": "01", "label": "一号线"}
    [event] = _events(EventType.EXTRA_FIELDS_DEFINED)
    assert (event.actor, event.province_code, event.subject_id, event.org_unit_id) == (
        gd_registrar,
        "440000",
        str(fs.pk),
        f.dept("440000").pk,
    )
    assert event.after["keys"][0] == "residence_permit_no"


def test_versions_increase_per_province(gd_registrar, bj_registrar):
    v1 = extra_fields_define(actor=gd_registrar, province_code="440000", fields=NOTE)
    v2 = extra_fields_define(actor=gd_registrar, province_code="440000", fields=NOTE)
    bj = extra_fields_define(actor=bj_registrar, province_code="110000", fields=NOTE)
    assert (v1.version, v2.version, bj.version) == (1, 2, 1)


def test_invalid_definition_writes_nothing(gd_registrar):
    with pytest.raises(DefinitionInvalid) as info:
        extra_fields_define(
            actor=gd_registrar, province_code="440000", fields=[{"key": "name", "label": "x", "type": "text"}]
        )
    assert info.value.field_codes == {"fields.0.key": "reserved_key"}
    assert ExtraFieldSet.objects.count() == 0
    assert _events(EventType.EXTRA_FIELDS_DEFINED) == []


# ------------------------------------------------------------------------------------------ jurisdiction


def test_beijing_registrar_cannot_define_guangdong_fields(bj_registrar):
    """第5条: a province manages its own region only — another province is out of jurisdiction (404)."""
    with pytest.raises(NotFound):
        extra_fields_define(actor=bj_registrar, province_code="440000", fields=NOTE)
    assert ExtraFieldSet.objects.count() == 0


def test_county_registrar_cannot_define(county_registrar):
    """第3条: 由各省级教育行政部门统一确定 — a county department sees the province but may not define."""
    with pytest.raises(Forbidden) as info:
        extra_fields_define(actor=county_registrar, province_code="440000", fields=NOTE)
    assert info.value.code == "not_province_registrar"


@pytest.mark.parametrize("role", [Role.APPROVER, Role.SYSTEM_ADMIN])
def test_other_roles_at_the_province_cannot_define(tree, role):
    actor = f.user(role, f.dept("440000"))
    expected = Forbidden if role == Role.APPROVER else NotFound
    with pytest.raises(expected):
        extra_fields_define(actor=actor, province_code="440000", fields=NOTE)


def test_national_registrar_sees_but_cannot_define(tree):
    actor = f.user(Role.DEPT_REGISTRAR, f.dept("000000"))
    with pytest.raises(Forbidden):
        extra_fields_define(actor=actor, province_code="440000", fields=NOTE)


def test_school_registrar_cannot_define(registrar_a):
    with pytest.raises(Forbidden):
        extra_fields_define(actor=registrar_a, province_code="440000", fields=NOTE)


def test_unfiled_province_registrar_is_refused(tree):
    """第22条: 先培训后上岗 — an unfiled registrar acts on nothing."""
    actor = f.user(Role.DEPT_REGISTRAR, f.dept("440000"), filed=False)
    with pytest.raises(ApplicationError) as info:
        extra_fields_define(actor=actor, province_code="440000", fields=NOTE)
    assert info.value.code == "registrar_not_filed"


def test_unknown_province_is_not_found(gd_registrar):
    with pytest.raises(NotFound):
        extra_fields_define(actor=gd_registrar, province_code="990000", fields=NOTE)


def test_beijing_registrar_cannot_file_or_activate_guangdong(gd_registrar, bj_registrar):
    fs = pf.field_set(actor=gd_registrar)
    with pytest.raises(NotFound):
        extra_fields_file(actor=bj_registrar, field_set=fs, filed_on=pf.FILED_ON, filing_reference="x")
    filed = pf.field_set(actor=gd_registrar, filed=True)
    with pytest.raises(NotFound):
        extra_fields_activate(actor=bj_registrar, field_set=filed)
    assert ExtraFieldSet.objects.filter(is_active=True).count() == 0


# ------------------------------------------------------------------------------------------------ filing


def test_file_records_ministry_filing(gd_registrar):
    fs = pf.field_set(actor=gd_registrar)
    filed = extra_fields_file(
        actor=gd_registrar, field_set=fs, filed_on=date(2026, 3, 1), filing_reference=" 教基备〔2026〕7号 "
    )
    fs.refresh_from_db()
    assert (fs.filed_on, fs.filing_reference, fs.is_active) == (date(2026, 3, 1), "教基备〔2026〕7号", False)
    assert filed.filed_on == date(2026, 3, 1)
    [event] = _events(EventType.EXTRA_FIELDS_FILED)
    assert event.after["filing_reference"] == "教基备〔2026〕7号"
    assert event.before["filed_on"] is None


def test_file_twice_conflicts(gd_registrar):
    fs = pf.field_set(actor=gd_registrar, filed=True)
    with pytest.raises(Conflict) as info:
        extra_fields_file(actor=gd_registrar, field_set=fs, filed_on=pf.FILED_ON, filing_reference="另一个")
    assert info.value.code == "already_filed"
    fs.refresh_from_db()
    assert fs.filing_reference == "教基备〔2026〕1号"


def test_file_requires_date_and_reference(gd_registrar):
    fs = pf.field_set(actor=gd_registrar)
    with pytest.raises(ApplicationError) as info:
        extra_fields_file(actor=gd_registrar, field_set=fs, filed_on=None, filing_reference="  ")
    assert info.value.code == "invalid_filing"
    assert info.value.fields == {"filed_on": "报部备案日期为必填项", "filing_reference": "备案文号为必填项"}
    with pytest.raises(ApplicationError) as info:
        extra_fields_file(
            actor=gd_registrar,
            field_set=fs,
            filed_on=timezone.localdate() + timedelta(days=1),
            filing_reference="x" * 61,
        )
    assert info.value.fields == {
        "filed_on": "报部备案日期不能晚于今天",
        "filing_reference": "备案文号不能超过 60 个字符",
    }
    fs.refresh_from_db()
    assert fs.filed_on is None


# ------------------------------------------------------------------------------------------- immutability


def test_draft_can_be_revised(gd_registrar):
    fs = pf.field_set(actor=gd_registrar)
    revised = extra_fields_revise(actor=gd_registrar, field_set=fs, fields=NOTE)
    fs.refresh_from_db()
    assert fs.fields == [
        {"key": "note", "label": "备注", "type": "text", "required": False, "max_length": 200}
    ]
    assert revised.version == 1
    assert _events(EventType.EXTRA_FIELDS_DEFINED)[-1].before["keys"][0] == "residence_permit_no"


def test_cannot_edit_filed_version(gd_registrar):
    """第3条: what was filed with the ministry stays what it was; a change is a new version."""
    fs = pf.field_set(actor=gd_registrar, filed=True)
    original = list(fs.fields)
    with pytest.raises(Conflict) as info:
        extra_fields_revise(actor=gd_registrar, field_set=fs, fields=NOTE)
    assert info.value.code == "version_filed"
    fs.refresh_from_db()
    assert fs.fields == original


def test_county_cannot_revise(gd_registrar, county_registrar):
    fs = pf.field_set(actor=gd_registrar)
    with pytest.raises(Forbidden):
        extra_fields_revise(actor=county_registrar, field_set=fs, fields=NOTE)


# -------------------------------------------------------------------------------------------- activation


def test_versioning_activate_v2_retires_v1(gd_registrar):
    v1 = pf.field_set(actor=gd_registrar, active=True)
    v2 = pf.field_set(actor=gd_registrar, fields=NOTE)
    assert active_field_set("440000") == v1
    assert (v2.version, v2.is_active, v2.filed_on) == (2, False, None)

    v2 = extra_fields_file(actor=gd_registrar, field_set=v2, filed_on=pf.FILED_ON, filing_reference="备2")
    extra_fields_activate(actor=gd_registrar, field_set=v2)

    v1.refresh_from_db()
    v2.refresh_from_db()
    assert (v1.is_active, v2.is_active) == (False, True)
    assert active_field_set("440000") == v2
    activation = _events(EventType.EXTRA_FIELDS_ACTIVATED)[-1]
    assert activation.after == {"action": "activated", "active_version": 2}
    assert activation.before == {"active_version": 1}
    assert "停用第 1 版" in activation.summary


def test_reactivating_an_older_filed_version(gd_registrar):
    v1 = pf.field_set(actor=gd_registrar, filed=True)
    v2 = pf.field_set(actor=gd_registrar, active=True)
    extra_fields_activate(actor=gd_registrar, field_set=v1)
    assert active_field_set("440000").pk == v1.pk
    v2.refresh_from_db()
    assert v2.is_active is False


def test_cannot_activate_unfiled(gd_registrar):
    """第3条: 报国务院教育行政部门备案 — an unfiled draft must not bind schools."""
    v1 = pf.field_set(actor=gd_registrar, active=True)
    draft = pf.field_set(actor=gd_registrar)
    with pytest.raises(Conflict) as info:
        extra_fields_activate(actor=gd_registrar, field_set=draft)
    assert info.value.code == "not_filed"
    assert active_field_set("440000") == v1


def test_activate_active_conflicts(gd_registrar):
    fs = pf.field_set(actor=gd_registrar, active=True)
    with pytest.raises(Conflict) as info:
        extra_fields_activate(actor=gd_registrar, field_set=fs)
    assert info.value.code == "already_active"


def test_county_cannot_activate(gd_registrar, county_registrar):
    fs = pf.field_set(actor=gd_registrar, filed=True)
    with pytest.raises(Forbidden):
        extra_fields_activate(actor=county_registrar, field_set=fs)
    fs.refresh_from_db()
    assert fs.is_active is False


def test_one_active_per_province_is_a_database_rule(gd_registrar):
    from django.db import IntegrityError, transaction

    pf.field_set(actor=gd_registrar, active=True)
    other = pf.field_set(actor=gd_registrar, filed=True)
    with pytest.raises(IntegrityError), transaction.atomic():
        ExtraFieldSet.objects.filter(pk=other.pk).update(is_active=True)


def test_provinces_are_independent(gd_registrar, bj_registrar):
    gd = pf.field_set(actor=gd_registrar, active=True)
    bj = pf.field_set("110000", actor=bj_registrar, fields=NOTE, active=True)
    gd.refresh_from_db()
    assert (gd.is_active, bj.is_active) == (True, True)
