"""The official working-day calendar (国务院办公厅 holiday notices), kept in the database.

Legal clocks count working days: transfer 10 per party (第15条), death 60 (第21条). Only exceptions to the
weekday/weekend rule are stored: statutory days off that fall on weekdays or weekends inside a holiday span
(``is_workday=False``) and make-up working days on weekends (调休上班, ``is_workday=True``). A year is
"official" only once a :class:`CalendarYear` row says so; other years are computed on weekends alone and
every deadline in them is marked provisional.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class CalendarYear(models.Model):
    year = models.PositiveSmallIntegerField(_("年份"), primary_key=True)
    source = models.CharField(_("来源"), max_length=200)
    loaded_at = models.DateTimeField(auto_now=True)
    loaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("官方日历年份")
        verbose_name_plural = _("官方日历年份")

    def __str__(self) -> str:
        return str(self.year)


class SpecialDay(models.Model):
    day = models.DateField(_("日期"), primary_key=True)
    is_workday = models.BooleanField(_("是否工作日"))
    name = models.CharField(_("名称"), max_length=40)

    class Meta:
        verbose_name = _("节假日与调休")
        verbose_name_plural = _("节假日与调休")
        ordering = ["day"]

    def __str__(self) -> str:
        return f"{self.day} {self.name}"
