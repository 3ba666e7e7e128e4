"""gunicorn settings for xueji (`manage.py serve`, `make run`, deploy/systemd/xueji-web.service).

Sync workers, one thread each: a worker handles one request at a time and Django keeps at most one database
connection per thread, so with persistent connections (CONN_MAX_AGE + CONN_HEALTH_CHECKS, config/settings.py)
the web tier holds at most ``workers`` connections, however many clients there are (issue #6 §1). Threaded
workers (gthread) would open one connection per thread instead.

Sync workers are made for a buffering reverse proxy in front (deploy/nginx/xueji.conf): nginx holds slow
clients and keep-alive connections; gunicorn answers each proxied request on a fresh connection.

Environment: PORT (8000), XUEJI_BIND (overrides host:port; default 127.0.0.1:$PORT), XUEJI_WEB_WORKERS
(default 2×cores+1, at most 9), XUEJI_WEB_TIMEOUT (120 s), XUEJI_FORWARDED_ALLOW_IPS (127.0.0.1),
XUEJI_ACCESS_LOG ("-" = stderr; empty = off).
"""

from __future__ import annotations

import os

MAX_DEFAULT_WORKERS = 9


def default_workers() -> int:
    """2×cores+1 (gunicorn's rule of thumb), capped: each worker is a process (≈100 MB) and a database
    connection; beyond ~9 a 4-core box only queues on the database instead."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return min(2 * cores + 1, MAX_DEFAULT_WORKERS)


bind = os.environ.get("XUEJI_BIND") or f"127.0.0.1:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("XUEJI_WEB_WORKERS") or default_workers())
worker_class = "sync"
threads = 1
# Recycle workers now and then so that a slow leak cannot grow without bound.
max_requests = 2000
max_requests_jitter = 200
timeout = int(os.environ.get("XUEJI_WEB_TIMEOUT", "120"))  # a worker silent this long is killed and replaced
graceful_timeout = 30
keepalive = 5  # used only by non-sync worker classes; sync workers close after each response
# Never import the application in the master: a database connection opened before fork would be shared.
preload_app = False
# Trust X-Forwarded-* (used by SECURE_PROXY_SSL_HEADER) only from the local reverse proxy.
forwarded_allow_ips = os.environ.get("XUEJI_FORWARDED_ALLOW_IPS", "127.0.0.1")
proxy_allow_ips = forwarded_allow_ips
# Request limits (headers; bodies are bounded by Django's DATA_UPLOAD_MAX_MEMORY_SIZE and nginx).
limit_request_line = 8190
limit_request_fields = 100

# Access log without query strings, referrers or user agents: queries carry names and ID numbers
# (student search), which must not end up in logs (security.md, no personal data in logs).
# %(U)s is the path alone; the request id ties a line to the audit trail.
accesslog = os.environ.get("XUEJI_ACCESS_LOG", "-") or None
access_log_format = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms rid=%({x-request-id}o)s'
errorlog = "-"
loglevel = os.environ.get("XUEJI_WEB_LOG_LEVEL", "info")
proc_name = "xueji-web"
# gunicorn ≥ 25.1 opens a management socket under $HOME by default: not needed, and two instances would share it.
control_socket_disable = True

# Garbage collection (issue 7): Django's heap after the first requests (URL resolvers, templates, querysets'
# compiled parts) is long-lived, yet every full collection walks all of it — a 100–150 ms pause every ~20
# requests on the student list (p95 150 ms → 65 ms with the freeze, measured in bench/bench_search.py). After
# the warm-up, each worker collects once and freezes what is left into the permanent generation; later
# collections only walk what requests allocate.
GC_FREEZE_AFTER_REQUESTS = 20


def post_request(worker, req, environ, resp):  # type: ignore[no-untyped-def]
    import gc  # noqa: PLC0415 - gunicorn hooks live in this file; keep its imports local

    worker.xueji_requests = getattr(worker, "xueji_requests", 0) + 1
    if worker.xueji_requests == GC_FREEZE_AFTER_REQUESTS:
        gc.collect()
        gc.freeze()
