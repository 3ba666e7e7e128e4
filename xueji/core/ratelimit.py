"""Per-account rate limits on sensitive reads (issue #6 §3.10; security.md test 28 "anti-automation";
第24条 严格数据使用 and 第23条 异常监管).

One mechanism for every sensitive read: reveals of a full ID number / phone / 学籍号 (``reveal``), national
look-ups (``lookup``: ID number → holding school at registration, 学籍号+姓名 for transfer, progression and
return), roster exports (``export``) and list pages / list API calls (``list``).

- Counted in the DATABASE (:class:`xueji.core.models.RateCounter`), so every gunicorn worker and the task
  worker share one count; no process cache.
- Fixed windows: one row per (account, bucket, window start), incremented by one atomic upsert
  (``INSERT … ON CONFLICT … DO UPDATE SET count = count + 1 RETURNING count``; SQLite ≥ 3.35 and
  PostgreSQL), so concurrent requests can neither lose an increment nor collide on the insert.
- Limits come from ``settings.XUEJI_RATE_LIMITS`` (bucket → (requests, window seconds)), overridable by the
  environment (``XUEJI_RATE_LIMITS="reveal=200/3600"``); :data:`DEFAULT_LIMITS` fill what settings omit.
- Above the limit :func:`ratelimit_hit` raises :class:`RateLimited` (code ``rate_limited``, HTTP 429, a
  Chinese message). The first refusal of each window is an audit event (``security.rate_limited``, a
  security event for the early warning); later refusals in the same window only raise the counter (which
  keeps the number of refused requests: ``count - limit``) so that a script hammering an endpoint cannot flood
  the audit trail. Core imports no app: the refusal is announced on the :data:`rate_limited` signal, and the
  audit app (``AuditConfig.ready``) writes the event in its receiver — synchronously, in the caller's
  transaction, exactly as a direct call would.

Call :func:`ratelimit_hit` in the web/API layer BEFORE the service's transaction: a count written inside a
transaction that rolls back would be lost. The system actor (``None``) is never limited.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import connection
from django.dispatch import Signal
from django.utils import timezone

from xueji.core.types import ActorLike

from .errors import ApplicationError
from .models import RateCounter

#: bucket → (requests, window seconds); ``settings.XUEJI_RATE_LIMITS`` overrides each entry.
DEFAULT_LIMITS: dict[str, tuple[int, int]] = {
    "reveal": (100, 3600),
    "lookup": (100, 86400),
    "export": (20, 86400),
    "list": (600, 3600),
    "print": (60, 3600),
}

#: Sent once per (account, bucket, window), on the first refused request, with the keyword arguments ``user``,
#: ``bucket``, ``label`` (Chinese), ``limit``, ``period`` (seconds) and ``window_start`` (aware datetime).
#: The audit app connects the receiver that records ``security.rate_limited`` (第23条 异常监管). Sent with
#: ``send`` (not ``send_robust``): a receiver that fails makes the request fail, as an audit write must.
rate_limited = Signal()

BUCKET_LABELS = {
    "reveal": "查看完整证件号、电话或学籍号",
    "lookup": "跨区域身份查询",
    "export": "导出名册",
    "list": "浏览列表和学生详情",
    "print": "生成 PDF 学籍表单",
}


def _period_text(seconds: int) -> str:
    if seconds % 86400 == 0:
        return "天" if seconds == 86400 else f"{seconds // 86400}天"
    if seconds % 3600 == 0:
        return "小时" if seconds == 3600 else f"{seconds // 3600}小时"
    if seconds % 60 == 0:
        return "分钟" if seconds == 60 else f"{seconds // 60}分钟"
    return f"{seconds}秒"


class RateLimited(ApplicationError):
    """An account made more sensitive reads of one kind than its window allows (HTTP 429)."""

    status = 429

    def __init__(self, bucket: str, limit: int, period: int, retry_after: int) -> None:
        label = BUCKET_LABELS.get(bucket, bucket)
        super().__init__(
            "rate_limited",
            f"操作过于频繁：{label}每{_period_text(period)}最多 {limit} 次，请稍后再试"
            f"（约 {max(1, (retry_after + 59) // 60)} 分钟后恢复）",
        )
        self.bucket = bucket
        self.limit = limit
        self.period = period
        self.retry_after = retry_after


def rate_limit(bucket: str) -> tuple[int, int]:
    """The (requests, window seconds) in force for ``bucket``; unknown buckets are a programming error."""
    configured = getattr(settings, "XUEJI_RATE_LIMITS", {}) or {}
    if bucket in configured:
        requests, seconds = configured[bucket]
        return int(requests), int(seconds)
    return DEFAULT_LIMITS[bucket]


def window_start(now: datetime, period: int) -> datetime:
    """The start of the fixed window of ``period`` seconds containing ``now`` (aligned on the Unix epoch)."""
    epoch = int(now.timestamp())
    return datetime.fromtimestamp(epoch - epoch % period, tz=UTC)


def _increment(account_id: int, bucket: str, start: datetime) -> int:
    """Add one to the window's counter and return the new count — one atomic statement."""
    table = connection.ops.quote_name(RateCounter._meta.db_table)
    q = connection.ops.quote_name
    sql = (
        f"INSERT INTO {table} ({q('account_id')}, {q('bucket')}, {q('window_start')}, {q('count')}) "  # noqa: S608 - constant identifiers
        f"VALUES (%s, %s, %s, 1) "
        f"ON CONFLICT ({q('account_id')}, {q('bucket')}, {q('window_start')}) "
        f"DO UPDATE SET {q('count')} = {table}.{q('count')} + 1 "
        f"RETURNING {q('count')}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [account_id, bucket, connection.ops.adapt_datetimefield_value(start)])
        row = cursor.fetchone()
    return int(row[0])


def ratelimit_hit(user: ActorLike, bucket: str, *, now: datetime | None = None) -> int:
    """Count one sensitive read of kind ``bucket`` by ``user``; raise :class:`RateLimited` above the limit.

    Returns the count in the current window (including this request). Side effects: one upsert; on the first
    refusal of a window, the :data:`rate_limited` signal, on which the audit app records one
    ``security.rate_limited`` event (no personal data: bucket, limit, window).
    """
    if user is None or getattr(user, "pk", None) is None:
        return 0  # the system (management commands, the task worker) is not limited
    limit, period = rate_limit(bucket)
    now = now or timezone.now()
    start = window_start(now, period)
    count = _increment(int(user.pk), bucket, start)
    if count <= limit:
        return count
    retry_after = max(1, int((start + timedelta(seconds=period) - now).total_seconds()))
    if count == limit + 1:
        rate_limited.send(
            sender=RateLimited,
            user=user,
            bucket=bucket,
            label=BUCKET_LABELS.get(bucket, bucket),
            limit=limit,
            period=period,
            window_start=start,
        )
    raise RateLimited(bucket, limit, period, retry_after)


def ratelimit_purge(*, now: datetime | None = None) -> int:
    """Delete counters whose window has ended (each window is at most the longest configured period long).

    Meant for the daily schedule; returns the number of rows deleted.
    """
    now = now or timezone.now()
    buckets = set(DEFAULT_LIMITS) | set(getattr(settings, "XUEJI_RATE_LIMITS", {}) or {})
    longest = max(rate_limit(b)[1] for b in buckets)
    deleted, _ = RateCounter.objects.filter(window_start__lt=now - timedelta(seconds=longest)).delete()
    return deleted
