"""``manage.py serve`` (issue #6 §1–2): web server, one task worker and one scheduler, stopped together.

The supervisor runs in a child process (it installs signal handlers) over stub programs that record the
signal they receive; one end-to-end run starts the real gunicorn and db_worker on a temporary database.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings

from tests.deploy.conftest import MANAGE, PYTHON, child_env
from xueji.core.management.commands import serve

# A child that writes its pid, then waits (at most 30 s); on SIGTERM it writes "TERM" and exits 0.
STUB = """
import os, pathlib, signal, sys, time
out = pathlib.Path(sys.argv[1])
def on_term(signum, frame):
    out.with_suffix(".sig").write_text(signal.Signals(signum).name)
    sys.exit(0)
signal.signal(signal.SIGTERM, on_term)
out.write_text(str(os.getpid()))
deadline = time.monotonic() + float(sys.argv[2])
while time.monotonic() < deadline:
    time.sleep(0.05)
sys.exit(int(sys.argv[3]))
"""

SUPERVISOR = """
import sys
sys.path.insert(0, {base!r})
import django
django.setup()
from xueji.core.management.commands.serve import Program, supervise
programs = [Program(name, [sys.executable, "-c", {stub!r}, path, life, code]) for name, path, life, code in {specs!r}]
sys.exit(supervise(programs, grace=5, poll=0.05))
"""


def _start(tmp_path: Path, specs: list[tuple[str, str, str]]) -> tuple[subprocess.Popen[str], list[Path]]:
    files = [tmp_path / f"{name}.pid" for name, _, _ in specs]
    full = [(name, str(f), life, code) for (name, life, code), f in zip(specs, files, strict=True)]
    code = SUPERVISOR.format(base=str(settings.BASE_DIR), stub=STUB, specs=full)
    proc = subprocess.Popen(  # noqa: S603
        [PYTHON, "-c", code], env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 30
    while not all(f.exists() for f in files):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "children did not start"
        time.sleep(0.05)
    return proc, files


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_every_child_gracefully(tmp_path, signum):
    proc, files = _start(tmp_path, [("web", "30", "0"), ("worker", "30", "0"), ("scheduler", "30", "0")])
    proc.send_signal(signum)
    _out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    for f in files:
        assert f.with_suffix(".sig").read_text() == "SIGTERM"  # forwarded as the graceful stop
        assert not _alive(int(f.read_text()))
    assert f"收到信号 {signal.Signals(signum).name}，正在停止全部进程" in err
    assert "已全部停止" in err


def test_when_one_child_dies_the_others_are_stopped(tmp_path):
    proc, files = _start(tmp_path, [("web", "30", "0"), ("worker", "0.5", "3"), ("scheduler", "30", "0")])
    _out, err = proc.communicate(timeout=20)
    assert proc.returncode == 3
    assert "worker 已退出（返回码 3），正在停止其余进程" in err
    web, worker, scheduler = files
    assert web.with_suffix(".sig").read_text() == "SIGTERM"
    assert scheduler.with_suffix(".sig").read_text() == "SIGTERM"
    assert not worker.with_suffix(".sig").exists()
    assert not any(_alive(int(f.read_text())) for f in files)


def test_a_clean_exit_of_one_child_also_stops_the_rest(tmp_path):
    proc, files = _start(tmp_path, [("web", "30", "0"), ("scheduler", "0.3", "0")])
    proc.communicate(timeout=20)
    assert proc.returncode == 1  # the set is incomplete: the service manager must restart it
    assert files[0].with_suffix(".sig").read_text() == "SIGTERM"


def test_programs_are_gunicorn_with_our_config_one_worker_one_scheduler(monkeypatch):
    monkeypatch.setattr(serve, "get_commands", lambda: {"scheduler": "xueji.scheduling", "db_worker": "x"})
    programs = serve.Command().programs(workers=3)
    assert [p.name for p in programs] == ["web", "worker", "scheduler"]
    web, worker, scheduler = (p.argv for p in programs)
    assert web == [
        sys.executable,
        "-m",
        "gunicorn",
        "--config",
        str(settings.BASE_DIR / "config" / "gunicorn.conf.py"),
        "--workers",
        "3",
        "config.wsgi:application",
    ]
    assert worker == [sys.executable, MANAGE, "db_worker"]
    assert scheduler == [sys.executable, MANAGE, "scheduler"]
    assert [p.name for p in serve.Command().programs(no_worker=True, no_scheduler=True)] == ["web"]


def test_missing_scheduler_command_is_reported_not_fatal(monkeypatch, capsys):
    monkeypatch.setattr(serve, "get_commands", lambda: {"db_worker": "x"})
    programs = serve.Command().programs()
    assert [p.name for p in programs] == ["web", "worker"]
    assert "未找到 manage.py scheduler 命令" in capsys.readouterr().err
