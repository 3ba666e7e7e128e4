"""Tables of the guardian mobile end (家长端, 第5、13、15、16条; PIPL 第28、31条).

A guardian is not a staff account: :class:`GuardianAccount` is its own table, signed in through its own session
(:class:`GuardianSession`, cookie ``xj_m`` / ``__Host-xj_m``), never ``django.contrib.auth``'s user. Secrets
(SMS codes, captcha answers, binding codes, session tokens) are stored only as keyed hashes (HMAC-SM3,
:mod:`.crypto`). People tables carry ``province_code`` and UUIDv7 keys like the students app.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from xueji.changes.models import ChangeRequest
from xueji.core.fieldcrypto import SENSITIVE_KEYS, EncryptedCharField, SealedJSONField
from xueji.core.ids import uuid7
from xueji.schools.models import School
from xueji.students.models import Enrollment, Person

from .enums import EventKind, Relation, RequestKind, RequestState


class GuardianAccount(models.Model):
    """A parent or other legal guardian, identified by a verified mobile number (read it through :mod:`.phones`)."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    # SM4-GCM encrypted at rest (issue 11 §3); looked up by ``phone_key`` (phones.store / phones.reveal).
    phone = EncryptedCharField(_("手机号码"), max_length=20)
    phone_key = models.CharField(max_length=64, unique=True)
    is_active = models.BooleanField(_("有效"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_login_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("家长账号")
        verbose_name_plural = _("家长账号")

    def __str__(self) -> str:
        return f"guardian {self.pk}"


class GuardianSession(models.Model):
    """A signed-in guardian browser. The cookie carries the signed token; the row keeps only its keyed hash.
    Ended by logout, by the idle or absolute limit, or when the account is disabled (ASVS 7.3, 7.4)."""

    token_hash = models.CharField(max_length=64, unique=True)
    account = models.ForeignKey(GuardianAccount, models.CASCADE, related_name="sessions")
    created_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"session of {self.account_id}"


class Captcha(models.Model):
    """An image captcha: the answer's keyed hash and the picture; single use, 5 minutes."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    answer_hash = models.CharField(max_length=64)
    image = models.BinaryField()
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return str(self.pk)


class LoginCode(models.Model):
    """A one-time SMS code for a phone (blind index): its keyed hash, 5 minutes, at most 5 tries."""

    phone_key = models.CharField(max_length=64, db_index=True)
    code_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"code {self.pk}"


class RateCounter(models.Model):
    """Fixed-window counters of the guardian end's limits (per phone, per IP, per day), in the database so
    every worker shares them. ``subject`` is a keyed hash (never a phone number or an address)."""

    bucket = models.CharField(max_length=20)
    subject = models.CharField(max_length=64)
    window_start = models.DateTimeField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["subject", "bucket", "window_start"], name="guardian_rate_window")
        ]

    def __str__(self) -> str:
        return f"{self.bucket} {self.window_start:%Y-%m-%d %H:%M}"


class BindingCode(models.Model):
    """A one-time binding code the school prints for one guardian slot of one pupil (≥ 50 bits, stored hashed,
    expires, single use, revocable). Issuing a new code for a slot revokes the slot's unused one."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    code_hash = models.CharField(max_length=64, unique=True)
    person = models.ForeignKey(Person, models.PROTECT, related_name="+")
    enrollment = models.ForeignKey(Enrollment, models.PROTECT, related_name="+")
    province_code = models.CharField(max_length=6)
    scope_path = models.CharField(max_length=255)
    slot = models.PositiveSmallIntegerField(_("家长序号"))
    issued_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, related_name="+")
    issued_at = models.DateTimeField(_("签发时间"))
    expires_at = models.DateTimeField(_("有效期至"))
    used_at = models.DateTimeField(_("使用时间"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("作废时间"), null=True, blank=True)
    # Wrong child names given with this (valid) code; at ``conf.BINDING_MAX_ATTEMPTS`` the code is void.
    attempts = models.PositiveSmallIntegerField(default=0)

    class Meta:
        verbose_name = _("家长绑定码")
        verbose_name_plural = _("家长绑定码")
        constraints = [
            models.UniqueConstraint(
                fields=["person", "slot"],
                condition=Q(used_at__isnull=True, revoked_at__isnull=True),
                name="binding_one_open_code_per_slot",
            )
        ]

    def __str__(self) -> str:
        return f"binding {self.person_id} #{self.slot}"


class GuardianLink(models.Model):
    """A guardian bound to a child (account ↔ person) with the relation and the guardian's consent to the
    processing of a minor's personal information (PIPL 第31条), until revoked."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    account = models.ForeignKey(GuardianAccount, models.PROTECT, related_name="links")
    person = models.ForeignKey(Person, models.PROTECT, related_name="+")
    province_code = models.CharField(max_length=6)
    slot = models.PositiveSmallIntegerField(_("家长序号"))
    relation = models.CharField(_("与学生关系"), max_length=1, choices=Relation.choices)
    guardian_name = models.CharField(_("监护人姓名"), max_length=60)
    binding_code = models.OneToOneField(BindingCode, models.PROTECT, related_name="link")
    consent_at = models.DateTimeField(_("同意个人信息处理时间"))
    consent_version = models.CharField(max_length=20)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(_("解除时间"), null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("家长绑定")
        verbose_name_plural = _("家长绑定")
        constraints = [
            models.UniqueConstraint(
                fields=["account", "person"], condition=Q(revoked_at__isnull=True), name="guardian_link_once"
            ),
            models.UniqueConstraint(
                fields=["person", "slot"], condition=Q(revoked_at__isnull=True), name="guardian_link_slot"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.account_id} → {self.person_id}"


class GuardianRequest(models.Model):
    """A guardian's application to the school (第13条 更正, 第15条 转学, 第16条 休学/复学). The school reviews it
    and turns it into the normal change (``change_request``) or declines it with a reason."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    link = models.ForeignKey(GuardianLink, models.PROTECT, related_name="requests")
    person = models.ForeignKey(Person, models.PROTECT, related_name="+")
    enrollment = models.ForeignKey(Enrollment, models.PROTECT, related_name="+")
    province_code = models.CharField(max_length=6)
    # The school that decides: the record's school, or the receiving school of a transfer (第15条).
    school = models.ForeignKey(School, models.PROTECT, related_name="+", verbose_name=_("办理学校"))
    scope_path = models.CharField(max_length=255, db_index=True)
    kind = models.CharField(_("申请类型"), max_length=12, choices=RequestKind.choices)
    payload = SealedJSONField(_("申请内容"), default=dict, sensitive=SENSITIVE_KEYS)
    state = models.CharField(
        _("状态"), max_length=10, choices=RequestState.choices, default=RequestState.SUBMITTED
    )
    due_on = models.DateField(_("学校处理期限"))
    decline_reason = models.CharField(_("不予受理的理由"), max_length=300, blank=True)
    change_request = models.ForeignKey(ChangeRequest, models.PROTECT, null=True, blank=True, related_name="+")
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        verbose_name = _("家长申请")
        verbose_name_plural = _("家长申请")
        indexes = [models.Index(fields=["school", "state"])]
        constraints = [
            # One open request of a kind per child (also under concurrent submissions).
            models.UniqueConstraint(
                fields=["person", "kind"], condition=Q(state="submitted"), name="guardian_request_one_open"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.pk}"


class RequestEvent(models.Model):
    """One entry of a guardian request's timeline (who acted is the guardian or a school registrar)."""

    request = models.ForeignKey(GuardianRequest, models.CASCADE, related_name="events")
    kind = models.CharField(max_length=12, choices=EventKind.choices)
    at = models.DateTimeField()
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.kind} {self.at:%Y-%m-%d}"


class GuardianNotice(models.Model):
    """A notice shown on the guardian's pages (the same text also goes out by SMS)."""

    account = models.ForeignKey(GuardianAccount, models.CASCADE, related_name="notices")
    request = models.ForeignKey(GuardianRequest, models.CASCADE, null=True, blank=True, related_name="+")
    text = models.CharField(max_length=200)
    created_at = models.DateTimeField()
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return self.text[:20]
