"""Settings for xueji, driven by the environment.

No ``DATABASE_URL`` → an embedded SQLite database under ``var/``. ``DATABASE_URL=postgres://user@host:port/db``
→ PostgreSQL. ``XUEJI_ENV=production`` turns on the hardened transport settings (HTTPS-only cookies, HSTS) and
refuses the built-in SECRET_KEY. DEBUG is off unless ``XUEJI_DEBUG=1`` (``make dev``).
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import unquote, urlparse

from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("XUEJI_VAR_DIR", BASE_DIR / "var"))
PRODUCTION = os.environ.get("XUEJI_ENV") == "production"

BUILTIN_SECRET_KEY = "dev-only-insecure-key-change-me-" + "x" * 20
SECRET_KEY = os.environ.get("XUEJI_SECRET_KEY", BUILTIN_SECRET_KEY)
if PRODUCTION and (SECRET_KEY == BUILTIN_SECRET_KEY or len(SECRET_KEY) < 50):
    # security.md §1: sessions, CSRF tokens and signed values are only as secret as this key.
    raise ImproperlyConfigured(
        "生产环境（XUEJI_ENV=production）必须通过 XUEJI_SECRET_KEY 设置至少 50 个字符的随机密钥，"
        "不能使用内置的开发密钥。 / In production XUEJI_SECRET_KEY must be set to a random key of at least "
        "50 characters; the built-in development key is refused. Generate one with: "
        'python -c "import secrets; print(secrets.token_urlsafe(64))"'
    )
# DEBUG is off unless explicitly asked for (`make dev` sets XUEJI_DEBUG=1): `make run` serves like production.
DEBUG = os.environ.get("XUEJI_DEBUG") == "1"
ALLOWED_HOSTS = os.environ.get("XUEJI_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    # Content-Security-Policy header on every response (settings CONTENT_SECURITY_POLICY below).
    "csp",
    "django.contrib.humanize",
    "axes",
    # Background work (imports, promotion, clean-up, daily sealing): django-tasks with its database backend.
    "django_tasks",
    "django_tasks_db",
    # Serves Swagger UI's assets locally (otherwise ninja falls back to a CDN template).
    "ninja",
    # The second factor (等保 8.1.4.1, issue 11 §1): TOTP authenticators and single-use recovery codes.
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    # Passkeys / security keys (WebAuthn) as a second factor; the national-algorithm token is xueji.accounts.
    "django_otp_webauthn",
    # The OpenID Connect provider of the education digital identity (第24条; xueji.identity configures it).
    "oauth2_provider",
    "xueji.core",
    "xueji.audit",
    "xueji.regions",
    "xueji.accounts",
    "xueji.schools",
    "xueji.policies",
    "xueji.students",
    "xueji.imports",
    "xueji.workdays",
    "xueji.changes",
    "xueji.dropouts",
    # 家长端 (第5、13、15、16条): guardian accounts, SMS login, binding codes, guardian requests; above changes.
    "xueji.guardians",
    # 问题学籍 detection rules and worklists (第9、25条), above changes; 学籍核查 rounds (第25条) above checks.
    "xueji.checks",
    "xueji.verification",
    # 学籍卡 and transfer forms: print views and PDFs (WeasyPrint), above students and changes.
    "xueji.documents",
    # The periodic schedule (`manage.py scheduler`): which job ran for which slot, so none runs twice.
    "xueji.scheduling",
    # 工作台 (the landing page): the top of the house, reads from every app.
    "xueji.dashboard",
    # 违规监督 (第5、26条): violations of the units below made visible to the level above; top floor.
    "xueji.oversight",
    # 学籍统计 (第5、23条): nightly count snapshots and the statistics pages; top of the house beside dashboard.
    "xueji.statistics",
    # 电子学籍证明 (第19条): Verifiable Credentials with Ed25519 and SM2 proofs, status lists; above documents.
    "xueji.certificates",
    # 可信教育数字身份 (第24条): pairwise subjects and relying parties of the OpenID Connect provider.
    "xueji.identity",
    # 预警 (第23条): rules over the audit stream, the security administrator's alert console; top floor.
    "xueji.alerts",
    # 经批准的去标识化导出 (第24条): export requests, approval, encrypted files; above statistics and imports.
    "xueji.exports",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Static files with hashed names and far-future caching straight from the WSGI process.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    "xueji.core.middleware.RequestIdMiddleware",
    # A NUL byte or a broken multipart body is a 400 before a view runs (issue #6 §3.9).
    "xueji.core.middleware.RejectBadInputMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # request.user.is_verified(), then: accounts the policy names reach only the second-factor pages until
    # they verify one (xueji/accounts/factors.py) — before the account policy, so a reset never skips it.
    "django_otp.middleware.OTPMiddleware",
    "xueji.accounts.middleware.SecondFactorMiddleware",
    "xueji.accounts.middleware.AccountPolicyMiddleware",
    # /m/ (家长端): its own cookie and session store; staff sessions never authenticate /m/ (request.user is
    # anonymous there) and the guardian cookie authenticates nothing else.
    "xueji.guardians.middleware.GuardianSessionMiddleware",
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
                "xueji.dashboard.context_processors.navigation",
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


def _database_roles(url: str | None, app: dict[str, object]) -> dict[str, dict[str, str]] | None:
    """``XUEJI_MIGRATE_DATABASE_URL``: the PostgreSQL role that owns the schema (issue #6 §3.8).

    The application connects as ``DATABASE_URL``'s role, which owns nothing (SELECT/INSERT on the append-only
    audit tables, ordinary DML elsewhere): it can neither rewrite the audit trail nor lift its triggers.
    ``migrate``, ``db_roles``, ``backup`` and ``restore`` switch to the owner's credentials
    (``xueji.core.dbroles``) on ``DATABASE_URL``'s database: only the credentials (user, password, host,
    port) are taken from this URL, its database name is not used. Unset, or the same role as the application
    (SQLite, development) → ``None`` and nothing switches. Otherwise ``{"app": credentials, "owner": credentials}``.
    """
    if not url or app["ENGINE"] != "django.db.backends.postgresql":
        return None
    owner = _database_from_url(url)
    if owner["USER"] == app["USER"]:
        return None
    if not app["USER"] or not owner["USER"]:
        raise ValueError("DATABASE_URL and XUEJI_MIGRATE_DATABASE_URL must both name their role (user)")
    keys = ("USER", "PASSWORD", "HOST", "PORT")
    return {"app": {k: str(app[k]) for k in keys}, "owner": {k: str(owner[k]) for k in keys}}


DATABASE_ROLES = _database_roles(os.environ.get("XUEJI_MIGRATE_DATABASE_URL"), DATABASES["default"])
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "xueji.accounts.backends.ModelBackend",  # loads the filing with the account (issue 7)
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

# --- Encryption at rest (issue 11 §3; xueji/core/fieldcrypto.py, docs/encryption.md) ----------------------------
# ID numbers, 学籍号, phones, addresses, health and disability are stored SM4-GCM encrypted under per-column data
# keys (core_datakey), which are stored wrapped by the master key: XUEJI_MASTER_KEY (32 hex digits) or the file
# XUEJI_MASTER_KEY_FILE (`manage.py data_keys new-master-key FILE`, 0600). Exact search goes through blind
# indexes, HMAC-SM3 under XUEJI_BLIND_INDEX_KEY (64 hex digits). XUEJI_KEY_WRAPPER: the class that wraps data keys
# (a hardware security module plugs in here). Development derives both keys from SECRET_KEY; production must not.
XUEJI_MASTER_KEY = os.environ.get("XUEJI_MASTER_KEY", "")
XUEJI_MASTER_KEY_FILE = os.environ.get("XUEJI_MASTER_KEY_FILE", "")
XUEJI_BLIND_INDEX_KEY = os.environ.get("XUEJI_BLIND_INDEX_KEY", "")
XUEJI_KEY_WRAPPER = os.environ.get("XUEJI_KEY_WRAPPER", "xueji.core.fieldcrypto.MasterKeyWrapper")
# A rotated-out data key stays readable this long before `data_keys retire` may erase it (longer than the longest
# transaction that may still commit values encrypted under it).
XUEJI_KEY_RETIRE_GRACE_SECONDS = int(os.environ.get("XUEJI_KEY_RETIRE_GRACE_SECONDS", "3600"))
if (
    PRODUCTION
    and not (XUEJI_MASTER_KEY or XUEJI_MASTER_KEY_FILE)
    and XUEJI_KEY_WRAPPER.endswith(".MasterKeyWrapper")
):
    raise ImproperlyConfigured(
        "生产环境必须配置主密钥（XUEJI_MASTER_KEY 或 XUEJI_MASTER_KEY_FILE）或密码机封装（XUEJI_KEY_WRAPPER）"
    )
if PRODUCTION and not XUEJI_BLIND_INDEX_KEY:
    raise ImproperlyConfigured("生产环境必须配置盲索引密钥 XUEJI_BLIND_INDEX_KEY（64 位十六进制）")
# Export files (xueji/exports/crypto.py, docs/exports.md): their keys are wrapped under XUEJI_EXPORT_KEY (64 hex
# digits recommended; HKDF-SM3 derives the key). Development derives it from SECRET_KEY; production must not.
XUEJI_EXPORT_KEY = os.environ.get("XUEJI_EXPORT_KEY", "")
if PRODUCTION and not XUEJI_EXPORT_KEY:
    raise ImproperlyConfigured("生产环境必须配置导出文件密钥 XUEJI_EXPORT_KEY（64 位十六进制）")

# --- The second factor (等保 8.1.4.1; issue 11 §1; xueji/accounts/factors.py) ---------------------------------
# Required for these roles, for registrars/approvers at departments of these levels, and for roster exports.
XUEJI_MFA_ENFORCED = os.environ.get("XUEJI_MFA_ENFORCED", "1") != "0"
if PRODUCTION and not XUEJI_MFA_ENFORCED:
    raise ImproperlyConfigured("生产环境不能关闭第二身份鉴别因子（XUEJI_MFA_ENFORCED=0）")
XUEJI_MFA_ROLES = ["security_admin", "audit_admin", "system_admin"]
XUEJI_MFA_APPROVER_LEVELS = ["county", "city", "province", "national"]
XUEJI_MFA_FOR_EXPORTS = True
OTP_TOTP_ISSUER = "xueji 学籍"
# XUEJI_MFA_NATIONAL_ALGORITHMS=1: the accounts named above verify only with the GM/T 0021 SM3 dynamic password
# (or a recovery code); TOTP (HMAC-SHA1) and passkeys (ECDSA/RSA) are neither offered nor accepted for them.
XUEJI_MFA_NATIONAL_ALGORITHMS = os.environ.get("XUEJI_MFA_NATIONAL_ALGORITHMS", "0") == "1"
# GM/T 0021 SM3 tokens (xueji/accounts/sm3otp.py): ID = T padded with zero bytes to 128 bits, as the standard
# says; "0" for a token model that hashes the 8-byte T alone.
XUEJI_SM3_OTP_PAD_ID = os.environ.get("XUEJI_SM3_OTP_PAD_ID", "1") != "0"
# Passkeys (django-otp-webauthn) as a second factor only, never instead of the password. The relying party is
# the public host; origins are the exact https://host[:port] the browser shows (http only for localhost).
OTP_WEBAUTHN_ALLOW_PASSWORDLESS_LOGIN = False
OTP_WEBAUTHN_ALLOWED_ORIGINS = [
    o.strip().rstrip("/")
    for o in os.environ.get("XUEJI_WEBAUTHN_ORIGINS", "http://localhost:8000").split(",")
    if o.strip()
]
OTP_WEBAUTHN_RP_ID = os.environ.get("XUEJI_WEBAUTHN_RP_ID") or (
    urlparse((OTP_WEBAUTHN_ALLOWED_ORIGINS or ["http://localhost"])[0]).hostname or "localhost"
)
OTP_WEBAUTHN_RP_NAME = "xueji 学籍"

# --- The education digital identity: an OpenID Connect provider (第24条, issue 12 §3) -------------------------
# ID tokens are signed RS256 with the key in XUEJI_OIDC_KEY_FILE (PEM; `manage.py oidc_key` creates it, 0600;
# `make run` does so once). Subjects are pairwise: HMAC-SM3 keyed by XUEJI_PAIRWISE_KEY (set it in production;
# development derives one from SECRET_KEY). PKCE (S256) is required; only the security admin registers clients.
XUEJI_OIDC_KEY_FILE = Path(os.environ.get("XUEJI_OIDC_KEY_FILE", BASE_DIR / "var" / "keys" / "oidc-rsa.pem"))
XUEJI_PAIRWISE_KEY = os.environ.get("XUEJI_PAIRWISE_KEY", "")
OAUTH2_PROVIDER_APPLICATION_MODEL = "oauth2_provider.Application"  # named so migrations can depend on it
OAUTH2_PROVIDER = {
    "OIDC_ENABLED": True,
    "OIDC_RSA_PRIVATE_KEY": XUEJI_OIDC_KEY_FILE.read_text() if XUEJI_OIDC_KEY_FILE.is_file() else "",
    "PKCE_REQUIRED": True,
    "ALLOWED_REDIRECT_URI_SCHEMES": ["https"],
    "ALLOWED_SCHEMES": ["https"],
    "OAUTH2_VALIDATOR_CLASS": "xueji.identity.validators.XuejiValidator",
    "SCOPES": {
        "openid": _("本系统内有效的用户标识（不可与其他系统关联）"),
        "profile": _("姓名"),
        "xueji.role": _("角色与所属机构"),
        "xueji.enrollment": _("所监护子女的在读情况：学校、学段、年级、学籍状态（不含姓名、证件号和学籍号）"),
        "xueji.pupil_name": _("所监护子女的姓名"),
        "xueji.verify": _("核验所监护子女是否在某校（某年级）在读，只回答“是”或“否”"),
    },
    "DEFAULT_SCOPES": ["openid"],
    "REQUEST_APPROVAL_PROMPT": "force",
    "ACCESS_TOKEN_EXPIRE_SECONDS": 600,
    "ID_TOKEN_EXPIRE_SECONDS": 600,
    "AUTHORIZATION_CODE_EXPIRE_SECONDS": 60,
    "ROTATE_REFRESH_TOKEN": True,
    "REFRESH_TOKEN_EXPIRE_SECONDS": 8 * 3600,
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
    # RFC 9700 (OAuth 2.0 security BCP): PKCE with S256 only, tokens never in a query string, hashed at rest,
    # the issuer in the authorization response.
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PKCE_REQUIRED": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
    "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,
}
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/login/"

# Idle timeout (等保 CES1-02): every request renews a 30-minute session.
SESSION_COOKIE_AGE = int(os.environ.get("XUEJI_SESSION_IDLE_SECONDS", str(30 * 60)))
SESSION_SAVE_EVERY_REQUEST = True
# Absolute session lifetime, and a shorter idle limit for the three admin roles (等保 CES1-02).
SESSION_ABSOLUTE_SECONDS = int(os.environ.get("XUEJI_SESSION_ABSOLUTE_SECONDS", str(12 * 3600)))
ADMIN_SESSION_IDLE_SECONDS = int(os.environ.get("XUEJI_ADMIN_SESSION_IDLE_SECONDS", str(15 * 60)))
# The page warns this long before an idle session ends (继续使用 / 退出); at most half the idle limit.
SESSION_WARNING_SECONDS = int(os.environ.get("XUEJI_SESSION_WARNING_SECONDS", str(2 * 60)))
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
# Chinese error pages in the site's layout (xueji/core/errors_views.py); JSON under /api/.
CSRF_FAILURE_VIEW = "xueji.core.errors_views.csrf_failure"
# Content-Security-Policy (django-csp 4.0). No inline script anywhere: htmx and app.js are files, htmx is
# configured not to eval nor inject styles (templates/base.html). No inline styles either. The Swagger UI
# page relaxes nothing but img-src (its icons are data: URIs), see config/api.py docs view.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if PRODUCTION:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SESSION_COOKIE_NAME = "__Host-sessionid"
    CSRF_COOKIE_NAME = "__Host-csrftoken"
    SECURE_HSTS_SECONDS = 31536000
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    # The directive alone commits nothing (only a submission to the browsers' preload list does).
    SECURE_HSTS_PRELOAD = os.environ.get("XUEJI_HSTS_PRELOAD", "1") == "1"
    SECURE_SSL_REDIRECT = os.environ.get("XUEJI_SSL_REDIRECT", "1") == "1"
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("简体中文")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
# Dates read YYYY-MM-DD in both languages, whatever the browser's locale (issue 8 item 12): the locale formats of
# config/formats override Django's ("Y年n月j日", "N j, Y"); the settings below serve any other locale.
FORMAT_MODULE_PATH = ["config.formats"]
DATE_FORMAT = "Y-m-d"
SHORT_DATE_FORMAT = "Y-m-d"
DATETIME_FORMAT = "Y-m-d H:i"
SHORT_DATETIME_FORMAT = "Y-m-d H:i"
YEAR_MONTH_FORMAT = "Y-m"
DATE_INPUT_FORMATS = ["%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y%m%d"]
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(os.environ.get("XUEJI_STATIC_ROOT", BASE_DIR / "staticfiles"))
# `collectstatic` (run by `make run`) writes hashed, pre-compressed copies; WhiteNoise serves them with
# `Cache-Control: max-age=315360000, immutable`. The test suite swaps in plain storage (tests/conftest.py).
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}


def _static_headers(headers: dict[str, str], path: str, url: str) -> None:
    """Static files are answered by WhiteNoise before the CSP and X-Frame-Options middleware run: they get
    the same lock-down (an SVG or HTML file opened directly can run nothing and cannot be framed)."""
    headers["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'self'; img-src 'self'; frame-ancestors 'none'"
    )
    headers["X-Frame-Options"] = "DENY"


WHITENOISE_ADD_HEADERS_FUNCTION = _static_headers
MEDIA_ROOT = Path(os.environ.get("XUEJI_MEDIA_ROOT", VAR_DIR / "media"))

# 电子学籍证明 (第19条, issue 12 §2): issuer private keys live in files (0600) under this directory, never in the
# database; XUEJI_CERT_KEYSTORE names the KeyStore class (a PKCS#11 implementation can be dropped in,
# docs/certificates.md).
XUEJI_CERT_KEY_DIR = Path(os.environ.get("XUEJI_CERT_KEY_DIR", VAR_DIR / "certificate-keys"))
XUEJI_CERT_KEYSTORE = os.environ.get("XUEJI_CERT_KEYSTORE", "xueji.certificates.keystore.FileKeyStore")
# Public base URL used in credential ids, issuers' documents, status-list URLs and QR codes (no trailing slash).
XUEJI_CERT_BASE_URL = os.environ.get("XUEJI_CERT_BASE_URL", "http://localhost:8000").rstrip("/")
# A proof of current enrollment (在读证明) is valid this many days.
XUEJI_CERT_ENROLLMENT_PROOF_DAYS = int(os.environ.get("XUEJI_CERT_ENROLLMENT_PROOF_DAYS", "90"))

# Archive attachments (第6条): PDF/JPEG/PNG checked by content.
ARCHIVE_MAX_BYTES = int(os.environ.get("XUEJI_ARCHIVE_MAX_BYTES", str(5 * 1024 * 1024)))
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
IMPORT_MAX_BYTES = int(os.environ.get("XUEJI_IMPORT_MAX_BYTES", str(200 * 1024 * 1024)))
# Hostile .xlsx/.csv (issue #6 §3.7, xueji/imports/readers.py): decompressed size of any part of an .xlsx,
# its compression ratio (real sheets 5-20:1, a deflate bomb ~1000:1), and the longest row/line.
IMPORT_MAX_UNCOMPRESSED_BYTES = int(
    os.environ.get("XUEJI_IMPORT_MAX_UNCOMPRESSED_BYTES", str(1024 * 1024 * 1024))
)
IMPORT_MAX_COMPRESSION_RATIO = int(os.environ.get("XUEJI_IMPORT_MAX_COMPRESSION_RATIO", "100"))
IMPORT_MAX_ROW_BYTES = int(os.environ.get("XUEJI_IMPORT_MAX_ROW_BYTES", str(1024 * 1024)))
# Files with more rows than this are imported in the background (web) with a progress bar.
IMPORT_BACKGROUND_ROWS = int(os.environ.get("XUEJI_IMPORT_BACKGROUND_ROWS", "2000"))

# Background work: a queue in our own database, drained by `manage.py db_worker` (started by `make run`).
TASKS = {
    "default": {
        "BACKEND": os.environ.get("XUEJI_TASKS_BACKEND", "django_tasks_db.DatabaseBackend"),
        "QUEUES": ["default"],
    }
}
# `manage.py scheduler` enqueues these queue tasks (dotted paths) when due: "daily HH:MM" (local time) or
# "every Ns". Each (entry, slot) is recorded once in the database, so two schedulers never double-run a job.
XUEJI_SCHEDULE = {
    "xueji.accounts.tasks.seal_dormant": "daily 02:30",
    "xueji.imports.tasks.purge_files": "daily 03:00",
    "xueji.changes.tasks.purge_orphan_attachments": "daily 03:15",
    "xueji.exports.tasks.expire_exports": "daily 03:20",  # approved export files past their expiry (第24条)
    "xueji.changes.tasks.apply_due_changes": "daily 00:10",  # approved changes take effect on their start date
    "xueji.scheduling.tasks.prune_task_results": "daily 03:30",
    "xueji.core.tasks.purge_rate_counters": "daily 03:45",
    "xueji.checks.tasks.run_nightly_checks": "daily 02:00",  # problem-record checks (第9、25条)
    "xueji.statistics.tasks.rebuild_snapshot": "daily 01:30",  # the statistics snapshot (第5、23条)
    "xueji.statistics.tasks.refresh_snapshot": "every 300s",  # rebuild when imports/changes marked it dirty
    "xueji.imports.tasks.reap_stale": "every 60s",
    "xueji.scheduling.tasks.reap_lost_tasks": "every 60s",
    "xueji.students.tasks.compact_counts": "every 60s",
    "xueji.alerts.tasks.scan_audit": "every 60s",  # early warning over the audit stream (第23条)
    "xueji.audit.tasks.chain_events": "every 60s",  # tamper-evident audit chain: sequencer + checkpoints
    "xueji.audit.tasks.verify_events": "daily 04:10",  # recompute the chain; audit.chain_broken is recorded
    "xueji.dropouts.tasks.escalate_overdue": "daily 01:00",  # overdue 控辍保学 follow-ups go to county/city (第17条)
    "xueji.certificates.tasks.refresh_status_lists": "daily 04:00",  # re-sign each issuer's status lists (第19条)
    "xueji.guardians.tasks.purge_expired": "daily 03:50",  # expired login codes, captchas, binding codes
    "xueji.oversight.tasks.snapshot_counts": "daily 05:30",  # violations per unit; a rise notifies unit + upper (第26条)
}
# The statistics snapshot is rebuilt this many seconds after the first import or change that marks it dirty.
XUEJI_STATISTICS_REFRESH_DELAY = int(os.environ.get("XUEJI_STATISTICS_REFRESH_DELAY", "60"))
# Tamper-evident audit chain (issue 11 §2). Keys: `manage.py audit_checkpoint --generate-keys` (mode 0600).
AUDIT_CHAIN_KEY_DIR = Path(os.environ.get("XUEJI_AUDIT_CHAIN_KEY_DIR", str(VAR_DIR / "keys" / "audit")))
AUDIT_CHECKPOINT_EVERY = int(os.environ.get("XUEJI_AUDIT_CHECKPOINT_EVERY", "10000"))
AUDIT_CHECKPOINT_SECONDS = int(os.environ.get("XUEJI_AUDIT_CHECKPOINT_SECONDS", "3600"))
AUDIT_CHAIN_SETTLE_SECONDS = int(os.environ.get("XUEJI_AUDIT_CHAIN_SETTLE_SECONDS", str(6 * 3600)))
# Addresses of the reverse proxies whose X-Real-IP / X-Forwarded-For is trusted for the client address.
XUEJI_TRUSTED_PROXIES = [
    a.strip() for a in os.environ.get("XUEJI_TRUSTED_PROXIES", "127.0.0.1,::1").split(",") if a.strip()
]
# A dropout follow-up overdue by more than this many working days is escalated from the county to the city (第17条).
XUEJI_DROPOUT_ESCALATE_UP_WORKING_DAYS = int(os.environ.get("XUEJI_DROPOUT_ESCALATE_UP_WORKING_DAYS", "10"))
# 第17条: an escalated case still overdue this many working days later goes on to the province.
XUEJI_DROPOUT_ESCALATE_PROVINCE_WORKING_DAYS = int(
    os.environ.get("XUEJI_DROPOUT_ESCALATE_PROVINCE_WORKING_DAYS", "30")
)
# Files of imports never committed are deleted after this many days (personal data is not kept).
XUEJI_IMPORT_FILE_RETENTION_DAYS = int(os.environ.get("XUEJI_IMPORT_FILE_RETENTION_DAYS", "7"))
# Attachment files on disk without a database row (their transaction rolled back) go after this many hours.
XUEJI_ORPHAN_FILE_GRACE_HOURS = int(os.environ.get("XUEJI_ORPHAN_FILE_GRACE_HOURS", "24"))
# A background job on another host with no heartbeat for this long counts as lost (same host: pid check).
XUEJI_TASK_STALE_SECONDS = int(os.environ.get("XUEJI_TASK_STALE_SECONDS", "120"))

# A temporary password from a two-person reset (requested by one security admin, confirmed by another)
# is valid this long (hours) and for one login.
PASSWORD_RESET_TTL_HOURS = int(os.environ.get("XUEJI_PASSWORD_RESET_TTL_HOURS", "72"))

# API tokens live this long (hours).
API_TOKEN_TTL_HOURS = int(os.environ.get("XUEJI_API_TOKEN_TTL_HOURS", "12"))
# A token's last use is written at most this often (seconds): read-only API calls then write nothing.
API_TOKEN_TOUCH_SECONDS = int(os.environ.get("XUEJI_API_TOKEN_TOUCH_SECONDS", "60"))


def _rate_limits(raw: str) -> dict[str, tuple[int, int]]:
    """``"reveal=100/3600,lookup=100/86400"`` → ``{"reveal": (100, 3600), "lookup": (100, 86400)}``."""
    limits: dict[str, tuple[int, int]] = {}
    for item in filter(None, (part.strip() for part in raw.split(","))):
        bucket, _sep, rate = item.partition("=")
        count, _sep, seconds = rate.partition("/")
        limits[bucket.strip()] = (int(count), int(seconds))
    return limits


# Sensitive reads per account (issue #6 §3.10): bucket → (requests, window in seconds), counted in the database.
# Override any of them with e.g. XUEJI_RATE_LIMITS="reveal=200/3600,export=50/86400".
XUEJI_RATE_LIMITS = {
    "reveal": (100, 3600),  # full ID number / phone / 学籍号 shown
    # national look-ups: ID number → school at registration, 学籍号+姓名 (transfer, progression, return)
    "lookup": (100, 86400),
    "export": (20, 86400),  # roster exports
    "list": (600, 3600),  # list pages and list API calls (students, audit)
    "mfa": (10, 900),  # second-factor code attempts (verify, enrol)
    "verify": (60, 3600),  # identity verify calls per guardian (relying parties, 第24条)
    **_rate_limits(os.environ.get("XUEJI_RATE_LIMITS", "")),
}

# --- 家长端 (xueji/guardians, docs/guardians.md) -----------------------------------------------------------
# SMS: a backend shaped like Django's e-mail backends. Development and tests: the file backend (one file per
# message under XUEJI_SMS_FILE_PATH) or "xueji.guardians.sms.ConsoleBackend"; production:
# "xueji.guardians.sms.GatewayBackend" with the gateway settings below.
XUEJI_SMS_BACKEND = os.environ.get("XUEJI_SMS_BACKEND", "xueji.guardians.sms.FileBackend")
XUEJI_SMS_FILE_PATH = Path(os.environ.get("XUEJI_SMS_FILE_PATH", VAR_DIR / "sms"))
XUEJI_SMS_GATEWAY_URL = os.environ.get("XUEJI_SMS_GATEWAY_URL", "")
XUEJI_SMS_GATEWAY_APP_ID = os.environ.get("XUEJI_SMS_GATEWAY_APP_ID", "")
XUEJI_SMS_GATEWAY_SECRET = os.environ.get("XUEJI_SMS_GATEWAY_SECRET", "")
XUEJI_SMS_SIGN_NAME = os.environ.get("XUEJI_SMS_SIGN_NAME", "学籍系统")
XUEJI_SMS_GATEWAY_TIMEOUT = float(os.environ.get("XUEJI_SMS_GATEWAY_TIMEOUT", "5"))
# HMAC-SM3 key for SMS codes, captcha answers and binding codes (set it in production; development derives
# one from SECRET_KEY).
XUEJI_GUARDIAN_CODE_KEY = os.environ.get("XUEJI_GUARDIAN_CODE_KEY", "")
# The guardian session: its own cookie (never the staff session), idle and absolute limits.
XUEJI_GUARDIAN_COOKIE_NAME = "__Host-xj_m" if PRODUCTION else "xj_m"
XUEJI_GUARDIAN_SESSION_IDLE_SECONDS = int(os.environ.get("XUEJI_GUARDIAN_SESSION_IDLE_SECONDS", str(30 * 60)))
XUEJI_GUARDIAN_SESSION_ABSOLUTE_SECONDS = int(
    os.environ.get("XUEJI_GUARDIAN_SESSION_ABSOLUTE_SECONDS", str(12 * 3600))
)
XUEJI_GUARDIANS_PER_CHILD = int(os.environ.get("XUEJI_GUARDIANS_PER_CHILD", "4"))
XUEJI_BINDING_CODE_DAYS = int(os.environ.get("XUEJI_BINDING_CODE_DAYS", "30"))
# SMS and login limits, counted in the database: bucket → (requests, window seconds).
XUEJI_GUARDIAN_RATE_LIMITS = {
    "sms_phone": (5, 3600),
    "sms_ip": (20, 3600),
    "sms_day": (10, 86400),
    "login_ip": (30, 3600),
    "bind": (10, 3600),
    **_rate_limits(os.environ.get("XUEJI_GUARDIAN_RATE_LIMITS", "")),
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("XUEJI_LOG_LEVEL", "WARNING")},
}
