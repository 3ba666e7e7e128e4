"""The early-warning engine (第23条: 建立预警机制; 等保 8.1.4.3 安全审计 / 8.1.5.4 集中管控): reads the audit
stream and raises alerts by the rules of :class:`~xueji.alerts.models.AlertRule`.

:func:`scan` runs every minute (``XUEJI_SCHEDULE``). It reads the audit events since its last run (with an
overlap, so an event whose transaction committed late is still seen) plus one window before them, groups them by
what each rule counts, and finds by a sliding window the largest count inside any window. Raising is idempotent:
one alert per rule and key while the burst lasts (``dedupe_key``), so rescanning the overlap never raises twice.

What the rules count (the thresholds are data):

* ``reveal_burst`` — 查看完整证件号/电话 by one account in the window;
* ``list_burst`` — rows of student lists shown to one account in the window (the ``rows`` of ``student.listed``);
* ``mass_export`` — exports (rosters, statistics, the dropout ledger) by one account in the window;
* ``off_hours`` — reads of student data outside ``params.start``–``params.end`` o'clock (local time) or on a
  weekend, one alert per account and day;
* ``new_ip_admin`` — a login of a system, security or audit administrator from an address not used by that
  account in the last ``params.lookback_days`` days;
* ``login_failures`` — refused logins for one account name, or from one address, in the window;
* ``privilege_grant`` — every role granted; ``sealed_reactivated`` — every sealed account unsealed;
* ``chain_broken`` — every failed verification of the audit chain (``audit.chain_broken``, recorded by the
  periodic ``verify_events`` task and ``manage.py audit_verify``; security.md test 24);
* ``cross_region_lookup`` — national identity look-ups (an ID number found in another region) by one account.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from xueji.accounts.enums import ADMIN_ROLES
from xueji.accounts.models import RoleGrant
from xueji.audit.enums import EventType
from xueji.audit.models import AuditEvent
from xueji.regions.models import OrgUnit

from .enums import RuleKey
from .models import Alert, AlertRule, ScanCursor

#: How far back each scan re-reads before its last end (events committed late are seen on the next run).
OVERLAP = timedelta(minutes=2)
#: The first scan reads this far back.
FIRST_SCAN = timedelta(minutes=10)

STUDENT_READS = (
    "student.viewed",
    "student.revealed",
    "student.listed",
    "export.roster",
    "export.statistics",
    "dropout.exported",
    "document.printed",
)
EXPORTS = ("export.roster", "export.statistics", "dropout.exported")

#: The audit events each rule reads.
WATCHED: dict[str, tuple[str, ...]] = {
    RuleKey.REVEAL_BURST: (EventType.STUDENT_REVEALED,),
    RuleKey.LIST_BURST: ("student.listed",),
    RuleKey.MASS_EXPORT: EXPORTS,
    RuleKey.OFF_HOURS: STUDENT_READS,
    RuleKey.NEW_IP_ADMIN: (EventType.LOGIN,),
    RuleKey.LOGIN_FAILURES: (EventType.LOGIN_FAILED,),
    RuleKey.PRIVILEGE_GRANT: (EventType.ROLE_GRANTED,),
    RuleKey.SEALED_REACTIVATED: (EventType.ACCOUNT_UNSEALED,),
    RuleKey.CROSS_REGION_LOOKUP: (EventType.IDENTITY_LOOKUP,),
    RuleKey.CHAIN_BROKEN: (EventType.AUDIT_CHAIN_BROKEN,),
}
WINDOW_RULES = (
    RuleKey.REVEAL_BURST,
    RuleKey.LIST_BURST,
    RuleKey.MASS_EXPORT,
    RuleKey.LOGIN_FAILURES,
    RuleKey.CROSS_REGION_LOOKUP,
)
EVENT_RULES = (RuleKey.PRIVILEGE_GRANT, RuleKey.SEALED_REACTIVATED, RuleKey.CHAIN_BROKEN)


@dataclass(frozen=True)
class Ev:
    id: int
    at: datetime
    type: str
    actor_id: int | None
    username: str
    org_unit_id: int | None
    province: str
    ip: str | None
    subject_type: str
    subject_id: str
    weight: int  # what the event counts for (rows of a list page; 1 otherwise)


class RuleBook:
    """The rule rows in force, and the roles and provinces of the actors seen in one scan."""

    def __init__(self, actor_ids: Iterable[int]) -> None:
        self.rows: dict[str, list[AlertRule]] = defaultdict(list)
        for row in AlertRule.objects.filter(enabled=True):
            self.rows[row.key].append(row)
        self.roles: dict[int, set[str]] = defaultdict(set)
        self.provinces: dict[int, str] = {}
        for grant in RoleGrant.objects.filter(user_id__in=set(actor_ids)).select_related("org_unit"):
            self.roles[grant.user_id].add(grant.role)
            self.provinces.setdefault(grant.user_id, grant.org_unit.province_code)

    def rule_for(self, key: str, actor_id: int | None, province: str = "") -> AlertRule | None:
        """The row for this actor: its province's rows replace the national ones; among them the rows naming one
        of the actor's roles come before the rows for every role; then the lowest threshold."""
        rows = self.rows.get(key, [])
        if not rows:
            return None
        mine = self.roles.get(actor_id or 0, set())
        province = self.provinces.get(actor_id or 0, province)
        local = [r for r in rows if r.province_code and r.province_code == province]
        candidates = local or [r for r in rows if not r.province_code]
        named = [r for r in candidates if r.roles and mine & set(r.roles)]
        general = [r for r in candidates if not r.roles]
        chosen = named or general
        return min(chosen, key=lambda r: (r.threshold, r.pk)) if chosen else None


def _events(since: datetime, until: datetime) -> list[Ev]:
    types = sorted({t for ts in WATCHED.values() for t in ts})
    rows = (
        AuditEvent.objects.filter(occurred_at__gt=since, occurred_at__lte=until, event_type__in=types)
        .order_by("occurred_at", "id")
        .values_list(
            "id",
            "occurred_at",
            "event_type",
            "actor_id",
            "actor_username",
            "org_unit_id",
            "province_code",
            "ip",
            "subject_type",
            "subject_id",
            "after",
        )
    )
    out = []
    for id_, at, type_, actor, username, unit, province, ip, stype, sid, after in rows.iterator(
        chunk_size=5000
    ):
        weight = 1
        if type_ == "student.listed" and isinstance(after, dict):
            weight = max(int(after.get("rows", 0) or 0), 0)
        out.append(Ev(id_, at, type_, actor, username, unit, province, ip, stype, sid, weight))
    return out


def _max_window(events: list[Ev], window: timedelta) -> tuple[int, Ev, Ev] | None:
    """The largest total weight of events inside any window of this length, with its first and last event."""
    best: tuple[int, Ev, Ev] | None = None
    total, start = 0, 0
    for ev in events:
        total += ev.weight
        while ev.at - events[start].at > window:
            total -= events[start].weight
            start += 1
        if best is None or total > best[0]:
            best = (total, events[start], ev)
    return best


def _raise(
    *,
    rule: AlertRule,
    key: str,
    count: int,
    first: Ev,
    last: Ev,
    merge_within: timedelta | None,
) -> Alert | None:
    """Raise (or extend) the alert of ``rule`` for ``key``. With ``merge_within``, an alert of the same rule and
    key whose last event is that close is extended (a burst that goes on stays one alert)."""
    prefix = f"{rule.key}:{key}:"
    with transaction.atomic():
        if merge_within is not None:
            open_one = (
                Alert.objects.select_for_update()
                .filter(dedupe_key__startswith=prefix, last_at__gte=first.at - merge_within)
                .order_by("-last_at")
                .first()
            )
            if open_one is not None:
                if count > open_one.count or last.at > open_one.last_at:
                    open_one.count = max(open_one.count, count)
                    open_one.last_at = max(open_one.last_at, last.at)
                    open_one.save(update_fields=["count", "last_at"])
                return None
        alert = Alert(
            rule=rule.key,
            severity=rule.severity,
            dedupe_key=f"{prefix}{first.id}",
            actor_id=last.actor_id,
            actor_username=last.username,
            org_unit_id=last.org_unit_id,
            province_code=last.province,
            ip=last.ip,
            count=count,
            threshold=rule.threshold,
            first_at=first.at,
            last_at=last.at,
        )
        try:
            with transaction.atomic():
                alert.save()
        except IntegrityError:
            return None  # raised by an earlier scan of the overlap
        if rule.notify_upper:
            _tell_upper(alert)
    return alert


def _tell_upper(alert: Alert) -> None:
    """第23条 with the province's rules: the actor's upper-level department is told (a notice in its list)."""
    if alert.org_unit_id is None:
        return
    unit = OrgUnit.objects.filter(pk=alert.org_unit_id).select_related("parent").first()
    upper = unit.parent if unit is not None else None
    if upper is None:
        return
    from xueji.changes.services import notify  # noqa: PLC0415 - only when a rule asks for it

    alert.upper_unit_id = upper.pk
    alert.save(update_fields=["upper_unit_id"])
    local = timezone.localtime(alert.last_at)
    notify(
        upper,
        None,
        "security_alert",
        reason=f"{alert.get_rule_display()} · {alert.actor_username}",
        date=local.strftime("%Y-%m-%d %H:%M"),
    )


def _window_key(rule: str, ev: Ev) -> str | None:
    if rule == RuleKey.LOGIN_FAILURES:
        return None  # two keys per event: handled in _login_failure_keys
    return f"actor{ev.actor_id}" if ev.actor_id else None


def _login_failure_keys(ev: Ev) -> list[str]:
    keys = []
    if ev.subject_id:
        keys.append(f"{ev.subject_type or 'user'}{ev.subject_id}")
    if ev.ip:
        keys.append(f"ip{ev.ip}")
    return keys


def evaluate(events: list[Ev], book: RuleBook, *, scan_from: datetime) -> list[Alert]:
    """Raise the alerts the events call for. ``scan_from``: events before it only fill windows (they were
    judged by an earlier scan)."""
    raised: list[Alert] = []
    by_type: dict[str, list[Ev]] = defaultdict(list)
    for ev in events:
        by_type[ev.type].append(ev)

    for rule_key in WINDOW_RULES:
        groups: dict[str, list[Ev]] = defaultdict(list)
        for event_type in WATCHED[rule_key]:
            for ev in by_type.get(str(event_type), []):
                if rule_key == RuleKey.LOGIN_FAILURES:
                    keys = _login_failure_keys(ev)
                else:
                    actor_key = _window_key(rule_key, ev)
                    keys = [actor_key] if actor_key else []
                for key in keys:
                    groups[key].append(ev)
        for key, group in groups.items():
            group.sort(key=lambda e: (e.at, e.id))
            if group[-1].at <= scan_from:
                continue
            rule = book.rule_for(rule_key, group[-1].actor_id, group[-1].province)
            if rule is None:
                continue
            window = timedelta(seconds=rule.window_seconds)
            best = _max_window(group, window)
            if best is not None and best[0] >= rule.threshold:
                alert = _raise(
                    rule=rule, key=key, count=best[0], first=best[1], last=best[2], merge_within=window
                )
                if alert:
                    raised.append(alert)

    for rule_key in EVENT_RULES:
        for event_type in WATCHED[rule_key]:
            for ev in by_type.get(str(event_type), []):
                if ev.at <= scan_from:
                    continue
                rule = book.rule_for(rule_key, ev.actor_id, ev.province)
                if rule is not None:
                    alert = _raise(
                        rule=rule, key=f"event{ev.id}", count=1, first=ev, last=ev, merge_within=None
                    )
                    if alert:
                        raised.append(alert)

    raised += _off_hours(by_type, book, scan_from)
    raised += _new_ip(by_type.get(str(EventType.LOGIN), []), book, scan_from)
    return raised


def _is_off_hours(local: datetime, start: int, end: int) -> bool:
    return local.weekday() >= 5 or not (start <= local.hour < end)


def _off_hours(by_type: dict[str, list[Ev]], book: RuleBook, scan_from: datetime) -> list[Alert]:
    raised = []
    per_day: dict[str, list[Ev]] = defaultdict(list)
    for event_type in WATCHED[RuleKey.OFF_HOURS]:
        for ev in by_type.get(event_type, []):
            if ev.at <= scan_from or not ev.actor_id:
                continue
            rule = book.rule_for(RuleKey.OFF_HOURS, ev.actor_id, ev.province)
            if rule is None:
                continue
            local = timezone.localtime(ev.at)
            if _is_off_hours(local, int(rule.params.get("start", 7)), int(rule.params.get("end", 21))):
                per_day[f"actor{ev.actor_id}:{local.date().isoformat()}"].append(ev)
    for key, group in per_day.items():
        group.sort(key=lambda e: (e.at, e.id))
        rule = book.rule_for(RuleKey.OFF_HOURS, group[-1].actor_id, group[-1].province)
        if rule is None or len(group) < rule.threshold:
            continue
        alert = _raise(
            rule=rule,
            key=key,
            count=len(group),
            first=group[0],
            last=group[-1],
            merge_within=timedelta(days=1),
        )
        if alert:
            raised.append(alert)
    return raised


def _new_ip(logins: list[Ev], book: RuleBook, scan_from: datetime) -> list[Alert]:
    raised = []
    for ev in logins:
        if ev.at <= scan_from or not ev.actor_id or not ev.ip:
            continue
        if not (book.roles.get(ev.actor_id, set()) & ADMIN_ROLES):
            continue
        rule = book.rule_for(RuleKey.NEW_IP_ADMIN, ev.actor_id, ev.province)
        if rule is None:
            continue
        lookback = timedelta(days=int(rule.params.get("lookback_days", 90)))
        seen = AuditEvent.objects.filter(
            event_type=EventType.LOGIN,
            actor_id=ev.actor_id,
            ip=ev.ip,
            occurred_at__gte=ev.at - lookback,
            occurred_at__lt=ev.at,
        ).exists()
        if not seen:
            alert = _raise(
                rule=rule,
                key=f"actor{ev.actor_id}:{ev.ip}",
                count=1,
                first=ev,
                last=ev,
                merge_within=lookback,
            )
            if alert:
                raised.append(alert)
    return raised


def scan(now: datetime | None = None) -> list[Alert]:
    """Read the audit stream since the last scan and raise what the rules call for; returns the new alerts."""
    now = now or timezone.now()
    with transaction.atomic():
        cursor = ScanCursor.objects.select_for_update().first()
        if cursor is None:
            cursor = ScanCursor.objects.create(scanned_to=now - FIRST_SCAN)
        scan_from = cursor.scanned_to - OVERLAP
        widest = max(
            [timedelta(seconds=r.window_seconds) for r in AlertRule.objects.filter(enabled=True)]
            or [timedelta(0)]
        )
        events = _events(scan_from - min(widest, timedelta(days=1)), now)
        book = RuleBook(e.actor_id for e in events if e.actor_id)
        raised = evaluate(events, book, scan_from=scan_from)
        cursor.scanned_to = now
        cursor.save(update_fields=["scanned_to"])
    return raised
