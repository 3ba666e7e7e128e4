"""`manage.py seed` in production mode (issue #6 §1): refused unless forced; forced demo logins must change
their password at first login (第24条)."""

from __future__ import annotations

from datetime import date
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from xueji.accounts.models import User
from xueji.accounts.passwords import change_required
from xueji.audit.enums import EventType
from xueji.audit.models import AuditEvent
from xueji.schools.models import School
from xueji.students import demo

pytestmark = pytest.mark.django_db
TODAY = date(2026, 11, 27)
USERNAMES = sorted(login.username for login in demo.LOGINS)


def _seed(**options: object) -> str:
    out = StringIO()
    call_command("seed", students=5, today=TODAY, demo_departments_only=True, stdout=out, **options)
    return out.getvalue()


def test_refused_in_production_without_the_flag(settings):
    settings.PRODUCTION = True
    schools = School.objects.count()
    with pytest.raises(CommandError) as refused:
        _seed()
    assert "生产模式（XUEJI_ENV=production）下不载入演示数据" in str(refused.value)
    assert "--allow-production-demo" in str(refused.value)
    assert not User.objects.filter(username__in=USERNAMES).exists()
    assert School.objects.count() == schools


def test_forced_in_production_every_demo_login_must_change_its_password(settings, client):
    settings.PRODUCTION = True
    out = _seed(allow_production_demo=True)
    assert "生产模式：演示账号首次登录须修改密码。" in out
    users = User.objects.filter(username__in=USERNAMES).order_by("username")
    assert [u.username for u in users] == USERNAMES
    assert all(u.must_change_password for u in users)
    assert AuditEvent.objects.filter(event_type=EventType.PASSWORD_CHANGED, actor=None).count() == len(
        USERNAMES
    )

    # At first login the demo password leads to the password change page only.
    response = client.post("/login/", {"username": "school_registrar", "password": demo.DEMO_PASSWORD})
    assert response["Location"] == "/password/"
    assert client.get("/students/")["Location"] == "/password/"


def test_an_existing_demo_seeded_before_production_mode_is_also_locked(settings):
    _seed()
    assert not User.objects.get(username="school_registrar").must_change_password
    settings.PRODUCTION = True
    _seed(allow_production_demo=True)
    assert all(change_required(u) for u in User.objects.filter(username__in=USERNAMES))


def test_outside_production_demo_logins_work_at_once(settings):
    settings.PRODUCTION = False
    _seed()
    assert not User.objects.filter(username__in=USERNAMES, must_change_password=True).exists()
