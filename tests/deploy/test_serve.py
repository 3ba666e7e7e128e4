"""`manage.py serve` end to end: the real gunicorn and db_worker on a temporary SQLite database."""

from __future__ import annotations

import signal
import subprocess
import urllib.error
import urllib.request

import pytest
from django.conf import settings

from tests.deploy.conftest import MANAGE, PYTHON, child_env, free_port, manage, wait_until_serving


def test_serve_runs_gunicorn_and_the_task_worker_and_stops_both(tmp_path, collected_static):
    """End to end on a temporary SQLite database: DEBUG off, the production headers, a clean stop."""
    env = {
        "XUEJI_SQLITE_PATH": str(tmp_path / "serve.sqlite3"),
        "XUEJI_STATIC_ROOT": str(collected_static),
        "XUEJI_MEDIA_ROOT": str(tmp_path / "media"),
    }
    migrated = manage("migrate", "--noinput", "-v0", **env)
    assert migrated.returncode == 0, migrated.stderr
    port = free_port()
    proc = subprocess.Popen(  # noqa: S603
        [PYTHON, MANAGE, "serve", "--workers", "1", "--no-scheduler"],
        cwd=settings.BASE_DIR,
        env=child_env(PORT=str(port), **env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until_serving(f"http://127.0.0.1:{port}/login/", proc)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/login/", timeout=10) as response:
            assert response.status == 200
            assert response.headers["Server"] == "gunicorn"
            assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
            body = response.read().decode()
        assert "/static/css/app." in body and "/static/css/app.css" not in body  # hashed name
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/no-such-page/", timeout=10)
        assert missing.value.code == 404
        assert "页面不存在" in missing.value.read().decode()  # DEBUG off: no technical 404 page
    finally:
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=40)
    assert proc.returncode == 0, err
    assert "启动 web" in err and "启动 worker" in err
    assert "已退出" not in err  # exit 0 and no child exited: all ran until the signal
    assert "已全部停止" in err
