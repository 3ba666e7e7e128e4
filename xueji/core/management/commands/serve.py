"""``manage.py serve``: the product as production runs it, in one command (``make run``, issue #6 §1–2).

Starts and supervises three programs:

- ``web``: gunicorn with ``config/gunicorn.conf.py`` (sync workers; DEBUG off unless XUEJI_DEBUG=1);
- ``worker``: one ``manage.py db_worker`` draining the django-tasks queue (imports, promotion, clean-up);
- ``scheduler``: one ``manage.py scheduler`` enqueuing periodic jobs (daily sealing of dormant accounts).

SIGINT/SIGTERM are forwarded (as SIGTERM, the graceful stop of all three) to every child; when any child
exits, the others are stopped too and ``serve`` exits non-zero, so a service manager (systemd) restarts the
whole set rather than running a web server without its worker. Children die with the supervisor even if it
is killed outright (Linux ``PR_SET_PDEATHSIG``). Deployments that prefer one unit per program run the three
commands directly (deploy/systemd/).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any, NamedTuple, Protocol

from django.conf import settings
from django.core.management import get_commands
from django.core.management.base import BaseCommand, CommandError, CommandParser

GUNICORN_CONF = Path(settings.BASE_DIR) / "config" / "gunicorn.conf.py"
MANAGE = Path(settings.BASE_DIR) / "manage.py"
GRACE_SECONDS = 30.0
_PR_SET_PDEATHSIG = 1


class Writer(Protocol):
    def write(self, msg: str, /) -> Any: ...


class Program(NamedTuple):
    name: str
    argv: list[str]


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: the child gets SIGTERM when the supervisor dies, even by SIGKILL (no orphaned servers)."""
    libc_name = ctypes.util.find_library("c")
    if libc_name:
        ctypes.CDLL(libc_name, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _signal_group(proc: subprocess.Popen[bytes], signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # each child leads its own group: gunicorn's workers too
        os.killpg(proc.pid, signum)


def stop_all(children: dict[str, subprocess.Popen[bytes]], *, grace: float, out: Writer) -> None:
    """SIGTERM to every child still running, then SIGKILL to any still running after ``grace`` seconds."""
    for proc in children.values():
        if proc.poll() is None:
            _signal_group(proc, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for name, proc in children.items():
        try:
            proc.wait(timeout=max(deadline - time.monotonic(), 0.01))
        except subprocess.TimeoutExpired:
            out.write(f"{name} 在 {grace:.0f} 秒内未停止，强制结束\n")
            _signal_group(proc, signal.SIGKILL)
            proc.wait()
    for proc in children.values():  # leftovers of a group whose leader already exited
        _signal_group(proc, signal.SIGKILL)


def supervise(
    programs: Sequence[Program], *, grace: float = GRACE_SECONDS, poll: float = 0.2, out: Writer = sys.stderr
) -> int:
    """Run ``programs`` until a signal arrives (exit 0) or one of them exits (exit its code, at least 1)."""
    received: list[int] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        received.append(signum)

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    children: dict[str, subprocess.Popen[bytes]] = {}
    code = 0
    try:
        for program in programs:
            out.write(f"启动 {program.name}：{' '.join(program.argv[1:])}\n")
            children[program.name] = subprocess.Popen(  # noqa: S603 - fixed argv built by this module
                program.argv,
                cwd=settings.BASE_DIR,
                start_new_session=True,  # our own signals decide; a terminal's Ctrl-C reaches only us
                preexec_fn=_die_with_parent if sys.platform == "linux" else None,  # noqa: PLW1509
            )
        while not received:
            exited = [(name, proc.returncode) for name, proc in children.items() if proc.poll() is not None]
            if exited:
                name, rc = exited[0]
                out.write(f"{name} 已退出（返回码 {rc}），正在停止其余进程\n")
                code = rc if rc and rc > 0 else 1
                break
            time.sleep(poll)
        else:
            out.write(f"收到信号 {signal.Signals(received[0]).name}，正在停止全部进程\n")
    finally:
        stop_all(children, grace=grace, out=out)
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    out.write("已全部停止\n")
    return code


class Command(BaseCommand):
    help = "以生产方式运行：gunicorn 网站进程、一个后台任务进程（db_worker）和一个定时任务进程（scheduler）"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--workers", type=int, help="gunicorn 进程数（默认 XUEJI_WEB_WORKERS 或 2×核数+1）"
        )
        parser.add_argument("--bind", help="监听地址（默认 127.0.0.1:$PORT）")
        parser.add_argument("--no-worker", action="store_true", help="不启动后台任务进程（由单独的服务运行）")
        parser.add_argument(
            "--no-scheduler", action="store_true", help="不启动定时任务进程（由单独的服务运行）"
        )
        parser.add_argument("--grace", type=float, default=GRACE_SECONDS, help="停止时等待子进程的秒数")

    def programs(self, **options: Any) -> list[Program]:
        web = [sys.executable, "-m", "gunicorn", "--config", str(GUNICORN_CONF)]
        if options.get("workers"):
            web += ["--workers", str(options["workers"])]
        if options.get("bind"):
            web += ["--bind", options["bind"]]
        programs = [Program("web", [*web, "config.wsgi:application"])]
        if not options.get("no_worker"):
            programs.append(Program("worker", [sys.executable, str(MANAGE), "db_worker"]))
        if not options.get("no_scheduler"):
            if "scheduler" in get_commands():
                programs.append(Program("scheduler", [sys.executable, str(MANAGE), "scheduler"]))
            else:
                self.stderr.write(
                    "未找到 manage.py scheduler 命令：本次不启动定时任务（每日封存休眠账号等）。"
                )
        return programs

    def handle(self, *args: Any, **options: Any) -> None:
        if options.get("workers") is not None and options["workers"] < 1:
            raise CommandError("--workers 至少为 1")
        code = supervise(self.programs(**options), grace=options["grace"], out=self.stderr)
        if code:
            raise CommandError(f"有进程意外退出，已全部停止（返回码 {code}）", returncode=code)
