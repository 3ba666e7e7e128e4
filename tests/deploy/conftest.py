"""Helpers for tests that run the product as a separate process (manage.py, gunicorn, serve)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings

BASE_DIR = Path(settings.BASE_DIR)
PYTHON = sys.executable
MANAGE = str(BASE_DIR / "manage.py")
# Variables of the developer's shell that would change what a child process does.
_DROP = (
    "XUEJI_ENV",
    "XUEJI_DEBUG",
    "XUEJI_SECRET_KEY",
    "XUEJI_MASTER_KEY",
    "XUEJI_MASTER_KEY_FILE",
    "XUEJI_BLIND_INDEX_KEY",
    "XUEJI_EXPORT_KEY",
    "DJANGO_SETTINGS_MODULE",
    "XUEJI_STATIC_ROOT",
    "PORT",
    # Set by the browser tests' fixtures in this process; `check --deploy` refuses it (async.E001).
    "DJANGO_ALLOW_ASYNC_UNSAFE",
    # The suite's own database: a child uses the embedded default unless a test names one explicitly.
    "DATABASE_URL",
    "XUEJI_MIGRATE_DATABASE_URL",
)


#: Production refuses to start without explicit encryption keys (issue 11 §3); children in production mode get
#: these unless a test passes its own (an empty string to leave one out).
PRODUCTION_KEYS = {
    "XUEJI_MASTER_KEY": "0f" * 16,
    "XUEJI_BLIND_INDEX_KEY": "1e" * 32,
    "XUEJI_EXPORT_KEY": "2d" * 32,
}


def child_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _DROP}
    env["DJANGO_SETTINGS_MODULE"] = "config.settings"
    if extra.get("XUEJI_ENV") == "production":
        env.update(PRODUCTION_KEYS)
    env.update(extra)
    return env


def manage(*args: str, timeout: float = 120, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603
        [PYTHON, MANAGE, *args],
        cwd=BASE_DIR,
        env=child_env(**env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_serving(url: str, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited early with {proc.returncode}")
        try:
            urllib.request.urlopen(url, timeout=2)  # noqa: S310 - 127.0.0.1 only
            return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer within {timeout} s")


@pytest.fixture(scope="session")
def collected_static(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`collectstatic` with the production storage (hashed names, manifest, compressed copies)."""
    root = tmp_path_factory.mktemp("staticfiles")
    done = manage("collectstatic", "--noinput", "-v0", XUEJI_STATIC_ROOT=str(root))
    assert done.returncode == 0, done.stderr
    return root
