"""Writes on schools."""

from __future__ import annotations

from django.db import transaction

from xueji.accounts.types import Actor
from xueji.audit.enums import EventType
from xueji.audit.services import record
from xueji.core.errors import ApplicationError, FieldError
from xueji.regions import divisions
from xueji.regions.enums import LEVEL_RANK, OrgLevel
from xueji.regions.models import OrgUnit
from xueji.regions.services import department_for

from .enums import DEFAULT_STAGES, Listing, Operator, SchoolType
from .models import School
from .validators import validate_school_code


@transaction.atomic
def school_create(
    *,
    actor: Actor | None,
    name: str,
    school_code: str,
    school_type: str,
    county_code: str,
    operator: str = Operator.PUBLIC,
    stages: list[str] | None = None,
    supervising_dept: OrgUnit | None = None,
    central_school: School | None = None,
    listing: str = Listing.MAINLAND,
    address: str = "",
) -> School:
    """Register a school in the five-level tree (第5条).

    The supervising department is the county by default; a city or province may directly administer a
    school (第5条); separately listed overseas/HK-Macau schools sit under the ministry (第27条). A teaching
    point hangs under its central school, whose registrar keeps its records (第22条).
    """
    if school_type not in SchoolType.values:
        raise FieldError("school_type", "school_type_unknown", "办学类型无效")
    if listing == Listing.MAINLAND:
        if not divisions.is_current_county(county_code) and divisions.get_division(county_code) is None:
            raise FieldError("county_code", "county_unknown", f"所在县区代码 {county_code} 不是现行行政区划")
        province = divisions.province_code(county_code)
    else:
        province = "000000"
    code = validate_school_code(
        school_code, school_type=school_type, province_code=province if listing == Listing.MAINLAND else None
    )
    if School.objects.filter(school_code=code).exists():
        raise FieldError("school_code", "school_code_taken", f"学校标识码 {code} 已被使用")
    if school_type == SchoolType.TEACHING_POINT and central_school is None:
        raise FieldError("central_school", "central_school_required", "教学点须指定中心校")
    if supervising_dept is None:
        if listing != Listing.MAINLAND:
            supervising_dept = OrgUnit.objects.get(level=OrgLevel.NATIONAL)
        else:
            supervising_dept = department_for(county_code)
    if supervising_dept.level == OrgLevel.SCHOOL:
        raise FieldError("supervising_dept", "supervisor_not_dept", "主管部门须为教育行政部门")
    if listing == Listing.MAINLAND and not county_code.startswith(
        supervising_dept.division_code.rstrip("0")[:2]
    ):
        raise FieldError("supervising_dept", "supervisor_other_province", "主管部门须在学校所在省份")
    if LEVEL_RANK[OrgLevel(supervising_dept.level)] > LEVEL_RANK[OrgLevel.COUNTY]:
        raise ApplicationError("supervisor_level", "主管部门层级无效")
    stage_list = list(stages or DEFAULT_STAGES[SchoolType(school_type)])
    parent = central_school.org if central_school is not None else supervising_dept
    org = OrgUnit.objects.create(
        level=OrgLevel.SCHOOL,
        name=name,
        code=code,
        division_code=county_code,
        province_code=province,
        parent=parent,
        path="",
    )
    org.path = f"{parent.path}{org.pk}/"
    OrgUnit.objects.filter(pk=org.pk).update(path=org.path)
    school = School.objects.create(
        org=org,
        school_code=code,
        name=name,
        school_type=school_type,
        operator=operator,
        stages=stage_list,
        listing=listing,
        county_code=county_code,
        province_code=province,
        supervising_dept=supervising_dept,
        central_school=central_school,
        address=address,
    )
    record(
        event_type=EventType.SCHOOL_CREATED,
        actor=actor,
        subject_type="school",
        subject_id=org.pk,
        org_unit_id=org.pk,
        province_code=province,
        summary=f"创建学校 {name}（{code}）",
        after={"school_code": code, "type": school_type, "stages": stage_list},
    )
    return school
