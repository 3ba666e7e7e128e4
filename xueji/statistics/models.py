"""The statistics snapshot: one row per combination of the finest grain, holding how many active enrollments
(在籍) share it (第5、23条: 国家、省、市、县、学校五级 statistics read from one national data set).

Rebuilt nightly in one set-based ``INSERT … SELECT … GROUP BY`` (:func:`xueji.statistics.services.snapshot_rebuild`);
every figure the pages and the API show is a sum over these rows.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class StatCell(models.Model):
    """How many active enrollments share (school, stage, grade, gender, status, household type, flags) on
    ``as_of``. ``scope_path`` is the school's org path, so a region's figure is a prefix sum."""

    as_of = models.DateField(_("统计日期"))
    school_id = models.BigIntegerField(_("学校"))
    scope_path = models.CharField(max_length=255)
    province_code = models.CharField(max_length=6)
    stage = models.CharField(_("学段"), max_length=8)
    grade = models.PositiveSmallIntegerField(_("年级"))
    gender = models.CharField(_("性别"), max_length=1)
    status = models.CharField(_("学籍状态"), max_length=2)
    household_type = models.CharField(_("户口性质"), max_length=1)
    migrant_child = models.BooleanField(_("进城务工人员随迁子女"))
    left_behind = models.CharField(_("留守儿童"), max_length=1)
    disabled = models.BooleanField(_("残疾"))
    count = models.PositiveIntegerField(_("人数"))

    class Meta:
        verbose_name = _("统计快照")
        verbose_name_plural = _("统计快照")
        indexes = [
            models.Index(
                fields=["scope_path"], opclasses=["varchar_pattern_ops"], name="statcell_scope_pattern"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.as_of} {self.school_id} {self.count}"
