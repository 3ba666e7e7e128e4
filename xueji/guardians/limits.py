"""Rate limits of the guardian end, counted in the database (security.md test 28; ASVS 2.4.1, 6.3.1).

SMS codes per phone number per hour and per day, per client address per hour; code checks and binding attempts
per client address (and binding per account). Fixed windows, one row per (subject, bucket, window), incremented
by one atomic upsert (as :mod:`xueji.core.ratelimit` does for staff accounts), so concurrent requests and several
workers share one count. The subject is a keyed hash of the phone number or address, never the value itself.
The client address is ``xueji.core.middleware.client_ip``: the peer, or the address a trusted reverse proxy
(``XUEJI_TRUSTED_PROXIES``) names, so a client cannot move itself into another window.

Count BEFORE the write the request asks for, outside its transaction, so that a refused or failed request still
counts.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import connection
from django.utils import timezone

from xueji.audit.enums import EventType
from xueji.audit.services import record
from xueji.core.errors import ApplicationError
from xueji.core.ratelimit import window_start

from . import conf
from .crypto import keyed_hash
from .models import RateCounter

LABELS = {
    "sms_phone": "同一手机号获取验证码",
    "sms_ip": "同一网络地址获取验证码",
    "sms_day": "同一手机号每天获取验证码",
    "login_ip": "验证码登录尝试",
    "bind": "绑定学生尝试",
    "request": "提交申请",
    "captcha_ip": "获取图形验证码",
}


class GuardianRateLimited(ApplicationError):
    """Too many attempts in the window (HTTP 429)."""

    status = 429

    def __init__(self, bucket: str, limit: int, retry_after: int) -> None:
        minutes = max(1, (retry_after + 59) // 60)
        super().__init__(
            "rate_limited",
            f"操作过于频繁：{LABELS.get(bucket, bucket)}已达上限（{limit} 次），请约 {minutes} 分钟后再试",
        )
        self.bucket = bucket
        self.limit = limit
        self.retry_after = retry_after


def _increment(subject: str, bucket: str, start: datetime) -> int:
    table = connection.ops.quote_name(RateCounter._meta.db_table)
    q = connection.ops.quote_name
    sql = (
        f"INSERT INTO {table} ({q('subject')}, {q('bucket')}, {q('window_start')}, {q('count')}) "  # noqa: S608 - constant identifiers
        f"VALUES (%s, %s, %s, 1) "
        f"ON CONFLICT ({q('subject')}, {q('bucket')}, {q('window_start')}) "
        f"DO UPDATE SET {q('count')} = {table}.{q('count')} + 1 "
        f"RETURNING {q('count')}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [subject, bucket, connection.ops.adapt_datetimefield_value(start)])
        row = cursor.fetchone()
    return int(row[0])


def hit(bucket: str, value: str, *, now: datetime | None = None) -> int:
    """Count one attempt of ``bucket`` by ``value`` (a phone number, an address, an account id); raise
    :class:`GuardianRateLimited` above the limit. An empty value (no peer address) counts under ``"-"``."""
    limit, period = conf.rate_limit(bucket)
    now = now or timezone.now()
    start = window_start(now, period)
    count = _increment(keyed_hash("guardian.rate", f"{bucket}|{value or '-'}"), bucket, start)
    if count <= limit:
        return count
    retry_after = max(1, int((start + timedelta(seconds=period) - now).total_seconds()))
    if count == limit + 1:
        # The first refusal of the window is a security event (第23条 预警); later ones only count.
        record(
            event_type=EventType.RATE_LIMITED,
            actor=None,
            actor_role="guardian",
            subject_type="guardian_limit",
            subject_id=bucket,
            summary=f"家长端操作频率超限：{LABELS.get(bucket, bucket)}",
            after={"bucket": bucket, "limit": limit, "period": period},
            success=False,
        )
    raise GuardianRateLimited(bucket, limit, retry_after)


def purge(*, now: datetime | None = None) -> int:
    """Delete counters of windows that have ended (the longest window is a day)."""
    now = now or timezone.now()
    longest = max(conf.rate_limit(b)[1] for b in conf.DEFAULT_RATE_LIMITS)
    deleted, _ = RateCounter.objects.filter(window_start__lt=now - timedelta(seconds=longest)).delete()
    return deleted
