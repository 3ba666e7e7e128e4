"""The dropout ledger 控辍保学台账 (第17条): one case per pupil who stopped attending, and its follow-ups."""

from __future__ import annotations

from datetime import date

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from xueji.core.ids import uuid7
from xueji.schools.models import School
from xueji.students.models import Enrollment, Person

from .enums import Escalation, FollowUpKind, Outcome, Reason, Source, State


class DropoutCase(models.Model):
    """A compulsory-education pupil followed until the case closes with an enumerated outcome (第17条)."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    enrollment = models.ForeignKey(Enrollment, models.PROTECT, related_name="dropout_cases")
    person = models.ForeignKey(Person, models.PROTECT, related_name="dropout_cases")
    school = models.ForeignKey(School, models.PROTECT, related_name="dropout_cases", verbose_name=_("学校"))
    # Copied from the enrollment when the case opens: region scoping like the students' (jurisdiction.scope_q).
    scope_path = models.CharField(max_length=255)
    opened_on = models.DateField(_("立案日期"))
    opened_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, related_name="+")
    source = models.CharField(_("来源"), max_length=8, choices=Source.choices)
    # 第17条 相关部门反馈的问题线索: the department that gave the lead (公安、民政、乡镇人民政府 …); empty for a school report.
    lead_from = models.CharField(_("线索来源部门"), max_length=60, blank=True)
    days_absent = models.PositiveSmallIntegerField(_("连续缺课天数"))
    last_seen = models.DateField(_("最后到校日期"), null=True, blank=True)
    reason = models.CharField(_("辍学原因"), max_length=10, choices=Reason.choices)
    state = models.CharField(_("状态"), max_length=8, choices=State.choices, default=State.OPEN)
    next_follow_up = models.DateField(_("下次跟踪日期"), null=True, blank=True)
    outcome = models.CharField(_("结案结果"), max_length=16, choices=Outcome.choices, blank=True)
    returned_class = models.CharField(_("复学班级"), max_length=30, blank=True)
    returned_on = models.DateField(_("复学日期"), null=True, blank=True)
    outcome_note = models.CharField(_("结案说明"), max_length=300, blank=True)
    closed_at = models.DateTimeField(_("结案时间"), null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+"
    )
    # Who is chasing the overdue follow-up now (the daily escalation); back to NONE when a follow-up is recorded,
    # the history stays in :class:`CaseEscalation`.
    escalation = models.CharField(
        _("升级督办"), max_length=8, choices=Escalation.choices, default=Escalation.NONE
    )

    class Meta:
        ordering = ("-opened_on", "-id")
        constraints = [
            # One open case per pupil; a closed case always carries its outcome (never closed silently).
            models.UniqueConstraint(
                fields=["person"], condition=Q(state="open"), name="dropout_one_open_case_per_person"
            ),
            models.CheckConstraint(
                condition=Q(state="open", outcome="", closed_at__isnull=True)
                | (Q(state="closed", closed_at__isnull=False) & ~Q(outcome="")),
                name="dropout_closed_has_outcome",
            ),
            models.CheckConstraint(
                condition=~Q(outcome="returned") | Q(returned_on__isnull=False) & ~Q(returned_class=""),
                name="dropout_returned_has_class_and_date",
            ),
            # A lead names the department it came from (第17条 相关部门反馈的问题线索).
            models.CheckConstraint(
                condition=~Q(source="lead") | ~Q(lead_from=""), name="dropout_lead_names_department"
            ),
        ]
        indexes = [models.Index(fields=["scope_path", "state"], name="dropout_scope_state")]

    def __str__(self) -> str:
        return str(self.pk)

    def is_overdue(self, today: date) -> bool:
        """An open case whose next follow-up date has passed (第17条: dynamic tracking)."""
        return self.state == State.OPEN and self.next_follow_up is not None and self.next_follow_up < today

    def days_open(self, today: date) -> int:
        end = timezone.localdate(self.closed_at) if self.closed_at else today
        return (end - self.opened_on).days


class FollowUp(models.Model):
    """One contact with the guardians or home visit (劝返) of a case — or a history row the system wrote
    (``kind`` system, no ``recorded_by``)."""

    case = models.ForeignKey(DropoutCase, models.CASCADE, related_name="follow_ups")
    date = models.DateField(_("跟踪日期"))
    kind = models.CharField(_("方式"), max_length=8, choices=FollowUpKind.choices)
    people = models.CharField(_("参与人员"), max_length=100)
    result = models.TextField(_("结果"), max_length=500)
    next_date = models.DateField(_("下次跟踪日期"), null=True, blank=True)
    # None for a history row the system wrote (kind ``system``: closed from the register).
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+"
    )
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("-date", "-id")

    def __str__(self) -> str:
        return f"{self.case_id} {self.date}"


class CaseEscalation(models.Model):
    """One step up of an overdue case (第17条 dynamic tracking; 第5条 分级负责): to the county when a school's
    follow-up date has passed, to the city when it is overdue by more than the configured working days.
    Append-only history, written by the daily task (``actor`` None)."""

    case = models.ForeignKey(DropoutCase, models.CASCADE, related_name="escalations")
    level = models.CharField(_("升级至"), max_length=8, choices=Escalation.choices)
    on = models.DateField(_("升级日期"))
    missed = models.DateField(_("逾期的跟踪日期"))
    working_days_overdue = models.PositiveSmallIntegerField(_("逾期工作日"))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("-on", "-id")
        constraints = [
            # The daily task is idempotent: one step per level for one missed follow-up date.
            models.UniqueConstraint(fields=["case", "level", "missed"], name="dropout_escalation_once"),
        ]

    def __str__(self) -> str:
        return f"{self.case_id} {self.level} {self.on}"
