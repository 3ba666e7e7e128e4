"""config/gunicorn.conf.py: sync workers sized for the machine, no personal data in the access log."""

from __future__ import annotations

import os
import runpy

import pytest
from django.conf import settings

CONF = str(settings.BASE_DIR / "config" / "gunicorn.conf.py")


def _load(monkeypatch: pytest.MonkeyPatch, **env: str) -> dict[str, object]:
    for name in ("XUEJI_WEB_WORKERS", "XUEJI_BIND", "PORT"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(CONF)


def test_sync_workers_one_thread_each(monkeypatch):
    """One thread per worker: Django keeps one database connection per thread, so connections ≤ workers."""
    conf = _load(monkeypatch)
    assert conf["worker_class"] == "sync"
    assert conf["threads"] == 1
    assert conf["preload_app"] is False


def test_workers_default_to_twice_the_cores_plus_one_capped(monkeypatch):
    cores = len(os.sched_getaffinity(0))
    assert _load(monkeypatch)["workers"] == min(2 * cores + 1, 9)
    assert _load(monkeypatch, XUEJI_WEB_WORKERS="3")["workers"] == 3


def test_bind_follows_port_on_loopback_by_default(monkeypatch):
    assert _load(monkeypatch)["bind"] == "127.0.0.1:8000"
    assert _load(monkeypatch, PORT="8123")["bind"] == "127.0.0.1:8123"
    assert _load(monkeypatch, XUEJI_BIND="0.0.0.0:9000")["bind"] == "0.0.0.0:9000"


def test_access_log_has_no_query_string_referrer_or_user_agent(monkeypatch):
    """Student searches carry names and ID numbers in the query string: the log keeps the path only."""
    fmt = str(_load(monkeypatch)["access_log_format"])
    assert "%(U)s" in fmt
    for atom in ("%(r)s", "%(q)s", "%(f)s", "%(a)s"):
        assert atom not in fmt


def test_each_worker_freezes_its_warm_heap_once(monkeypatch):
    """Issue 7: after the warm-up requests the worker's long-lived heap goes to the permanent generation, so
    full collections no longer walk it (the list page's p95 pauses)."""
    import gc
    from types import SimpleNamespace

    conf = _load(monkeypatch)
    post_request = conf["post_request"]
    frozen = []
    monkeypatch.setattr(gc, "freeze", lambda: frozen.append(True))
    worker = SimpleNamespace()
    for _ in range(int(conf["GC_FREEZE_AFTER_REQUESTS"]) - 1):
        post_request(worker, None, {}, None)  # type: ignore[operator]
    assert frozen == []
    for _ in range(50):
        post_request(worker, None, {}, None)  # type: ignore[operator]
    assert frozen == [True]
