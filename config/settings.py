"""Settings for xueji, driven by the environment.

No ``DATABASE_URL`` → an embedded SQLite database under ``var/``. ``DATABASE_URL=postgres://user@host:port/db``
→ PostgreSQL. ``XUEJI_ENV=production`` turns on the hardened transport settings (HTTPS-only cookies, HSTS).
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import unquote, urlparse

from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("XUEJI_VAR_DIR", BASE_DIR / "var"))
PRODUCTION = os.environ.get("XUEJI_ENV") == "production"

SECRET_KEY = os.environ.get("XUEJI_SECRET_KEY", "dev-only-insecure-key-change-me-" + "x" * 20)
DEBUG = os.environ.get("XUEJI_DEBUG", "0" if PRODUCTION else "1") == "1"
ALLOWED_HOSTS = os.environ.get("XUEJI_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "axes",
    # Background work (imports, promotion, clean-up, daily sealing): django-tasks with its database backend.
    "django_tasks",
    "django_tasks_db",
    # Serves Swagger UI's assets locally (otherwise ninja falls back to a CDN template).
    "ninja",
    "xueji.core",
    "xueji.audit",
    "xueji.regions",
    "xueji.accounts",
    "xueji.schools",
    "xueji.policies",
    "xueji.students",
    "xueji.imports",
    "xueji.reports",
    "xueji.workdays",
    "xueji.changes",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "xueji.core.middleware.RequestIdMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "xueji.accounts.middleware.AccountPolicyMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "xueji.core.middleware.NoStoreMiddleware",
    # Last, so that it sees the authenticated user (django-axes requirement).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "xueji.core.context_processors.navigation",
            ],
        },
    }
]


def _database_from_url(url: str | None) -> dict[str, object]:
    """Parse ``DATABASE_URL``; absent → SQLite under ``var/`` (the embedded default)."""
    if not url:
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("XUEJI_SQLITE_PATH", str(VAR_DIR / "xueji.sqlite3")),
            "OPTIONS": {
                # WAL + a busy timeout let readers proceed while one writer commits.
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
                "timeout": 20,
                "transaction_mode": "IMMEDIATE",
            },
            "TEST": {"NAME": os.environ.get("XUEJI_SQLITE_TEST_PATH") or None},
        }
    parsed = urlparse(url)
    if parsed.scheme not in {"postgres", "postgresql"}:
        raise ValueError(f"Unsupported DATABASE_URL scheme: {parsed.scheme}")
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": unquote(parsed.path.lstrip("/")) or "xueji",
        "USER": unquote(parsed.username or ""),
        "PASSWORD": unquote(parsed.password or ""),
        "HOST": parsed.hostname or "",
        "PORT": str(parsed.port or ""),
        # Persistent connections: ≈8× lookup throughput under gunicorn (issue #2 measurement).
        "CONN_MAX_AGE": int(os.environ.get("XUEJI_CONN_MAX_AGE", "60")),
        "CONN_HEALTH_CHECKS": True,
    }


DATABASES = {"default": _database_from_url(os.environ.get("DATABASE_URL"))}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
# 第24条 定期更改密码: "dengbao" (default, 等保 2.0 L3) or "nist" (SP 800-63B-4). See xueji/accounts/passwords.py.
PASSWORD_POLICY_PROFILE = os.environ.get("XUEJI_PASSWORD_POLICY", "dengbao")
PASSWORD_MAX_AGE_DAYS = int(os.environ.get("XUEJI_PASSWORD_MAX_AGE_DAYS", "90"))
PASSWORD_HISTORY = int(os.environ.get("XUEJI_PASSWORD_HISTORY", "5"))
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "xueji.accounts.passwords.ProfilePasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "xueji.accounts.passwords.PasswordHistoryValidator"},
]
# 第24条: accounts unused for more than six months are sealed (manage.py seal_dormant_accounts).
ACCOUNT_DORMANCY_DAYS = int(os.environ.get("XUEJI_DORMANCY_DAYS", "180"))

# Login lockout keyed on username + IP so nobody can lock a victim out from elsewhere (ASVS 6.3.1).
AXES_FAILURE_LIMIT = int(os.environ.get("XUEJI_LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = 0.25  # hours = 15 minutes
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "accounts/locked.html"
AXES_VERBOSE = False

# Messages may carry a new 学籍号: keep them server-side, never in a cookie.
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"

LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/login/"

# Idle timeout (等保 CES1-02): every request renews a 30-minute session.
SESSION_COOKIE_AGE = int(os.environ.get("XUEJI_SESSION_IDLE_SECONDS", str(30 * 60)))
SESSION_SAVE_EVERY_REQUEST = True
# Absolute session lifetime, and a shorter idle limit for the three admin roles (等保 CES1-02).
SESSION_ABSOLUTE_SECONDS = int(os.environ.get("XUEJI_SESSION_ABSOLUTE_SECONDS", str(12 * 3600)))
ADMIN_SESSION_IDLE_SECONDS = int(os.environ.get("XUEJI_ADMIN_SESSION_IDLE_SECONDS", str(15 * 60)))
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if PRODUCTION:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SESSION_COOKIE_NAME = "__Host-sessionid"
    CSRF_COOKIE_NAME = "__Host-csrftoken"
    SECURE_HSTS_SECONDS = 31536000
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_SSL_REDIRECT = os.environ.get("XUEJI_SSL_REDIRECT", "1") == "1"
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("简体中文")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
MEDIA_ROOT = Path(os.environ.get("XUEJI_MEDIA_ROOT", VAR_DIR / "media"))

# Archive attachments (第6条): PDF/JPEG/PNG checked by content.
ARCHIVE_MAX_BYTES = int(os.environ.get("XUEJI_ARCHIVE_MAX_BYTES", str(5 * 1024 * 1024)))
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
IMPORT_MAX_BYTES = int(os.environ.get("XUEJI_IMPORT_MAX_BYTES", str(200 * 1024 * 1024)))
# Files with more rows than this are imported in the background (web) with a progress bar.
IMPORT_BACKGROUND_ROWS = int(os.environ.get("XUEJI_IMPORT_BACKGROUND_ROWS", "2000"))

# Background work: a queue in our own database, drained by `manage.py db_worker` (started by `make run`).
TASKS = {
    "default": {
        "BACKEND": os.environ.get("XUEJI_TASKS_BACKEND", "django_tasks_db.DatabaseBackend"),
        "QUEUES": ["default"],
    }
}

# The identity check against the national population database is a pluggable interface (第9条);
# the default only checks structure and checksums.
IDENTITY_VERIFIER = os.environ.get(
    "XUEJI_IDENTITY_VERIFIER", "xueji.students.verification.ChecksumOnlyVerifier"
)

# API tokens live this long (hours).
API_TOKEN_TTL_HOURS = int(os.environ.get("XUEJI_API_TOKEN_TTL_HOURS", "12"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("XUEJI_LOG_LEVEL", "WARNING")},
}
