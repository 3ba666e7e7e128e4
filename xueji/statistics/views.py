"""The statistics page (第5、23条): a unit's active enrollments by child unit, grade, gender, status and stage,
each as a table, a bar chart drawn from that table (static/js/charts.js) and an audited .xlsx export."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import BadRequest
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from xueji.accounts.auth import actor_of
from xueji.core.ratelimit import ratelimit_hit
from xueji.core.web import ui_errors

from .queries import DIMENSIONS, breakdown, is_school, snapshot_date, stat_roots, stat_unit, trail
from .services import export_xlsx

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@login_required
@ui_errors
@require_GET
def overview(request: HttpRequest) -> HttpResponse:
    user = actor_of(request)
    unit = stat_unit(viewer=user, unit_id=request.GET.get("unit"))
    dims = [d for d in DIMENSIONS if not (d == "region" and is_school(unit))]
    context = {
        "unit": unit,
        "trail": trail(viewer=user, unit=unit),
        "roots": stat_roots(user),
        "as_of": snapshot_date(),
        "breakdowns": [breakdown(unit=unit, by=d) for d in dims],
    }
    return render(request, "statistics/overview.html", context)


@login_required
@ui_errors
@require_GET
def export(request: HttpRequest) -> HttpResponse:
    user = actor_of(request)
    unit = stat_unit(viewer=user, unit_id=request.GET.get("unit"))
    by = request.GET.get("by", "")
    if by not in DIMENSIONS:
        raise BadRequest(_("统计维度无效"))
    ratelimit_hit(user, "export")  # issue 10 §5: exports are rate-limited (after the scope check: 404 first)
    table = breakdown(unit=unit, by=by)
    response = HttpResponse(export_xlsx(actor=user, unit=unit, breakdown=table), content_type=XLSX)
    response["Content-Disposition"] = f'attachment; filename="statistics-{unit.pk}-{by}.xlsx"'
    return response
