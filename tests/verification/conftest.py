from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.utils import timezone

from tests.factories import changes as c
from tests.factories import core as f
from xueji.accounts.enums import Role


@pytest.fixture
def v(tree):  # type: ignore[no-untyped-def]
    """Two 海珠区 schools, one 天河区 school and one 北京 school; their registrars and the departments above."""
    school = f.school("440105", "primary", name="海珠一小")
    sibling = f.school("440105", "junior", name="海珠二中")
    other = f.school("440106", "primary", name="天河一小")
    beijing = f.school("110101", "primary", name="东城一小")
    return {
        "school": school,
        "sibling": sibling,
        "other": other,
        "beijing": beijing,
        "pupil": c.enrolled(school, grade=3, name="林小雨"),
        "pupil2": c.enrolled(school, grade=4, name="陈大海"),
        "sibling_pupil": c.enrolled(sibling, grade=7, name="王小明"),
        "reg": f.registrar(school),
        "reg_sibling": f.registrar(sibling),
        "reg_other": f.registrar(other),
        "haizhu": c.dept_registrar("440105"),
        "tianhe": c.dept_registrar("440106"),
        "city": c.dept_registrar("440100"),
        "province": c.dept_registrar("440000"),
        "bj_province": c.dept_registrar("110000"),
        "national": f.user(Role.DEPT_REGISTRAR, f.dept("000000")),
        "audit": f.user(Role.AUDIT_ADMIN, f.dept("440000")),
    }


@pytest.fixture
def today() -> date:
    return timezone.localdate()


@pytest.fixture
def rnd(v, today):  # type: ignore[no-untyped-def]
    from xueji.verification.services import round_open

    return round_open(
        actor=v["province"],
        unit=f.dept("440000"),
        title="2026—2027学年第一学期学籍核查",
        school_year=2026,
        semester="1",
        deadline=today + timedelta(days=14),
    )
