"""Pieces of the snapshot rebuild (第5、23条) checked without a database: the retention rule's independence of
order and the dialect helpers (their execution on each database is tested by the rest of tests/statistics)."""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace

import pytest

from xueji.statistics import services
from xueji.statistics.services import (
    _json_text,
    _month,
    expired_dates,
)


def test_retention_does_not_depend_on_the_order_of_the_dates() -> None:
    """The month-end kept for a month is its latest snapshot, whatever order the dates come in."""
    today = date(2026, 12, 5)
    dates = [date(2026, 3, 31), date(2026, 3, 5), date(2026, 3, 20), date(2026, 12, 1), date(2023, 1, 31)]
    gone = expired_dates(dates, today)
    assert gone == expired_dates(sorted(dates), today)
    assert gone == [date(2023, 1, 31), date(2026, 3, 5), date(2026, 3, 20)]


def test_dialect_helpers_of_each_database(monkeypatch: pytest.MonkeyPatch) -> None:
    """The flows read a JSON key and truncate to the month in each dialect's own syntax (both built on either
    test database: only the text is checked here)."""
    monkeypatch.setattr(services, "connection", SimpleNamespace(vendor="sqlite"))
    assert _json_text("r.facts", "decision") == "json_extract(r.facts, '$.decision')"
    assert _month("r.effective_on") == "strftime('%%Y-%%m-01', r.effective_on)"
    monkeypatch.setattr(services, "connection", SimpleNamespace(vendor="postgresql"))
    assert _json_text("r.facts", "decision") == "r.facts->>'decision'"
    assert _month("r.effective_on") == "CAST(date_trunc('month', r.effective_on) AS date)"
