"""Reads for 监督: what the regulation names as violations, counted per unit one level below the viewer's unit.

第5条 (分级负责) and 第26条: a department answers for the units below it — it orders a school or a lower
department to put right what it does against the regulation. These reads make that visible from existing data:

- ``archives``: registrations whose archive is past its two-month deadline and not completed (第6条);
- ``steps``: approval steps past their clock and still waiting for their unit (第15条 and the other deadlines
  of 第11–21条);
- ``transfers``: transfer requests refused, counted at the unit that refused them, in a chosen period
  (第15条; 第26条 五：不为合规接收学生办理转学手续);
- ``problems``: 问题学籍 still open after N days (第9条).

Every count is one ``GROUP BY`` over the unit's subtree: the key is the id of the child unit, cut out of the
record's org path (``/1/5/27/100/`` under ``/1/5/`` → ``27``), so the cost does not grow with the number of
units listed (no query per unit). Records of the unit itself (a county's own overdue steps) belong to no child:
the level above sees them on its page.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import Count, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from xueji.accounts.jurisdiction import data_grants, in_scope, scope_paths
from xueji.accounts.types import Actor
from xueji.changes.enums import ChangeKind
from xueji.changes.models import ApprovalStep
from xueji.changes.workflow import RequestState, StepState
from xueji.core.errors import NotFound
from xueji.regions.enums import OrgLevel
from xueji.regions.models import OrgUnit
from xueji.regions.queries import child_id_on_path
from xueji.students.models import Enrollment, ProblemRecord

#: Default period for refused transfers (days back from today) and age of a stale problem record.
DEFAULT_PERIOD_DAYS = 90
DEFAULT_STALE_DAYS = 30


@dataclass(frozen=True)
class Window:
    """What "past its deadline" and "in the period" mean for one page: today, the period of refused
    transfers (both ends included) and how old an open problem record must be to count."""

    now: datetime
    start: date
    end: date
    stale_days: int

    @property
    def today(self) -> date:
        return timezone.localdate(self.now)

    @classmethod
    def default(cls, now: datetime | None = None) -> Window:
        now = now or timezone.now()
        today = timezone.localdate(now)
        return cls(now, today - timedelta(days=DEFAULT_PERIOD_DAYS), today, DEFAULT_STALE_DAYS)


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def archives_overdue(prefix: str, w: Window) -> QuerySet[Enrollment]:
    """第6条: the archive is built within two months of first registration; active records past it."""
    return Enrollment.objects.filter(
        scope_path__startswith=prefix,
        is_active=True,
        archive_completed_at__isnull=True,
        archive_due__lt=w.today,
    )


def steps_overdue(prefix: str, w: Window) -> QuerySet[ApprovalStep]:
    """第15条 (and the deadlines of 第11–21条): steps on their unit's list past their due day."""
    return ApprovalStep.objects.filter(
        org_unit__path__startswith=prefix, state=StepState.PENDING, due_on__lt=w.today
    )


def transfers_refused(prefix: str, w: Window) -> QuerySet[ApprovalStep]:
    """第15条, 第26条 五: transfer requests refused, by the unit whose step refused them, decided in the
    period (a refused request has exactly one refusing step)."""
    return ApprovalStep.objects.filter(
        org_unit__path__startswith=prefix,
        state=StepState.REJECTED,
        request__kind=ChangeKind.TRANSFER,
        request__state=RequestState.REJECTED,
        decided_at__gte=_day_start(w.start),
        decided_at__lt=_day_start(w.end + timedelta(days=1)),
    )


def problems_stale(prefix: str, w: Window) -> QuerySet[ProblemRecord]:
    """第9条: 问题学籍 are checked and resolved by the department; open ones older than ``stale_days``."""
    return ProblemRecord.objects.filter(
        scope_path__startswith=prefix,
        state=ProblemRecord.State.OPEN,
        created_at__lt=w.now - timedelta(days=w.stale_days),
    )


@dataclass(frozen=True)
class Metric:
    key: str
    label: Any
    short: Any  # the label of a phone card (fits one line)
    article: Any
    records: Callable[[str, Window], QuerySet[Any]]
    path_field: str  # the org path of each record
    related: tuple[str, ...]
    order: tuple[str, ...]


METRICS: tuple[Metric, ...] = (
    Metric(
        "archives",
        _("档案逾期未建立"),
        _("档案逾期"),
        _("第六、二十六条"),
        archives_overdue,
        "scope_path",
        ("person", "school"),
        ("archive_due", "pk"),
    ),
    Metric(
        "steps",
        _("审核超期未办理"),
        _("审核超期"),
        _("第七、十五、二十六条"),
        steps_overdue,
        "org_unit__path",
        ("request__person", "org_unit"),
        ("due_on", "pk"),
    ),
    Metric(
        "transfers",
        _("转学申请未予办理"),
        _("转学未办"),
        _("第十五、二十六条"),
        transfers_refused,
        "org_unit__path",
        ("request__person", "org_unit"),
        ("-decided_at", "pk"),
    ),
    Metric(
        "problems",
        _("问题学籍逾期未处理"),
        _("问题逾期"),
        _("第九条"),
        problems_stale,
        "scope_path",
        ("person",),
        ("created_at", "pk"),
    ),
)
BY_KEY = {m.key: m for m in METRICS}


def metric_named(key: str) -> Metric:
    metric = BY_KEY.get(key)
    if metric is None:
        raise NotFound()
    return metric


def viewer_units(viewer: Actor) -> list[OrgUnit]:
    """The tops of the viewer's jurisdiction (student data, 第22、23条), most general first."""
    paths = scope_paths(viewer)
    units = {g.org_unit.path: g.org_unit for g in data_grants(viewer)}
    return [units[p] for p in paths]


def oversight_unit(*, viewer: Actor, org_id: Any = None) -> OrgUnit:
    """The unit whose children are listed: the viewer's own (first) unit, or one inside their jurisdiction;
    anything else is "not found" (第23条; a school registrar sees their own school only)."""
    if org_id is None:
        tops = viewer_units(viewer)
        if not tops:
            raise NotFound()
        return tops[0]
    unit = (
        OrgUnit.objects.select_related("parent").filter(pk=org_id).first() if str(org_id).isdigit() else None
    )
    if unit is None or not in_scope(viewer, unit.path):
        raise NotFound()
    return unit


@dataclass
class Row:
    unit: OrgUnit
    counts: dict[str, int]


def oversight_rows(*, unit: OrgUnit, window: Window) -> list[Row]:
    """One row per child of ``unit`` (a school: itself) with the count of each metric in its subtree.
    One query for the children and one ``GROUP BY`` per metric, whatever the number of children."""
    if unit.level == OrgLevel.SCHOOL:
        return [Row(unit, {m.key: m.records(unit.path, window).count() for m in METRICS})]
    children = list(OrgUnit.objects.filter(parent=unit).order_by("level", "code"))
    per_metric: dict[str, dict[str, int]] = {}
    for m in METRICS:
        grouped = (
            m.records(unit.path, window)
            .exclude(**{m.path_field: unit.path})
            .annotate(child=child_id_on_path(m.path_field, unit.path))
            .values("child")
            .annotate(n=Count("pk"))
            .order_by()
        )
        per_metric[m.key] = {str(g["child"]): int(g["n"]) for g in grouped}
    return [Row(c, {k: per_metric[k].get(str(c.pk), 0) for k in per_metric}) for c in children]


def metric_items(*, unit: OrgUnit, metric: Metric, window: Window) -> QuerySet[Any]:
    """The records behind one count: the metric's records in ``unit``'s subtree, oldest trouble first."""
    return metric.records(unit.path, window).select_related(*metric.related).order_by(*metric.order)
