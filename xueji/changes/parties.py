"""Resolving a chain's parties to org units."""

from __future__ import annotations

from xueji.core.errors import ApplicationError
from xueji.regions.enums import OrgLevel
from xueji.regions.models import OrgUnit
from xueji.schools.models import School

from .enums import Party, Scope


def _ancestor(unit: OrgUnit, level: str) -> OrgUnit:
    for anc in unit.ancestors():
        if anc.level == level:
            return anc
    raise ApplicationError("no_department", f"{unit.name}没有{OrgLevel(level).label}上级部门")


def resolve(
    party: str,
    *,
    school: School | None,
    target_school: School | None,
    household_county: OrgUnit | None = None,
) -> OrgUnit:
    if party == Party.SCHOOL and school is not None:
        return school.central_school.org if school.is_teaching_point and school.central_school else school.org
    if party == Party.TARGET_SCHOOL and target_school is not None:
        return target_school.org
    if party == Party.SCHOOL_COUNTY and school is not None:
        return school.supervising_dept
    if party == Party.TARGET_COUNTY and target_school is not None:
        return target_school.supervising_dept
    if party == Party.SCHOOL_CITY and school is not None:
        return _ancestor(school.org, OrgLevel.CITY)
    if party == Party.TARGET_CITY and target_school is not None:
        return _ancestor(target_school.org, OrgLevel.CITY)
    if party == Party.SCHOOL_PROVINCE and school is not None:
        return _ancestor(school.org, OrgLevel.PROVINCE)
    if party == Party.TARGET_PROVINCE and target_school is not None:
        return _ancestor(target_school.org, OrgLevel.PROVINCE)
    if party == Party.HOUSEHOLD_COUNTY and household_county is not None:
        return household_county
    raise ApplicationError("party_unresolved", f"无法确定办理单位：{Party(party).label}")


def two_school_scope(source: School, target: School) -> str:
    if source.pk == target.pk:
        return Scope.SAME_SCHOOL
    if source.province_code != target.province_code:
        return Scope.CROSS_PROVINCE
    if source.supervising_dept_id == target.supervising_dept_id:
        return Scope.SAME_COUNTY
    if source.county_code[:4] == target.county_code[:4]:
        return Scope.CROSS_COUNTY
    return Scope.CROSS_CITY
