"""Daily counts of violations per unit (第26条), kept so that a rise can be told to the unit and the level above."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from xueji.regions.models import OrgUnit


class SnapshotDay(models.Model):
    """A day the counts were taken (also when every count was zero): the first day is the baseline, no notice."""

    day = models.DateField(_("统计日期"), unique=True)
    taken_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("-day",)

    def __str__(self) -> str:
        return f"{self.day}"


class UnitCount(models.Model):
    """One unit's OWN count of one violation (``queries.METRICS`` key) on one day; zero counts are not stored."""

    org_unit = models.ForeignKey(OrgUnit, models.CASCADE, related_name="+", verbose_name=_("单位"))
    metric = models.CharField(_("违规情形"), max_length=24)
    day = models.DateField(_("统计日期"))
    count = models.PositiveIntegerField(_("件数"))

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["org_unit", "metric", "day"], name="oversight_one_count_per_day")
        ]
        indexes = [models.Index(fields=["day"], name="oversight_count_day")]

    def __str__(self) -> str:
        return f"{self.org_unit_id} {self.metric} {self.day}: {self.count}"
