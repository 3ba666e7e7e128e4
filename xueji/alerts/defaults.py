"""The national default rules (第23条), loaded by migration 0002; the security administrator edits them and a
province may add its own rows."""

from __future__ import annotations

from typing import Any

DEFAULT_RULES: list[dict[str, Any]] = [
    {
        "key": "reveal_burst",
        "threshold": 30,
        "window_seconds": 600,
        "severity": "warning",
        "notify_upper": True,
    },
    {
        "key": "list_burst",
        "threshold": 3000,
        "window_seconds": 600,
        "severity": "warning",
        "notify_upper": True,
    },
    {
        "key": "mass_export",
        "threshold": 5,
        "window_seconds": 3600,
        "severity": "warning",
        "notify_upper": True,
    },
    {
        "key": "off_hours",
        "threshold": 1,
        "window_seconds": 86400,
        "severity": "info",
        "params": {"start": 7, "end": 21},
    },
    {
        "key": "new_ip_admin",
        "threshold": 1,
        "window_seconds": 0,
        "severity": "warning",
        "params": {"lookback_days": 90},
    },
    {"key": "login_failures", "threshold": 10, "window_seconds": 600, "severity": "warning"},
    {"key": "privilege_grant", "threshold": 1, "window_seconds": 0, "severity": "info"},
    {"key": "sealed_reactivated", "threshold": 1, "window_seconds": 0, "severity": "warning"},
    {
        "key": "cross_region_lookup",
        "threshold": 20,
        "window_seconds": 3600,
        "severity": "warning",
        "notify_upper": True,
    },
    # security.md test 24: a failed verification of the audit chain (audit.chain_broken) is always critical.
    {"key": "chain_broken", "threshold": 1, "window_seconds": 0, "severity": "critical"},
]
