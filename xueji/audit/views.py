"""The audit log page — for audit administrators only (三权分立; 第23条 supervision). Everyone else: 404."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from xueji.accounts.auth import actor_of
from xueji.core.dates import DAY_PATTERN, parse_day
from xueji.core.pagination import PAGE_SIZES, page_size_param
from xueji.core.ratelimit import ratelimit_hit
from xueji.core.web import paginate, ui_errors

from .enums import EventType
from .queries import AuditFilters, checkpoint_export, event_list, with_subjects


@login_required
@ui_errors
def audit_list(request: HttpRequest) -> HttpResponse:
    user = actor_of(request)
    ratelimit_hit(user, "list")  # issue #6 §3.10: a Chinese 429 above the account's limit
    get = request.GET
    event_type = get.get("type", "")
    raw_from, raw_to = get.get("from", "").strip(), get.get("to", "").strip()
    date_from, date_to = parse_day(raw_from), parse_day(raw_to)
    errors = {}
    if raw_from and date_from is None:
        errors["from"] = _("起始日期“%(v)s”不是有效日期（格式 YYYY-MM-DD）") % {"v": raw_from[:20]}
    if raw_to and date_to is None:
        errors["to"] = _("截止日期“%(v)s”不是有效日期（格式 YYYY-MM-DD）") % {"v": raw_to[:20]}
    filters = AuditFilters(
        event_type=event_type if event_type in EventType.values else "",
        actor=get.get("actor", "").strip()[:150],
        date_from=date_from,
        date_to=date_to,
        subject=get.get("subject", "").strip()[:64],
    )
    page = paginate(
        request, event_list(viewer=user, filters=filters), per_page=page_size_param(get.get("size"))
    )
    return render(
        request,
        "audit/list.html",
        {
            "page": page,
            # what each event is about — a student only if the viewer may see them
            "events": with_subjects(user, page.object_list),
            "f": filters,
            "raw": {"from": raw_from[:20], "to": raw_to[:20]},
            "errors": errors,
            "day_pattern": DAY_PATTERN,
            "types": EventType.choices,
            "sizes": PAGE_SIZES,
        },
        status=400 if errors else 200,
    )


@login_required
@ui_errors
def checkpoints_download(request: HttpRequest) -> HttpResponse:
    """The signed checkpoints of the audit chain as a JSON file, for the audit administrator's own records
    (issue 11 §2): ``manage.py audit_verify --checkpoints <file>`` later shows a chain cut short or recomputed
    since. Anyone but an audit administrator: 404."""
    user = actor_of(request)
    ratelimit_hit(user, "export")
    try:
        since = max(0, int(request.GET.get("since", "0")))
    except ValueError:
        since = 0
    data = checkpoint_export(viewer=user, since_seq=since)
    response = JsonResponse(data, json_dumps_params={"ensure_ascii": False, "indent": 2})
    response["Content-Disposition"] = 'attachment; filename="audit-checkpoints.json"'
    response["Cache-Control"] = "no-store"
    return response
