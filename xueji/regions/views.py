"""The org tree (第5条 五级管理): the viewer's roots, expanded lazily with htmx."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from xueji.accounts.auth import actor_of
from xueji.accounts.types import Actor
from xueji.core.web import ui_errors
from xueji.regions.enums import OrgLevel
from xueji.regions.models import OrgUnit
from xueji.regions.queries import org_children, org_get, org_roots
from xueji.schools.queries import school_list, with_active_counts


def _nodes(viewer: Actor, units: list[OrgUnit]) -> list[dict[str, Any]]:
    """Tree nodes: departments expand; schools carry their type and active-student count."""
    school_ids = [u.pk for u in units if u.level == OrgLevel.SCHOOL]
    schools = (
        {s.pk: s for s in with_active_counts(school_list(viewer=viewer).filter(pk__in=school_ids))}
        if school_ids
        else {}
    )
    central_ids: set[int] = set()
    if schools:  # a central school opens onto its teaching points (第22条)
        central_ids = {
            t.central_school_id
            for t in school_list(viewer=viewer, school_type="teaching_point")
            if t.central_school_id is not None
        }
    return [
        {
            "unit": u,
            "school": schools.get(u.pk),
            "expandable": u.level != OrgLevel.SCHOOL or u.pk in central_ids,
        }
        for u in units
    ]


@login_required
@ui_errors
def tree(request: HttpRequest) -> HttpResponse:
    viewer = actor_of(request)
    roots = org_roots(viewer)
    nodes = _nodes(viewer, roots)
    for node in nodes:  # the tops of the viewer's jurisdiction open with their children shown
        node["ancestors"] = [a for a in node["unit"].ancestors() if a.pk != node["unit"].pk]
        if node["unit"].level != OrgLevel.SCHOOL:
            node["children"] = _nodes(viewer, list(org_children(viewer=viewer, parent=node["unit"])))
            node["loaded"] = node["expandable"] = True
    return render(request, "regions/tree.html", {"nodes": nodes})


@login_required
@ui_errors
def children(request: HttpRequest, org_id: int) -> HttpResponse:
    """The htmx partial: one level of children under ``org_id``."""
    viewer = actor_of(request)
    parent = org_get(viewer=viewer, org_id=org_id)
    nodes = _nodes(viewer, list(org_children(viewer=viewer, parent=parent)))
    return render(request, "regions/_children.html", {"nodes": nodes, "parent": parent})


@login_required
@ui_errors
def detail(request: HttpRequest, org_id: int) -> HttpResponse:
    viewer = actor_of(request)
    unit = org_get(viewer=viewer, org_id=org_id)
    ancestors = [a for a in unit.ancestors() if a.pk != unit.pk]
    nodes = _nodes(viewer, list(org_children(viewer=viewer, parent=unit)))
    school = school_list(viewer=viewer).filter(pk=unit.pk).first() if unit.level == OrgLevel.SCHOOL else None
    if school is not None:
        with_active_counts([school])
    return render(
        request,
        "regions/detail.html",
        {"unit": unit, "ancestors": ancestors, "nodes": nodes, "school": school},
    )
