from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from django.utils import timezone

from tests.factories import core as f
from tests.factories import students as sf
from xueji.accounts.enums import Role
from xueji.audit import signing

#: Canary names seeded in the fixtures: none may appear in a de-identified file.
CANARIES = ("欧阳金雀", "司马银雀", "上官铜雀", "诸葛铁雀", "东方锡雀", "慕容铅雀")


@pytest.fixture(autouse=True)
def export_storage(settings: Any, tmp_path: Any) -> Any:
    """Files under a per-test var/, platform signing keys in a per-test directory, k = 5 for small fixtures."""
    settings.VAR_DIR = tmp_path / "var"
    settings.AUDIT_CHAIN_KEY_DIR = tmp_path / "keys"
    settings.XUEJI_EXPORT_K = 5
    signing.generate_files()
    return settings.VAR_DIR


@pytest.fixture
def county_approver(tree: Any) -> Any:
    """The approver of 海珠区 (the department above its schools)."""
    return f.user(Role.APPROVER, f.dept("440105"), username="hz_approver")


@pytest.fixture
def city_approver(tree: Any) -> Any:
    return f.user(Role.APPROVER, f.dept("440100"), username="gz_approver")


@pytest.fixture
def county_registrar(tree: Any) -> Any:
    return f.user(Role.DEPT_REGISTRAR, f.dept("440105"), username="hz_registrar")


@pytest.fixture
def pupils(school_a: Any, registrar_a: Any) -> list[Any]:
    """12 pupils of school_a: 一年级 1班 six boys and five girls (born 2018), one girl of 三年级 2班 (born 2016,
    alone in her class: she must be suppressed from a k-anonymous roster). Distinct phones; canary names."""
    out = []
    specs = [("1", "1", "1班", date(2018, 1 + i, 10)) for i in range(6)]
    specs += [("2", "1", "1班", date(2018, 2 + i, 12)) for i in range(5)]
    specs += [("2", "3", "2班", date(2016, 5, 20))]
    for n, (gender, grade, class_name, birth) in enumerate(specs):
        name = CANARIES[n % len(CANARIES)] if n < len(CANARIES) else f"张{'一二三四五六七八九十'[n % 10]}明"
        out.append(
            sf.student(
                school_a,
                registrar_a,
                name=name,
                gender=gender,
                birth_date=birth,
                phone=f"139{n:08d}",
                enrollment={"grade": grade, "class_name": class_name},
            )
        )
    return out


def basis(**overrides: Any) -> dict[str, Any]:
    """A complete legal basis (第24条)."""
    today = timezone.localdate()
    data = {
        "purpose": "区教育局核定学位需求",
        "recipient": "海珠区教育局规划科",
        "legal_basis": "《广州市海珠区人民政府关于核定2026年学位的批复》",
        "authority": "广州市海珠区人民政府",
        "authority_level": "county",
        "document_number": "海府函〔2026〕12号",
        "period_start": today,
        "period_end": today + timedelta(days=30),
    }
    data.update(overrides)
    return data


ROSTER_FIELDS = [
    "student_number",
    "name",
    "id_number",
    "gender",
    "birth_date",
    "grade",
    "class_name",
    "class_number",
]


@pytest.fixture
def registrar_b(school_b: Any) -> Any:
    return f.registrar(school_b, username="reg_b")
