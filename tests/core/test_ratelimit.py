"""The one rate-limit mechanism for sensitive reads (issue #6 §3.10): counted in the database per account, bucket
and fixed window; above the limit a Chinese 429 and (once per window) a security audit event."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.factories import core as f
from xueji.audit.models import AuditEvent
from xueji.core.models import RateCounter
from xueji.core.ratelimit import (
    RateLimited,
    rate_limit,
    ratelimit_hit,
    ratelimit_purge,
    window_start,
)

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 4, 10, 30, 15, tzinfo=UTC)


@pytest.fixture
def small_limits(settings):
    settings.XUEJI_RATE_LIMITS = {
        "reveal": (3, 3600),
        "lookup": (2, 86400),
        "export": (1, 86400),
        "list": (5, 60),
    }


def test_limit_allows_exactly_n_then_refuses_with_a_chinese_429(small_limits, registrar_a):
    counts = [ratelimit_hit(registrar_a, "reveal", now=NOW) for _ in range(3)]
    with pytest.raises(RateLimited) as exc:
        ratelimit_hit(registrar_a, "reveal", now=NOW)
    assert counts == [1, 2, 3]
    assert (exc.value.code, exc.value.status, exc.value.fields) == ("rate_limited", 429, {})
    assert exc.value.message.startswith("操作过于频繁：查看完整证件号、电话或学籍号每小时最多 3 次")
    # 10:30:15 in a window of 10:00–11:00: 29 min 45 s left.
    assert exc.value.retry_after == 29 * 60 + 45
    assert exc.value.as_dict()["code"] == "rate_limited"


def test_count_lives_in_the_database_one_row_per_account_bucket_and_window(
    small_limits, registrar_a, school_b
):
    other = f.registrar(school_b, username="reg_other")
    for _ in range(2):
        ratelimit_hit(registrar_a, "reveal", now=NOW)
    ratelimit_hit(registrar_a, "list", now=NOW)
    ratelimit_hit(other, "reveal", now=NOW)
    rows = sorted(RateCounter.objects.values_list("account_id", "bucket", "window_start", "count"))
    assert rows == sorted(
        [
            (registrar_a.pk, "reveal", datetime(2026, 12, 4, 10, 0, tzinfo=UTC), 2),
            (registrar_a.pk, "list", datetime(2026, 12, 4, 10, 30, tzinfo=UTC), 1),
            (other.pk, "reveal", datetime(2026, 12, 4, 10, 0, tzinfo=UTC), 1),
        ]
    )


def test_accounts_and_buckets_are_counted_apart(small_limits, registrar_a, school_b):
    other = f.registrar(school_b, username="reg_other")
    ratelimit_hit(registrar_a, "export", now=NOW)
    with pytest.raises(RateLimited):
        ratelimit_hit(registrar_a, "export", now=NOW)
    assert ratelimit_hit(other, "export", now=NOW) == 1
    assert ratelimit_hit(registrar_a, "reveal", now=NOW) == 1


def test_a_new_window_starts_counting_again(small_limits, registrar_a):
    for _ in range(5):
        ratelimit_hit(registrar_a, "list", now=NOW)
    with pytest.raises(RateLimited):
        ratelimit_hit(registrar_a, "list", now=NOW + timedelta(seconds=44))
    assert ratelimit_hit(registrar_a, "list", now=NOW + timedelta(seconds=45)) == 1


def test_first_refusal_of_a_window_is_one_security_audit_event_without_personal_data(
    small_limits, registrar_a
):
    ratelimit_hit(registrar_a, "export", now=NOW)
    for _ in range(3):
        with pytest.raises(RateLimited):
            ratelimit_hit(registrar_a, "export", now=NOW)
    [event] = AuditEvent.objects.filter(event_type="security.rate_limited")
    assert (event.actor_id, event.subject_type, event.subject_id, event.success) == (
        registrar_a.pk,
        "user",
        str(registrar_a.pk),
        False,
    )
    assert event.after == {
        "bucket": "export",
        "limit": 1,
        "period": 86400,
        "window_start": "2026-12-04T00:00:00+00:00",
    }
    assert event.summary == "操作频率超限：导出名册"
    # The refused requests stay countable on the counter: 4 requests, limit 1 → 3 refused.
    assert RateCounter.objects.get(account_id=registrar_a.pk, bucket="export").count == 4


def test_the_system_actor_is_not_limited(small_limits):
    assert [ratelimit_hit(None, "export", now=NOW) for _ in range(3)] == [0, 0, 0]
    assert RateCounter.objects.count() == 0


def test_limits_come_from_settings_with_defaults_for_missing_buckets(settings):
    settings.XUEJI_RATE_LIMITS = {"reveal": (7, 60)}
    assert rate_limit("reveal") == (7, 60)
    assert rate_limit("lookup") == (100, 86400)


def test_environment_string_parses_into_limits():
    from config.settings import _rate_limits

    assert _rate_limits("reveal=200/3600, lookup=5/86400,") == {"reveal": (200, 3600), "lookup": (5, 86400)}
    assert _rate_limits("") == {}


def test_window_start_is_aligned_on_the_period():
    assert window_start(NOW, 3600) == datetime(2026, 12, 4, 10, 0, tzinfo=UTC)
    assert window_start(NOW, 86400) == datetime(2026, 12, 4, 0, 0, tzinfo=UTC)
    assert window_start(NOW, 60) == datetime(2026, 12, 4, 10, 30, tzinfo=UTC)


def test_purge_removes_only_windows_that_have_ended(small_limits, registrar_a):
    ratelimit_hit(registrar_a, "lookup", now=NOW - timedelta(days=2))
    ratelimit_hit(registrar_a, "reveal", now=NOW - timedelta(hours=3))
    ratelimit_hit(registrar_a, "lookup", now=NOW)
    # The longest configured window is one day: the counter of two days ago goes, the others stay.
    assert ratelimit_purge(now=NOW) == 1
    assert sorted(RateCounter.objects.values_list("bucket", "window_start")) == [
        ("lookup", datetime(2026, 12, 4, 0, 0, tzinfo=UTC)),
        ("reveal", datetime(2026, 12, 4, 7, 0, tzinfo=UTC)),
    ]


def test_the_queue_task_purges_ended_windows(small_limits, registrar_a):
    from django.utils import timezone

    from xueji.core.tasks import purge_rate_counters

    ratelimit_hit(registrar_a, "lookup", now=timezone.now() - timedelta(days=3))
    ratelimit_hit(registrar_a, "lookup")
    assert purge_rate_counters.call() == 1
    assert RateCounter.objects.filter(account_id=registrar_a.pk).count() == 1
