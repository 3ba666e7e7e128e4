from __future__ import annotations

import pytest

from tests.factories import core as f


@pytest.fixture(autouse=True)
def _clear_cache():  # type: ignore[no-untyped-def]
    """Process caches (e.g. the official calendar) must not leak rolled-back data between tests."""
    from django.core.cache import cache

    cache.clear()
    yield


@pytest.fixture(scope="session", autouse=True)
def _fast_password_hashing():  # type: ignore[no-untyped-def]
    """Argon2 costs ~1 s per hash on this machine; tests that are about hashing override this locally."""
    from django.test.utils import override_settings

    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        yield


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):  # type: ignore[no-untyped-def]
    """Load the Guangdong and Beijing departments once; transactional tests that flush reload them."""
    with django_db_blocker.unblock():
        f.departments()


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


def _is_transactional(request) -> bool:  # type: ignore[no-untyped-def]
    marker = request.node.get_closest_marker("django_db")
    names = set(request.fixturenames)
    return bool(
        {"transactional_db", "live_server", "django_db_reset_sequences"} & names
        or (marker is not None and (marker.kwargs.get("transaction") or marker.kwargs.get("reset_sequences")))
    )


@pytest.fixture(autouse=True)
def _audit_triggers(request):  # type: ignore[no-untyped-def]
    """Keep the audit table append-only during every test; lift the triggers only for the harness's flush
    after a transactional test (this fixture's teardown runs before the database fixture's flush)."""
    if not _is_transactional(request):
        if "db" in request.fixturenames or request.node.get_closest_marker("django_db"):
            from django.db import connection

            from xueji.audit import triggers

            request.getfixturevalue("db")
            with connection.cursor() as cursor:
                triggers.create(connection.vendor, cursor)
        yield
        return
    request.getfixturevalue("transactional_db")
    from django.db import connection

    from xueji.audit import triggers

    with connection.cursor() as cursor:
        triggers.create(connection.vendor, cursor)
    yield
    with connection.cursor() as cursor:
        triggers.drop(connection.vendor, cursor)
