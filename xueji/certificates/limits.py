"""Per-address rate limit of the public verification endpoints (security.md test 28 "anti-automation").

The verification page, the certificate and QR pages and ``POST /api/v1/certificates/verify`` need no login, so
:func:`xueji.core.ratelimit.ratelimit_hit` (per account) cannot count them: they are counted per client address
(:func:`xueji.core.middleware.client_ip`, which a client cannot choose behind the trusted proxy). Each check
verifies signatures and reads the database: unlimited, a script could enumerate QR tokens or load the server.

- Fixed windows, one :class:`~xueji.certificates.models.VerifyCounter` row per (address hash, window), one atomic
  upsert per request (as the core limiter), so every worker shares one count.
- ``settings.XUEJI_CERT_VERIFY_RATE_LIMIT`` = (requests, window seconds), default :data:`DEFAULT_LIMIT` — generous
  enough for an office checking a pile of certificates from one address.
- Counted before the check, outside any transaction. Old windows are removed by the daily status-list task.

The published key sets and status lists (``/v/issuers/…``, ``/v/status/…``) are not limited: they are static,
cacheable (``max-age``) and what the offline verifier downloads.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from xueji.core.errors import ApplicationError
from xueji.core.middleware import client_ip
from xueji.core.ratelimit import window_start

from .models import VerifyCounter

DEFAULT_LIMIT = (300, 3600)


class VerifyRateLimited(ApplicationError):
    """Too many verification requests from one address in the window (HTTP 429)."""

    status = 429

    def __init__(self, limit: int, retry_after: int) -> None:
        minutes = max(1, (retry_after + 59) // 60)
        message = _("核验过于频繁：同一网络地址已达上限（%(limit)s 次），请约 %(minutes)s 分钟后再试")
        super().__init__("rate_limited", message % {"limit": limit, "minutes": minutes})
        self.limit = limit
        self.retry_after = retry_after


def limit() -> tuple[int, int]:
    requests, seconds = getattr(settings, "XUEJI_CERT_VERIFY_RATE_LIMIT", DEFAULT_LIMIT)
    return int(requests), int(seconds)


def _subject(address: str) -> str:
    key = str(settings.SECRET_KEY).encode("utf-8")
    return hmac.new(key, f"certificates.verify|{address}".encode(), hashlib.sha256).hexdigest()


def _increment(subject: str, start: datetime) -> int:
    table = connection.ops.quote_name(VerifyCounter._meta.db_table)
    q = connection.ops.quote_name
    sql = (
        f"INSERT INTO {table} ({q('subject')}, {q('window_start')}, {q('count')}) "  # noqa: S608 - constant identifiers
        f"VALUES (%s, %s, 1) "
        f"ON CONFLICT ({q('subject')}, {q('window_start')}) "
        f"DO UPDATE SET {q('count')} = {table}.{q('count')} + 1 "
        f"RETURNING {q('count')}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [subject, connection.ops.adapt_datetimefield_value(start)])
        row = cursor.fetchone()
    return int(row[0])


def hit(request: HttpRequest) -> None:
    """Count one verification request of the client's address; raise :class:`VerifyRateLimited` above the
    limit. A request without a peer address counts under ``"-"``."""
    requests, period = limit()
    now = timezone.now()
    start = window_start(now, period)
    if _increment(_subject(client_ip(request) or "-"), start) > requests:
        retry_after = int((start + timedelta(seconds=period) - now).total_seconds()) + 1
        raise VerifyRateLimited(requests, retry_after)


def purge(*, older_than: timedelta = timedelta(days=1)) -> int:
    """Remove the counters of windows that started more than ``older_than`` ago."""
    deleted, _ = VerifyCounter.objects.filter(window_start__lt=timezone.now() - older_than).delete()
    return deleted
