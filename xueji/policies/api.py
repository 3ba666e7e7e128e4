"""/api/v1/policies/ — province-defined non-basic fields (第3条).

Reads are scoped to the caller's provinces (others are 404); writes need a filed dept registrar of the
province-level department. Errors: ``{code, message, fields}`` (config/api.py).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status

from xueji.accounts.auth import actor_of
from xueji.accounts.jurisdiction import require_student_data_reader
from xueji.core.errors import NotFound

from .extra_fields import FieldDef
from .models import ExtraFieldSet
from .queries import can_view_province, extra_fields_for, field_defs, field_set_get, field_sets_for, state_of
from .services import extra_fields_activate, extra_fields_define, extra_fields_file

router = Router(tags=["policies"])

FieldType = Literal["text", "integer", "decimal", "date", "boolean", "choice", "multi_choice"]


class ChoiceIn(Schema):
    code: str
    label: str


class FieldDefIn(Schema):
    key: str = Field(description="^[a-z][a-z0-9_]{1,39}$，不得与国家基础学籍信息字段重名")
    label: str = Field(description="字段名称（导入模板列标题）")
    type: str = Field(description="text | integer | decimal | date | boolean | choice | multi_choice")
    required: bool = False
    help: str | None = None
    max_length: int | None = Field(None, description="仅 text")
    min_value: int | float | str | None = Field(None, description="仅 integer / decimal")
    max_value: int | float | str | None = Field(None, description="仅 integer / decimal")
    decimal_places: int | None = Field(None, description="仅 decimal，默认 2")
    choices: list[ChoiceIn] | None = Field(None, description="仅 choice / multi_choice：代码表")


class DefineIn(Schema):
    province_code: str = Field(description="省级行政区划代码，如 440000")
    fields: list[FieldDefIn]


class FileIn(Schema):
    filed_on: date = Field(description="报国务院教育行政部门备案日期")
    filing_reference: str = Field(description="备案文号")


class ChoiceOut(Schema):
    code: str
    label: str


class FieldDefOut(Schema):
    key: str
    label: str
    type: FieldType
    required: bool
    help: str = ""
    max_length: int | None = None
    min_value: str | None = None
    max_value: str | None = None
    decimal_places: int | None = None
    choices: list[ChoiceOut] = Field(default_factory=list)


class FieldSetOut(Schema):
    id: int
    province_code: str
    version: int
    state: Literal["draft", "filed", "active"]
    is_active: bool
    filed_on: date | None
    filing_reference: str
    created_by: str
    created_at: datetime
    fields: list[FieldDefOut]


class ActiveOut(Schema):
    province_code: str
    version: int | None = Field(description="null：未启用任何版本，适用国家默认（无非基础学籍信息字段）")
    fields: list[FieldDefOut]


def _field_out(d: FieldDef) -> dict[str, Any]:
    return {
        "key": d.key,
        "label": d.label,
        "type": d.type,
        "required": d.required,
        "help": d.help,
        "max_length": d.max_length,
        "decimal_places": d.decimal_places,
        "min_value": None if d.min_value is None else str(d.min_value),
        "max_value": None if d.max_value is None else str(d.max_value),
        "choices": [{"code": c.code, "label": c.label} for c in d.choices],
    }


def _out(fs: ExtraFieldSet) -> dict[str, Any]:
    return {
        "id": fs.pk,
        "province_code": fs.province_code,
        "version": fs.version,
        "state": state_of(fs),
        "is_active": fs.is_active,
        "filed_on": fs.filed_on,
        "filing_reference": fs.filing_reference,
        "created_by": fs.created_by.get_username(),
        "created_at": fs.created_at,
        "fields": [_field_out(d) for d in field_defs(fs)],
    }


class ErrorOut(Schema):
    """The one error shape of the API (same component as every other router's ``ErrorOut``)."""

    code: str
    message: str
    fields: dict[str, str]


ERRORS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut}


@router.get("/", response={200: list[FieldSetOut], **ERRORS}, summary="字段集版本列表（本人管辖省份）")
def list_field_sets(request: HttpRequest, province_code: str | None = None) -> list[dict[str, Any]]:
    user = require_student_data_reader(actor_of(request))  # 三权分立: business data, not the admins' (403)
    qs = field_sets_for(user)
    if province_code:
        qs = qs.filter(province_code=province_code)
    return [_out(fs) for fs in qs]


@router.post("/", response={201: FieldSetOut, **ERRORS}, summary="定义新版本（草稿）")
def define_field_set(request: HttpRequest, payload: DefineIn) -> Status[dict[str, Any]]:
    user = actor_of(request)
    fields = [f.model_dump(exclude_none=True) for f in payload.fields]
    fs = extra_fields_define(actor=user, province_code=payload.province_code, fields=fields)
    return Status(201, _out(fs))


@router.get("/active/{province_code}", response={200: ActiveOut, **ERRORS}, summary="省份当前生效的字段定义")
def active_fields(request: HttpRequest, province_code: str) -> dict[str, Any]:
    user = require_student_data_reader(actor_of(request))
    if not can_view_province(user, province_code):
        raise NotFound()
    version, defs = extra_fields_for(province_code)
    return {"province_code": province_code, "version": version, "fields": [_field_out(d) for d in defs]}


@router.get("/{int:field_set_id}", response={200: FieldSetOut, **ERRORS}, summary="字段集版本详情")
def get_field_set(request: HttpRequest, field_set_id: int) -> dict[str, Any]:
    user = require_student_data_reader(actor_of(request))
    return _out(field_set_get(viewer=user, pk=field_set_id))


@router.post(
    "/{int:field_set_id}/file", response={200: FieldSetOut, **ERRORS}, summary="登记报部备案（第三条）"
)
def file_field_set(request: HttpRequest, field_set_id: int, payload: FileIn) -> dict[str, Any]:
    user = actor_of(request)
    fs = field_set_get(viewer=user, pk=field_set_id)
    fs = extra_fields_file(
        actor=user, field_set=fs, filed_on=payload.filed_on, filing_reference=payload.filing_reference
    )
    return _out(fs)


@router.post("/{int:field_set_id}/activate", response={200: FieldSetOut, **ERRORS}, summary="启用已备案版本")
def activate_field_set(request: HttpRequest, field_set_id: int) -> dict[str, Any]:
    user = actor_of(request)
    fs = field_set_get(viewer=user, pk=field_set_id)
    return _out(extra_fields_activate(actor=user, field_set=fs))
