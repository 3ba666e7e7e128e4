"""Fixtures of the certificate tests: a key directory per test, a Guangzhou county with schools, registrars,
issuer keys for Guangdong, and students who graduated (through the real change engine)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from django.test.utils import override_settings

from tests.factories import changes as c
from tests.factories import core as f
from xueji.accounts.enums import Role
from xueji.certificates import services
from xueji.changes.services import change_submit

DAY = date(2026, 6, 15)
BASE = "https://xueji.test"


@pytest.fixture(autouse=True)
def _cert_settings(tmp_path):  # type: ignore[no-untyped-def]
    with override_settings(XUEJI_CERT_KEY_DIR=tmp_path / "keys", XUEJI_CERT_BASE_URL=BASE):
        yield tmp_path / "keys"


def graduate(env: dict[str, Any], enrollment: Any, kind: str = "graduation", reg: str = "reg_p") -> Any:
    change_submit(actor=env[reg], kind=kind, enrollment=enrollment, facts={}, today=DAY)
    enrollment.refresh_from_db()
    return enrollment


@pytest.fixture
def env(tree):  # type: ignore[no-untyped-def]
    c.calendar()
    primary = f.school("440105", "primary")
    other = f.school("440106", "primary")
    env: dict[str, Any] = {
        "primary": primary,
        "other": other,
        "reg_p": f.registrar(primary),
        "reg_other": f.registrar(other),
        "county": c.dept_registrar("440105"),
        "county_other": c.dept_registrar("440106"),
        "approver": f.user(Role.APPROVER, f.dept("440105")),
    }
    env["key"] = services.key_create(province_code="440000")
    return env


@pytest.fixture
def graduated(env):  # type: ignore[no-untyped-def]
    return graduate(env, c.enrolled(env["primary"], grade=6))
