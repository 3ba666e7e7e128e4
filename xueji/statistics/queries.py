"""Reads of the statistics snapshot for a viewer (第5、23条: each level sees the statistics of its own area).

A unit is readable when it lies in the viewer's student-data jurisdiction (``accounts.jurisdiction``); any
other unit — an ancestor drawn in the org tree included — is "not found". Every figure is a sum over
:class:`~xueji.statistics.models.StatCell` rows under the unit's path, so it equals a direct count of the
active enrollments behind it at the time of the snapshot.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.db.models import Sum
from django.db.models.functions import Coalesce
from django.utils import timezone
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
from xueji.students.enums import Ethnicity, Gender, HouseholdType, LeftBehind, StudentStatus

from .models import ClassCell, FlowCell, FlowKind, Snapshot, StatCell, StatRollup

#: The dimensions a unit's figure can be broken down by, with their column titles. ``class`` is the last step
#: of the drill-down (one school's grade → its classes) and needs a school and a grade.
DIMENSIONS: dict[str, Promise] = {
    "region": _("下级单位"),
    "grade": _("年级"),
    "class": _("班级"),
    "gender": _("性别"),
    "ethnicity": _("民族"),
    "status": _("学籍状态"),
    "stage": _("学段"),
    "household_type": _("户口性质"),
    "migrant_child": _("随迁子女"),
    "left_behind": _("留守儿童"),
    "disabled": _("残疾情况"),
}
#: The dimensions a breakdown can be split by (the stacked bars: each row's count by sex).
SPLITS: dict[str, Promise] = {"gender": _("性别")}

#: Yes/no dimensions: key "1" or "0" and how each reads.
_FLAGS: dict[str, tuple[Promise, Promise]] = {
    "migrant_child": (_("进城务工人员随迁子女"), _("非随迁子女")),
    "disabled": (_("残疾"), _("无残疾")),
}


#: The label of a value left empty in the records (an ethnicity not filled in on an old import).
BLANK_LABEL = _("未填写")


def _choice_label(choices: Any) -> Callable[[Any], str]:
    def label(v: Any) -> str:
        if v in ("", None):
            return str(BLANK_LABEL)
        return str(choices(v).label) if v in choices.values else str(v)

    return label


def _flag_label(yes_no: tuple[Promise, Promise]) -> Callable[[Any], str]:
    return lambda v: str(yes_no[0] if v == "1" else yes_no[1])


_LABELS: dict[str, Callable[[Any], str]] = {
    "grade": grade_label,
    "class": str,
    "gender": _choice_label(Gender),
    "ethnicity": _choice_label(Ethnicity),
    "status": _choice_label(StudentStatus),
    "stage": _choice_label(Stage),
    "household_type": _choice_label(HouseholdType),
    "left_behind": _choice_label(LeftBehind),
    **{name: _flag_label(pair) for name, pair in _FLAGS.items()},
}

# Coded dimensions are listed in their code tables' order (小学 before 初中), grades by number, flags yes first.
_ORDER: dict[str, list[str]] = {
    "gender": Gender.values,
    "ethnicity": Ethnicity.values,
    "status": StudentStatus.values,
    "stage": Stage.values,
    "household_type": HouseholdType.values,
    "left_behind": LeftBehind.values,
    "migrant_child": ["1", "0"],
    "disabled": ["1", "0"],
}


def _key(value: Any) -> str:
    """A dimension value as the text key of its row (booleans as "1"/"0")."""
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def _position(by: str, key: str) -> tuple[int, int, str]:
    order = _ORDER.get(by, [])
    if key == "" and by in _ORDER:
        return (len(order) + 1, 0, key)  # 未填写 last
    if key in order:
        return (order.index(key), 0, key)
    # grades and classes: by number where they are numbers ("2班" before "10班"), else by text
    digits = "".join(ch for ch in key if ch.isdigit())
    return (len(order), int(digits) if digits else 0, key)


@dataclass(frozen=True)
class Row:
    key: str
    label: str
    count: int
    unit_id: int | None = None  # region breakdowns: the child unit to drill into
    parts: dict[str, int] = field(default_factory=dict)  # split breakdowns: the count by the split's keys


@dataclass(frozen=True)
class Part:
    key: str
    label: str


@dataclass(frozen=True)
class Breakdown:
    by: str
    title: Promise
    rows: list[Row]
    total: int
    as_of: date | None
    grade: int | None = None
    split: str | None = None
    parts: list[Part] = field(default_factory=list)  # the split's columns, in code order

    @property
    def part_totals(self) -> list[tuple[Part, int]]:
        """Each split column with its total over the rows (the table's footer, the export's last line)."""
        return [(p, sum(r.parts.get(p.key, 0) for r in self.rows)) for p in self.parts]


def snapshot_date(as_of: Any = None) -> date | None:
    """The date of the snapshot to read: the latest (None before the first rebuild) or, given ``as_of`` (a date
    or ``YYYY-MM-DD``), the latest snapshot on or before it — a date with no snapshot of its own reads the one
    in force then. No snapshot on or before it → :class:`NotFound`; a malformed date → a field error. One
    indexed read of the small :class:`Snapshot` table: call it once per request and pass the date on."""
    if as_of in (None, ""):
        return Snapshot.objects.order_by("-as_of").values_list("as_of", flat=True).first()
    day = parse_day(as_of)
    found = Snapshot.objects.filter(as_of__lte=day).order_by("-as_of").values_list("as_of", flat=True).first()
    if found is None:
        raise NotFound(str(_("%(day)s 及之前没有统计快照")) % {"day": day.isoformat()})
    return found


def parse_day(value: Any) -> date:
    """A date given as ``YYYY-MM-DD`` (or a date) for ``as_of``; anything else a field error naming it."""
    if isinstance(value, date):
        return value
    text = str(value)
    if len(text) == 10 and text[4] == "-" and text[7] == "-":
        try:
            return date.fromisoformat(text)
        except ValueError:
            pass
    raise FieldError("as_of", "invalid_date", str(_("统计日期格式应为 YYYY-MM-DD（例如 2026-09-30）")))


def snapshot_dates() -> list[date]:
    """The snapshot dates kept, newest first (the page's date select)."""
    return list(Snapshot.objects.order_by("-as_of").values_list("as_of", flat=True))


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


_LATEST: Any = object()


def breakdown(
    *, unit: OrgUnit, by: str, grade: Any = None, split: str | None = None, as_of: Any = _LATEST
) -> Breakdown:
    """The unit's active enrollments counted by one dimension, in one grade when ``grade`` is given and each
    row split by sex when ``split="gender"``. ``unit`` must come from :func:`stat_unit` (jurisdiction checked
    there). ``by="region"`` gives one row per child unit (schools of a county included), in code order, zero
    rows kept so the table lists every active child (a closed or merged one only while it has students; a
    school's own pupils first when it has teaching points); ``by="class"`` one row per class of a school's
    grade, its teaching points' included (read from :class:`ClassCell`). The total is the sum of the rows:
    every snapshot row has exactly one value of each dimension, so it equals the unit's count (in the grade).
    ``as_of``: the snapshot's date as resolved by :func:`snapshot_date` (read once per request and passed to
    every table); left out, the latest."""
    if by not in DIMENSIONS:
        choices = "、".join(DIMENSIONS)
        raise FieldError(
            "by", "invalid_dimension", str(_("统计维度无效：可选 %(choices)s")) % {"choices": choices}
        )
    if split not in (None, "", *SPLITS) or split == by:
        raise FieldError(
            "split", "invalid_split", str(_("分组维度无效：可选 gender（性别），且不能与统计维度相同"))
        )
    split = split or None
    grade_value = parse_grade(grade)
    if by == "class" and (not is_school(unit) or grade_value is None):
        raise FieldError("grade", "grade_required", str(_("按班级统计须指定学校和年级")))
    if as_of is _LATEST:
        as_of = snapshot_date()
    if as_of is None:  # no snapshot yet: no counts (a region's active children listed with zeros)
        rows = _child_rows(unit, _children(unit), {}, split) if by == "region" else []
    elif by == "class":
        assert grade_value is not None  # checked above
        rows = _class_rows(unit, grade_value, split, as_of)
    elif grade_value is None:
        rows = (
            _rollup_region_rows(unit, split, as_of)
            if by == "region"
            else _rollup_rows(unit, by, split, as_of)
        )
    else:
        cells = StatCell.objects.filter(as_of=as_of, scope_path__startswith=unit.path, grade=grade_value)
        rows = _region_rows(unit, cells, split) if by == "region" else _grouped_rows(by, by, cells, split)
    parts = [Part(key=k, label=_LABELS[split](k)) for k in _ORDER[split]] if split else []
    return Breakdown(
        by=by,
        title=DIMENSIONS[by],
        rows=rows,
        total=sum(r.count for r in rows),
        as_of=as_of,
        grade=grade_value,
        split=split,
        parts=parts,
    )


def parse_grade(value: Any) -> int | None:
    if value in (None, ""):
        return None
    if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
        number = int(value)
        if 1 <= number <= 12:
            return number
    raise FieldError("grade", "invalid_grade", str(_("年级无效：应为 1–12")))


def _grouped_rows(by: str, column: str, cells: Any, split: str | None) -> list[Row]:
    """One GROUP BY over the snapshot rows by the dimension's column (and the split's)."""
    columns = [column, split] if split else [column]
    grouped = cells.values(*columns).annotate(n=Coalesce(Sum("count"), 0)).order_by()
    counts: dict[str, int] = {}
    parts: dict[str, dict[str, int]] = {}
    for g in grouped:
        key = _key(g[column])
        counts[key] = counts.get(key, 0) + int(g["n"])
        if split:
            parts.setdefault(key, {})[_key(g[split])] = int(g["n"])
    rows = [
        Row(key=k, label=_LABELS[by](k), count=n, parts=_filled(parts.get(k, {}), split))
        for k, n in counts.items()
    ]
    rows.sort(key=lambda r: _position(by, r.key))
    return rows


def _rollup_rows(unit: OrgUnit, by: str, split: str | None, as_of: date) -> list[Row]:
    """The unit's rows read off :class:`StatRollup` (one indexed lookup: date, unit, dimension)."""
    counts: dict[str, int] = {}
    parts: dict[str, dict[str, int]] = {}
    for key, gender, n in StatRollup.objects.filter(as_of=as_of, unit_id=unit.pk, dim=by).values_list(
        "key", "gender", "count"
    ):
        counts[key] = counts.get(key, 0) + n
        parts.setdefault(key, {})[gender] = parts.get(key, {}).get(gender, 0) + n
    rows = [
        Row(key=k, label=_LABELS[by](k), count=n, parts=_filled(parts[k], split) if split else {})
        for k, n in counts.items()
    ]
    rows.sort(key=lambda r: _position(by, r.key))
    return rows


def _children(unit: OrgUnit) -> list[OrgUnit]:
    return list(OrgUnit.objects.filter(parent=unit).order_by("level", "code"))


def _child_rows(
    unit: OrgUnit, children: list[OrgUnit], by_child: dict[str, dict[str, int]], split: str | None
) -> list[Row]:
    """One row per child unit by its counts by sex (``by_child``, keyed by the child's id as text). A closed or
    merged child (inactive) is listed only when it still has students; an active one always, zero included.
    A school with teaching points (第22条) also has pupils of its own: they are the first row, so the rows
    add up to the school."""
    rows = []
    if is_school(unit) and by_child.get(str(unit.pk)):
        own = by_child[str(unit.pk)]
        label = str(_("%(name)s（本校）")) % {"name": unit.name}
        rows.append(Row(key=str(unit.pk), label=label, count=sum(own.values()), parts=_filled(own, split)))
    for c in children:
        counts = by_child.get(str(c.pk), {})
        total = sum(counts.values())
        if not c.is_active and not total:
            continue
        rows.append(Row(key=str(c.pk), label=c.name, count=total, unit_id=c.pk, parts=_filled(counts, split)))
    return rows


def _rollup_region_rows(unit: OrgUnit, split: str | None, as_of: date) -> list[Row]:
    """One row per child unit, zero rows kept, read off the children's :class:`StatRollup` rows by sex (and,
    at a school with teaching points, the school's own pupils: its figure less its children's)."""
    children = _children(unit)
    by_child: dict[str, dict[str, int]] = {}
    ids = [c.pk for c in children] + ([unit.pk] if is_school(unit) else [])
    rollups = StatRollup.objects.filter(as_of=as_of, unit_id__in=ids, dim="gender")
    for unit_id, gender, n in rollups.values_list("unit_id", "key", "count"):
        by_child.setdefault(str(unit_id), {})[gender] = n
    if is_school(unit):
        own = by_child.pop(str(unit.pk), {})
        for counts in by_child.values():
            for gender, n in counts.items():
                own[gender] = own.get(gender, 0) - n
        by_child[str(unit.pk)] = {g: n for g, n in own.items() if n}
    return _child_rows(unit, children, by_child, split)


def _filled(parts: dict[str, int], split: str | None) -> dict[str, int]:
    """Every key of the split, zero where no row has it (a stacked bar and its table need each column)."""
    if not split:
        return {}
    return {k: parts.get(k, 0) for k in _ORDER[split]}


def _region_rows(unit: OrgUnit, cells: Any, split: str | None) -> list[Row]:
    """One row per child unit, zero rows kept: one GROUP BY over the snapshot by the child's id read off each
    cell's school path (never one row per school brought into Python). A school's own pupils (cells at the
    school's path itself, no child on it) are counted apart."""
    children = _children(unit)
    grouped = (
        cells.exclude(scope_path=unit.path)
        .annotate(child=child_id_on_path("scope_path", unit.path))
        .values("child", "gender")
        .annotate(n=Sum("count"))
        .order_by()
    )
    by_child: dict[str, dict[str, int]] = {}
    for g in grouped:
        counts = by_child.setdefault(str(g["child"]), {})
        counts[g["gender"]] = counts.get(g["gender"], 0) + int(g["n"])
    if is_school(unit):
        own = cells.filter(scope_path=unit.path).values("gender").annotate(n=Sum("count")).order_by()
        by_child[str(unit.pk)] = {g["gender"]: int(g["n"]) for g in own}
    return _child_rows(unit, children, by_child, split)


def _class_rows(unit: OrgUnit, grade: int, split: str | None, as_of: date) -> list[Row]:
    """One row per class of the school's grade, by sex, from :class:`ClassCell` — the classes of its teaching
    points included (第22条: their paths lie under the central school's, so the classes add up to the grade).
    Classes of more than one school are keyed and labelled with their school."""
    grouped = (
        ClassCell.objects.filter(as_of=as_of, grade=grade, scope_path__startswith=unit.path)
        .values("school_id", "class_name", "gender")
        .annotate(n=Sum("count"))
        .order_by()
    )
    counts: dict[tuple[int, str], dict[str, int]] = {}
    for g in grouped:
        cell = counts.setdefault((g["school_id"], g["class_name"]), {})
        cell[g["gender"]] = cell.get(g["gender"], 0) + int(g["n"])
    schools = {school_id for school_id, _c in counts}
    # Labelled with their school whenever a class is not the page's own (a teaching point's, 教学点).
    labelled = len(schools) > 1 or schools - {unit.pk}
    names = dict(OrgUnit.objects.filter(pk__in=schools).values_list("pk", "name")) if labelled else {}
    order = {school_id: i for i, school_id in enumerate(_path_order(unit, schools))}
    rows = []
    for school_id, class_name in sorted(counts, key=lambda k: (order[k[0]], _position("class", k[1]))):
        parts = counts[(school_id, class_name)]
        key, label = class_name, class_name
        if names:
            key, label = f"{school_id}:{class_name}", f"{names.get(school_id, school_id)} {class_name}"
        rows.append(Row(key=key, label=label, count=sum(parts.values()), parts=_filled(parts, split)))
    return rows


def _path_order(unit: OrgUnit, schools: set[int]) -> list[int]:
    """The school first, then its teaching points by id."""
    return sorted(schools, key=lambda s: (s != unit.pk, s))


def is_school(unit: OrgUnit) -> bool:
    return unit.level == OrgLevel.SCHOOL


#: The longest period the flows page and API give at once (months).
MAX_FLOW_MONTHS = 60


@dataclass(frozen=True)
class Flows:
    """A unit's monthly flows over a period: one row per month (every month of the period, zero rows kept),
    its ``parts`` the count of each :class:`FlowKind`."""

    start: date
    end: date  # the first day of the last month
    parts: list[Part]
    rows: list[Row]

    @property
    def part_totals(self) -> list[tuple[Part, int]]:
        return [(p, sum(r.parts.get(p.key, 0) for r in self.rows)) for p in self.parts]

    @property
    def total(self) -> int:
        return sum(r.count for r in self.rows)


def month_of(value: Any, field_name: str) -> date | None:
    """A month given as ``YYYY-MM`` (or a date) → its first day; empty → None; anything else a field error."""
    if value in (None, ""):
        return None
    if isinstance(value, date):
        return value.replace(day=1)
    text = str(value)
    if len(text) == 7 and text[4] == "-" and text[:4].isdigit() and text[5:].isdigit():
        year, month = int(text[:4]), int(text[5:])
        if 1900 <= year <= 9999 and 1 <= month <= 12:
            return date(year, month, 1)
    raise FieldError(field_name, "invalid_month", str(_("月份格式应为 YYYY-MM（例如 2026-09）")))


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def flow_period(start: Any = None, end: Any = None, *, today: date | None = None) -> tuple[date, date]:
    """The months a flows table covers: ``start``–``end`` (``YYYY-MM``, inclusive); by default the last 12
    months up to this one. Refused (naming the field): a bad month, an end before the start, a period of more
    than :data:`MAX_FLOW_MONTHS` months."""
    last = month_of(end, "to") or (today or timezone.localdate()).replace(day=1)
    first = month_of(start, "from") or _add_months(last, -11)
    if first > last:
        raise FieldError("from", "invalid_period", str(_("起始月份不能晚于结束月份")))
    if _add_months(first, MAX_FLOW_MONTHS) <= last:
        raise FieldError(
            "from", "period_too_long", str(_("统计期间最长 %(n)s 个月")) % {"n": MAX_FLOW_MONTHS}
        )
    return first, last


def flows(*, unit: OrgUnit, start: date, end: date) -> Flows:
    """The unit's flows per month from ``start`` to ``end`` (first days of months, from :func:`flow_period`):
    one GROUP BY over :class:`FlowCell` rows under the unit's path. ``unit`` must come from :func:`stat_unit`
    (jurisdiction checked there)."""
    grouped = (
        FlowCell.objects.filter(scope_path__startswith=unit.path, month__gte=start, month__lte=end)
        .values("month", "kind")
        .annotate(n=Sum("count"))
        .order_by()
    )
    counts: dict[date, dict[str, int]] = {}
    for g in grouped:
        counts.setdefault(g["month"], {})[g["kind"]] = int(g["n"])
    parts = [Part(key=k.value, label=str(k.label)) for k in FlowKind]
    rows = []
    month = start
    while month <= end:
        by_kind = {p.key: counts.get(month, {}).get(p.key, 0) for p in parts}
        rows.append(
            Row(key=f"{month:%Y-%m}", label=f"{month:%Y-%m}", count=sum(by_kind.values()), parts=by_kind)
        )
        month = _add_months(month, 1)
    return Flows(start=start, end=end, parts=parts, rows=rows)
