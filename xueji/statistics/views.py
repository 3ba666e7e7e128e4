"""The statistics page (第5、23条): a unit's active enrollments by child unit, grade, class, sex, ethnicity,
status, stage, household type, 随迁子女, 留守儿童 and disability — each as a table with a chart drawn from
that table beside it (static/js/charts.js: bars, stacked bars, a treemap, lines) and an audited .xlsx export
of the same numbers — and the monthly flows of a period.

Drill-down: national → province → city → county → school (``?unit=``) → grade (``&grade=``) → class (the
grade's class table). ``&as_of=YYYY-MM-DD`` reads a kept earlier snapshot (the latest on or before that day),
chosen in the page's date select and kept through the drill-down links; the date is read once per request and
passed to every table."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.core.exceptions import BadRequest
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from xueji.accounts.auth import actor_of
from xueji.core.errors import FieldError
from xueji.core.web import ui_errors
from xueji.regions.models import OrgUnit
from xueji.schools.grades import grade_label

from .queries import (
    DIMENSIONS,
    SPLITS,
    Breakdown,
    breakdown,
    flow_period,
    flows,
    is_school,
    parse_grade,
    snapshot_date,
    snapshot_dates,
    stat_roots,
    stat_unit,
    trail,
)

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

#: Tables whose rows are split by sex (the stacked bars).
SPLIT_BY = {"grade": "gender", "class": "gender"}


def _page_dims(*, school: bool, grade: int | None, children: bool = True) -> list[str]:
    """The tables of a page: a region's children first (on a school only when it has teaching points), a
    school's grades or — one grade chosen — its classes, then every other dimension."""
    skip = {"class"}
    if school and not children:
        skip |= {"region"}
    if grade is not None:
        skip = (skip - {"class"}) | {"grade", "stage"}
    return [d for d in DIMENSIONS if d not in skip]


def _breakdowns(unit: Any, grade: int | None, as_of: Any) -> list[Breakdown]:
    """Every table of the page, all read for the one snapshot date ``as_of`` (resolved once per request)."""
    school = is_school(unit)
    children = not school or OrgUnit.objects.filter(parent=unit).exists()
    return [
        breakdown(unit=unit, by=d, grade=grade, split=SPLIT_BY.get(d), as_of=as_of)
        for d in _page_dims(school=school, grade=grade, children=children)
    ]


@login_required
@ui_errors
@require_GET
def overview(request: HttpRequest) -> HttpResponse:
    user = actor_of(request)
    unit = stat_unit(viewer=user, unit_id=request.GET.get("unit"))
    chosen = request.GET.get("as_of") or None
    try:
        grade = _school_grade(unit, request.GET.get("grade"))
        as_of = snapshot_date(chosen)  # once per request; every table reads this date
        tables = _breakdowns(unit, grade, as_of)
        # a chosen date: the flows end by default with that date's month (the months "as of" it)
        start, end = flow_period(
            request.GET.get("from"), request.GET.get("to"), today=as_of if chosen and as_of else None
        )
    except FieldError as exc:
        raise BadRequest(exc.message) from exc
    context = {
        "unit": unit,
        "trail": trail(viewer=user, unit=unit),
        "grade": grade,
        "grade_label": grade_label(grade) if grade is not None else "",
        "roots": stat_roots(user),
        "as_of": as_of,
        # a chosen date is kept through the drill-down links (as the date actually read)
        "as_of_param": as_of.isoformat() if chosen and as_of else "",
        "dates": snapshot_dates(),
        "breakdowns": tables,
        # the flows of a period (not of one grade: a change request is counted at its school)
        "flows": flows(unit=unit, start=start, end=end) if grade is None else None,
    }
    return render(request, "statistics/overview.html", context)


def _school_grade(unit: Any, value: str | None) -> int | None:
    """The grade drilled into (a school's page only; elsewhere the page has no grade step)."""
    if value in (None, ""):
        return None
    if not is_school(unit):
        raise FieldError("grade", "grade_school_only", _("只有学校的统计页面可以按年级下钻"))
    return parse_grade(value)


def _to_export_request(params: list[tuple[str, Any]]) -> HttpResponse:
    """第24条 (issue 11 §4): statistics leave the system only through an approved export request (small cells
    suppressed); the old direct download sends the table's unit and breakdown to the request form."""
    query = urlencode([(k, v) for k, v in params if v not in (None, "")])
    return redirect(f"{reverse('exports:new')}?{query}")


@login_required
@ui_errors
@require_GET
def export(request: HttpRequest) -> HttpResponse:
    """A breakdown table's export: checked here (unit in the viewer's jurisdiction else 404, a valid dimension
    else 400), then the export request form, prefilled (第24条)."""
    user = actor_of(request)
    unit = stat_unit(viewer=user, unit_id=request.GET.get("unit"))
    by = request.GET.get("by", "")
    split = request.GET.get("split") or None
    if by not in DIMENSIONS:
        raise BadRequest(_("统计维度无效"))
    if split is not None and split not in SPLITS:
        raise BadRequest(_("分组维度无效"))
    try:
        table = breakdown(unit=unit, by=by, grade=request.GET.get("grade"), split=split)
    except FieldError as exc:
        raise BadRequest(exc.message) from exc
    return _to_export_request(
        [
            ("source", "statistics"),
            ("unit", unit.pk),
            ("by", by),
            ("split", split),
            ("grade", table.grade),
            ("as_of", request.GET.get("as_of")),
        ]
    )


@login_required
@ui_errors
@require_GET
def export_flows(request: HttpRequest) -> HttpResponse:
    """The monthly flows' export: the unit and period checked here, then the export request form (第24条)."""
    user = actor_of(request)
    unit = stat_unit(viewer=user, unit_id=request.GET.get("unit"))
    try:
        start, end = flow_period(request.GET.get("from"), request.GET.get("to"))
    except FieldError as exc:
        raise BadRequest(exc.message) from exc
    return _to_export_request(
        [("source", "flows"), ("unit", unit.pk), ("from", f"{start:%Y-%m}"), ("to", f"{end:%Y-%m}")]
    )
