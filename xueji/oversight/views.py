"""监督 pages: the units one level below the viewer's unit with their violations (第5、26条), and the records
behind each count (masked names, 第24条). Scoped by ``accounts.jurisdiction``: out of scope = 404."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from xueji.accounts.auth import actor_of
from xueji.accounts.jurisdiction import require_student_data_reader, require_student_roles
from xueji.core.masking import mask_name, mask_student_number
from xueji.core.web import paginate, ui_errors
from xueji.regions.enums import OrgLevel
from xueji.regions.models import OrgUnit

from .forms import WindowForm
from .queries import (
    METRICS,
    Metric,
    Window,
    late_deciders,
    metric_items,
    metric_named,
    oversight_rows,
    oversight_unit,
    viewer_units,
)


def _window(request: HttpRequest) -> tuple[WindowForm, Window | None]:
    form = WindowForm(request.GET or None)
    if form.is_bound and not form.is_valid():
        return form, None  # the errors name the field; nothing is counted
    return form, form.window()


def _query(window: Window) -> str:
    return f"start={window.start:%Y-%m-%d}&end={window.end:%Y-%m-%d}"


@login_required
@ui_errors
def overview(request: HttpRequest, org_id: int | None = None) -> HttpResponse:
    """The units one level below ``org_id`` (default: the viewer's unit) with a count per violation."""
    user = actor_of(request)
    require_student_roles(user)
    require_student_data_reader(user)
    unit = oversight_unit(viewer=user, org_id=org_id)
    form, window = _window(request)
    rows = oversight_rows(unit=unit, window=window) if window else []
    totals = {m.key: sum(r.counts[m.key] for r in rows) for m in METRICS}
    tops = viewer_units(user)
    parent = unit.parent if unit.parent_id and not any(t.pk == unit.pk for t in tops) else None
    context: dict[str, Any] = {
        "unit": unit,
        "parent": parent,
        "tops": tops if len(tops) > 1 else [],
        "form": form,
        "window": window,
        "query": _query(window) if window else "",
        "metrics": METRICS,
        "rows": [(r.unit, [(m, r.counts[m.key]) for m in METRICS]) for r in rows],
        "totals": [(m, totals[m.key]) for m in METRICS],
        "is_school": unit.level == OrgLevel.SCHOOL,
    }
    return render(request, "oversight/overview.html", context)


def _item_row(metric: Metric, obj: Any) -> dict[str, Any]:
    """What a drill-down row shows: the student masked (第24条), the unit, the date that makes it a violation."""
    item = metric.item(obj)
    person = item.person
    return {
        "name": mask_name(person.name) if person else "—",
        "number": mask_student_number(person.student_number) if person else "",
        "obj": obj,
        "unit": item.unit,
        "day": item.day,
        "kind": item.kind,
        "change_id": item.change_id,
        "note": item.note,
    }


def _back_and_own(user: Any, unit: OrgUnit) -> tuple[OrgUnit | None, bool]:
    """Where "返回监督汇总" leads (the overview that listed this unit: its parent, or the unit's own page when it is
    one of the viewer's top units — the parent is outside the viewer's scope), and whether the unit's own records
    count: not on a top unit's own pages, whose overview leaves them to the level above (a school's are all its
    own)."""
    is_top = any(t.pk == unit.pk for t in viewer_units(user))
    back = unit if is_top else unit.parent
    return back, not is_top or unit.level == OrgLevel.SCHOOL


@login_required
@ui_errors
def items(request: HttpRequest, org_id: int, metric: str) -> HttpResponse:
    """The records behind one count of the overview: the metric's records in the unit's subtree."""
    user = actor_of(request)
    require_student_roles(user)
    require_student_data_reader(user)
    unit = oversight_unit(viewer=user, org_id=org_id)
    chosen = metric_named(metric)
    form, window = _window(request)
    back, own = _back_and_own(user, unit)
    records = metric_items(unit=unit, metric=chosen, window=window, own=own) if window else None
    page = paginate(request, records) if records is not None else None
    return render(
        request,
        "oversight/items.html",
        {
            "unit": unit,
            "back": back,
            "metric": chosen,
            "form": form,
            "window": window,
            "query": _query(window) if window else "",
            "page": page,
            "item_rows": [_item_row(chosen, o) for o in page.object_list] if page else [],
        },
    )


@login_required
@ui_errors
def people(request: HttpRequest, org_id: int) -> HttpResponse:
    """Approvals past their clock by person (第15、26条): who in the unit's subtree decided steps late."""
    user = actor_of(request)
    require_student_roles(user)
    require_student_data_reader(user)
    unit = oversight_unit(viewer=user, org_id=org_id)
    form, window = _window(request)
    back, own = _back_and_own(user, unit)
    return render(
        request,
        "oversight/people.html",
        {
            "unit": unit,
            "back": back,
            "form": form,
            "window": window,
            "query": _query(window) if window else "",
            "deciders": late_deciders(unit=unit, window=window, own=own) if window else [],
        },
    )
