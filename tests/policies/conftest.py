from __future__ import annotations

import pytest

from tests.factories import core as f
from tests.factories import policies as pf


@pytest.fixture
def gd_registrar(tree):
    """Filed, trained dept registrar of the Guangdong province department (440000)."""
    return pf.province_registrar("440000", username="gd_prov")


@pytest.fixture
def bj_registrar(tree):
    return pf.province_registrar("110000", username="bj_prov")


@pytest.fixture
def county_registrar(tree):
    """Dept registrar of 海珠区 (a Guangdong county): sees Guangdong's field sets, may not define them."""
    from xueji.accounts.enums import Role

    return f.user(Role.DEPT_REGISTRAR, f.dept("440105"), username="haizhu_dept")
