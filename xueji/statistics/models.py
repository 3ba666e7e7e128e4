"""The statistics snapshot: one row per combination of the finest grain, holding how many active enrollments
(在籍) share it (第5、23条: 国家、省、市、县、学校五级 statistics read from one national data set).

Rebuilt in set-based ``INSERT … SELECT … GROUP BY`` statements (:func:`xueji.statistics.services.snapshot_rebuild`)
nightly and soon after imports and applied changes; every figure the pages and the API show is a sum over
these rows.

Why the class is in a table of its own (:class:`ClassCell`) and not in :class:`StatCell`'s grain: a class
holds 45–50 pupils, so putting ``class_name`` in the main grain multiplies its rows by the classes of each
grade — every class carries its own mix of sex, ethnicity, household type and flags — while the national,
province, city and county pages, which read the most rows, never break down by class. Measured with
``manage.py seed`` then ``statistics_rebuild`` (SQLite):

=====================  ==========  ============================  ==========
demo seed              StatCell    StatCell with class in grain  ClassCell
=====================  ==========  ============================  ==========
300 students (default)        209                           209         129
100 000 students            7 857                        21 121       4 570
=====================  ==========  ============================  ==========

(100 000 students: 73 schools, 378 school grades, 2 286 classes; StatCell without ethnicity 3 802.) StatCell
grows with school grades × the mixes of sex, status, ethnicity, household type and flags found in them, not
with pupils: roughly 80 000–100 000 rows at 1 M students, against 210 000–270 000 with the class in it — which
every county-and-above figure would have to sum — plus about 46 000 ClassCell rows, of which a class page
reads one school grade's handful (index ``classcell_asof_grade_scope``: the date, the grade, the school's
path — a central school's prefix takes in its teaching points' classes).

What a page reads: a unit's figures without a grade (every drill-down step from national to school) come from
:class:`StatRollup` — the cells summed per unit on each school's path, 4 573 rows for 100 000 students — one
indexed lookup per table instead of summing the whole subtree (the national page would otherwise add up
every StatCell row once per dimension: 235 ms → 80 ms for its eleven tables at 100 000 students on SQLite).
A school's grade and the API's ``grade=`` read :class:`StatCell` by a prefix range on ``scope_path``
(``varchar_pattern_ops`` on PostgreSQL), a class :class:`ClassCell`, the flows :class:`FlowCell`.

Dated snapshots (counts "as of a date"): a rebuild replaces only its own date's rows and the retention rule of
:mod:`xueji.statistics.services` keeps every day of the last 31 days and each month's last snapshot for 36
months (at most about 66 dates), so :class:`StatCell`, :class:`ClassCell` and :class:`StatRollup` hold that
many copies of the tables above; every read names its date, and each index leads with ``as_of`` so a read
touches one date's rows only. The dates kept are listed in :class:`Snapshot`.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class StatCell(models.Model):
    """How many active enrollments share (school, stage, grade, gender, status, ethnicity, household type,
    flags) on ``as_of``. ``scope_path`` is the school's org path, so a region's figure is a prefix sum."""

    as_of = models.DateField(_("统计日期"))
    school_id = models.BigIntegerField(_("学校"))
    scope_path = models.CharField(max_length=255)
    province_code = models.CharField(max_length=6)
    stage = models.CharField(_("学段"), max_length=8)
    grade = models.PositiveSmallIntegerField(_("年级"))
    gender = models.CharField(_("性别"), max_length=1)
    status = models.CharField(_("学籍状态"), max_length=2)
    ethnicity = models.CharField(_("民族"), max_length=2, default="")
    household_type = models.CharField(_("户口性质"), max_length=1)
    migrant_child = models.BooleanField(_("进城务工人员随迁子女"))
    left_behind = models.CharField(_("留守儿童"), max_length=1)
    disabled = models.BooleanField(_("残疾"))
    count = models.PositiveIntegerField(_("人数"))

    class Meta:
        verbose_name = _("统计快照")
        verbose_name_plural = _("统计快照")
        indexes = [
            # Dated snapshots are kept (retention in xueji.statistics.services): a unit's cells are read for
            # one date and a prefix of the school path — the date leads, then the path's prefix range
            # (``varchar_pattern_ops`` on PostgreSQL; ``date_ops`` is the date's default class).
            models.Index(
                fields=["as_of", "scope_path"],
                opclasses=["date_ops", "varchar_pattern_ops"],
                name="statcell_asof_scope",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.as_of} {self.school_id} {self.count}"


class ClassCell(models.Model):
    """How many active enrollments of one school's grade and class share a sex on ``as_of`` (the last step of
    the drill-down: school → grade → class). Rebuilt with :class:`StatCell`, in the same transaction."""

    as_of = models.DateField(_("统计日期"))
    school_id = models.BigIntegerField(_("学校"))
    scope_path = models.CharField(max_length=255)
    grade = models.PositiveSmallIntegerField(_("年级"))
    class_name = models.CharField(_("班级"), max_length=30)
    gender = models.CharField(_("性别"), max_length=1)
    count = models.PositiveIntegerField(_("人数"))

    class Meta:
        verbose_name = _("班级统计快照")
        verbose_name_plural = _("班级统计快照")
        # a school's grade on one date, teaching points included (their paths lie under the central school's)
        indexes = [
            models.Index(
                fields=["as_of", "grade", "scope_path"],
                opclasses=["date_ops", "int2_ops", "varchar_pattern_ops"],
                name="classcell_asof_grade_scope",
            )
        ]

    def __str__(self) -> str:
        return f"{self.as_of} {self.school_id} {self.grade} {self.class_name} {self.count}"


class FlowKind(models.TextChoices):
    """The flows counted per month (issue 10 §1): what an applied change request or an opened dropout case
    did to a school's roll (第11–21条)."""

    TRANSFER_IN = "transfer_in", _("转入")
    TRANSFER_OUT = "transfer_out", _("转出")
    SUSPENSION = "suspension", _("休学")
    RESUMPTION = "resumption", _("复学")
    WITHDRAWAL = "withdrawal", _("退学")
    DROPOUT = "dropout", _("辍学")
    DEATH = "death", _("死亡注销")
    COMPLETION = "completion", _("结业")
    INCOMPLETE = "incomplete", _("肄业")
    GRADUATION = "graduation", _("毕业")  # the last column (exports and their tests read it there)


class FlowCell(models.Model):
    """How many flows of one kind a school had in one month (``month`` = the month's first day): change
    requests applied (``effective_on`` in the month; a transfer counts out at the sending school and in at the
    receiving one) and dropout cases opened (``opened_on``). Rebuilt with :class:`StatCell`; sparse — a row
    only where something happened — so it stays small (schools × months × kinds that occurred)."""

    month = models.DateField(_("月份"))
    school_id = models.BigIntegerField(_("学校"))
    scope_path = models.CharField(max_length=255)
    kind = models.CharField(_("类别"), max_length=16, choices=FlowKind.choices)
    count = models.PositiveIntegerField(_("人数"))

    class Meta:
        verbose_name = _("学籍变动月度统计")
        verbose_name_plural = _("学籍变动月度统计")
        indexes = [
            models.Index(
                fields=["scope_path"], opclasses=["varchar_pattern_ops"], name="flowcell_scope_pattern"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} {self.school_id} {self.kind} {self.count}"


class SnapshotState(models.Model):
    """The one row (``pk=1``) that debounces the refresh of the snapshot after writes: ``dirty_since`` is set
    by the first import commit or applied change after a rebuild — which alone enqueues a refresh — and cleared
    when the refresh starts (xueji.statistics.receivers, tasks)."""

    dirty_since = models.DateTimeField(_("待更新自"), null=True, blank=True)
    rebuilt_at = models.DateTimeField(_("最近重建时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("统计快照状态")
        verbose_name_plural = _("统计快照状态")

    def __str__(self) -> str:
        return f"dirty since {self.dirty_since}" if self.dirty_since else "clean"


class StatRollup(models.Model):
    """One org unit's count of one value of one dimension, by sex: :class:`StatCell` summed over the unit's
    subtree for every unit on a school's path (national → … → school), written with the snapshot. A page or
    API call without a grade reads its unit's figures with one indexed lookup (``as_of``, ``unit_id``,
    ``dim``) instead
    of summing every cell under the unit's path — the national page would otherwise add up the whole
    snapshot once per dimension. Rows: (units with students) × (values present) × 2 sexes."""

    as_of = models.DateField(_("统计日期"))
    unit_id = models.BigIntegerField(_("单位"))
    dim = models.CharField(_("统计维度"), max_length=16)
    key = models.CharField(max_length=8)
    gender = models.CharField(_("性别"), max_length=1)
    count = models.PositiveIntegerField(_("人数"))

    class Meta:
        verbose_name = _("统计汇总")
        verbose_name_plural = _("统计汇总")
        # every lookup names the date, the unit (or a unit's children) and the dimension
        indexes = [models.Index(fields=["as_of", "unit_id", "dim"], name="statrollup_asof_unit_dim")]

    def __str__(self) -> str:
        return f"{self.as_of} {self.unit_id} {self.dim}={self.key} {self.gender} {self.count}"


class Snapshot(models.Model):
    """One row per snapshot date kept (``as_of``): the list the page's date select offers and the latest date
    every page and API call starts from, read off a table of a hundred rows instead of a DISTINCT over the
    cells. Written and pruned by :func:`xueji.statistics.services.snapshot_rebuild` in the transaction that
    writes or deletes that date's cells (retention rule there)."""

    as_of = models.DateField(_("统计日期"), unique=True)
    rebuilt_at = models.DateTimeField(_("最近重建时间"))
    cells = models.PositiveIntegerField(_("快照行数"), default=0)

    class Meta:
        verbose_name = _("统计快照日期")
        verbose_name_plural = _("统计快照日期")
        ordering = ["-as_of"]

    def __str__(self) -> str:
        return f"{self.as_of}"
