"""An export request (第24条): purpose, recipient, legal basis, fields, scope and period, the approver who
answers for it (谁批准谁负责), the signed approval record, and the encrypted file built from it."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from xueji.core.ids import uuid7
from xueji.regions.models import OrgUnit

from .enums import AuthorityLevel, Source, State


class ExportRequest(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, related_name="+")
    org_unit = models.ForeignKey(OrgUnit, models.PROTECT, related_name="+", verbose_name=_("范围"))
    province_code = models.CharField(max_length=6)
    scope_path = models.CharField(max_length=255)
    source = models.CharField(_("导出内容"), max_length=12, choices=Source.choices)
    fields = models.JSONField(_("导出字段"), default=list)
    filters = models.JSONField(_("筛选条件"), default=dict, blank=True)
    purpose = models.CharField(_("用途"), max_length=300)
    recipient = models.CharField(_("接收方"), max_length=120)
    legal_basis = models.CharField(_("法律依据或批准文件"), max_length=200)
    authority = models.CharField(_("批准机关"), max_length=120)
    authority_level = models.CharField(_("批准机关级别"), max_length=10, choices=AuthorityLevel.choices)
    document_number = models.CharField(_("批准文号"), max_length=60)
    period_start = models.DateField(_("使用期限起"))
    period_end = models.DateField(_("使用期限止"))
    identified = models.BooleanField(_("申请导出可识别个人的数据"), default=False)
    generalise_school = models.BooleanField(_("学校泛化为区县"), default=False)
    state = models.CharField(_("状态"), max_length=10, choices=State.choices, default=State.DRAFT)
    created_at = models.DateTimeField(auto_now_add=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    # 谁批准谁负责: the approver and the decision, signed by the platform keys (Ed25519 and SM2).
    approving_unit = models.ForeignKey(OrgUnit, models.PROTECT, related_name="+", null=True, blank=True)
    approver = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, related_name="+", null=True, blank=True
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.CharField(_("审批意见"), max_length=300, blank=True)
    approved_identified = models.BooleanField(default=False)
    signed_record = models.JSONField(null=True, blank=True)
    signature_ed25519 = models.CharField(max_length=128, blank=True)
    signature_sm2 = models.CharField(max_length=160, blank=True)
    signature_kids = models.JSONField(default=dict, blank=True)
    # The per-export pseudonym key: kept only until the file is built, then destroyed (GB/T 37964).
    pseudonym_key = models.BinaryField(null=True, blank=True, editable=False)
    task_id = models.CharField(max_length=64, blank=True)
    # The file: SM4-GCM under a random per-file key wrapped by the export key encryption key.
    file_path = models.CharField(max_length=200, blank=True)
    wrapped_key = models.BinaryField(null=True, blank=True, editable=False)
    row_count = models.PositiveIntegerField(default=0)
    suppressed = models.PositiveIntegerField(default=0)
    built_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    download_count = models.PositiveIntegerField(default=0)
    message = models.CharField(max_length=300, blank=True)

    class Meta:
        verbose_name = _("数据导出申请")
        verbose_name_plural = _("数据导出申请")
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["requested_by", "-created_at"], name="export_requester"),
            models.Index(fields=["state", "approving_unit"], name="export_worklist"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(period_end__gte=models.F("period_start")), name="export_period_order"
            ),
            models.CheckConstraint(
                condition=~models.Q(approver=models.F("requested_by")), name="export_no_self_approval"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_source_display()} {self.pk}"
