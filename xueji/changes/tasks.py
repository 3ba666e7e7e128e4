"""Queue tasks of changes: the annual promotion started from the web (第7条), the daily application of
approved changes whose start date has come (第16条 休学 from its start date …; ADR 0005), and the clean-up of
attachment files left on disk without a database row.

The promotion is one transaction (``promotion.promotion_run``): a worker killed while it runs leaves nothing
written, and the run is re-runnable (students promoted already are skipped), so running it again is the
retry. Its result — the report, or the refusal — is the queue task's return value, read back by the page
that started it (only by the account that started it).
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import timezone
from django_tasks import task
from django_tasks.base import TaskResultStatus
from django_tasks.exceptions import TaskResultDoesNotExist

from xueji.accounts.types import Actor
from xueji.core import context
from xueji.core.errors import ApplicationError
from xueji.regions.models import OrgUnit
from xueji.students.models import ArchiveDocument

from .models import ChangeAttachment
from .promotion import PromotionReport, promotion_run
from .services import scheduled_changes_apply

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------------------------- promotion
@task()
def run_promotion(
    *,
    user_id: int,
    org_unit_id: int,
    school_year: int,
    today: str,
    request_id: str = "",
    ip: str | None = None,
) -> dict[str, Any]:
    """Queue task: :func:`promotion_run` as the user who started it, with the request id and IP of the
    request that started it in the audit events. Returns ``{"report": …}`` or ``{"error": {code, message}}``
    (a refusal such as ``promotion_raced`` is a result, not a crash)."""
    actor = get_user_model().objects.get(pk=user_id)
    unit = OrgUnit.objects.get(pk=org_unit_id)
    token = context.set_current(context.RequestContext(request_id=request_id, ip=ip))
    try:
        report = promotion_run(
            actor=actor, org_unit=unit, school_year=school_year, today=date.fromisoformat(today)
        )
    except ApplicationError as exc:
        return {"error": {"code": exc.code, "message": exc.message, "fields": dict(exc.fields)}}
    finally:
        context.reset(token)
    return {"report": report.as_dict()}


def promotion_enqueue(*, actor: Actor, org_unit: OrgUnit, school_year: int, today: date) -> str:
    """Queue a promotion run (the caller has checked the actor's right and the school year, so refusals are
    shown at once); returns the queue task id the page polls."""
    ctx = context.current()
    result = run_promotion.enqueue(
        user_id=int(actor.pk),
        org_unit_id=int(org_unit.pk),
        school_year=int(school_year),
        today=today.isoformat(),
        request_id=ctx.request_id,
        ip=ctx.ip,
    )
    return str(result.id)


@dataclass(frozen=True)
class PromotionJob:
    status: str  # READY | RUNNING | SUCCESSFUL | FAILED
    org_unit_id: int
    school_year: int
    report: PromotionReport | None = None
    error_code: str = ""
    error_message: str = ""

    @property
    def running(self) -> bool:
        return self.status in {TaskResultStatus.READY, TaskResultStatus.RUNNING}


def promotion_job(*, viewer: Actor, task_id: str) -> PromotionJob | None:
    """The promotion run ``task_id`` as its starter sees it; None when it does not exist or was started by
    another account (the page answers 404)."""
    try:
        result = run_promotion.get_result(task_id)
    except (TaskResultDoesNotExist, ValueError, NotImplementedError):
        return None
    kwargs = dict(result.kwargs)
    if kwargs.get("user_id") != viewer.pk:
        return None
    status = str(result.status)
    job = PromotionJob(
        status=status, org_unit_id=int(kwargs["org_unit_id"]), school_year=int(kwargs["school_year"])
    )
    if status == TaskResultStatus.FAILED:
        return PromotionJob(
            status=status,
            org_unit_id=job.org_unit_id,
            school_year=job.school_year,
            error_code="promotion_failed",
            error_message="年度升级失败（系统错误），未写入任何数据，请重新办理",
        )
    if status != TaskResultStatus.SUCCESSFUL:
        return job
    value = result.return_value or {}
    if "error" in value:
        return PromotionJob(
            status=status,
            org_unit_id=job.org_unit_id,
            school_year=job.school_year,
            error_code=value["error"]["code"],
            error_message=value["error"]["message"],
        )
    return PromotionJob(
        status=status,
        org_unit_id=job.org_unit_id,
        school_year=job.school_year,
        report=PromotionReport(**value["report"]),
    )


# --------------------------------------------------------------------------------------------- start dates
@task()
def apply_due_changes() -> dict[str, int]:
    """Scheduled (daily, ``XUEJI_SCHEDULE``): apply every approved change whose start date is today or past
    (:func:`scheduled_changes_apply`; idempotent, each request in its own transaction). Returns the counts."""
    report = scheduled_changes_apply(actor=None, today=timezone.localdate())
    return {"applied": report.applied, "voided": report.voided, "failed": report.failed}


# --------------------------------------------------------------------------------------------- clean-up
ATTACHMENT_DIRS = ("archive", "changes")


def attachment_orphans_purge(*, actor: Actor | None, now: datetime) -> int:
    """Delete attachment files (electronic archive 第6条, change-request evidence) that have no database row
    and are older than ``settings.XUEJI_ORPHAN_FILE_GRACE_HOURS`` (default 24).

    Such files appear when the file was saved and the transaction that would have stored its row rolled
    back (a refusal after the save, a crash). Personal data with no record must not stay on disk
    (security.md "retention"). The grace period protects files whose transaction is still open. ``actor`` is
    None (the schedule). Returns the number of files removed."""
    grace = timedelta(hours=int(getattr(settings, "XUEJI_ORPHAN_FILE_GRACE_HOURS", 24)))
    cutoff = (now - grace).timestamp()
    root = Path(settings.MEDIA_ROOT)
    removed = 0
    for top in ATTACHMENT_DIRS:
        base = root / top
        if not base.is_dir():
            continue
        candidates = [p for p in base.rglob("*") if p.is_file() and p.stat().st_mtime < cutoff]
        for start in range(0, len(candidates), 500):
            chunk = {str(p.relative_to(root)): p for p in candidates[start : start + 500]}
            names = list(chunk)
            known = set(ArchiveDocument.objects.filter(file__in=names).values_list("file", flat=True))
            known |= set(ChangeAttachment.objects.filter(file__in=names).values_list("file", flat=True))
            for name, path in chunk.items():
                if name not in known:
                    with contextlib.suppress(FileNotFoundError):
                        path.unlink()
                        removed += 1
    if removed:
        log.warning("removed %d attachment files without a database row", removed)
    return removed


@task()
def purge_orphan_attachments() -> int:
    """Scheduled (daily): :func:`attachment_orphans_purge`."""
    return attachment_orphans_purge(actor=None, now=timezone.now())
