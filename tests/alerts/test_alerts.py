"""Early warning over the audit stream (第23条: 建立预警机制; issue 11 §5). Synthetic traffic is written through
the audit service, exactly as the product writes it, and driven through every rule: above the threshold an alert
is raised, below it none, a rescan raises nothing twice, and the console is the security administrator's."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
from django.test import Client

from tests.factories import core as f
from xueji.accounts.enums import Role
from xueji.alerts import engine, services
from xueji.alerts.enums import AlertState, RuleKey
from xueji.alerts.models import Alert, AlertAction, AlertRule
from xueji.audit.enums import EventType
from xueji.audit.services import record
from xueji.changes.models import Notification
from xueji.core import context
from xueji.core.errors import FieldError, Forbidden

pytestmark = pytest.mark.django_db
TZ = ZoneInfo("Asia/Shanghai")
# A Wednesday, 10:00 in Beijing: working hours.
WORKDAY = datetime(2026, 12, 2, 10, 0, tzinfo=TZ)


@contextmanager
def at(moment: datetime, ip: str | None = None) -> Iterator[None]:
    token = context.set_current(context.RequestContext(request_id="t", ip=ip))
    try:
        with mock.patch("xueji.audit.services.timezone.now", return_value=moment):
            yield
    finally:
        context.reset(token)


def emit(
    actor: Any,
    event: str,
    moment: datetime,
    *,
    n: int = 1,
    step: timedelta = timedelta(seconds=5),
    ip: str | None = None,
    **kw: Any,
) -> datetime:
    for i in range(n):
        with at(moment + i * step, ip):
            record(
                event_type=event,
                actor=actor,
                org_unit_id=kw.get("org_unit_id"),
                subject_type=kw.get("subject_type", "student"),
                subject_id=kw.get("subject_id", i),
                after=kw.get("after"),
            )
    return moment + n * step


def scan_at(moment: datetime) -> list[Alert]:
    return engine.scan(now=moment)


@pytest.fixture
def world() -> dict[str, Any]:
    f.departments()
    sch = f.school()
    return {
        "school": sch,
        "registrar": f.registrar(sch),
        "security": f.user(Role.SECURITY_ADMIN, f.dept("440000")),
        "system": f.user(Role.SYSTEM_ADMIN, f.dept("440000")),
    }


def _start(moment: datetime) -> None:
    """The first scan reads ten minutes back; start the cursor just before the traffic."""
    engine.scan(now=moment - timedelta(seconds=1))


def test_reveal_burst_raises_once_and_tells_the_upper_department(world: dict[str, Any]) -> None:
    """30 reveals within 10 minutes (national default) raise one alert; the burst going on extends it; the
    registrar's county department gets a notice (notify_upper)."""
    r = world["registrar"]
    _start(WORKDAY)
    end = emit(r, EventType.STUDENT_REVEALED, WORKDAY, n=29, org_unit_id=world["school"].pk)
    assert scan_at(end) == []
    end = emit(r, EventType.STUDENT_REVEALED, end, n=1, org_unit_id=world["school"].pk)
    raised = scan_at(end + timedelta(seconds=1))
    assert [a.rule for a in raised] == [RuleKey.REVEAL_BURST]
    assert raised[0].count == 30 and raised[0].actor_id == r.pk
    notice = Notification.objects.get(notice="security_alert")
    assert notice.org_unit_id == world["school"].org.parent_id
    assert "短时间内大量查看完整证件号" in notice.message and r.username in notice.message
    # going on: the same alert counts up, nothing new is raised, a rescan of the overlap raises nothing
    end = emit(r, EventType.STUDENT_REVEALED, end, n=10, org_unit_id=world["school"].pk)
    assert scan_at(end + timedelta(seconds=1)) == []
    assert Alert.objects.get().count == 40
    assert scan_at(end + timedelta(seconds=2)) == [] and Alert.objects.count() == 1


def test_list_burst_counts_rows_not_pages(world: dict[str, Any]) -> None:
    _start(WORKDAY)
    end = emit(world["registrar"], "student.listed", WORKDAY, n=5, after={"rows": 500})
    assert scan_at(end) == []
    end = emit(world["registrar"], "student.listed", end, n=1, after={"rows": 600})
    assert [a.rule for a in scan_at(end + timedelta(seconds=1))] == [RuleKey.LIST_BURST]


def test_mass_export(world: dict[str, Any]) -> None:
    _start(WORKDAY)
    end = emit(world["registrar"], EventType.ROSTER_EXPORTED, WORKDAY, n=3, step=timedelta(minutes=5))
    end = emit(world["registrar"], EventType.STATISTICS_EXPORTED, end, n=2, step=timedelta(minutes=5))
    assert [a.rule for a in scan_at(end)] == [RuleKey.MASS_EXPORT]


def test_spread_out_reads_raise_nothing(world: dict[str, Any]) -> None:
    """29 reveals an hour apart: never 30 inside one 10-minute window."""
    _start(WORKDAY)
    end = emit(world["registrar"], EventType.STUDENT_REVEALED, WORKDAY, n=40, step=timedelta(minutes=11))
    assert scan_at(end) == []


def test_off_hours_and_weekend(world: dict[str, Any]) -> None:
    night = datetime(2026, 12, 2, 23, 30, tzinfo=TZ)
    _start(night)
    emit(world["registrar"], EventType.STUDENT_VIEWED, night, n=3)
    raised = scan_at(night + timedelta(minutes=1))
    assert [a.rule for a in raised] == [RuleKey.OFF_HOURS] and raised[0].count == 3
    saturday = datetime(2026, 12, 5, 10, 0, tzinfo=TZ)
    emit(world["registrar"], "student.listed", saturday, n=1, after={"rows": 20})
    assert [a.rule for a in scan_at(saturday + timedelta(minutes=1))] == [RuleKey.OFF_HOURS]
    emit(world["registrar"], EventType.STUDENT_VIEWED, WORKDAY + timedelta(days=7), n=3)
    assert scan_at(WORKDAY + timedelta(days=7, minutes=1)) == []


def test_new_ip_for_an_administrator(world: dict[str, Any]) -> None:
    admin = world["system"]
    _start(WORKDAY)
    emit(admin, EventType.LOGIN, WORKDAY, ip="10.0.0.5", subject_type="user", subject_id=admin.pk)
    first = scan_at(WORKDAY + timedelta(minutes=1))
    assert [a.rule for a in first] == [RuleKey.NEW_IP_ADMIN]  # never seen before
    later = WORKDAY + timedelta(hours=2)
    emit(admin, EventType.LOGIN, later, ip="10.0.0.5", subject_type="user", subject_id=admin.pk)
    assert scan_at(later + timedelta(minutes=1)) == []  # known address
    emit(
        admin,
        EventType.LOGIN,
        later + timedelta(minutes=5),
        ip="172.16.9.9",
        subject_type="user",
        subject_id=admin.pk,
    )
    assert [a.ip for a in scan_at(later + timedelta(minutes=6))] == ["172.16.9.9"]
    # a registrar (not an administrator) from a new address: no alert
    emit(
        world["registrar"],
        EventType.LOGIN,
        later + timedelta(minutes=7),
        ip="192.168.1.1",
        subject_type="user",
        subject_id=1,
    )
    assert scan_at(later + timedelta(minutes=8)) == []


def test_login_failures_by_name_and_by_address(world: dict[str, Any]) -> None:
    _start(WORKDAY)
    end = emit(
        None,
        EventType.LOGIN_FAILED,
        WORKDAY,
        n=10,
        ip="203.0.113.7",
        subject_type="username",
        subject_id="zhang",
    )
    raised = scan_at(end)
    # ten failures are ten for the name "zhang" and ten from the address: the name key and the address key
    assert sorted(a.dedupe_key.split(":")[1] for a in raised) == ["ip203.0.113.7", "usernamezhang"]
    # stuffing: one failure each for 12 names from one address → the address alert extends
    end = WORKDAY + timedelta(minutes=3)
    for i in range(12):
        with at(end + timedelta(seconds=i), "198.51.100.2"):
            record(
                event_type=EventType.LOGIN_FAILED, actor=None, subject_type="username", subject_id=f"user{i}"
            )
    raised = scan_at(end + timedelta(minutes=1))
    assert [a.dedupe_key.split(":")[1] for a in raised] == ["ip198.51.100.2"]


def test_privilege_grant_unseal_and_cross_region_lookups(world: dict[str, Any]) -> None:
    _start(WORKDAY)
    emit(world["security"], EventType.ROLE_GRANTED, WORKDAY, subject_type="user", subject_id=5)
    emit(
        world["security"],
        EventType.ACCOUNT_UNSEALED,
        WORKDAY + timedelta(seconds=30),
        subject_type="user",
        subject_id=6,
    )
    end = emit(
        world["registrar"],
        EventType.IDENTITY_LOOKUP,
        WORKDAY + timedelta(minutes=1),
        n=20,
        step=timedelta(seconds=30),
    )
    rules = sorted(a.rule for a in scan_at(end))
    assert rules == sorted([RuleKey.PRIVILEGE_GRANT, RuleKey.SEALED_REACTIVATED, RuleKey.CROSS_REGION_LOOKUP])


def test_province_rule_and_role_rule_replace_the_national_default(world: dict[str, Any]) -> None:
    """Rules are data: a province row replaces the national one for that province's accounts; a row naming the
    actor's role comes before a row for every role; a disabled rule raises nothing."""
    AlertRule.objects.create(
        key=RuleKey.REVEAL_BURST, province_code="440000", threshold=5, window_seconds=600
    )
    _start(WORKDAY)
    end = emit(world["registrar"], EventType.STUDENT_REVEALED, WORKDAY, n=5)
    assert [a.threshold for a in scan_at(end)] == [5]
    AlertRule.objects.create(
        key=RuleKey.REVEAL_BURST,
        province_code="440000",
        roles=[Role.SCHOOL_REGISTRAR],
        threshold=50,
        window_seconds=600,
    )
    later = WORKDAY + timedelta(hours=1)
    end = emit(world["registrar"], EventType.STUDENT_REVEALED, later, n=20)
    assert scan_at(end) == []
    AlertRule.objects.filter(key=RuleKey.PRIVILEGE_GRANT).update(enabled=False)
    emit(
        world["security"],
        EventType.ROLE_GRANTED,
        end + timedelta(minutes=1),
        subject_type="user",
        subject_id=5,
    )
    assert scan_at(end + timedelta(minutes=2)) == []


def test_handling_keeps_history_and_needs_a_note_to_resolve(world: dict[str, Any]) -> None:
    _start(WORKDAY)
    emit(world["security"], EventType.ROLE_GRANTED, WORKDAY, subject_type="user", subject_id=5)
    alert = scan_at(WORKDAY + timedelta(minutes=1))[0]
    with pytest.raises(Forbidden):
        services.handle(actor=world["system"], alert_id=alert.pk, state=AlertState.ACKNOWLEDGED)
    services.handle(actor=world["security"], alert_id=alert.pk, state=AlertState.ACKNOWLEDGED)
    with pytest.raises(FieldError) as err:
        services.handle(actor=world["security"], alert_id=alert.pk, state=AlertState.RESOLVED)
    assert err.value.field == "note"
    services.handle(
        actor=world["security"], alert_id=alert.pk, state=AlertState.RESOLVED, note="经核实为正常授权"
    )
    assert [a.state for a in AlertAction.objects.filter(alert=alert)] == ["acknowledged", "resolved"]
    with pytest.raises(FieldError):
        services.handle(actor=world["security"], alert_id=alert.pk, state=AlertState.ACKNOWLEDGED)


def test_console_is_the_security_administrators(world: dict[str, Any]) -> None:
    """三权分立: the system and audit administrators and the registrars do not see the alert console."""
    _start(WORKDAY)
    emit(world["security"], EventType.ROLE_GRANTED, WORKDAY, subject_type="user", subject_id=5)
    alert = scan_at(WORKDAY + timedelta(minutes=1))[0]
    for user in (world["system"], world["registrar"], f.user(Role.AUDIT_ADMIN, f.dept("440000"))):
        c = Client()
        c.force_login(user)
        assert c.get("/alerts/").status_code == 403
        assert c.post(f"/alerts/{alert.pk}/", {"state": "acknowledged"}).status_code == 403
    c = Client()
    c.force_login(world["security"])
    page = c.get("/alerts/")
    assert page.status_code == 200 and "授予角色" in page.content.decode()
    assert c.post(f"/alerts/{alert.pk}/", {"state": "resolved", "note": "已核实"}).status_code == 302
    assert Alert.objects.get().state == "resolved"
    rule = AlertRule.objects.get(key=RuleKey.MASS_EXPORT, province_code="")
    assert c.get("/alerts/rules/").status_code == 200
    bad = c.post(
        f"/alerts/rules/{rule.pk}/",
        {f"r{rule.pk}-threshold": "0", f"r{rule.pk}-window_seconds": "60", f"r{rule.pk}-severity": "warning"},
    )
    assert bad.status_code == 400
    ok = c.post(
        f"/alerts/rules/{rule.pk}/",
        {
            f"r{rule.pk}-threshold": "9",
            f"r{rule.pk}-window_seconds": "60",
            f"r{rule.pk}-severity": "critical",
            f"r{rule.pk}-enabled": "on",
        },
    )
    assert ok.status_code == 302
    rule.refresh_from_db()
    assert (rule.threshold, rule.window_seconds, rule.severity, rule.enabled) == (9, 60, "critical", True)
