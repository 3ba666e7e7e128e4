"""The daily count of violations per unit and the notices when a count rises (第5、26条: the level above orders
the unit to put right what it does against the regulation — it must learn of it)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from xueji.changes.models import Notification
from xueji.changes.services import notify
from xueji.dropouts.models import DropoutCase
from xueji.regions.models import OrgUnit

from .models import SnapshotDay, UnitCount
from .queries import Window, own_counts

#: The notice key (``changes.models.NOTICE_TEXTS``) of a rise; its parameters: the unit's name and the day.
NOTICE_RISE = "oversight_rise"
#: The notice key of a dropout case escalated to a department (第17条 逐级上报); parameters: the school's name,
#: the day, ``case`` (the case id, to mark the notice done when the case is followed up) and ``level``.
NOTICE_DROPOUT = "dropout_escalated"
#: Its Chinese text, kept in ``message`` until ``changes.models.NOTICE_TEXTS`` names the key (then each reader
#: sees it in their language).
NOTICE_DROPOUT_TEXT = (
    "控辍保学：%(reason)s的辍学学生逾期未跟踪，已于%(date)s逐级上报至本级（第十七条），请督办"
)
#: Daily counts are kept this long (a year of trend and a margin), then deleted.
KEEP_DAYS = 400


@dataclass(frozen=True)
class SnapshotReport:
    units: int  # units with at least one violation today
    rose: int  # units whose count of some violation rose
    notices: int
    baseline: bool  # the first day: counts stored, nobody told


@transaction.atomic
def counts_snapshot(*, now: datetime | None = None) -> SnapshotReport:
    """Store today's own counts per unit and metric (``queries.own_counts``) and, for every unit whose count of
    any violation is higher than at the previous run, notify the unit and its upper level (第26条) — one notice
    per unit told, naming the unit whose count rose. Re-running the same day compares with the earlier run of
    that day (so nothing is told twice); the very first run is the baseline and tells nobody. Counts older than
    :data:`KEEP_DAYS` are deleted. Called by ``tasks.snapshot_counts`` as the system (no actor)."""
    window = Window.default(now)
    today = window.today
    counts = own_counts(window=window)
    ran_today = SnapshotDay.objects.filter(day=today).exists()
    previous = (
        SnapshotDay.objects.filter(day__lt=today).order_by("-day").values_list("day", flat=True).first()
    )
    baseline_day = today if ran_today else previous
    before: dict[tuple[int, str], int] = {}
    if baseline_day is not None:
        before = {
            (u, m): n
            for u, m, n in UnitCount.objects.filter(day=baseline_day).values_list(
                "org_unit_id", "metric", "count"
            )
        }
    UnitCount.objects.filter(day=today).delete()
    UnitCount.objects.bulk_create(
        UnitCount(org_unit_id=unit_id, metric=metric, day=today, count=n)
        for unit_id, per_metric in counts.items()
        for metric, n in per_metric.items()
        if n > 0
    )
    SnapshotDay.objects.update_or_create(day=today)
    UnitCount.objects.filter(day__lt=today - timedelta(days=KEEP_DAYS)).delete()
    SnapshotDay.objects.filter(day__lt=today - timedelta(days=KEEP_DAYS)).delete()
    if baseline_day is None:
        return SnapshotReport(units=len(counts), rose=0, notices=0, baseline=True)
    rose = sorted(
        unit_id
        for unit_id, per_metric in counts.items()
        if any(n > before.get((unit_id, metric), 0) for metric, n in per_metric.items())
    )
    notices = 0
    for unit in OrgUnit.objects.filter(pk__in=rose).select_related("parent").order_by("path"):
        for told in (unit, unit.parent):
            if told is None:
                continue
            notify(told, None, NOTICE_RISE, reason=unit.name, date=today.isoformat())
            notices += 1
    return SnapshotReport(units=len(counts), rose=len(rose), notices=notices, baseline=False)


def _level_unit(case: DropoutCase, level: str) -> OrgUnit | None:
    """The department of ``level`` (county, city, province) over the case's region (the pupil's current school)."""
    ids = [int(part) for part in case.scope_path.strip("/").split("/") if part.isdigit()]
    return OrgUnit.objects.filter(pk__in=ids, level=level).first()


def dropout_escalation_notify(*, case: DropoutCase, level: str, on: date) -> Notification | None:
    """第17条 (动态跟踪; 逐级上报) and 第5条 (分级负责): a needs-action notice to the department an overdue dropout
    case went up to — the county at the first step, the city at the second, the province at the third. The
    notice names the school, never the pupil (第24条); it is done when the case is followed up or closed."""
    unit = _level_unit(case, level)
    if unit is None:
        return None
    params: dict[str, Any] = {
        "reason": case.school.name,
        "date": on.isoformat(),
        "case": str(case.pk),
        "level": level,
    }
    n = notify(unit, None, NOTICE_DROPOUT, needs_action=True, **params)
    if not n.message:  # the key is not in NOTICE_TEXTS yet: keep the Chinese text
        n.message = (NOTICE_DROPOUT_TEXT % params)[:300]
        n.save(update_fields=["message"])
    return n


def dropout_escalation_done(*, case: DropoutCase) -> int:
    """The case was followed up or closed: its escalation notices are done for everyone who sees them."""
    return Notification.objects.filter(
        notice=NOTICE_DROPOUT, params__case=str(case.pk), needs_action=True, done_at__isnull=True
    ).update(done_at=timezone.now())
