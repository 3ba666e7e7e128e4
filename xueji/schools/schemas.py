"""API schemas for schools: one ``…In``/``…Out`` pair per operation (architecture.md convention 10)."""

from __future__ import annotations

from ninja import Field, Schema
from pydantic import ConfigDict

from xueji.core.pagination import MAX_PAGE

MAX_PAGE_SIZE = 200


class ErrorOut(Schema):
    """The one error shape of the API (same component as every other router's ``ErrorOut``)."""

    code: str
    message: str
    fields: dict[str, str]


class SchoolFiltersIn(Schema):
    q: str = Field("", description="学校名称（包含）或学校标识码（前缀）")
    type: str = Field("", description="办学类型代码，如 primary")
    state: str = Field("", description="active / merged / closed")
    page: int = Field(1, ge=1, le=MAX_PAGE)
    page_size: int = Field(50, ge=1, le=MAX_PAGE_SIZE)


class SchoolListItemOut(Schema):
    id: int
    school_code: str
    name: str
    school_type: str
    school_type_label: str
    operator: str
    state: str
    county_code: str
    supervising_dept_name: str
    active_students: int


class SchoolPageOut(Schema):
    items: list[SchoolListItemOut]
    count: int
    page: int
    page_size: int


class SchoolDetailOut(Schema):
    id: int
    school_code: str
    name: str
    school_type: str
    school_type_label: str
    operator: str
    stages: list[str]
    state: str
    state_label: str
    listing: str
    county_code: str
    province_code: str
    supervising_dept_id: int
    supervising_dept_name: str
    central_school_id: int | None
    central_school_name: str
    address: str
    active_students: int


class SchoolCreateIn(Schema):
    """A new school (第5条). Its org unit, path, province and state are set by the service."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field("", description="学校名称")
    school_code: str = Field("", description="学校（机构）标识码，10位")
    school_type: str = Field("", description="办学类型代码，如 primary、junior、teaching_point")
    county_code: str = Field("", description="所在县区行政区划代码（6位）")
    operator: str = Field("public", description="举办者：public 公办 / private 民办")
    stages: list[str] | None = Field(None, description="学段（primary/junior/senior），默认按办学类型")
    supervising_dept_id: int | None = Field(None, description="主管教育行政部门（机构ID），默认为所在县区")
    central_school_id: int | None = Field(None, description="中心校（教学点必填）")
    listing: str = Field("mainland", description="mainland / overseas / hk_macao（第二十七条单列）")
    address: str = Field("", description="地址")
