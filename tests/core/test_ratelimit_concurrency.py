"""The rate counter under real concurrency (PostgreSQL: parallel connections, as parallel gunicorn workers)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections

from tests.factories import core as f
from xueji.core.models import RateCounter
from xueji.core.ratelimit import RateLimited, ratelimit_hit

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

THREADS = 8
HITS = 10


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL for parallel writers (run with DATABASE_URL=postgres://…)")


def test_parallel_hits_lose_no_increment_and_refuse_exactly_the_excess(settings):
    settings.XUEJI_RATE_LIMITS = {"reveal": (50, 3600)}
    f.departments(("440000",))
    user = f.registrar(f.school("440105", "primary"), username="reg_parallel")
    barrier = threading.Barrier(THREADS)
    outcomes: list[str] = []
    lock = threading.Lock()

    def attempt() -> None:
        try:
            barrier.wait()
            for _ in range(HITS):
                try:
                    ratelimit_hit(user, "reveal")
                    result = "ok"
                except RateLimited:
                    result = "limited"
                with lock:
                    outcomes.append(result)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=attempt) for _ in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    # 80 requests at a limit of 50 (if the hour turned mid-test, both windows' counts still add up to 80).
    assert len(outcomes) == THREADS * HITS
    assert sum(RateCounter.objects.filter(account_id=user.pk).values_list("count", flat=True)) == 80
    if RateCounter.objects.filter(account_id=user.pk).count() == 1:
        assert outcomes.count("ok") == 50
