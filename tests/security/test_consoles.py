"""The three consoles (三权分立; issue 11 §6; security.md §1.4 and acceptance test 9; 等保 8.1.5.1–8.1.5.3).

* each administrator's dashboard and menu show only that administrator's console;
* the system administrator's console shows the platform's configuration (no secret), the backups and the task
  queue; the audit administrator exports the trail within their scope without personal data, audited;
* no account holds two admin roles or an admin role beside a business role, and production holds no
  ``is_superuser`` account: deploy checks ``xueji.E101``/``xueji.E102``.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from django.core import checks
from django.test import Client
from django.urls import reverse

from tests.factories import accounts as fa
from tests.factories import core as f
from tests.factories import students as sf
from xueji.accounts.enums import Role
from xueji.accounts.models import RoleGrant, User
from xueji.accounts.services import role_grant
from xueji.audit.enums import EventType
from xueji.audit.models import AuditEvent
from xueji.audit.services import record
from xueji.core.errors import Conflict
from xueji.dashboard import consoles

pytestmark = pytest.mark.django_db

#: What each administrator's menu holds besides 工作台 (issue 11 §6): one console each, no page of another.
CONSOLES = {
    Role.SYSTEM_ADMIN: {"schools:list", "regions:tree", "accounts:users", "dashboard:system"},
    Role.SECURITY_ADMIN: {"accounts:users", "alerts:console", "identity:clients"},
    Role.AUDIT_ADMIN: {"audit:list", "dashboard:audit_export"},
}
ADMIN_ONLY = {
    "dashboard:system",
    "alerts:console",
    "identity:clients",
    "audit:list",
    "dashboard:audit_export",
}


def _client(user: User) -> Client:
    c = Client()
    c.force_login(user)
    return c


def _menu(user: User) -> set[str]:
    response = _client(user).get(reverse("dashboard:dashboard"))
    assert response.status_code == 200
    urls = {item["url"] for item in response.context["nav_items"]}
    names = {n for n in {*ADMIN_ONLY, *(n for c in CONSOLES.values() for n in c)} if reverse(n) in urls}
    assert reverse("dashboard:dashboard") in urls
    return names


@pytest.mark.parametrize("role", sorted(CONSOLES))
def test_each_admin_sees_only_its_own_console(role: str) -> None:
    user = fa.admin(role)
    assert _menu(user) == CONSOLES[role]
    body = _client(user).get(reverse("dashboard:dashboard")).content.decode()
    for other, pages in CONSOLES.items():
        for name in pages - CONSOLES[role]:
            assert f'href="{reverse(name)}"' not in body, (role, other, name)


def test_business_roles_see_no_admin_console() -> None:
    school = f.school()
    for user in (f.registrar(school), f.user(Role.DEPT_REGISTRAR, f.dept("440105"))):
        assert not _menu(user) & ADMIN_ONLY


def test_no_console_page_appears_in_two_admin_menus() -> None:
    own = {name: {r for r, pages in CONSOLES.items() if name in pages} for name in ADMIN_ONLY}
    assert all(len(holders) == 1 for holders in own.values()), own


# --- the system administrator's console ------------------------------------------------------------------------


def test_system_console_shows_configuration_backups_and_queue(settings: Any, tmp_path: Any) -> None:
    settings.VAR_DIR = tmp_path
    backups = tmp_path / "backups"
    backups.mkdir()
    manifest = {
        "file": "xueji-20261205T010000000000Z.sqlite3",
        "vendor": "sqlite",
        "created_at": "2026-12-05T01:00:00+00:00",
        "size": 12345,
        "sha256": "ab" * 32,
    }
    (backups / "xueji-20261205T010000000000Z.sqlite3.manifest.json").write_text(json.dumps(manifest))
    (backups / "xueji-20261204T010000000000Z.sqlite3.manifest.json").write_text("{broken")
    response = _client(fa.system_admin()).get(reverse("dashboard:system"))
    assert response.status_code == 200
    body = response.content.decode()
    assert "PASSWORD_MAX_AGE_DAYS" in body and "ACCOUNT_DORMANCY_DAYS" in body
    assert manifest["file"] in body and "abababababababab" in body and "清单无法读取" in body
    assert "xueji.alerts.tasks.scan_audit" in body
    # never a secret: the secret key, the database settings, key files
    assert settings.SECRET_KEY not in body
    assert "SECRET_KEY" not in body and "DATABASES" not in body and "KEY_DIR" not in body


def test_system_console_without_backups(settings: Any, tmp_path: Any) -> None:
    settings.VAR_DIR = tmp_path
    assert consoles.backups() == []
    response = _client(fa.system_admin()).get(reverse("dashboard:system"))
    assert "尚无备份" in response.content.decode()


@pytest.mark.parametrize("role", [Role.SECURITY_ADMIN, Role.AUDIT_ADMIN])
def test_system_console_is_the_system_admins_only(role: str) -> None:
    assert _client(fa.admin(role)).get(reverse("dashboard:system")).status_code == 403
    school = f.school()
    assert _client(f.registrar(school)).get(reverse("dashboard:system")).status_code == 403


# --- the audit administrator's export --------------------------------------------------------------------------


def _rows(response: Any) -> list[dict[str, str]]:
    text = response.content.decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


def test_audit_export_has_no_personal_data_and_is_audited() -> None:
    school = f.school()
    registrar = f.registrar(school)
    enrollment = sf.student(school, registrar, name="李小红")
    person = enrollment.person
    record(
        event_type=EventType.LOGIN_FAILED,
        actor=None,
        subject_type="username",
        subject_id="13800138000",
        province_code="440000",
        summary="13800138000 登录失败",
        success=False,
    )
    auditor = fa.audit_admin()
    response = _client(auditor).get(reverse("dashboard:audit_export"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv") and response["Cache-Control"] == "no-store"
    rows = _rows(response)
    assert {r["event_type"] for r in rows} >= {EventType.STUDENT_REGISTERED, EventType.LOGIN_FAILED}
    assert list(rows[0]) == list(consoles.EXPORT_COLUMNS)
    text = response.content.decode("utf-8-sig")
    for personal in (person.name, person.id_number, person.student_number, "13800138000"):
        assert personal and personal not in text
    assert str(person.pk) in text  # the pseudonymous record id stays: the trail says which record
    exported = AuditEvent.objects.get(event_type=EventType.AUDIT_EVENTS_EXPORTED)
    assert exported.actor_id == auditor.pk and exported.after["rows"] == len(rows)


def test_audit_export_filters_and_scope() -> None:
    school = f.school()
    f.registrar(school)
    sf.student(school, f.registrar(school))
    auditor = fa.audit_admin()
    only = _rows(
        _client(auditor).get(reverse("dashboard:audit_export"), {"type": EventType.STUDENT_REGISTERED})
    )
    assert only and {r["event_type"] for r in only} == {EventType.STUDENT_REGISTERED}
    # Beijing's audit administrator sees none of Guangdong's student events
    beijing = fa.audit_admin(f.dept("110000"))
    rows = _rows(_client(beijing).get(reverse("dashboard:audit_export")))
    assert EventType.STUDENT_REGISTERED not in {r["event_type"] for r in rows}


@pytest.mark.parametrize("role", [Role.SYSTEM_ADMIN, Role.SECURITY_ADMIN])
def test_audit_export_is_the_audit_admins_only(role: str) -> None:
    response = _client(fa.admin(role)).get(reverse("dashboard:audit_export"))
    assert response.status_code == 403
    assert not AuditEvent.objects.filter(event_type=EventType.AUDIT_EVENTS_EXPORTED).exists()


def test_cells_are_not_formulas() -> None:
    assert consoles._cell("=cmd|' /C calc'!A0") == "'=cmd|' /C calc'!A0"
    assert consoles._cell(None) == "" and consoles._cell(3) == "3"


# --- no two admin roles; no superuser ----------------------------------------------------------------------------


def _deploy_errors(ids: set[str]) -> list[Any]:
    found = checks.run_checks(
        include_deployment_checks=True, databases=["default"], tags=[checks.Tags.security]
    )
    return [e for e in found if e.id in ids]


def test_no_account_holds_two_admin_roles() -> None:
    sec = fa.security_admin()
    user = f.user(Role.AUDIT_ADMIN, f.dept("440105"))
    with pytest.raises(Conflict) as exc:
        role_grant(actor=sec, user=user, role=Role.SYSTEM_ADMIN, org_unit=f.dept("440105"))
    assert exc.value.code == "admin_roles_exclusive"
    assert list(RoleGrant.objects.filter(user=user).values_list("role", flat=True)) == [Role.AUDIT_ADMIN]
    assert _deploy_errors({"xueji.E102"}) == []


def test_deploy_check_finds_grants_written_around_the_service() -> None:
    user = f.user(Role.AUDIT_ADMIN, f.dept("440105"), username="two_hats")
    RoleGrant.objects.create(user=user, role=Role.SECURITY_ADMIN, org_unit=f.dept("440105"))
    [error] = _deploy_errors({"xueji.E102"})
    assert "two_hats" in error.msg
    RoleGrant.objects.filter(user=user, role=Role.SECURITY_ADMIN).delete()
    school = f.school()
    mixed = f.registrar(school, username="admin_and_registrar")
    RoleGrant.objects.create(user=mixed, role=Role.SYSTEM_ADMIN, org_unit=f.dept("440105"))
    [error] = _deploy_errors({"xueji.E102"})
    assert "admin_and_registrar" in error.msg


def test_deploy_check_refuses_a_superuser() -> None:
    assert _deploy_errors({"xueji.E101"}) == []
    User.objects.create_superuser(username="root", password=f.PASSWORD)
    [error] = _deploy_errors({"xueji.E101"})
    assert error.level == checks.ERROR and "root" in error.msg


def test_deploy_checks_read_the_database_only_when_asked() -> None:
    User.objects.create_superuser(username="root", password=f.PASSWORD)
    found = checks.run_checks(include_deployment_checks=True, tags=[checks.Tags.security])
    assert not [e for e in found if e.id in {"xueji.E101", "xueji.E102"}]
