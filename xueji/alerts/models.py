"""Early-warning rules as data and the alerts they raise (第23条).

A rule's *kind* is code (what it counts: :mod:`xueji.alerts.rules`); its thresholds, window, the roles it applies
to, its severity and whether the actor's upper-level department is told are data (:class:`AlertRule`), edited by
the security administrator; a province may add rows of its own (``province_code``) that replace the national
ones for actors of that province. Alerts carry counts, the rule and who — never personal data.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from .enums import AlertState, RuleKey, Severity


class AlertRule(models.Model):
    key = models.CharField(_("规则"), max_length=32, choices=RuleKey.choices)
    # "" = national default; a province code = that province's own row (replaces the national one there).
    province_code = models.CharField(_("适用省份"), max_length=6, blank=True, default="")
    # Roles the row applies to (empty = every role); the most specific row for the actor's roles wins.
    roles = models.JSONField(_("适用角色"), default=list, blank=True)
    enabled = models.BooleanField(_("启用"), default=True)
    threshold = models.PositiveIntegerField(_("阈值"), default=1)
    window_seconds = models.PositiveIntegerField(_("时间窗口（秒）"), default=600)
    severity = models.CharField(_("级别"), max_length=10, choices=Severity.choices, default=Severity.WARNING)
    notify_upper = models.BooleanField(_("同时通知上级部门"), default=False)
    # Rule-specific parameters: off_hours {"start": 7, "end": 21}; new_ip_admin {"lookback_days": 90}.
    params = models.JSONField(_("参数"), default=dict, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("预警规则")
        verbose_name_plural = _("预警规则")
        ordering = ["key", "province_code", "pk"]

    def __str__(self) -> str:
        return f"{self.key} {self.province_code or 'national'} {self.roles}"


class Alert(models.Model):
    rule = models.CharField(_("规则"), max_length=32, choices=RuleKey.choices)
    severity = models.CharField(_("级别"), max_length=10, choices=Severity.choices)
    state = models.CharField(_("状态"), max_length=16, choices=AlertState.choices, default=AlertState.OPEN)
    # One alert per (rule, dedupe key): a burst keeps counting into its open alert instead of raising many.
    dedupe_key = models.CharField(max_length=200, unique=True)
    actor_id = models.BigIntegerField(null=True, blank=True)
    actor_username = models.CharField(_("账号"), max_length=150, blank=True)
    org_unit_id = models.BigIntegerField(null=True, blank=True)
    province_code = models.CharField(max_length=6, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    count = models.PositiveIntegerField(_("次数"), default=0)
    threshold = models.PositiveIntegerField(_("阈值"), default=0)
    first_at = models.DateTimeField(_("首次发生"))
    last_at = models.DateTimeField(_("最近发生"))
    raised_at = models.DateTimeField(_("预警时间"), auto_now_add=True)
    upper_unit_id = models.BigIntegerField(null=True, blank=True)  # the department told (notify_upper)

    class Meta:
        verbose_name = _("预警")
        verbose_name_plural = _("预警")
        ordering = ["-raised_at", "-pk"]
        indexes = [models.Index(fields=["state", "raised_at"])]

    def __str__(self) -> str:
        return f"{self.rule} {self.actor_username} {self.count}"


class AlertAction(models.Model):
    """The history of an alert: who acknowledged or resolved it, when, with what note."""

    alert = models.ForeignKey(Alert, models.CASCADE, related_name="actions")
    state = models.CharField(_("状态"), max_length=16, choices=AlertState.choices)
    note = models.CharField(_("处理说明"), max_length=300, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, related_name="+")
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.alert_id} {self.state}"


class ScanCursor(models.Model):
    """Where the last scan of the audit stream ended (one row)."""

    scanned_to = models.DateTimeField()

    def __str__(self) -> str:
        return f"scanned to {self.scanned_to}"
