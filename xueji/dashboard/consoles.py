"""Pages of the administrators' consoles that belong to no domain app (三权分立, 等保 8.1.5.1–8.1.5.3; issue 11
§6; security.md §1.4):

* :func:`system_console` — the system administrator's view of the platform: its configuration (non-secret
  settings only), the backups taken and the task queue. It runs the platform; it sees no student data and edits
  no business data (province rule sets and the calendar belong to the departments).
* :func:`audit_export` — the audit administrator's export of the audit trail, within their audit scope, as CSV
  without personal data: when, which event, which account in which role, which object (by its code), where,
  whether it succeeded. No summaries, no before/after values, no addresses.

Lives in the dashboard app (the top of the house) because it reads core, audit and the task queue.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, time
from pathlib import Path
from typing import Any

from django.apps import apps
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.db import connection, transaction
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

from xueji.accounts.auth import actor_of
from xueji.accounts.enums import Role
from xueji.accounts.jurisdiction import roles
from xueji.audit.enums import EventType
from xueji.audit.queries import AuditFilters, event_list
from xueji.audit.services import record
from xueji.core.backups import MANIFEST_SUFFIX
from xueji.core.dates import parse_day
from xueji.core.errors import Forbidden
from xueji.core.ratelimit import ratelimit_hit
from xueji.core.web import ui_errors

StrOrPromise = str | Promise
#: Settings shown to the system administrator: values that configure the platform and hold no secret. Keys,
#: passwords, database URLs and key-file paths are never shown.
CONFIG_SETTINGS: tuple[tuple[str, StrOrPromise], ...] = (
    ("PRODUCTION", _("生产环境（XUEJI_ENV=production）")),
    ("DEBUG", _("调试模式")),
    ("TIME_ZONE", _("时区")),
    ("LANGUAGE_CODE", _("默认语言")),
    ("PASSWORD_POLICY_PROFILE", _("密码策略")),
    ("PASSWORD_MAX_AGE_DAYS", _("密码有效期（天）")),
    ("PASSWORD_HISTORY", _("不得重复使用的历史密码个数")),
    ("ACCOUNT_DORMANCY_DAYS", _("账号闲置封存期限（天）")),
    ("AXES_FAILURE_LIMIT", _("登录失败锁定次数")),
    ("XUEJI_MFA_ENFORCED", _("强制第二身份鉴别因子")),
    ("SESSION_COOKIE_AGE", _("会话空闲超时（秒）")),
    ("SESSION_ABSOLUTE_SECONDS", _("会话绝对时长（秒）")),
    ("ADMIN_SESSION_IDLE_SECONDS", _("管理员会话空闲超时（秒）")),
    ("API_TOKEN_TTL_HOURS", _("API 令牌有效期（小时）")),
    ("AUDIT_RETENTION_DAYS", _("审计记录保存期限（天）")),
    ("AUDIT_CHECKPOINT_EVERY", _("审计链检查点间隔（条）")),
    ("ARCHIVE_MAX_BYTES", _("档案材料上传上限（字节）")),
    ("IMPORT_MAX_BYTES", _("批量导入文件上限（字节）")),
)
#: The newest backups listed.
BACKUPS_SHOWN = 20
#: Rows of one audit export at most (narrow the dates for more).
EXPORT_MAX_ROWS = 50_000
EXPORT_COLUMNS = (
    "occurred_at",
    "event_type",
    "actor_id",
    "actor_username",
    "actor_role",
    "subject_type",
    "subject_id",
    "org_unit_id",
    "province_code",
    "success",
    "request_id",
)
#: Subject types whose id is text a person typed (an attempted login name may be a phone or an ID number):
#: exported without the id.
FREE_TEXT_SUBJECTS = frozenset({"username"})


def require_role(actor: Any, role: str) -> None:
    """The console of one administrator: any other account gets 403 (三权分立)."""
    if role not in roles(actor):
        raise Forbidden("console_forbidden", "此页面属于其他管理员的控制台（三权分立）")


def configuration() -> list[dict[str, Any]]:
    rows = [
        {"key": key, "label": label, "value": getattr(settings, key)}
        for key, label in CONFIG_SETTINGS
        if hasattr(settings, key)
    ]
    rows.append({"key": "DATABASE", "label": _("数据库"), "value": connection.vendor})
    return rows


def backups(directory: Path | None = None) -> list[dict[str, Any]]:
    """The newest manifests under ``VAR_DIR/backups`` (``manage.py backup``): when, which database, size and
    checksum. Unreadable manifests are listed as such."""
    directory = directory or Path(settings.VAR_DIR) / "backups"
    if not directory.is_dir():
        return []
    out = []
    for path in sorted(directory.glob(f"*{MANIFEST_SUFFIX}"), reverse=True)[:BACKUPS_SHOWN]:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            out.append({"file": path.name, "ok": False})
            continue
        out.append(
            {
                "file": str(data.get("file", path.name)),
                "vendor": data.get("vendor", ""),
                "created_at": data.get("created_at", ""),
                "size": data.get("size"),
                "sha256": str(data.get("sha256", ""))[:16],
                "ok": True,
            }
        )
    return out


def task_queue() -> dict[str, Any]:
    """Counts of the database task queue by state and the schedule (``XUEJI_SCHEDULE``)."""
    counts: dict[str, int] = {}
    if apps.is_installed("django_tasks_db"):
        model = apps.get_model("django_tasks_database", "DBTaskResult")
        counts = dict(model.objects.values_list("status").annotate(n=Count("id")).order_by("status"))
    schedule = sorted(getattr(settings, "XUEJI_SCHEDULE", {}).items())
    return {"counts": sorted(counts.items()), "schedule": schedule}


@login_required
@ui_errors
@require_GET
def system_console(request: HttpRequest) -> HttpResponse:
    """系统管理员控制台: configuration (non-secret), backups, task queue."""
    require_role(actor_of(request), Role.SYSTEM_ADMIN)
    return render(
        request,
        "dashboard/system_console.html",
        {"config": configuration(), "backups": backups(), "queue": task_queue()},
    )


@login_required
@ui_errors
@require_GET
def audit_export(request: HttpRequest) -> HttpResponse:
    """审计记录导出 (audit administrator, within their audit scope; else 404 as everywhere): CSV without personal
    data, filtered like the audit log (type, from, to), at most :data:`EXPORT_MAX_ROWS` rows; the export is
    itself audited (who, how many rows, which filters)."""
    user = actor_of(request)
    require_role(user, Role.AUDIT_ADMIN)
    ratelimit_hit(user, "export")
    get = request.GET
    event_type = get.get("type", "")
    filters = AuditFilters(
        event_type=event_type if event_type in EventType.values else "",
        date_from=parse_day(get.get("from", "").strip()),
        date_to=parse_day(get.get("to", "").strip()),
    )
    with transaction.atomic():
        rows = list(event_list(viewer=user, filters=filters).values_list(*EXPORT_COLUMNS)[:EXPORT_MAX_ROWS])
        record(
            event_type=EventType.AUDIT_EVENTS_EXPORTED,
            actor=user,
            actor_role=Role.AUDIT_ADMIN,
            subject_type="audit_trail",
            summary=f"导出审计记录 {len(rows)} 条",
            after={
                "rows": len(rows),
                "event_type": filters.event_type,
                "from": filters.date_from.isoformat() if filters.date_from else "",
                "to": filters.date_to.isoformat() if filters.date_to else "",
            },
        )
    out = io.StringIO()
    out.write("\ufeff")  # Excel opens UTF-8 CSV with a BOM
    writer = csv.writer(out)
    writer.writerow(EXPORT_COLUMNS)
    subject = EXPORT_COLUMNS.index("subject_id")
    for row in rows:
        cells = [_cell(v) for v in row]
        if row[EXPORT_COLUMNS.index("subject_type")] in FREE_TEXT_SUBJECTS:
            cells[subject] = ""
        writer.writerow(cells)
    response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M%S")
    response["Content-Disposition"] = f'attachment; filename="audit-events-{stamp}.csv"'
    response["Cache-Control"] = "no-store"
    return response


def _cell(value: Any) -> str:
    if isinstance(value, datetime):
        return timezone.localtime(value).isoformat()
    if isinstance(value, time):
        return value.isoformat()
    if value is None:
        return ""
    text = str(value)
    # CSV injection: a cell starting with a formula character is quoted as text
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text
