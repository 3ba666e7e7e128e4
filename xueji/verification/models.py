"""Semester verification 学籍核查 (第25条: 学校应当至少每学期核准一次学生学籍，确保人籍一致……严肃、及时处理检查中
发现的人籍分离、空挂学籍等问题).

A province (or the ministry) opens a :class:`VerificationRound` over its region; every school in it gets a
:class:`SchoolReturn` at once. The school records only the exceptions (:class:`Finding`); every other pupil on
its roster counts as confirmed present when it submits (the roster count is kept). The county reviews.
"""

from __future__ import annotations

from datetime import date

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from xueji.regions.models import OrgUnit
from xueji.schools.models import School
from xueji.students.models import Enrollment

from .enums import CorrectionField, FindingKind, ReturnState, RoundState, Semester, Whereabouts
from .workflow import PENDING_SCHOOL


class VerificationRound(models.Model):
    """One verification round of a province or the ministry over its region (第5条 省级统筹; 第25条)."""

    org_unit = models.ForeignKey(OrgUnit, models.PROTECT, related_name="+", verbose_name=_("发起单位"))
    # The region the round covers: the opening unit's org path.
    scope_path = models.CharField(max_length=255, db_index=True)
    title = models.CharField(_("核查名称"), max_length=100)
    school_year = models.PositiveSmallIntegerField(_("学年"))  # 2026 = 2026—2027学年
    semester = models.CharField(_("学期"), max_length=1, choices=Semester.choices)
    opened_on = models.DateField(_("发起日期"))
    deadline = models.DateField(_("截止日期"))
    state = models.CharField(_("状态"), max_length=8, choices=RoundState.choices, default=RoundState.OPEN)
    opened_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, related_name="+")
    closed_at = models.DateTimeField(_("结束时间"), null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("学籍核查")
        verbose_name_plural = _("学籍核查")
        ordering = ("-opened_on", "-id")
        constraints = [
            # One open round per opening unit at a time.
            models.UniqueConstraint(
                fields=["org_unit"], condition=Q(state="open"), name="verification_one_open_round_per_unit"
            ),
            models.CheckConstraint(
                condition=Q(deadline__gte=models.F("opened_on")), name="verification_deadline_after_opening"
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_open(self) -> bool:
        return self.state == RoundState.OPEN

    def is_past_deadline(self, today: date) -> bool:
        return self.deadline < today

    @property
    def period_label(self) -> str:
        return f"{self.school_year}—{self.school_year + 1}学年{self.get_semester_display()}"


class SchoolReturn(models.Model):
    """A school's answer to a round: draft → submitted → accepted / returned (→ submitted again)."""

    round = models.ForeignKey(VerificationRound, models.CASCADE, related_name="returns")
    school = models.ForeignKey(School, models.PROTECT, related_name="+", verbose_name=_("学校"))
    # The school's org path (oversight and progress group by it without a join).
    scope_path = models.CharField(max_length=255)
    # The department that reviews: the school's supervising department (its county by default, 第5条).
    reviewer = models.ForeignKey(OrgUnit, models.PROTECT, related_name="+", verbose_name=_("审核单位"))
    state = models.CharField(_("状态"), max_length=10, choices=ReturnState.choices, default=ReturnState.DRAFT)
    roster_count = models.PositiveIntegerField(_("提交时在籍人数"), null=True, blank=True)
    submitted_at = models.DateTimeField(_("提交时间"), null=True, blank=True)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+"
    )
    reviewed_at = models.DateTimeField(_("审核时间"), null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+"
    )
    review_note = models.CharField(_("审核意见"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("学校核查结果")
        verbose_name_plural = _("学校核查结果")
        constraints = [
            models.UniqueConstraint(fields=["round", "school"], name="verification_one_return_per_school"),
            models.CheckConstraint(
                condition=Q(state__in=["draft"]) | Q(submitted_at__isnull=False, roster_count__isnull=False),
                name="verification_submitted_has_roster_count",
            ),
        ]
        indexes = [
            models.Index(fields=["round", "scope_path"], name="verification_return_scope"),
            models.Index(fields=["reviewer", "state"], name="verification_return_reviewer"),
        ]

    def __str__(self) -> str:
        return f"{self.round_id} {self.school_id}"

    def is_overdue(self, today: date) -> bool:
        """Deadline passed and the school has not (re)submitted nor been accepted."""
        return self.state in PENDING_SCHOOL and self.round.deadline < today


class Finding(models.Model):
    """One exception on a school's roster in a round: 人籍分离 (where the child is and why), 空挂学籍 (a record
    without a real pupil) or 需更正 (which data). One per (return, enrollment)."""

    school_return = models.ForeignKey(SchoolReturn, models.CASCADE, related_name="findings")
    enrollment = models.ForeignKey(Enrollment, models.PROTECT, related_name="+")
    # The school's org path, as on the return (oversight groups findings by it).
    scope_path = models.CharField(max_length=255, db_index=True)
    kind = models.CharField(_("异常类型"), max_length=12, choices=FindingKind.choices)
    whereabouts = models.CharField(_("学生去向"), max_length=16, choices=Whereabouts.choices, blank=True)
    correction_fields = models.JSONField(_("需更正的信息"), default=list, blank=True)
    detail = models.CharField(_("情况说明"), max_length=300, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("核查异常")
        verbose_name_plural = _("核查异常")
        constraints = [
            models.UniqueConstraint(
                fields=["school_return", "enrollment"], name="verification_one_finding_per_pupil"
            ),
            models.CheckConstraint(
                condition=~Q(kind="absent") | ~Q(whereabouts=""), name="verification_absent_has_whereabouts"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.school_return_id} {self.enrollment_id} {self.kind}"

    def correction_labels(self) -> list[str]:
        return [str(CorrectionField(v).label) for v in self.correction_fields if v in CorrectionField.values]
