from __future__ import annotations

import pytest

from tests.factories import core as f


@pytest.fixture(autouse=True)
def import_storage(settings, tmp_path):
    """Stored import files go to a per-test directory."""
    settings.VAR_DIR = tmp_path / "var"
    return settings.VAR_DIR


@pytest.fixture
def registrar_b(school_b):
    return f.registrar(school_b, username="reg_b")


@pytest.fixture
def dept_registrar(tree):
    """A registrar of 广州市 (covers 海珠区 and 天河区)."""
    from xueji.accounts.enums import Role

    return f.user(Role.DEPT_REGISTRAR, f.dept("440100"), username="city_reg")
