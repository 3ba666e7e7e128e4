"""Account-management pages: anonymous, wrong role, out of jurisdiction, allowed."""

from __future__ import annotations

import pytest

from tests.factories import accounts as fa
from tests.factories import core as f
from xueji.accounts.enums import Role
from xueji.accounts.models import RegistrarFiling, RoleGrant, User

pytestmark = pytest.mark.django_db


def _as(user: User):
    c = fa.client()
    c.force_login(user)
    return c


def test_anonymous_is_sent_to_login(db):
    r = fa.client().get("/accounts/")
    assert r.status_code == 302
    assert r["Location"] == "/login/?next=/accounts/"


@pytest.mark.parametrize("role", [Role.AUDIT_ADMIN, Role.APPROVER])
def test_other_roles_get_403(tree, role):
    assert _as(f.user(role, fa.province())).get("/accounts/").status_code == 403


def test_school_registrar_gets_403(registrar_a):
    assert _as(registrar_a).get("/accounts/").status_code == 403


def test_list_is_scoped_to_the_admin_subtree(registrar_a, school_a):
    beijing_user = f.user(Role.APPROVER, f.dept("110000"), username="bj_user")
    unassigned = f.user(username="new_haizhu", org_unit=f.dept("440105"))
    c = _as(fa.system_admin(f.dept("440105")))
    r = c.get("/accounts/")
    assert r.status_code == 200
    names = {u.username for u in r.context["page"].object_list}
    assert {"reg_a", "new_haizhu"} <= names
    assert "bj_user" not in names
    assert c.get(f"/accounts/{beijing_user.pk}/").status_code == 404
    assert c.get(f"/accounts/{unassigned.pk}/").status_code == 200


def test_list_filters(registrar_a):
    fa.sealed(f.user(Role.APPROVER, f.dept("440105"), username="sealed_one"))
    c = _as(fa.security_admin())
    names = lambda **q: {u.username for u in c.get("/accounts/", q).context["page"].object_list}  # noqa: E731
    assert names(status="sealed") == {"sealed_one"}
    assert names(role="school_registrar") == {"reg_a"}
    assert names(q="reg_") == {"reg_a"}


def test_detail_shows_grants_and_buttons_by_role(registrar_a):
    fa.sealed(registrar_a)
    page = _as(fa.system_admin()).get(f"/accounts/{registrar_a.pk}/")
    html = page.content.decode()
    assert page.status_code == 200
    assert "海珠区第一小学" in html
    assert "重置密码" in html
    assert "解封账号" not in html
    assert "授予角色" not in html
    html = _as(fa.security_admin()).get(f"/accounts/{registrar_a.pk}/").content.decode()
    assert "解封账号" in html
    assert "授予角色" in html
    assert "重置密码" not in html


def test_create_user_shows_temporary_password_once(tree):
    c = _as(fa.system_admin())
    assert c.get("/accounts/new/").status_code == 200
    r = c.post(
        "/accounts/new/", {"username": "wang_fang", "display_name": "王芳", "phone": "", "org_code": "440105"}
    )
    assert r.status_code == 200
    user = User.objects.get(username="wang_fang")
    temp = r.context["password"]
    assert user.check_password(temp)
    assert temp in r.content.decode()
    assert r["Cache-Control"] == "no-store"
    assert user.org_unit == f.dept("440105")
    # The holder must set their own password first.
    holder = fa.client("10.0.0.3")
    assert fa.web_login(holder, "wang_fang", temp)["Location"] == "/password/"


def test_create_user_errors_are_attached_to_fields(tree):
    c = _as(fa.system_admin(f.dept("440105")))
    r = c.post("/accounts/new/", {"username": "wang_fang", "display_name": "王芳", "org_code": "110000"})
    assert r.status_code == 400
    assert r.context["form"].errors["org_code"] == ["机构：代码 110000 不存在或不在您的管辖范围内"]
    assert not User.objects.filter(username="wang_fang").exists()


def test_security_admin_cannot_create_accounts(tree):
    assert _as(fa.security_admin()).get("/accounts/new/").status_code == 403


def test_grant_and_revoke_through_the_page(tree):
    user = f.user(username="zhao", org_unit=f.dept("440105"))
    c = _as(fa.security_admin())
    r = c.post(f"/accounts/{user.pk}/grants/", {"role": Role.DEPT_REGISTRAR, "org_code": "440105"})
    assert r.status_code == 302
    grant = RoleGrant.objects.get(user=user)
    assert (grant.role, grant.org_unit) == (Role.DEPT_REGISTRAR, f.dept("440105"))
    r = c.post(f"/accounts/{user.pk}/grants/", {"role": Role.SYSTEM_ADMIN, "org_code": "440105"})
    assert r.status_code == 400
    assert list(r.context["grant_form"].non_field_errors()) == [
        "管理员角色不能与学籍业务角色兼任（三权分立）"
    ]
    assert c.post(f"/accounts/grants/{grant.pk}/revoke/").status_code == 302
    assert not RoleGrant.objects.filter(user=user).exists()


def test_system_admin_cannot_grant_through_the_page(tree):
    user = f.user(username="zhao", org_unit=f.dept("440105"))
    r = _as(fa.system_admin()).post(
        f"/accounts/{user.pk}/grants/", {"role": Role.APPROVER, "org_code": "440105"}
    )
    assert r.status_code == 403
    assert not RoleGrant.objects.filter(user=user).exists()


def test_filing_through_the_page(school_a):
    registrar = f.registrar(school_a, filed=False)
    c = _as(fa.system_admin())
    r = c.post(
        f"/accounts/{registrar.pk}/filing/", {"filed_with_code": school_a.org.code, "filed_on": "2026-09-01"}
    )
    assert r.status_code == 400
    assert "filed_with_code" in r.context["filing_form"].errors
    r = c.post(
        f"/accounts/{registrar.pk}/filing/",
        {
            "filed_with_code": "440105",
            "filed_on": "2026-09-01",
            "trained_on": "2026-09-02",
            "training_course": "培训",
        },
    )
    assert r.status_code == 302
    assert RegistrarFiling.objects.get(user=registrar).trained_on.isoformat() == "2026-09-02"


def test_seal_and_reset_through_the_page(registrar_a):
    c = _as(fa.system_admin())
    r = c.post(f"/accounts/{registrar_a.pk}/seal/", {"reason": "调离岗位"})
    assert r.status_code == 302
    assert User.objects.get(pk=registrar_a.pk).sealed_reason == "调离岗位"
    # A registrar reads student data: the reset is only requested here; a security admin confirms it.
    r = c.post(f"/accounts/{registrar_a.pk}/reset-password/")
    assert (r.status_code, r["Location"]) == (302, f"/accounts/{registrar_a.pk}/")
    assert User.objects.get(pk=registrar_a.pk).check_password(fa.PASSWORD)
    reset = registrar_a.password_resets.get()
    r = _as(fa.security_admin()).post(f"/accounts/resets/{reset.pk}/confirm/")
    assert r.status_code == 200
    assert User.objects.get(pk=registrar_a.pk).check_password(r.context["password"])
    # An account without student-data roles is still reset by the system admin alone.
    plain = f.user(org_unit=fa.county())
    r = c.post(f"/accounts/{plain.pk}/reset-password/")
    assert r.status_code == 200
    assert User.objects.get(pk=plain.pk).check_password(r.context["password"])


def test_actions_need_post(registrar_a):
    c = _as(fa.security_admin())
    assert c.get(f"/accounts/{registrar_a.pk}/unseal/").status_code == 405
    assert c.get(f"/accounts/{registrar_a.pk}/seal/").status_code == 405


def test_department_registrar_sees_only_registrars_below_to_file_them(school_a, registrar_a):
    county = f.user(Role.DEPT_REGISTRAR, f.dept("440105"))
    sysadmin = fa.system_admin(f.dept("440105"))
    c = _as(county)
    names = {u.username for u in c.get("/accounts/").context["page"].object_list}
    assert "reg_a" in names
    assert sysadmin.username not in names
    assert c.get(f"/accounts/{sysadmin.pk}/").status_code == 404
    unfiled = f.registrar(school_a, filed=False)
    r = c.post(
        f"/accounts/{unfiled.pk}/filing/",
        {"filed_with_code": "440105", "filed_on": "2026-09-01", "trained_on": "2026-09-02"},
    )
    assert r.status_code == 302
    assert RegistrarFiling.objects.get(user=unfiled).filed_by == county
