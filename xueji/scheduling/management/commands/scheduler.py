"""``manage.py scheduler [--once] [--interval 5]`` — the periodic schedule (``settings.XUEJI_SCHEDULE``).

A loop that enqueues due queue tasks (``manage.py db_worker`` runs them). Each (entry, slot) is recorded in
the database (``ScheduledRun``), so two schedulers, or a restart, never enqueue a daily job twice. Stops
cleanly on SIGTERM/SIGINT (between two ticks; a tick is a few short transactions).
"""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import close_old_connections, connection
from django.utils import timezone

from xueji.scheduling.schedule import ScheduleError, parse
from xueji.scheduling.services import resolve, scheduled_runs_enqueue_due, scheduled_runs_prune


class Command(BaseCommand):
    help = "定时任务：按 XUEJI_SCHEDULE 把到期任务放入队列（由 db_worker 执行）；--once 只检查一次"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="只检查一次到期任务后退出（测试、cron）")
        parser.add_argument("--interval", type=float, default=5.0, help="两次检查之间的秒数（默认 5）")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            entries = parse(dict(getattr(settings, "XUEJI_SCHEDULE", {})))
            tasks = resolve(entries)
        except (ScheduleError, ImportError, TypeError) as exc:
            raise CommandError(str(exc)) from exc
        interval = max(0.1, float(options["interval"]))
        stop = threading.Event()

        def request_stop(signum: int, frame: FrameType | None) -> None:
            stop.set()

        if not options["once"]:
            signal.signal(signal.SIGTERM, request_stop)
            signal.signal(signal.SIGINT, request_stop)
            self.stdout.write(f"定时任务已启动：{len(entries)} 项，每 {interval:g} 秒检查一次")
        ticks = 0
        while not stop.is_set():
            _drop_stale_connections()
            now = timezone.now()
            for name in scheduled_runs_enqueue_due(actor=None, entries=entries, tasks=tasks, now=now):
                self.stdout.write(f"{timezone.localtime(now):%Y-%m-%d %H:%M:%S} 已提交 {name}")
            if ticks % 720 == 0:
                scheduled_runs_prune(actor=None, now=now)
            ticks += 1
            _drop_stale_connections()
            if options["once"]:
                break
            stop.wait(interval)
        if not options["once"]:
            self.stdout.write("定时任务已停止")


def _drop_stale_connections() -> None:
    """Between ticks, drop connections past CONN_MAX_AGE or broken (as a request would); never one that is
    inside a transaction (e.g. a caller's, when run by call_command)."""
    if not connection.in_atomic_block:
        close_old_connections()
