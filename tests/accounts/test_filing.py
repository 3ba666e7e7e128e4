"""第22条: registrars are filed with the department above and trained before they act (先培训后上岗)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.utils import timezone

from tests.factories import accounts as fa
from tests.factories import changes as c
from tests.factories import core as f
from xueji.accounts.enums import Role
from xueji.accounts.jurisdiction import is_filed_and_trained
from xueji.accounts.models import RegistrarFiling
from xueji.accounts.services import filing_record
from xueji.audit.enums import EventType
from xueji.audit.models import AuditEvent
from xueji.core.errors import ApplicationError, FieldError, Forbidden, NotFound
from xueji.students.models import Enrollment
from xueji.students.services import register_students
from xueji.students.validation import clean_registration

pytestmark = pytest.mark.django_db


def _register(school, actor):
    reg = clean_registration(
        f.person_data(),
        f.enrollment_data(),
        [f.guardian_data()],
        school_stages=school.stages,
        today=date(2026, 11, 27),
    )
    return register_students(actor=actor, school=school, registrations=[reg])


def _file(actor, user, dept_code="440105", **kw):
    today = timezone.localdate()
    args = {
        "filed_on": today - timedelta(days=3),
        "filing_reference": "海教备〔2026〕12号",
        "trained_on": today - timedelta(days=2),
        "training_course": "学籍管理办法培训",
    }
    args.update(kw)
    return filing_record(actor=actor, user=user, filed_with=f.dept(dept_code), **args)


def test_unfiled_registrar_cannot_register_a_student(school_a):
    registrar = f.registrar(school_a, filed=False)
    with pytest.raises(ApplicationError) as exc:
        _register(school_a, registrar)
    assert exc.value.code == "registrar_not_filed"
    assert not Enrollment.objects.exists()


def test_filed_but_untrained_registrar_cannot_act(school_a):
    registrar = f.registrar(school_a, filed=False)
    _file(fa.system_admin(), registrar, trained_on=None)
    registrar.refresh_from_db()
    assert is_filed_and_trained(registrar) is False
    with pytest.raises(ApplicationError) as exc:
        _register(school_a, registrar)
    assert exc.value.code == "registrar_not_filed"


def test_filing_and_training_open_the_registrar(school_a):
    registrar = f.registrar(school_a, filed=False)
    sysadmin = fa.system_admin()
    filing = _file(sysadmin, registrar)
    assert (filing.filed_with, filing.filed_by) == (f.dept("440105"), sysadmin)
    registrar.refresh_from_db()
    [out] = _register(school_a, registrar)
    assert out.student_number.startswith("G")
    event = AuditEvent.objects.get(event_type=EventType.FILING_RECORDED)
    assert (event.actor_id, event.subject_id, event.org_unit_id) == (
        sysadmin.pk,
        str(registrar.pk),
        f.dept("440105").pk,
    )
    assert event.after["filing_reference"] == "海教备〔2026〕12号"


def test_filed_with_may_be_any_department_above(school_a):
    registrar = f.registrar(school_a, filed=False)
    _file(fa.system_admin(), registrar, dept_code="440100")  # the city, above the county
    assert RegistrarFiling.objects.get(user=registrar).filed_with == f.dept("440100")


@pytest.mark.parametrize(
    ("dept_code", "code"),
    [
        ("440106", "filed_with_not_above"),  # a sibling county
        ("110000", "filed_with_not_above"),  # another province
    ],
)
def test_filed_with_must_be_above_the_registrar(school_a, dept_code, code):
    registrar = f.registrar(school_a, filed=False)
    with pytest.raises(FieldError) as exc:
        _file(fa.system_admin(), registrar, dept_code=dept_code)
    assert exc.value.code == code
    assert exc.value.fields.keys() == {"filed_with"}
    assert not RegistrarFiling.objects.exists()


def test_filed_with_must_be_a_department(school_a):
    registrar = f.registrar(school_a, filed=False)
    with pytest.raises(FieldError) as exc:
        filing_record(
            actor=fa.system_admin(),
            user=registrar,
            filed_with=school_a.org,
            filed_on=timezone.localdate(),
            trained_on=timezone.localdate(),
        )
    assert exc.value.code == "filed_with_not_department"


def test_department_registrar_is_filed_with_the_level_above(tree):
    county_registrar = f.user(Role.DEPT_REGISTRAR, f.dept("440105"), filed=False)
    with pytest.raises(FieldError):
        _file(fa.system_admin(), county_registrar, dept_code="440105")  # not its own department
    _file(fa.system_admin(), county_registrar, dept_code="440100")


@pytest.mark.parametrize("field", ["filed_on", "trained_on"])
def test_dates_cannot_be_in_the_future(school_a, field):
    registrar = f.registrar(school_a, filed=False)
    with pytest.raises(FieldError) as exc:
        _file(fa.system_admin(), registrar, **{field: timezone.localdate() + timedelta(days=1)})
    assert (exc.value.code, list(exc.value.fields)) == ("date_in_future", [field])


def test_department_registrar_of_the_filing_department_records_it(school_a):
    county = f.user(Role.DEPT_REGISTRAR, f.dept("440105"))
    registrar = f.registrar(school_a, filed=False)
    filing = _file(county, registrar)
    assert filing.filed_by == county


def test_other_department_registrars_cannot_record(school_a):
    registrar = f.registrar(school_a, filed=False)
    with pytest.raises(Forbidden):
        _file(f.user(Role.DEPT_REGISTRAR, f.dept("440106")), registrar)
    unfiled_county = f.user(Role.DEPT_REGISTRAR, f.dept("440105"), filed=False)
    with pytest.raises(Forbidden):
        _file(unfiled_county, registrar)
    with pytest.raises(Forbidden):
        _file(fa.security_admin(), registrar)


def test_system_admin_elsewhere_sees_no_such_account(school_a):
    registrar = f.registrar(school_a, filed=False)
    with pytest.raises(NotFound):
        _file(fa.system_admin(f.dept("110000")), registrar)


def test_only_registrars_are_filed(tree):
    approver_less = f.user(org_unit=fa.county())
    with pytest.raises(ApplicationError) as exc:
        _file(fa.system_admin(), approver_less)
    assert exc.value.code == "not_registrar"


def test_refiling_updates_and_keeps_before_in_audit(school_a):
    registrar = f.registrar(school_a, filed=False)
    sysadmin = fa.system_admin()
    _file(sysadmin, registrar, trained_on=None)
    _file(sysadmin, registrar)
    assert RegistrarFiling.objects.filter(user=registrar).count() == 1
    last = AuditEvent.objects.filter(event_type=EventType.FILING_RECORDED).order_by("-id").first()
    assert last.before["trained_on"] is None
    assert last.after["trained_on"] == (timezone.localdate() - timedelta(days=2)).isoformat()


# --- issue #6 §3.6: a grant opens data only at a unit the filing covers (第22条) -------------------------------


def test_a_grant_above_the_filing_opens_no_data_until_filed_there(tree, school_a):
    """A county registrar filed with the city is then granted the ministry-level registrar role: the new grant
    opens nothing (another province's pupils stay out of reach) until the account is filed with the ministry;
    the county grant the filing covers keeps working."""
    from xueji.accounts.jurisdiction import data_grants, in_scope, scope_paths
    from xueji.accounts.models import RoleGrant
    from xueji.students.queries import enrollment_get

    beijing = f.school("110105", "primary", name="朝阳实验小学")
    far_pupil = c.enrolled(beijing)
    county = f.user(Role.DEPT_REGISTRAR, f.dept("440105"))  # filed with the city 440100
    national = f.dept("000000")
    RoleGrant.objects.create(user=county, role=Role.DEPT_REGISTRAR, org_unit=national)
    county = type(county).objects.get(pk=county.pk)

    assert sorted(g.org_unit.code for g in data_grants(county)) == ["440105"]
    assert scope_paths(county) == [f.dept("440105").path]
    assert in_scope(county, beijing.org.path) is False
    with pytest.raises(NotFound):
        enrollment_get(viewer=county, person_id=far_pupil.person_id)

    _file(fa.system_admin(), county, dept_code="000000")  # the ministry files its own registrars
    county = type(county).objects.get(pk=county.pk)
    assert scope_paths(county) == [national.path]
    assert enrollment_get(viewer=county, person_id=far_pupil.person_id).pk == far_pupil.pk


def test_a_school_grant_in_another_county_opens_nothing(tree, school_a, school_b):
    """A school registrar filed with 海珠区 is also granted the registrar role at a school in 天河区: that school's
    records stay closed (its filing, with 海珠区, does not cover the grant)."""
    from xueji.accounts.jurisdiction import (
        data_grants,
        in_scope,
        require_registrar_for_school,
        school_registrar_units,
    )
    from xueji.accounts.models import RoleGrant

    registrar = f.registrar(school_a)
    RoleGrant.objects.create(user=registrar, role=Role.SCHOOL_REGISTRAR, org_unit=school_b.org)
    registrar = type(registrar).objects.get(pk=registrar.pk)

    assert [g.org_unit_id for g in data_grants(registrar)] == [school_a.org_id]
    assert school_registrar_units(registrar) == [school_a.org]
    assert in_scope(registrar, school_b.org.path) is False
    with pytest.raises(ApplicationError) as exc:
        require_registrar_for_school(registrar, school_b)
    assert exc.value.code == "registrar_not_filed"
    require_registrar_for_school(registrar, school_a)  # the covered grant still acts
