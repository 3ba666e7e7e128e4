"""Org tree API (/api/v1/orgs/): the viewer's roots, one unit, a unit's children (第5条 five-level tree).

A viewer sees their own subtrees plus the chain of ancestors above them (so that the tree can be drawn); any
other unit is 404. The tree holds no personal data, so every role with a grant may read it.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from xueji.accounts.auth import actor_of
from xueji.core.pagination import MAX_PAGE

from .models import OrgUnit
from .queries import org_children, org_get, org_roots

router = Router(tags=["机构"])

MAX_PAGE_SIZE = 200


class ErrorOut(Schema):
    """The one error shape of the API (same component as every other router's ``ErrorOut``)."""

    code: str
    message: str
    fields: dict[str, str]


class OrgOut(Schema):
    id: int
    level: str
    level_label: str
    name: str
    code: str
    division_code: str
    province_code: str
    parent_id: int | None
    is_active: bool


class OrgDetailOut(OrgOut):
    ancestors: list[OrgOut] = Field(description="从教育部到上级机构（不含本机构）")


class OrgChildrenFiltersIn(Schema):
    page: int = Field(1, ge=1, le=MAX_PAGE)
    page_size: int = Field(100, ge=1, le=MAX_PAGE_SIZE)


class OrgChildrenPageOut(Schema):
    items: list[OrgOut]
    count: int
    page: int
    page_size: int


ERRORS: dict[int, Any] = {401: ErrorOut, 404: ErrorOut, 422: ErrorOut}


def _org(unit: OrgUnit) -> dict[str, Any]:
    return {
        "id": unit.pk,
        "level": unit.level,
        "level_label": unit.get_level_display(),
        "name": unit.name,
        "code": unit.code,
        "division_code": unit.division_code,
        "province_code": unit.province_code,
        "parent_id": unit.parent_id,
        "is_active": unit.is_active,
    }


@router.get("/", response={200: list[OrgOut], **ERRORS}, summary="我的机构（管辖范围的顶端）")
def list_org_roots(request: HttpRequest) -> Any:
    user = actor_of(request)
    return [_org(u) for u in org_roots(user)]


@router.get("/{org_id}", response={200: OrgDetailOut, **ERRORS}, summary="机构详情")
def get_org(request: HttpRequest, org_id: int) -> Any:
    user = actor_of(request)
    unit = org_get(viewer=user, org_id=org_id)
    ancestors = [_org(a) for a in unit.ancestors() if a.pk != unit.pk]
    return {**_org(unit), "ancestors": ancestors}


@router.get("/{org_id}/children", response={200: OrgChildrenPageOut, **ERRORS}, summary="下级机构与学校")
def list_org_children(request: HttpRequest, org_id: int, filters: Query[OrgChildrenFiltersIn]) -> Any:
    viewer = actor_of(request)
    qs = org_children(viewer=viewer, parent=org_get(viewer=viewer, org_id=org_id))
    start = (filters.page - 1) * filters.page_size
    items = [_org(u) for u in qs[start : start + filters.page_size]]
    return {"items": items, "count": qs.count(), "page": filters.page, "page_size": filters.page_size}
