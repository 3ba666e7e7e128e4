from __future__ import annotations

import pytest

from tests.factories import core as f


@pytest.fixture
def tree(db):  # type: ignore[no-untyped-def]
    """Departments of Guangdong and Beijing (a realistic subtree of the national tree)."""
    f.departments()


@pytest.fixture
def school_a(tree):  # 海珠区 primary school
    return f.school("440105", "primary", name="海珠区第一小学")


@pytest.fixture
def school_b(tree):  # another county, same city (天河区)
    return f.school("440106", "primary", name="天河区实验小学")


@pytest.fixture
def registrar_a(school_a):
    return f.registrar(school_a, username="reg_a")
