"""Factories shared by every test module: a small org tree, schools, users with grants, students."""

from __future__ import annotations

import itertools
from datetime import date
from typing import Any

from django.utils import timezone

from xueji.accounts.enums import Role
from xueji.accounts.models import RegistrarFiling, RoleGrant, User
from xueji.regions.models import OrgUnit
from xueji.regions.services import load_departments
from xueji.schools.models import School
from xueji.schools.services import school_create
from xueji.students.identity import mod11_2_check_char

_seq = itertools.count(1)
PASSWORD = "Xj-Test-Pass-2026!"


def departments(provinces: tuple[str, ...] = ("440000", "110000")) -> None:
    load_departments(actor=None, province_codes=set(provinces))


def dept(code: str) -> OrgUnit:
    return OrgUnit.objects.exclude(level="school").get(code=code)


def school(county: str = "440105", school_type: str = "primary", **kwargs: Any) -> School:
    prefix = {
        "primary": "21",
        "junior": "31",
        "senior": "34",
        "nine_year": "21",
        "special": "51",
        "reform": "37",
        "teaching_point": "21",
        "complete_secondary": "34",
        "twelve_year": "34",
    }[school_type]
    n = next(_seq)
    code = f"{prefix}{county[:2]}{n:06d}"
    return school_create(
        actor=None,
        name=kwargs.pop("name", f"测试学校{n}"),
        school_code=code,
        school_type=school_type,
        county_code=county,
        **kwargs,
    )


def user(
    role: str | None = None,
    org: OrgUnit | None = None,
    *,
    filed: bool = True,
    username: str | None = None,
    **kwargs: Any,
) -> User:
    u = User.objects.create_user(username=username or f"user{next(_seq)}", password=PASSWORD, **kwargs)
    u.password_changed_at = timezone.now()
    u.save(update_fields=["password_changed_at"])
    if role is not None and org is not None:
        RoleGrant.objects.create(user=u, role=role, org_unit=org)
    if filed and role in {Role.SCHOOL_REGISTRAR, Role.DEPT_REGISTRAR, Role.APPROVER}:
        RegistrarFiling.objects.create(
            user=u, filed_with=org.parent or org, filed_on=date(2026, 1, 5), trained_on=date(2026, 1, 10)
        )
    return u


def registrar(sch: School, **kwargs: Any) -> User:
    return user(Role.SCHOOL_REGISTRAR, sch.org, **kwargs)


#: Age-for-grade bands wide enough for every age and grade (issue 8 item 4). The factories register a child born
#: on 2018-03-14 in 一年级 — data older than the rule, whose age moves with the calendar — so tests about other
#: things use these (tests/conftest.py; the import worker harness); national defaults are not validated.
LENIENT_GRADE_AGE: dict[str, Any] = {
    "age_on": "08-31",
    **{stage: {"normal": [-20, 20], "allowed": [-20, 20]} for stage in ("primary", "junior", "senior")},
}


def han_digits(n: int) -> str:
    """``n`` in Chinese numerals (12 → 一二): generated names may not contain digits (issue 8 item 3)."""
    return str(n).translate(str.maketrans("0123456789", "〇一二三四五六七八九"))


def resident_id(
    region: str = "440105", birth: date = date(2018, 3, 14), seq: int = 12, gender: str = "1"
) -> str:
    """A valid GB 11643 number; ``seq`` parity is fixed to match ``gender``."""
    s = seq * 10 % 1000 if False else seq
    s = s - (s % 2) + (1 if gender == "1" else 0)
    s = max(s, 1) if gender == "1" else s
    first17 = f"{region}{birth:%Y%m%d}{s % 1000:03d}"
    return first17 + mod11_2_check_char(first17)


def person_data(**overrides: Any) -> dict[str, Any]:
    birth = overrides.pop("birth_date", date(2018, 3, 14))
    gender = overrides.pop("gender", "1")
    data = {
        "name": "张小明",
        "gender": gender,
        "birth_date": birth.isoformat(),
        "birthplace_code": "440105",
        "native_place": "广东广州",
        "ethnicity": "01",
        "nationality": "CHN",
        "id_type": "1",
        "id_number": resident_id(birth=birth, gender=gender, seq=next(_seq) * 2 % 998 + 1),
        "overseas_status": "00",
        "health": "10",
        "household_code": "440105",
        "household_type": "2",
        "current_address": "广州市海珠区新港中路1号",
        "mailing_address": "广州市海珠区新港中路1号",
        "home_address": "广州市海珠区新港中路1号",
        "phone": "13800138000",
        "postal_code": "510220",
        "only_child": "是",
        "preschool": "是",
        "left_behind": "0",
        "migrant_child": "否",
        "orphan": "否",
        "martyr_child": "否",
        "needs_aid": "否",
        "boarding_subsidy": "否",
    }
    data.update(overrides)
    return data


def enrollment_data(**overrides: Any) -> dict[str, Any]:
    data = {"grade": "1", "class_name": "1班", "entry_ym": "202609", "entry_method": "11", "study_mode": "1"}
    data.update(overrides)
    return data


def guardian_data(**overrides: Any) -> dict[str, Any]:
    data = {
        "name": "张大明",
        "relation": "1",
        "is_guardian": "是",
        "address": "广州市海珠区新港中路1号",
        "phone": "13900139000",
    }
    data.update(overrides)
    return data
