"""The org tree (第5条 五级管理): the viewer's roots, expanded lazily with htmx; and the region-code type-ahead
of the forms (GB/T 2260 codes of the whole country)."""

from __future__ import annotations

import re
import unicodedata
from functools import cache
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from xueji.accounts.auth import actor_of
from xueji.accounts.types import Actor
from xueji.core.web import ui_errors
from xueji.regions import divisions
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


# --------------------------------------------------------------------------------------------------------
# Region codes suggested as one types (issue 8 item 11)
# --------------------------------------------------------------------------------------------------------

#: Suggestions shown at most (a datalist longer than a screen helps nobody; typing more narrows it).
SUGGEST_LIMIT = 20


@cache
def _division_names() -> tuple[tuple[str, str, str], ...]:
    """(code, name, full name) of every current division, by code — built once per process."""
    return tuple((d.code, d.name, divisions.full_name(d.code)) for d in divisions.all_divisions())


def region_suggestions(text: str, limit: int = SUGGEST_LIMIT) -> list[tuple[str, str]]:
    """Current GB/T 2260 divisions of the whole country (not only the user's province) for what was typed:
    digits are a code prefix (4401 → 广州市 and its districts); anything else a name — the division's own name
    first (exactly, then beginning with it, then containing it), then its full name ("广州 海珠": every part).
    Returns (code, full name) pairs, at most ``limit``. Historical codes (valid only in old ID numbers) are
    never suggested: forms take current divisions."""
    query = re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text or "")).strip()
    if not query:
        return []
    names = _division_names()
    if query.replace(" ", "").isdigit():
        prefix = query.replace(" ", "")
        return [(code, full) for code, _name, full in names if code.startswith(prefix)][:limit]
    parts = query.split(" ")
    ranked: list[tuple[int, str, str]] = []
    for code, name, full in names:
        if name == query:
            rank = 0
        elif name.startswith(query):
            rank = 1
        elif query in name:
            rank = 2
        elif all(part in full for part in parts):
            rank = 3
        else:
            continue
        ranked.append((rank, code, full))
    ranked.sort()
    return [(code, full) for _rank, code, full in ranked[:limit]]


@login_required
def region_suggest(request: HttpRequest) -> HttpResponse:
    """The ``<option>``s of a region code box's datalist (htmx ``hx-get`` from the box: the typed text comes as
    ``q``, or under the box's own name). Public reference data: any signed-in user; nothing is recorded."""
    text = request.GET.get("q")
    if text is None:
        text = next((str(v) for v in request.GET.dict().values()), "")
    return render(request, "regions/_suggestions.html", {"options": region_suggestions(text[:40])})
