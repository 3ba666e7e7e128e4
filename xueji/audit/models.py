"""The append-only audit trail.

第23条 asks for supervision of anomalies and 第24条 for strict data-use rules; 等保 8.1.4.3 asks that audit
records cannot be altered or deleted. Rows are written only by :func:`xueji.audit.services.record` (inside the
same transaction as the change they describe). Updates and deletes are refused twice: by the model (ORM
``save()`` of an existing row, ``delete()``, and the queryset's ``update()``/``delete()``) and by a database
trigger on SQLite and PostgreSQL (migration 0002), which also stops raw SQL.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from xueji.core.errors import ApplicationError
from xueji.core.fieldcrypto import EncryptedJSONField

from .enums import EventType

APPEND_ONLY = ApplicationError("audit_append_only", "审计记录只能追加，不能修改或删除")


class AppendOnlyQuerySet(models.QuerySet[Any]):
    """Bulk ``update()``/``delete()`` refused (the database triggers refuse raw SQL too)."""

    def update(self, **kwargs: Any) -> int:
        raise APPEND_ONLY

    def delete(self) -> tuple[int, dict[str, int]]:
        raise APPEND_ONLY


class AppendOnlyModel(models.Model):
    """A row is written once: ``save()`` of an existing row and ``delete()`` raise."""

    #: Read by key rotation (xueji.core.fieldcrypto): rows are never re-encrypted, old key versions stay readable.
    append_only = True

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise APPEND_ONLY
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise APPEND_ONLY


class AuditEvent(AppendOnlyModel):
    occurred_at = models.DateTimeField(_("时间"), db_index=True)
    # No ``choices=``: new event types must not need a migration; labels come from EventType.
    event_type = models.CharField(_("事件类型"), max_length=40, db_index=True)
    # Users are never deleted (accounts are sealed), so no FK constraint is needed to keep history.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.DO_NOTHING,
        null=True,
        blank=True,
        db_constraint=False,
        related_name="+",
    )
    actor_username = models.CharField(_("操作人"), max_length=150, blank=True)
    actor_role = models.CharField(_("角色"), max_length=24, blank=True)
    org_unit_id = models.BigIntegerField(_("机构"), null=True, blank=True)
    province_code = models.CharField(max_length=6, blank=True, db_index=True)
    subject_type = models.CharField(max_length=40, blank=True)
    subject_id = models.CharField(max_length=64, blank=True)
    summary = models.CharField(_("摘要"), max_length=200, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    success = models.BooleanField(default=True)
    request_id = models.CharField(max_length=64, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)

    objects = AppendOnlyQuerySet.as_manager()

    # Not columns: set for the rows of a page by ``queries.with_subjects``.
    subject_type_label: str
    subject_label: str

    class Meta:
        verbose_name = _("审计事件")
        verbose_name_plural = _("审计事件")
        indexes = [models.Index(fields=["subject_type", "subject_id", "occurred_at"])]
        ordering = ["-occurred_at", "-id"]

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%d %H:%M} {self.event_type}"

    @property
    def event_label(self) -> str:
        try:
            return str(EventType(self.event_type).label)
        except ValueError:
            return self.event_type

    def get_event_type_display(self) -> str:
        return self.event_label


HISTORY_BIND = ("event_id", "subject_id", "field")


class FieldHistory(AppendOnlyModel):
    """The before/after values of a student's personal fields (issue #6 §3.3), kept out of the audit trail.

    An audit event says who changed which fields of which record and when, with the values masked; the
    values themselves are kept here, one row per field, linked to that event. Only those who may see the
    student read them (``xueji.students.queries.record_history``: the student must be visible to the viewer
    and the row's ``scope_path`` — the school that held the record when it changed — inside the viewer's
    jurisdiction; 第24条, security.md §2). Append-only like the audit trail (model and database triggers,
    migration 0004).
    """

    event = models.ForeignKey(AuditEvent, models.DO_NOTHING, db_constraint=False, related_name="+")
    occurred_at = models.DateTimeField(_("时间"))
    subject_type = models.CharField(max_length=40)
    subject_id = models.CharField(max_length=64)
    scope_path = models.CharField(max_length=255)
    province_code = models.CharField(max_length=6, blank=True)
    field = models.CharField(_("字段"), max_length=80)
    # The values are personal data (a phone, an address): SM4-GCM encrypted (issue 11 §3), bound to the event,
    # the record and the field (the row's key is assigned by the database, after encryption).
    before = EncryptedJSONField(null=True, blank=True, bind=HISTORY_BIND)
    after = EncryptedJSONField(null=True, blank=True, bind=HISTORY_BIND)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.DO_NOTHING,
        null=True,
        blank=True,
        db_constraint=False,
        related_name="+",
    )
    actor_username = models.CharField(_("操作人"), max_length=150, blank=True)
    request_id = models.CharField(max_length=64, blank=True)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        verbose_name = _("记录变更历史")
        verbose_name_plural = _("记录变更历史")
        indexes = [models.Index(fields=["subject_type", "subject_id", "occurred_at"])]
        ordering = ["-occurred_at", "-id"]

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%d %H:%M} {self.subject_type}:{self.subject_id} {self.field}"


class AuditChainLink(AppendOnlyModel):
    """One position of the tamper-evident audit chain (issue 11 §2; 等保 8.1.4.3 CES1-14, GB/T 39786 §8.4 f/g;
    第23条).

    The sequencer (:func:`xueji.audit.chain.chain_pending`) appends one link per committed audit event, in its
    own order (``seq``, 1, 2, 3 …): ``hash = SM3(previous hash ‖ JCS(canonical event))``. The events themselves
    are inserted as before, concurrently and without a hash; only the sequencer writes links, one run at a
    time. A link is written once (model and database triggers, migration 0005), so the chain columns are as
    append-only as the events they seal. ``high_water`` is the largest event id chained up to this link (it
    lets the sequencer look for late commits in a bounded window); ``chained_at`` when the link was written.
    """

    seq = models.BigIntegerField(_("链序号"), primary_key=True)
    event_id = models.BigIntegerField(unique=True)
    hash = models.CharField(max_length=64)
    high_water = models.BigIntegerField()
    chained_at = models.DateTimeField()

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        verbose_name = _("审计链节点")
        verbose_name_plural = _("审计链节点")
        ordering = ["seq"]

    def __str__(self) -> str:
        return f"#{self.seq} event {self.event_id} {self.hash[:12]}…"


class AuditCheckpoint(AppendOnlyModel):
    """A signed statement of the chain head (issue 11 §2): "after ``seq`` links the head hash is ``head``",
    signed with Ed25519 and with SM2 (GB/T 32918, SM3 digest, signer id 1234567812345678) under the keys of
    ``settings.AUDIT_CHAIN_KEY_DIR``. Exported to the audit administrator, who keeps copies outside the
    system: a chain rewritten after a checkpoint, or cut short before it, no longer matches it
    (``manage.py audit_verify``). Append-only like the chain."""

    seq = models.BigIntegerField(_("链序号"), unique=True)
    head = models.CharField(_("链头哈希"), max_length=64)
    created_at = models.DateTimeField(_("时间"))
    ed25519_key_id = models.CharField(max_length=80)
    ed25519_signature = models.CharField(max_length=200)
    sm2_key_id = models.CharField(max_length=80)
    sm2_signature = models.CharField(max_length=200)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        verbose_name = _("审计链检查点")
        verbose_name_plural = _("审计链检查点")
        ordering = ["seq"]

    def __str__(self) -> str:
        return f"checkpoint #{self.seq} {self.head[:12]}…"
