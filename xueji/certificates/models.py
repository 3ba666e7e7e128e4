"""Electronic certificates (第19条): issuer keys (public halves), status lists, certificates, batch runs.

Private keys are never stored here (security.md §4): see :mod:`xueji.certificates.keystore`.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from xueji.core.ids import uuid7
from xueji.schools.models import School
from xueji.students.models import Enrollment, Person

from .enums import BatchState, Kind


class IssuerKey(models.Model):
    """One key generation of a province issuer: an Ed25519 and an SM2 public key under one key id.

    Rotation (docs/certificates.md): the new key signs from ``valid_from``; the old one gets ``valid_until``
    and keeps verifying what it signed (a key must be valid at a credential's ``validFrom``)."""

    kid = models.CharField(_("密钥标识"), max_length=24, unique=True)
    province_code = models.CharField(max_length=6, db_index=True)
    ed25519_public = models.CharField(max_length=80)
    sm2_public = models.CharField(max_length=120)
    valid_from = models.DateTimeField(_("启用时间"))
    valid_until = models.DateTimeField(_("停用时间"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("签发密钥")
        verbose_name_plural = _("签发密钥")
        constraints = [
            models.UniqueConstraint(
                fields=["province_code"], condition=Q(valid_until__isnull=True), name="issuerkey_one_current"
            )
        ]

    def __str__(self) -> str:
        return self.kid


class StatusList(models.Model):
    """A revocation Bitstring Status List of one province issuer (131 072 bits) and its signed credential."""

    province_code = models.CharField(max_length=6)
    number = models.PositiveIntegerField()
    bits = models.BinaryField()
    used = models.PositiveIntegerField(default=0)
    credential = models.JSONField(default=dict)
    signed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["province_code", "number"], name="statuslist_unique_number")
        ]

    def __str__(self) -> str:
        return f"{self.province_code}/{self.number}"


class CertificateBatch(models.Model):
    """A cohort issued on the task queue (progress: ``done`` of ``total``)."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    school = models.ForeignKey(School, models.PROTECT, related_name="+", verbose_name=_("学校"))
    province_code = models.CharField(max_length=6)
    scope_path = models.CharField(max_length=255)
    kind = models.CharField(_("证书类型"), max_length=16, choices=Kind.choices)
    state = models.CharField(_("状态"), max_length=10, choices=BatchState.choices, default=BatchState.QUEUED)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    issued = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    enrollment_ids = models.JSONField(default=list)
    error = models.CharField(max_length=200, blank=True)
    task_id = models.CharField(max_length=64, blank=True)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return str(self.pk)

    @property
    def percent(self) -> int:
        return 100 if not self.total else int(self.done * 100 / self.total)


class Certificate(models.Model):
    """One issued credential (the signed JSON as issued, byte-for-byte reproducible by JCS)."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    kind = models.CharField(_("证书类型"), max_length=16, choices=Kind.choices)
    person = models.ForeignKey(Person, models.PROTECT, related_name="certificates")
    enrollment = models.ForeignKey(Enrollment, models.PROTECT, related_name="+")
    school = models.ForeignKey(School, models.PROTECT, related_name="+", verbose_name=_("学校"))
    province_code = models.CharField(max_length=6, db_index=True)
    scope_path = models.CharField(max_length=255)
    kid = models.CharField(max_length=24)
    credential = models.JSONField()
    qr_token = models.CharField(max_length=400)
    valid_from = models.DateTimeField(_("生效时间"))
    valid_until = models.DateTimeField(_("有效期至"), null=True, blank=True)
    status_list = models.ForeignKey(StatusList, models.PROTECT, related_name="+")
    status_index = models.PositiveIntegerField()
    issued_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, related_name="+")
    batch = models.ForeignKey(CertificateBatch, models.SET_NULL, null=True, blank=True, related_name="+")
    revoked_at = models.DateTimeField(_("撤销时间"), null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+"
    )
    revoke_reason = models.CharField(_("撤销原因"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("电子证书")
        verbose_name_plural = _("电子证书")
        constraints = [
            models.UniqueConstraint(fields=["status_list", "status_index"], name="certificate_status_slot"),
            # One live leaving certificate per enrolment and kind (re-issue only after revocation).
            models.UniqueConstraint(
                fields=["enrollment", "kind"],
                condition=Q(revoked_at__isnull=True) & ~Q(kind="enrollment"),
                name="certificate_one_live_leaving",
            ),
        ]
        indexes = [
            models.Index(
                fields=["scope_path"], opclasses=["varchar_pattern_ops"], name="certificate_scope_pattern"
            )
        ]

    def __str__(self) -> str:
        return str(self.pk)


class VerifyCounter(models.Model):
    """Public verification requests from one client address in one fixed window (:mod:`.limits`). ``subject``
    is a keyed hash of the address, never the address itself (第24条)."""

    subject = models.CharField(max_length=64)
    window_start = models.DateTimeField(db_index=True)
    count = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("核验频率计数")
        verbose_name_plural = _("核验频率计数")
        constraints = [
            models.UniqueConstraint(fields=["subject", "window_start"], name="verifycounter_one_per_window")
        ]

    def __str__(self) -> str:
        return f"{self.subject[:8]}… {self.window_start:%Y-%m-%d %H:%M} ×{self.count}"
