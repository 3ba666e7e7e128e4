"""Reads on the org tree, scoped to what the viewer may see (their subtrees plus the ancestors above them)."""

from __future__ import annotations

from typing import Any

from django.db.models import F, QuerySet, Value
from django.db.models.functions import StrIndex, Substr

from xueji.accounts.jurisdiction import all_grants, org_scope_q
from xueji.accounts.types import Actor
from xueji.core.errors import NotFound

from .models import OrgUnit


def org_units_visible(viewer: Actor) -> QuerySet[OrgUnit]:
    return OrgUnit.objects.filter(org_scope_q(viewer))


def org_roots(viewer: Actor) -> list[OrgUnit]:
    """The units the viewer holds grants at (the tops of their jurisdiction), most general first."""
    units = {g.org_unit.pk: g.org_unit for g in all_grants(viewer)}
    ordered = sorted(units.values(), key=lambda u: len(u.path))
    roots: list[OrgUnit] = []
    for u in ordered:
        if not any(u.path.startswith(r.path) for r in roots):
            roots.append(u)
    return roots


def org_get(*, viewer: Actor, org_id: Any) -> OrgUnit:
    unit = org_units_visible(viewer).filter(pk=org_id).first() if str(org_id).isdigit() else None
    if unit is None:
        raise NotFound()
    return unit


def org_children(*, viewer: Actor, parent: OrgUnit) -> QuerySet[OrgUnit]:
    """Children of ``parent`` that the viewer may see, departments first then schools, by code."""
    return org_units_visible(viewer).filter(parent=parent).order_by("level", "code")


def child_id_on_path(field: str, prefix: str) -> Substr:
    """SQL: the id (as text) of the child of the unit whose path is ``prefix``, read off a record's org path
    in ``field`` (``/1/5/27/100/`` under ``/1/5/`` → ``27``) — to GROUP BY a subtree's records per child unit
    in one query (oversight, statistics)."""
    rest = Substr(F(field), len(prefix) + 1)
    return Substr(rest, 1, StrIndex(rest, Value("/")) - 1)
