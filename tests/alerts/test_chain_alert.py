"""A broken audit chain raises an alert (第23条 预警机制; security.md test 24 "a chain-verification failure"; issue 11
§5). End to end: a row of the trail is rewritten behind the application's back (the append-only triggers lifted, as
an attacker with the tables' owner rights would), the periodic verification (``verify_events``) records
``audit.chain_broken``, the engine's next scan (every 60 s) raises one critical alert, and only the security
administrator sees it — not the audit or the system administrator (三权分立)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests.factories import core as f
from xueji.accounts.enums import Role
from xueji.alerts import engine
from xueji.alerts.enums import RuleKey, Severity
from xueji.alerts.models import Alert, AlertRule
from xueji.audit import signing, triggers
from xueji.audit.chain import chain_pending
from xueji.audit.enums import EventType
from xueji.audit.models import AuditChainLink, AuditEvent
from xueji.audit.services import record
from xueji.audit.tasks import verify_events

pytestmark = pytest.mark.django_db
CHAIN_TABLES = [triggers.EVENTS, triggers.CHAIN, triggers.CHECKPOINTS]


@pytest.fixture
def keys(tmp_path: Any, settings: Any) -> None:
    settings.AUDIT_CHAIN_KEY_DIR = tmp_path / "keys"
    signing.generate_files()


@pytest.fixture
def admins() -> dict[str, Any]:
    province = f.dept("440000")
    return {
        "security": f.user(Role.SECURITY_ADMIN, province),
        "audit": f.user(Role.AUDIT_ADMIN, province),
        "system": f.user(Role.SYSTEM_ADMIN, province),
    }


@contextmanager
def attacker() -> Iterator[Any]:
    """Owner rights: the append-only triggers lifted for the block (as in tests/audit/test_chain.py). The
    application role of CI's PostgreSQL leg cannot lift them: there the test is skipped."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT pg_has_role(current_user, tableowner, 'USAGE') FROM pg_tables WHERE tablename = %s",
                [CHAIN_TABLES[0]],
            )
            if not cursor.fetchone()[0]:
                pytest.skip("tampering needs the audit tables' owner; the application role is refused it")
            for table in CHAIN_TABLES:
                cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        else:
            triggers.drop(connection.vendor, cursor, CHAIN_TABLES)
        try:
            yield cursor
        finally:
            if connection.vendor == "postgresql":
                for table in CHAIN_TABLES:
                    cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")
            else:
                triggers.create(connection.vendor, cursor, CHAIN_TABLES)


def _trail(actor: Any, n: int = 20) -> None:
    for i in range(n):
        record(event_type=EventType.SCHOOL_UPDATED, actor=actor, subject_type="school", subject_id=i)
    assert chain_pending().chained >= n


def _console(user: Any) -> Client:
    c = Client()
    c.force_login(user)
    return c


def test_the_rule_is_loaded_as_data() -> None:
    """The national default row exists (migration 0003): critical, raised on every broken verification."""
    rule = AlertRule.objects.get(key=RuleKey.CHAIN_BROKEN, province_code="")
    assert (rule.enabled, rule.threshold, rule.severity) == (True, 1, Severity.CRITICAL)
    assert engine.WATCHED[RuleKey.CHAIN_BROKEN] == (EventType.AUDIT_CHAIN_BROKEN,)


def test_a_held_chain_raises_nothing(keys: None, admins: dict[str, Any]) -> None:
    """A verification that finds the chain intact records ``audit.chain_verified``: no alert (no false alarm)."""
    _trail(admins["system"])
    engine.scan(now=timezone.now() - timedelta(seconds=1))
    assert verify_events.call() is True
    assert engine.scan(now=timezone.now() + timedelta(seconds=1)) == []
    assert not Alert.objects.filter(rule=RuleKey.CHAIN_BROKEN).exists()


def test_a_tampered_row_raises_one_alert_for_the_security_admin_only(
    keys: None, admins: dict[str, Any]
) -> None:
    _trail(admins["system"])
    engine.scan(now=timezone.now() - timedelta(seconds=1))
    victim = AuditChainLink.objects.order_by("seq").values_list("event_id", flat=True)[5]
    with attacker() as cursor:
        cursor.execute("UPDATE audit_auditevent SET summary = 'x' WHERE id = %s", [victim])
    assert verify_events.call() is False
    broken = AuditEvent.objects.get(event_type=EventType.AUDIT_CHAIN_BROKEN)

    # The scheduler scans every 60 s: the next scan raises the alert.
    assert settings.XUEJI_SCHEDULE["xueji.alerts.tasks.scan_audit"] == "every 60s"
    raised = engine.scan(now=broken.occurred_at + timedelta(seconds=60))
    assert [(a.rule, a.severity, a.count) for a in raised] == [(RuleKey.CHAIN_BROKEN, Severity.CRITICAL, 1)]
    alert = raised[0]
    assert alert.first_at == broken.occurred_at and alert.actor_id is None
    # a rescan of the overlap raises nothing twice
    assert engine.scan(now=broken.occurred_at + timedelta(seconds=90)) == []
    assert Alert.objects.filter(rule=RuleKey.CHAIN_BROKEN).count() == 1

    security = _console(admins["security"])
    page = security.get(reverse("alerts:console"))
    assert page.status_code == 200 and "审计链校验失败" in page.content.decode()
    assert security.get(reverse("alerts:detail", args=[alert.pk])).status_code == 200
    for who in ("audit", "system"):
        other = _console(admins[who])
        assert other.get(reverse("alerts:console")).status_code == 403
        response = other.get(reverse("alerts:detail", args=[alert.pk]))
        assert response.status_code == 403 and "审计链校验失败" not in response.content.decode()


def test_a_disabled_rule_raises_nothing(keys: None, admins: dict[str, Any]) -> None:
    """The rule is data: the security administrator may switch it off (and is audited doing so)."""
    AlertRule.objects.filter(key=RuleKey.CHAIN_BROKEN).update(enabled=False)
    _trail(admins["system"])
    engine.scan(now=timezone.now() - timedelta(seconds=1))
    victim = AuditChainLink.objects.order_by("seq").values_list("event_id", flat=True)[3]
    with attacker() as cursor:
        cursor.execute("UPDATE audit_auditevent SET summary = 'y' WHERE id = %s", [victim])
    assert verify_events.call() is False
    assert engine.scan(now=timezone.now() + timedelta(seconds=1)) == []
