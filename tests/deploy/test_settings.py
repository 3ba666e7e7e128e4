"""Production mode (issue #6 §1): DEBUG off by default, `check --deploy` clean, no start with the built-in key.

Each case runs `manage.py` in a subprocess: settings are read once per process.
"""

from __future__ import annotations

import secrets

from tests.deploy.conftest import PYTHON, child_env, manage

PRODUCTION_KEY = secrets.token_urlsafe(64)


def _setting(name: str, **env: str) -> str:
    import subprocess

    code = f"import django; django.setup(); from django.conf import settings; print(settings.{name})"
    done = subprocess.run(  # noqa: S603
        [PYTHON, "-c", code], env=child_env(**env), capture_output=True, text=True, timeout=60, check=True
    )
    return done.stdout.strip()


def test_debug_is_off_unless_explicitly_turned_on():
    assert _setting("DEBUG") == "False"
    assert _setting("DEBUG", XUEJI_DEBUG="0") == "False"
    assert _setting("DEBUG", XUEJI_DEBUG="1") == "True"


def test_local_serving_over_plain_http_keeps_cookies_usable():
    """DEBUG off on 127.0.0.1 without TLS: cookies are Secure only in production (behind the TLS proxy)."""
    assert _setting("SESSION_COOKIE_SECURE") == "False"
    assert _setting("ALLOWED_HOSTS") == "['127.0.0.1', 'localhost', 'testserver']"
    assert (
        _setting("SESSION_COOKIE_SECURE", XUEJI_ENV="production", XUEJI_SECRET_KEY=PRODUCTION_KEY) == "True"
    )


def test_check_deploy_is_clean_in_production_mode(collected_static):
    done = manage(
        "check",
        "--deploy",
        "--fail-level",
        "DEBUG",
        XUEJI_ENV="production",
        XUEJI_SECRET_KEY=PRODUCTION_KEY,
        XUEJI_STATIC_ROOT=str(collected_static),
    )
    assert done.returncode == 0, done.stderr + done.stdout
    assert done.stdout.strip() == "System check identified no issues (0 silenced)."


def test_production_refuses_the_builtin_secret_key():
    done = manage("check", XUEJI_ENV="production")
    assert done.returncode == 1
    assert "django.core.exceptions.ImproperlyConfigured" in done.stderr
    assert (
        "生产环境（XUEJI_ENV=production）必须通过 XUEJI_SECRET_KEY 设置至少 50 个字符的随机密钥"
        in done.stderr
    )
    assert "the built-in development key is refused" in done.stderr


def test_production_refuses_a_short_secret_key():
    done = manage("check", XUEJI_ENV="production", XUEJI_SECRET_KEY="k" * 49)
    assert done.returncode == 1
    assert "ImproperlyConfigured" in done.stderr
    ok = manage("check", XUEJI_ENV="production", XUEJI_SECRET_KEY=PRODUCTION_KEY)
    assert ok.returncode == 0, ok.stderr


def test_production_refuses_to_run_without_encryption_keys():
    """Issue 11 §3: the master key and the blind-index key are explicit in production (never derived)."""
    no_master = manage("check", XUEJI_ENV="production", XUEJI_SECRET_KEY=PRODUCTION_KEY, XUEJI_MASTER_KEY="")
    assert no_master.returncode == 1
    assert "生产环境必须配置主密钥" in no_master.stderr
    no_index = manage(
        "check", XUEJI_ENV="production", XUEJI_SECRET_KEY=PRODUCTION_KEY, XUEJI_BLIND_INDEX_KEY=""
    )
    assert no_index.returncode == 1
    assert "XUEJI_BLIND_INDEX_KEY" in no_index.stderr
