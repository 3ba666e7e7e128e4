"""Reads for 监督: what the regulation names as violations, counted per unit one level below the viewer's unit.

第5条 (分级负责) and 第26条: a department answers for the units below it — it orders a school or a lower
department to put right what it does against the regulation. These reads make that visible from existing data:

- ``archives``: registrations whose archive is past its two-month deadline and not completed (第6条);
- ``steps``: approval steps past their clock and still waiting for their unit (第15条 and the other deadlines
  of 第11–21条);
- ``late_decisions``: steps decided after their clock in the period, at the deciding unit — and per person
  on :func:`late_deciders` (第15条: 10 working days per party; 第26条 责令改正 names the person responsible);
- ``transfers``: transfer requests refused, counted at the unit that refused them, in a chosen period
  (第15条; 第26条 五：不为合规接收学生办理转学手续);
- ``transfers_expired``: transfer requests left waiting at a unit past its 10 working days (第15条; 第26条 五);
- ``late_changes``: changes entered more than a month after the event they record (第7条: 原则上在1个月内完成
  更新; a death after its 60 working days, 第21条), counted at the school holding the record (第26条 三);
- ``problems``: 问题学籍 still open past their own deadline ``due_on`` (第9条), as the checks queue's overdue.

Adding a violation is one :class:`Metric` entry in :data:`METRICS`: its records, the org path of each record,
and how one record reads on the drill-down list (the pages, the totals and the daily notices follow).

Every count is one ``GROUP BY`` over the unit's subtree: the key is the id of the child unit, cut out of the
record's org path (``/1/5/27/100/`` under ``/1/5/`` → ``27``), so the cost does not grow with the number of
units listed (no query per unit). Records of the unit itself (a county's own overdue steps) belong to no child:
the level above sees them on its page.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import Count, DateField, Exists, ExpressionWrapper, F, Max, OuterRef, Q, QuerySet
from django.db.models.fields.json import KT
from django.db.models.functions import Cast, Coalesce, TruncDate
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from xueji.accounts.jurisdiction import data_grants, in_scope, scope_paths
from xueji.accounts.types import Actor
from xueji.changes.enums import ChangeKind
from xueji.changes.models import ApprovalStep, ChangeRequest
from xueji.changes.workflow import RequestState, StepState
from xueji.core.errors import NotFound
from xueji.dropouts.models import DropoutCase
from xueji.regions.enums import OrgLevel
from xueji.regions.models import OrgUnit
from xueji.regions.queries import child_id_on_path
from xueji.students.models import Enrollment, ProblemRecord
from xueji.verification.enums import RoundState, Whereabouts
from xueji.verification.models import Finding, SchoolReturn
from xueji.verification.queries import absent_without_case, returns_overdue

#: Default period for refused transfers, late decisions and late changes (days back from today).
DEFAULT_PERIOD_DAYS = 90


@dataclass(frozen=True)
class Window:
    """What "past its deadline" and "in the period" mean for one page: today, the period of refused
    transfers (both ends included) and how old an open problem record must be to count."""

    now: datetime
    start: date
    end: date

    @property
    def today(self) -> date:
        return timezone.localdate(self.now)

    @classmethod
    def default(cls, now: datetime | None = None) -> Window:
        now = now or timezone.now()
        today = timezone.localdate(now)
        return cls(now, today - timedelta(days=DEFAULT_PERIOD_DAYS), today)


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


def late_decisions(prefix: str, w: Window) -> QuerySet[ApprovalStep]:
    """第15条 (and the clocks of 第11–21条): steps decided in the period on a day after their due day."""
    return ApprovalStep.objects.filter(
        org_unit__path__startswith=prefix,
        decided_at__gte=_day_start(w.start),
        decided_at__lt=_day_start(w.end + timedelta(days=1)),
        due_on__isnull=False,
        decided_by__isnull=False,
    ).filter(due_on__lt=TruncDate("decided_at"))


def transfers_expired(prefix: str, w: Window) -> QuerySet[ApprovalStep]:
    """第15条 (转入、转出学校和双方上级 10 个工作日内完成核办), 第26条 五: transfer requests left waiting at a unit
    past its clock — counted at the unit sitting on it (refusals are :func:`transfers_refused`)."""
    return ApprovalStep.objects.filter(
        org_unit__path__startswith=prefix,
        state=StepState.PENDING,
        due_on__lt=w.today,
        request__kind=ChangeKind.TRANSFER,
        request__state=RequestState.PENDING,
    )


#: 第7条: changes are entered 原则上在 1 个月内 — counted leniently as the longest month.
LATE_CHANGE_DAYS = 31
#: The facts that record the day a change happened (the event the school must enter).
EVENT_FACTS = ("departure_date", "return_date", "assessed_on")


def late_changes(prefix: str, w: Window) -> QuerySet[ChangeRequest]:
    """第7条, 第26条 三 (不及时把学籍变动信息纳入学籍档案): changes entered in the period more than
    :data:`LATE_CHANGE_DAYS` days after the event they record (出境、返回原校、评估), and deaths filed after their
    60 working days (第21条, the kind's own ``filed_late``); counted at the school holding the record."""
    event = Cast(Coalesce(*[KT(f"facts__{key}") for key in EVENT_FACTS]), DateField())
    limit = ExpressionWrapper(F("event_on") + timedelta(days=LATE_CHANGE_DAYS), output_field=DateField())
    return (
        ChangeRequest.objects.filter(
            source_path__startswith=prefix,
            created_at__gte=_day_start(w.start),
            created_at__lt=_day_start(w.end + timedelta(days=1)),
        )
        .exclude(state=RequestState.CANCELLED)
        .annotate(event_on=event)
        .annotate(event_limit=limit)
        .filter(
            Q(kind=ChangeKind.DEATH, facts__filed_late=True)
            | (~Q(kind=ChangeKind.DEATH) & Q(event_limit__lt=TruncDate("created_at")))
        )
    )


def problems_overdue(prefix: str, w: Window) -> QuerySet[ProblemRecord]:
    """第9条 (问题学籍 are checked and resolved by the department) and 第26条: open problem records past their own
    deadline (``due_on`` before today, in working days per rule) — the same records as the checks queue's
    "overdue" filter, so the level above and the queue agree."""
    return ProblemRecord.objects.filter(
        scope_path__startswith=prefix,
        state=ProblemRecord.State.OPEN,
        due_on__lt=w.today,
    )


def verification_overdue(prefix: str, w: Window) -> QuerySet[SchoolReturn]:
    """第25条 (每学期核准) and 第26条: schools whose return is past its round's deadline (open or closed round)
    and neither submitted nor accepted."""
    return returns_overdue(prefix, w.today)


def dropouts_unreported(prefix: str, w: Window) -> QuerySet[Finding]:
    """第17条 and 第26条 四 (不及时报告义务教育阶段学生辍学情况): pupils a school itself marked 人籍分离 in a
    verification round — on the register, not attending — with no dropout case opened."""
    cases_since_round = DropoutCase.objects.filter(
        person_id=OuterRef("enrollment__person_id"),
        opened_on__gte=OuterRef("school_return__round__opened_on"),
    )
    return (
        absent_without_case(prefix)
        # only where the school itself says the child is out of school or nowhere to be found — a pupil at another
        # school, abroad or ill at home is not a dropout (第17条)
        .filter(
            whereabouts__in=[Whereabouts.NOT_IN_SCHOOL, Whereabouts.UNKNOWN],
            school_return__round__state=RoundState.OPEN,
        )
        # a case opened since the round began — still open or already closed — is a report made
        .exclude(Exists(cases_since_round))
    )


@dataclass(frozen=True)
class Item:
    """How one record behind a count reads on the drill-down list (the view masks the student, 第24条)."""

    person: Any  # students.Person or None
    day: Any
    unit: str = ""
    kind: str = ""
    change_id: Any = None
    note: str = ""


def _step_item(step: ApprovalStep) -> Item:
    return Item(
        step.request.person,
        step.due_on,
        unit=step.org_unit.name,
        kind=step.request.get_kind_display(),
        change_id=step.request_id,
    )


def _late_decision_item(step: ApprovalStep) -> Item:
    decided = timezone.localdate(step.decided_at) if step.decided_at else None
    who = str(step.decided_by) if step.decided_by else ""  # a staff account's display name
    return Item(
        step.request.person,
        step.due_on,
        unit=step.org_unit.name,
        kind=step.request.get_kind_display(),
        change_id=step.request_id,
        note=str(_("%(day)s 由 %(who)s 办结"))
        % {"day": f"{decided:%Y-%m-%d}" if decided else "", "who": who},
    )


def _refusal_item(step: ApprovalStep) -> Item:
    return Item(
        step.request.person,
        step.decided_at,
        unit=step.org_unit.name,
        kind=step.request.get_kind_display(),
        change_id=step.request_id,
    )


def _late_change_item(req: ChangeRequest) -> Item:
    event = getattr(req, "event_on", None) or req.facts.get("date_of_death", "")
    return Item(
        req.person,
        req.created_at,
        kind=req.get_kind_display(),
        change_id=req.pk,
        note=str(_("事件日期 %(day)s")) % {"day": event},
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
    item: Callable[[Any], Item]
    day_label: Any
    #: Which drill-down columns the records fill (student is always shown).
    columns: frozenset[str] = field(default_factory=lambda: frozenset({"kind", "unit"}))


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
        lambda e: Item(e.person, e.archive_due, unit=e.school.name),
        _("档案建立期限"),
        frozenset({"unit"}),
    ),
    Metric(
        "late_changes",
        _("变动未及时纳入档案"),
        _("变动迟报"),
        _("第七、二十一、二十六条"),
        late_changes,
        "source_path",
        ("person",),
        ("created_at", "pk"),
        _late_change_item,
        _("提交时间"),
        frozenset({"kind", "note"}),
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
        _step_item,
        _("办理期限"),
    ),
    Metric(
        "late_decisions",
        _("审核超期办结"),
        _("超期办结"),
        _("第十五、二十六条"),
        late_decisions,
        "org_unit__path",
        ("request__person", "org_unit", "decided_by"),
        ("-decided_at", "pk"),
        _late_decision_item,
        _("办理期限"),
        frozenset({"kind", "unit", "note"}),
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
        _refusal_item,
        _("决定时间"),
    ),
    Metric(
        "transfers_expired",
        _("转学申请逾期未核办"),
        _("转学逾期"),
        _("第十五、二十六条"),
        transfers_expired,
        "org_unit__path",
        ("request__person", "org_unit"),
        ("due_on", "pk"),
        _step_item,
        _("办理期限"),
    ),
    Metric(
        "dropouts_unreported",
        _("辍学未报告"),
        _("辍学未报"),
        _("第十七、二十六条"),
        dropouts_unreported,
        "scope_path",
        ("enrollment__person", "school_return__school"),
        ("updated_at", "pk"),
        lambda f: Item(
            f.enrollment.person,
            f.updated_at,
            unit=f.school_return.school.name,
            kind=f.get_whereabouts_display(),
        ),
        _("标记时间"),
    ),
    Metric(
        "verification_overdue",
        _("学籍核查逾期未提交"),
        _("核查逾期"),
        _("第二十五、二十六条"),
        verification_overdue,
        "scope_path",
        ("round", "school"),
        ("round__deadline", "pk"),
        lambda r: Item(None, r.round.deadline, unit=r.school.name, kind=r.round.title),
        _("截止日期"),
    ),
    Metric(
        "problems",
        _("问题学籍逾期未处理"),
        _("问题逾期"),
        _("第九条"),
        problems_overdue,
        "scope_path",
        ("person",),
        ("due_on", "pk"),
        lambda p: Item(p.person, p.due_on, kind=p.get_kind_display()),
        _("处理期限"),
        frozenset({"kind"}),
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


def metric_items(*, unit: OrgUnit, metric: Metric, window: Window, own: bool = True) -> QuerySet[Any]:
    """The records behind one count: the metric's records in ``unit``'s subtree, oldest trouble first; without
    the unit's own records when ``own`` is false (the unit's own overview leaves those to the level above)."""
    records = metric.records(unit.path, window)
    if not own:
        records = records.exclude(**{metric.path_field: unit.path})
    return records.select_related(*metric.related).order_by(*metric.order)


@dataclass(frozen=True)
class Decider:
    """One person's steps decided after their clock in the window (第15、26条: the person responsible)."""

    user_id: int
    name: str
    unit: str
    count: int
    latest: datetime


def late_deciders(*, unit: OrgUnit, window: Window, own: bool = True) -> list[Decider]:
    """The people of ``unit``'s subtree who decided steps after their clock in the period, most first — one
    ``GROUP BY`` (person, unit); without the unit's own people when ``own`` is false (as :func:`metric_items`).
    Staff accounts, not student data: named in full."""
    records = late_decisions(unit.path, window)
    if not own:
        records = records.exclude(org_unit__path=unit.path)
    grouped = (
        records.values("decided_by", "decided_by__display_name", "decided_by__username", "org_unit__name")
        .annotate(n=Count("pk"), latest=Max("decided_at"))
        .order_by("-n", "org_unit__name", "decided_by")
    )
    return [
        Decider(
            user_id=int(g["decided_by"]),
            name=g["decided_by__display_name"] or g["decided_by__username"],
            unit=g["org_unit__name"],
            count=int(g["n"]),
            latest=g["latest"],
        )
        for g in grouped
    ]


def own_counts(*, window: Window) -> dict[int, dict[str, int]]:
    """Every unit's OWN count per metric (records whose org path is the unit's, not its subtree's): what the
    daily notice compares (a school's violations are told to the school and its county, a county's own to the
    county and its city — not repeated to every level above). One ``GROUP BY`` per metric over the country and
    one query mapping paths to units; units with nothing are left out."""
    per_path: dict[str, dict[str, int]] = {}
    for m in METRICS:
        grouped = m.records("/", window).values(m.path_field).annotate(n=Count("pk")).order_by()
        for g in grouped:
            per_path.setdefault(g[m.path_field], {})[m.key] = int(g["n"])
    units = dict(OrgUnit.objects.filter(path__in=list(per_path)).values_list("path", "pk"))
    out: dict[int, dict[str, int]] = {}
    for path, counts in per_path.items():
        if path in units:
            target = out.setdefault(units[path], {})
            for key, n in counts.items():
                target[key] = target.get(key, 0) + n
    return out
