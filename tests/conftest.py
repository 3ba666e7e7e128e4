from __future__ import annotations

import pytest

from tests.factories import core as f


@pytest.fixture(autouse=True)
def _clear_cache():  # type: ignore[no-untyped-def]
    """Process caches (e.g. the official calendar) must not leak rolled-back data between tests."""
    from django.core.cache import cache

    cache.clear()
    # Data keys live in the database (rolled back after each test); the process keeps unwrapped ones.
    from xueji.core.fieldcrypto import keyring

    keyring.reset()
    yield


@pytest.fixture(autouse=True)
def _default_language():  # type: ignore[no-untyped-def]
    """A request in English (LocaleMiddleware) leaves English active in the thread: later tests start in the
    default language again."""
    from django.conf import settings
    from django.utils import translation

    yield
    translation.activate(settings.LANGUAGE_CODE)


@pytest.fixture(autouse=True)
def _second_factor(request):  # type: ignore[no-untyped-def]
    """The second factor (issue 11 §1) is enforced in production and by default; tests about other things run
    with it off, tests marked ``mfa`` (tests/accounts/test_second_factor.py, the browser test) with it on."""
    if request.node.get_closest_marker("mfa"):
        yield
        return
    from django.conf import settings

    saved = settings.XUEJI_MFA_ENFORCED
    settings.XUEJI_MFA_ENFORCED = False
    yield
    settings.XUEJI_MFA_ENFORCED = saved


@pytest.fixture
def national_grade_age():  # type: ignore[no-untyped-def]
    """Request this fixture to register under the real national age-for-grade bands (see below)."""
    from xueji.policies.rules import GRADE_AGE_DEFAULT

    return GRADE_AGE_DEFAULT


@pytest.fixture(autouse=True)
def _lenient_grade_age(request):  # type: ignore[no-untyped-def]
    """The shared factories register a child born on 2018-03-14 in 一年级 (their data predates the
    age-for-grade rule of issue 8 item 4, under which that eight-year-old needs a confirmation, and its age
    moves with the calendar). Unless a test asks for ``national_grade_age``, the national bands are widened
    (``f.LENIENT_GRADE_AGE``) so that tests about other things are not about the pupil's age; province rule
    sets still apply."""
    if "national_grade_age" in request.fixturenames:
        yield
        return
    from xueji.policies import rules

    # Its own patcher: a test calling ``monkeypatch.undo()`` must not undo this one.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(rules, "GRADE_AGE_DEFAULT", f.LENIENT_GRADE_AGE)
        yield


@pytest.fixture(scope="session", autouse=True)
def _fast_password_hashing():  # type: ignore[no-untyped-def]
    """Argon2 costs ~1 s per hash on this machine; tests that are about hashing override this locally."""
    from django.test.utils import override_settings

    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        yield


@pytest.fixture(scope="session", autouse=True)
def _plain_static_storage():  # type: ignore[no-untyped-def]
    """Production serves hashed names from the `collectstatic` manifest (config/settings.py STORAGES). Tests
    render templates without running `collectstatic` (it would write into the working tree and cost seconds
    per run), so `{% static %}` uses plain names here and WhiteNoise looks files up per request; the manifest
    path itself is tested in tests/deploy/test_static.py (collectstatic into a temporary STATIC_ROOT)."""
    from django.test.utils import override_settings

    storages = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    with override_settings(STORAGES=storages, WHITENOISE_AUTOREFRESH=True, WHITENOISE_USE_FINDERS=True):
        yield


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix):  # type: ignore[no-untyped-def]
    """PostgreSQL with two roles (CI: ``XUEJI_MIGRATE_DATABASE_URL`` names the owner): the test database is
    created, migrated (``migrate`` grants the application role its privileges) and dropped as the owner role;
    the tests themselves run as the application role (``django_db_setup`` below), which can neither alter the
    append-only audit tables nor lift their triggers (issue #6 §3.8). One role (SQLite, dev) → no switch."""
    from xueji.core import dbroles

    with dbroles.as_owner():
        yield


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):  # type: ignore[no-untyped-def]
    """Run the tests as the application role; load the Guangdong and Beijing departments once (transactional
    tests that flush reload them)."""
    from xueji.core import dbroles

    with dbroles.as_app():
        with django_db_blocker.unblock():
            f.departments()
        yield


@pytest.fixture(scope="session", autouse=True)
def _flush_as_owner():  # type: ignore[no-untyped-def]
    """After a transactional test the harness empties the database with ``flush``: the one "delete" the tests
    need on the append-only audit tables. It runs as the owner role (the application role may not TRUNCATE
    them) with their triggers lifted for the flush only and restored right after, so every test runs with the
    triggers in place."""
    from unittest import mock

    from django.core.management.commands import flush

    from xueji.audit import triggers
    from xueji.core import dbroles

    original = flush.Command.handle

    def handle(self, *args, **options):  # type: ignore[no-untyped-def]
        with dbroles.as_owner(options.get("database", "default")) as connection:
            with connection.cursor() as cursor:
                triggers.drop(connection.vendor, cursor)
            try:
                return original(self, *args, **options)
            finally:
                with connection.cursor() as cursor:
                    triggers.create(connection.vendor, cursor)

    with mock.patch.object(flush.Command, "handle", handle):
        yield


@pytest.fixture
def owner_connection(db):  # type: ignore[no-untyped-def]
    """A separate PostgreSQL connection to the test database as the owner role, for tests that need owner
    rights (e.g. to show that the triggers, not only the grants, refuse a rewrite). The caller's transaction
    is not visible to it."""
    from django.db import connection

    from xueji.core import dbroles

    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL")
    owner = dbroles.owner_connection()
    yield owner
    owner.close()


@pytest.fixture
def tree(db):  # type: ignore[no-untyped-def]
    """Departments of Guangdong and Beijing (a realistic subtree of the national tree)."""
    from xueji.regions.models import OrgUnit

    if not OrgUnit.objects.filter(level="province", code="440000").exists():
        f.departments()


@pytest.fixture
def school_a(tree):  # 海珠区 primary school
    return f.school("440105", "primary", name="海珠区第一小学")


@pytest.fixture
def school_b(tree):  # another county, same city (天河区)
    return f.school("440106", "primary", name="天河区实验小学")


@pytest.fixture
def registrar_a(school_a):
    return f.registrar(school_a, username="reg_a")
