"""Schools: a school is an org unit (level ``school``) with the attributes below."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from xueji.regions.models import OrgUnit

from .enums import Listing, Operator, SchoolState, SchoolType


class School(models.Model):
    org = models.OneToOneField(OrgUnit, models.PROTECT, primary_key=True, related_name="school")
    school_code = models.CharField(_("学校标识码"), max_length=10, unique=True)
    name = models.CharField(_("学校名称"), max_length=120)
    school_type = models.CharField(_("办学类型"), max_length=24, choices=SchoolType.choices)
    operator = models.CharField(_("举办者"), max_length=16, choices=Operator.choices, default=Operator.PUBLIC)
    # Comma-free list of stage codes ("primary", "junior", "senior").
    stages = models.JSONField(_("学段"), default=list)
    state = models.CharField(
        _("状态"), max_length=16, choices=SchoolState.choices, default=SchoolState.ACTIVE
    )
    listing = models.CharField(_("类别"), max_length=16, choices=Listing.choices, default=Listing.MAINLAND)
    county_code = models.CharField(_("所在县区代码"), max_length=6)
    province_code = models.CharField(_("省级区划代码"), max_length=6, db_index=True)
    # The department that supervises the school: its county by default, a city/province for directly
    # administered schools (第5条), the ministry for separately listed schools (第27条).
    supervising_dept = models.ForeignKey(
        OrgUnit, models.PROTECT, related_name="supervised_schools", verbose_name=_("主管教育行政部门")
    )
    # 第22条: a teaching point's records may be managed by its central school.
    central_school = models.ForeignKey(
        "self",
        models.PROTECT,
        null=True,
        blank=True,
        related_name="teaching_points",
        verbose_name=_("中心校"),
    )
    # Where the school's records went when it merged or closed (第12条).
    successor = models.ForeignKey(OrgUnit, models.PROTECT, null=True, blank=True, related_name="+")
    address = models.CharField(_("地址"), max_length=200, blank=True)

    # Not a column: set for the rows of a page by ``queries.with_active_counts``.
    active_students: int

    class Meta:
        verbose_name = _("学校")
        verbose_name_plural = _("学校")

    def __str__(self) -> str:
        return self.name

    @property
    def is_teaching_point(self) -> bool:
        return self.school_type == SchoolType.TEACHING_POINT

    def teaches(self, stage: str) -> bool:
        return stage in self.stages
