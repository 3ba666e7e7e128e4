"""Reads of the statistics snapshot for a viewer (第5、23条: each level sees the statistics of its own area).

A unit is readable when it lies in the viewer's student-data jurisdiction (``accounts.jurisdiction``); any
other unit — an ancestor drawn in the org tree included — is "not found". Every figure is a sum over
:class:`~xueji.statistics.models.StatCell` rows under the unit's path, so it equals a direct count of the
active enrollments behind it at the time of the snapshot.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db.models import Max, Sum
from django.db.models.functions import Coalesce
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from xueji.accounts.jurisdiction import in_scope, scope_paths
from xueji.accounts.types import Actor
from xueji.core.errors import FieldError, NotFound
from xueji.regions.enums import OrgLevel
from xueji.regions.models import OrgUnit
from xueji.regions.queries import child_id_on_path
from xueji.schools.enums import Stage
from xueji.schools.grades import grade_label
from xueji.students.enums import Gender, StudentStatus

from .models import StatCell

#: The dimensions a unit's figure can be broken down by, with their column titles.
DIMENSIONS: dict[str, Promise] = {
    "region": _("下级单位"),
    "grade": _("年级"),
    "gender": _("性别"),
    "status": _("学籍状态"),
    "stage": _("学段"),
}

_LABELS: dict[str, Callable[[Any], str]] = {
    "grade": grade_label,
    "gender": lambda v: str(Gender(v).label) if v in Gender.values else str(v),
    "status": lambda v: str(StudentStatus(v).label) if v in StudentStatus.values else str(v),
    "stage": lambda v: str(Stage(v).label) if v in Stage.values else str(v),
}

# Coded dimensions are listed in their code tables' order (小学 before 初中), grades by number.
_ORDER: dict[str, list[str]] = {
    "gender": Gender.values,
    "status": StudentStatus.values,
    "stage": Stage.values,
}


def _position(by: str, key: str) -> tuple[int, str]:
    order = _ORDER.get(by, [])
    return (order.index(key) if key in order else len(order), key)


@dataclass(frozen=True)
class Row:
    key: str
    label: str
    count: int
    unit_id: int | None = None  # region breakdowns: the child unit to drill into


@dataclass(frozen=True)
class Breakdown:
    by: str
    title: Promise
    rows: list[Row]
    total: int
    as_of: date | None


def snapshot_date() -> date | None:
    """The date of the current snapshot (None before the first rebuild)."""
    value: date | None = StatCell.objects.aggregate(d=Max("as_of"))["d"]
    return value


def stat_roots(viewer: Actor) -> list[OrgUnit]:
    """The tops of the viewer's student-data jurisdiction, most general first."""
    paths = scope_paths(viewer)
    units = {u.path: u for u in OrgUnit.objects.filter(path__in=paths)}
    return [units[p] for p in paths if p in units]


def stat_unit(*, viewer: Actor, unit_id: Any = None) -> OrgUnit:
    """The unit whose statistics the viewer asks for; no id = the viewer's first root. Outside the viewer's
    student-data jurisdiction (or no such unit) → :class:`NotFound` (第5、23条)."""
    if unit_id in (None, ""):
        roots = stat_roots(viewer)
        if not roots:
            raise NotFound()
        return roots[0]
    unit = OrgUnit.objects.filter(pk=unit_id).first() if str(unit_id).isdigit() else None
    if unit is None or not in_scope(viewer, unit.path):
        raise NotFound()
    return unit


def trail(*, viewer: Actor, unit: OrgUnit) -> list[OrgUnit]:
    """The drill-down path to ``unit``: its ancestors the viewer may read (national → … → unit)."""
    ids = [int(x) for x in unit.path.strip("/").split("/") if x]
    units = {u.pk: u for u in OrgUnit.objects.filter(pk__in=ids)}
    return [units[i] for i in ids if i in units and in_scope(viewer, units[i].path)]


def breakdown(*, unit: OrgUnit, by: str) -> Breakdown:
    """The unit's active enrollments counted by one dimension. ``unit`` must come from :func:`stat_unit`
    (jurisdiction checked there). ``by="region"`` gives one row per child unit (schools of a county
    included), in code order, zero rows kept so the table lists every child."""
    if by not in DIMENSIONS:
        raise FieldError(
            "by", "invalid_dimension", str(_("统计维度无效：可选 region、grade、gender、status、stage"))
        )
    cells = StatCell.objects.filter(scope_path__startswith=unit.path)
    as_of = snapshot_date()
    if by == "region":
        rows = _region_rows(unit, cells)
    else:
        grouped = cells.values(by).annotate(n=Coalesce(Sum("count"), 0)).order_by(by)
        rows = [Row(key=str(g[by]), label=_LABELS[by](g[by]), count=int(g["n"])) for g in grouped]
        rows.sort(key=lambda r: _position(by, r.key))
    total = int(cells.aggregate(n=Coalesce(Sum("count"), 0))["n"])
    return Breakdown(by=by, title=DIMENSIONS[by], rows=rows, total=total, as_of=as_of)


def _region_rows(unit: OrgUnit, cells: Any) -> list[Row]:
    """One row per child unit, zero rows kept: one GROUP BY over the snapshot by the child's id read off each
    cell's school path (never one row per school brought into Python)."""
    children = list(OrgUnit.objects.filter(parent=unit).order_by("level", "code"))
    grouped = (
        cells.annotate(child=child_id_on_path("scope_path", unit.path))
        .values("child")
        .annotate(n=Sum("count"))
        .order_by()
    )
    by_child = {str(g["child"]): int(g["n"]) for g in grouped}
    return [
        Row(key=str(c.pk), label=c.name, count=by_child.get(str(c.pk), 0), unit_id=c.pk) for c in children
    ]


def is_school(unit: OrgUnit) -> bool:
    return unit.level == OrgLevel.SCHOOL
