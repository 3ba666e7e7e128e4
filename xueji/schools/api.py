"""Schools API (/api/v1/schools/): list, detail, create.

Reads: any account with a grant sees the schools of its subtrees (a school is not personal data; the admin
roles manage accounts on them); a school outside them is 404.

Create (第5条 分级负责): a filed department registrar at county level or above (``dept_registrar``), or a system
administrator, inside their own subtree. Both the supervising department and the department of the county the
school sits in must lie in the actor's subtree (a county registrar creates schools of its county; a city may
also create a school it administers directly), the supervising department must be the county's department or
one above it, and a teaching point's central school must lie in the subtree too. Otherwise 403
``outside_jurisdiction`` (a referenced org or central school the actor cannot see at all is 404).
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Query, Router, Status

from xueji.accounts.auth import actor_of
from xueji.accounts.enums import Role
from xueji.accounts.jurisdiction import all_grants, data_grants, roles
from xueji.accounts.types import Actor
from xueji.core.errors import ApplicationError, FieldError, Forbidden
from xueji.core.pagination import page_of
from xueji.regions.enums import OrgLevel
from xueji.regions.models import OrgUnit
from xueji.regions.queries import org_get
from xueji.regions.services import department_for

from .enums import DEFAULT_STAGES, Listing, Operator
from .models import School
from .queries import school_get, school_list, with_active_counts
from .schemas import ErrorOut, SchoolCreateIn, SchoolDetailOut, SchoolFiltersIn, SchoolPageOut
from .services import school_create

router = Router(tags=["学校"])

READ_ERRORS: dict[int, Any] = {401: ErrorOut, 404: ErrorOut, 422: ErrorOut}
KNOWN_STAGES = tuple(dict.fromkeys(s for stages in DEFAULT_STAGES.values() for s in stages))


_page = page_of


def _detail(school: School) -> dict[str, Any]:
    return {
        "id": school.pk,
        "school_code": school.school_code,
        "name": school.name,
        "school_type": school.school_type,
        "school_type_label": school.get_school_type_display(),
        "operator": school.operator,
        "stages": list(school.stages),
        "state": school.state,
        "state_label": school.get_state_display(),
        "listing": school.listing,
        "county_code": school.county_code,
        "province_code": school.province_code,
        "supervising_dept_id": school.supervising_dept_id,
        "supervising_dept_name": school.supervising_dept.name,
        "central_school_id": school.central_school_id,
        "central_school_name": school.central_school.name if school.central_school else "",
        "address": school.address,
        "active_students": school.enrollments.filter(is_active=True).count(),
    }


def creator_units(actor: Actor) -> list[OrgUnit]:
    """Department units whose subtree the actor may add schools to: filed ``dept_registrar`` grants
    (第22条 先培训后上岗) and ``system_admin`` grants, never at a school."""
    units = [g.org_unit for g in data_grants(actor) if g.role == Role.DEPT_REGISTRAR]
    units += [g.org_unit for g in all_grants(actor) if g.role == Role.SYSTEM_ADMIN and g.org_unit.is_active]
    return [u for u in units if u.level != OrgLevel.SCHOOL]


def _clean_stages(stages: list[str] | None) -> list[str] | None:
    if stages is None:
        return None
    unique = list(dict.fromkeys(s.strip() for s in stages))
    if not unique or any(s not in KNOWN_STAGES for s in unique):
        raise FieldError("stages", "stages_invalid", f"学段须为 {'、'.join(KNOWN_STAGES)} 中的一项或多项")
    return unique


def _county_department(county_code: str) -> OrgUnit:
    try:
        return department_for(county_code)
    except ApplicationError as exc:
        raise FieldError(
            "county_code", "county_unknown", f"所在县区代码 {county_code} 不是现行行政区划"
        ) from exc


@router.get("/", response={200: SchoolPageOut, **READ_ERRORS}, summary="学校列表（管辖范围内）")
def list_schools(request: HttpRequest, filters: Query[SchoolFiltersIn]) -> Any:
    viewer = actor_of(request)
    qs = school_list(viewer=viewer, q=filters.q.strip(), school_type=filters.type, state=filters.state)
    rows, count = _page(qs, filters.page, filters.page_size)
    rows = with_active_counts(rows)
    items = [
        {
            "id": s.pk,
            "school_code": s.school_code,
            "name": s.name,
            "school_type": s.school_type,
            "school_type_label": s.get_school_type_display(),
            "operator": s.operator,
            "state": s.state,
            "county_code": s.county_code,
            "supervising_dept_name": s.supervising_dept.name,
            "active_students": s.active_students,
        }
        for s in rows
    ]
    return {"items": items, "count": count, "page": filters.page, "page_size": filters.page_size}


@router.get("/{school_id}", response={200: SchoolDetailOut, **READ_ERRORS}, summary="学校详情")
def get_school(request: HttpRequest, school_id: int) -> Any:
    user = actor_of(request)
    return _detail(school_get(viewer=user, school_id=school_id))


@router.post(
    "/",
    response={201: SchoolDetailOut, 400: ErrorOut, 403: ErrorOut, **READ_ERRORS},
    summary="创建学校（县级及以上部门学籍管理员或系统管理员，第五条）",
)
def create_school(request: HttpRequest, payload: SchoolCreateIn) -> Any:
    actor = actor_of(request)
    units = creator_units(actor)
    if not units:
        if Role.DEPT_REGISTRAR in roles(actor):
            raise Forbidden(
                "registrar_not_filed", "学籍管理员尚未完成备案和培训，暂不能办理学籍业务（第二十二条）"
            )
        raise Forbidden("not_school_creator", "只有县级及以上教育行政部门学籍管理员或系统管理员可以创建学校")

    def covered(unit: OrgUnit) -> bool:
        return any(unit.path.startswith(u.path) for u in units)

    name = payload.name.strip()
    if not name:
        raise FieldError("name", "required", "学校名称为必填项")
    if len(name) > 120:
        raise FieldError("name", "too_long", "学校名称不能超过 120 个字符")
    if payload.operator not in Operator.values:
        raise FieldError("operator", "operator_unknown", "举办者无效（public 或 private）")
    if payload.listing not in Listing.values:
        raise FieldError("listing", "listing_unknown", "类别无效")
    if len(payload.address) > 200:
        raise FieldError("address", "too_long", "地址不能超过 200 个字符")
    stages = _clean_stages(payload.stages)
    county_code = payload.county_code.strip()

    if payload.supervising_dept_id is not None:
        supervising = org_get(viewer=actor, org_id=payload.supervising_dept_id)
    elif payload.listing == Listing.MAINLAND:
        supervising = _county_department(county_code)
    else:  # 第27条: separately listed schools sit under the ministry
        supervising = OrgUnit.objects.get(level=OrgLevel.NATIONAL)
    if payload.listing == Listing.MAINLAND:
        county_dept = _county_department(county_code)
        if not covered(county_dept):
            raise Forbidden("outside_jurisdiction", "只能在本辖区内创建学校")
        if supervising.level != OrgLevel.SCHOOL and not county_dept.path.startswith(supervising.path):
            raise FieldError(
                "supervising_dept",
                "supervisor_not_above_county",
                "主管部门须为学校所在县区或其上级教育行政部门",
            )
    if not covered(supervising):
        raise Forbidden("outside_jurisdiction", "只能在本辖区内创建学校")
    central = None
    if payload.central_school_id is not None:
        central = school_get(viewer=actor, school_id=payload.central_school_id)
        if not covered(central.org):
            raise Forbidden("outside_jurisdiction", "只能在本辖区内创建学校")

    school = school_create(
        actor=actor,
        name=name,
        school_code=payload.school_code.strip(),
        school_type=payload.school_type,
        county_code=county_code,
        operator=payload.operator,
        stages=stages,
        supervising_dept=supervising,
        central_school=central,
        listing=payload.listing,
        address=payload.address.strip(),
    )
    return Status(201, _detail(school))
