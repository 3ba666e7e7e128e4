"""Handling alerts and editing the rules: the security administrator's work (第23条; 三权分立: alerts belong to
the security side, not to the system or audit administrators)."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from xueji.accounts.enums import Role
from xueji.accounts.jurisdiction import roles
from xueji.accounts.types import Actor
from xueji.audit.enums import EventType
from xueji.audit.services import record
from xueji.core.errors import FieldError, Forbidden, NotFound

from .enums import AlertState, Severity
from .models import Alert, AlertAction, AlertRule

# acknowledged: seen and being looked into; resolved: closed with a note. A resolved alert stays resolved.
_NEXT = {
    AlertState.OPEN: {AlertState.ACKNOWLEDGED, AlertState.RESOLVED},
    AlertState.ACKNOWLEDGED: {AlertState.RESOLVED},
    AlertState.RESOLVED: set(),
}


def require_security_admin(actor: Actor) -> None:
    if Role.SECURITY_ADMIN not in roles(actor):
        raise Forbidden()


def handle(*, actor: Actor, alert_id: Any, state: str, note: str = "") -> Alert:
    """Acknowledge or resolve an alert; resolving needs a note. Kept in the alert's history and the audit."""
    require_security_admin(actor)
    note = (note or "").strip()
    with transaction.atomic():
        alert = (
            Alert.objects.select_for_update().filter(pk=alert_id).first() if str(alert_id).isdigit() else None
        )
        if alert is None:
            raise NotFound()
        if state not in _NEXT[AlertState(alert.state)]:
            raise FieldError("state", "invalid_transition", "处理状态：当前状态下不能进行此操作")
        if state == AlertState.RESOLVED and not note:
            raise FieldError("note", "required", "处理说明：解决预警时必须填写")
        before = alert.state
        alert.state = state
        alert.save(update_fields=["state"])
        AlertAction.objects.create(alert=alert, state=state, note=note[:300], actor=actor)
        record(
            event_type=EventType.ALERT_HANDLED,
            actor=actor,
            subject_type="alert",
            subject_id=alert.pk,
            summary=alert.get_rule_display(),
            before={"state": before},
            after={"state": state},
        )
    return alert


def rule_update(
    *,
    actor: Actor,
    rule_id: Any,
    threshold: int,
    window_seconds: int,
    enabled: bool,
    severity: str,
    notify_upper: bool,
) -> AlertRule:
    require_security_admin(actor)
    if threshold < 1:
        raise FieldError("threshold", "invalid", "阈值：至少为 1")
    if window_seconds < 0 or window_seconds > 30 * 86400:
        raise FieldError("window_seconds", "invalid", "时间窗口：0 到 2592000 秒")
    if severity not in Severity.values:
        raise FieldError("severity", "invalid", "级别：无效")
    with transaction.atomic():
        rule = (
            AlertRule.objects.select_for_update().filter(pk=rule_id).first()
            if str(rule_id).isdigit()
            else None
        )
        if rule is None:
            raise NotFound()
        before = {
            "threshold": rule.threshold,
            "window_seconds": rule.window_seconds,
            "enabled": rule.enabled,
            "severity": rule.severity,
            "notify_upper": rule.notify_upper,
        }
        rule.threshold, rule.window_seconds, rule.enabled = threshold, window_seconds, enabled
        rule.severity, rule.notify_upper, rule.updated_by = severity, notify_upper, actor
        rule.save()
        after = {
            "threshold": threshold,
            "window_seconds": window_seconds,
            "enabled": enabled,
            "severity": severity,
            "notify_upper": notify_upper,
        }
        record(
            event_type=EventType.ALERT_RULE_CHANGED,
            actor=actor,
            subject_type="alert_rule",
            subject_id=rule.pk,
            summary=rule.get_key_display(),
            before=before,
            after=after,
        )
    return rule
