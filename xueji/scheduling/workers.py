"""Which process runs a background job, and whether it is still alive.

A job records ``this_worker()`` (host name and process id) when it starts. A job whose process is gone —
killed with ``kill -9``, out of memory, power loss — can then be told from one that is merely slow:

- same host: the process id is looked up (``os.kill(pid, 0)``); this is exact, and it is the only test that
  works on SQLite, where a running import holds the database's single write lock and cannot write a heartbeat;
- another host (PostgreSQL deployments with several machines): the job's heartbeat, written by the job itself
  through a separate connection, must be younger than ``settings.XUEJI_TASK_STALE_SECONDS``.
"""

from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta

from django.conf import settings


def this_worker() -> tuple[str, int]:
    """(host name, process id) of the running process."""
    return socket.gethostname()[:100], os.getpid()


def pid_alive(pid: int) -> bool:
    """Is process ``pid`` alive on this host? (A zombie counts as alive until its parent reaps it.)"""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        return True
    return True


def stale_seconds() -> int:
    return int(getattr(settings, "XUEJI_TASK_STALE_SECONDS", 120))


def worker_gone(*, host: str, pid: int | None, heartbeat_at: datetime | None, now: datetime) -> bool:
    """True when the process that claimed a job is certainly or very probably gone (see module docstring)."""
    if not host or pid is None:
        return False
    if host == socket.gethostname()[:100]:
        return not pid_alive(pid)
    if heartbeat_at is None:
        return True
    return now - heartbeat_at > timedelta(seconds=stale_seconds())
