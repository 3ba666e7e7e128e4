"""Change requests and their approval steps; notifications for whoever has work waiting."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from xueji.core.fieldcrypto import SENSITIVE_KEYS, SealedJSONField
from xueji.core.ids import uuid7
from xueji.regions.models import OrgUnit
from xueji.schools.models import School
from xueji.students.models import Enrollment, Person

from .enums import ChangeKind, Party, Scope
from .workflow import IN_FLIGHT_STATES, RequestState, StepMode, StepState


class ChangeRequest(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    kind = models.CharField(_("业务类型"), max_length=24, choices=ChangeKind.choices)
    state = models.CharField(
        _("状态"), max_length=12, choices=RequestState.choices, default=RequestState.PENDING
    )
    person = models.ForeignKey(Person, models.PROTECT, null=True, blank=True, related_name="change_requests")
    enrollment = models.ForeignKey(Enrollment, models.PROTECT, null=True, blank=True, related_name="+")
    province_code = models.CharField(max_length=6, db_index=True)
    scope = models.CharField(_("范围"), max_length=16, choices=Scope.choices, default=Scope.NONE)
    # Visibility: the subtree of the record's school, and of the target school (transfer, progression).
    source_path = models.CharField(max_length=255, db_index=True)
    target_path = models.CharField(max_length=255, blank=True, db_index=True)
    target_school = models.ForeignKey(School, models.PROTECT, null=True, blank=True, related_name="+")
    facts = SealedJSONField(_("办理事项"), default=dict, sensitive=SENSITIVE_KEYS)
    reason = models.CharField(_("原因"), max_length=40, blank=True)
    note = models.CharField(_("说明"), max_length=500, blank=True)
    # The enrollment as it was when the request was made (audit; exact restoration is trivial because nothing
    # is written to the enrollment before the final step).
    before = SealedJSONField(default=dict, sensitive=SENSITIVE_KEYS)
    policy_version = models.CharField(max_length=20, blank=True)
    current_position = models.PositiveSmallIntegerField(default=0)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, related_name="+")
    initiator_org = models.ForeignKey(OrgUnit, models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    # The date the change takes (scheduled) or took (approved) effect: its start date when the last approval
    # came before it (第16条 休学开始日期 …), else the day of that approval (ADR 0005).
    effective_on = models.DateField(_("生效日期"), null=True, blank=True)
    idempotency_key = models.CharField(max_length=80, blank=True)

    class Meta:
        verbose_name = _("学籍变动申请")
        verbose_name_plural = _("学籍变动申请")
        constraints = [
            # A student has at most one request in flight — being approved or approved and waiting for its
            # start date (graduation and every other change wait for it).
            models.UniqueConstraint(
                fields=["person"],
                condition=Q(state__in=sorted(s.value for s in IN_FLIGHT_STATES)),
                name="change_one_open_per_person",
            ),
            models.UniqueConstraint(
                fields=["created_by", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="change_idempotency_key",
            ),
        ]
        indexes = [
            models.Index(fields=["state", "kind"]),
            # The daily task: scheduled requests whose start date has come.
            models.Index(fields=["state", "effective_on"], name="change_state_effective"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.get_state_display()}"

    @property
    def is_open(self) -> bool:
        return self.state in {RequestState.PENDING, RequestState.RETURNED}

    @property
    def is_scheduled(self) -> bool:
        return self.state == RequestState.SCHEDULED


class ApprovalStep(models.Model):
    request = models.ForeignKey(ChangeRequest, models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField()
    party = models.CharField(_("办理方"), max_length=20, choices=Party.choices)
    org_unit = models.ForeignKey(OrgUnit, models.PROTECT, related_name="+", verbose_name=_("办理单位"))
    mode = models.CharField(_("方式"), max_length=8, choices=StepMode.choices, default=StepMode.APPROVE)
    state = models.CharField(_("状态"), max_length=10, choices=StepState.choices, default=StepState.WAITING)
    clock_days = models.PositiveSmallIntegerField(null=True, blank=True)  # working days allowed
    started_on = models.DateField(null=True, blank=True)
    due_on = models.DateField(_("办理期限"), null=True, blank=True)
    due_provisional = models.BooleanField(default=False)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    comment = models.CharField(_("意见"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("审核环节")
        verbose_name_plural = _("审核环节")
        ordering = ["request", "position"]
        constraints = [models.UniqueConstraint(fields=["request", "position"], name="step_position_unique")]
        indexes = [models.Index(fields=["org_unit", "state", "due_on"])]

    def __str__(self) -> str:
        return f"{self.position}. {self.get_party_display()} {self.get_state_display()}"


class ChangeAttachment(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    request = models.ForeignKey(ChangeRequest, models.CASCADE, related_name="attachments")
    step_position = models.PositiveSmallIntegerField(null=True, blank=True)
    title = models.CharField(_("名称"), max_length=100)
    file = models.FileField(upload_to="changes/%Y/%m/")
    content_type = models.CharField(max_length=40)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, related_name="+")
    uploaded_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.title


class Notification(models.Model):
    """An in-system notice to an org unit (all its registrars/approvers see it): work landed on its list
    (``needs_action``: a step to decide, a returned request to complete) or news of a request (decided,
    scheduled, in effect). A work notice is marked done (``done_at``) once the work is finished — decided,
    resubmitted, cancelled or applied — by whoever did it."""

    org_unit = models.ForeignKey(OrgUnit, models.CASCADE, related_name="notifications")
    request = models.ForeignKey(ChangeRequest, models.CASCADE, null=True, blank=True, related_name="+")
    message = models.CharField(max_length=300)
    #: What happened, rendered in the reader's language (:data:`NOTICE_TEXTS`); ``message`` keeps the Chinese
    #: text as written (older rows and free notices have no ``notice``).
    notice = models.CharField(max_length=20, blank=True, default="")
    params = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    needs_action = models.BooleanField(_("待办"), default=False)
    done_at = models.DateTimeField(_("办结时间"), null=True, blank=True)
    read_by = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+")

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["org_unit", "created_at"])]

    def __str__(self) -> str:
        return self.text

    @property
    def text(self) -> str:
        """The notice in the active language: its template with the kind/party/mode labels looked up now."""
        template = NOTICE_TEXTS.get(self.notice)
        if template is None:
            return self.message
        p = dict(self.params)
        values = {
            "kind": _choice_label(ChangeKind, p.get("kind")),
            "party": _choice_label(Party, p.get("party")),
            "mode": _choice_label(StepMode, p.get("mode")),
            "date": p.get("date", ""),
            "reason": p.get("reason", ""),
        }
        return str(template) % values


def _choice_label(choices: Any, value: Any) -> str:
    try:
        return str(choices(value).label)
    except ValueError:
        return str(value or "")


#: The notices the engine writes (kept as keys + parameters so that each reader sees their own language).
NOTICE_TEXTS = {
    "work": _("待办：%(kind)s（%(party)s%(mode)s）"),
    "scheduled": _("%(kind)s已批准，将于%(date)s生效"),
    "applied": _("%(kind)s已生效"),
    "completed": _("%(kind)s已办结"),
    "returned": _("%(kind)s被退回，请补充材料"),
    "rejected": _("%(kind)s未通过"),
    "voided": _("%(kind)s未能生效：%(reason)s"),
    # 预警 (第23条, xueji.alerts): reason = the rule and the account; date = when it last happened.
    "security_alert": _("安全预警：%(reason)s（%(date)s），请核实"),
    # 学籍核查 (第25条, xueji.verification): reason = the round's title, or the school and title, or the note.
    "verify_open": _("学籍核查“%(reason)s”已发起，请于%(date)s前核准本校学籍并提交（第二十五条）"),
    "verify_submitted": _("学籍核查待审核：%(reason)s"),
    "verify_returned": _("学籍核查被退回：%(reason)s"),
    "verify_accepted": _("学籍核查已通过：%(reason)s"),
    # 监督 (第26条, xueji.oversight): reason = the name of the unit whose count of violations rose.
    "oversight_rise": _("违规监督：%(reason)s的违规情形增加（截至%(date)s），请查看违规监督"),
    # 控辍保学 (第17条, xueji.dropouts via xueji.oversight): reason = the pupil's school; date = the escalation.
    "dropout_escalated": _(
        "控辍保学：%(reason)s的辍学学生逾期未跟踪，已于%(date)s逐级上报至本级（第十七条），请督办"
    ),
}
