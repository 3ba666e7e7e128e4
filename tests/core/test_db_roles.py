"""The application role owns nothing; the append-only audit tables stay append-only (issue #6 §3.8 leak 8;
等保 8.1.4.3; 第23条).

The PostgreSQL tests run where the suite runs as the application role (CI: ``DATABASE_URL`` names
``xueji_app``, ``XUEJI_MIGRATE_DATABASE_URL`` names ``xueji_owner``; tests/conftest.py creates the test
database as the owner and runs the tests as the application).
"""

from __future__ import annotations

import io

import pytest
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from tests.factories import core as f
from xueji.audit.enums import EventType
from xueji.audit.models import AuditEvent
from xueji.audit.services import record
from xueji.core import dbroles
from xueji.regions.models import OrgUnit

APPEND_ONLY = ["audit_auditchainlink", "audit_auditcheckpoint", "audit_auditevent", "audit_fieldhistory"]
INSUFFICIENT_PRIVILEGE = "42501"


def test_the_append_only_tables_are_those_with_triggers():
    assert dbroles.declared_append_only_tables() == APPEND_ONLY


def test_the_grants_leave_only_select_and_insert_on_every_append_only_table():
    statements = dbroles.grant_statements(app_role="app", owner_role="owner", append_only=APPEND_ONLY)
    assert statements[:9] == [
        'REVOKE CREATE ON SCHEMA "public" FROM PUBLIC',
        'REVOKE CREATE ON SCHEMA "public" FROM "app"',
        'GRANT USAGE ON SCHEMA "public" TO "app"',
        'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "public" TO "app"',
        'REVOKE TRUNCATE, REFERENCES, TRIGGER ON ALL TABLES IN SCHEMA "public" FROM "app"',
        'GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA "public" TO "app"',
        'ALTER DEFAULT PRIVILEGES FOR ROLE "owner" IN SCHEMA "public" '
        'GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO "app"',
        'ALTER DEFAULT PRIVILEGES FOR ROLE "owner" IN SCHEMA "public" GRANT USAGE, SELECT ON SEQUENCES TO "app"',
        'REVOKE INSERT, UPDATE, DELETE ON "public".django_migrations FROM "app"',
    ]
    # The revokes of each append-only table come after the blanket grant, so they win.
    assert statements[9:] == [
        sql
        for table in APPEND_ONLY
        for sql in (
            f'REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON "public"."{table}" FROM PUBLIC',
            f'REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON "public"."{table}" FROM "app"',
            f'GRANT SELECT, INSERT ON "public"."{table}" TO "app"',
        )
    ]


def test_db_roles_prints_the_sql_for_the_current_append_only_tables():
    out = io.StringIO()
    call_command("db_roles", "--app-role", "xueji_app", "--owner-role", "xueji_owner", stdout=out)
    text = out.getvalue()
    assert text.startswith("-- Run as xueji_owner in the application's database")
    for table in APPEND_ONLY:
        assert (
            f'REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON "public"."{table}" FROM "xueji_app";'
            in text
        )
        assert f'GRANT SELECT, INSERT ON "public"."{table}" TO "xueji_app";' in text


@pytest.mark.django_db
def test_every_append_only_table_has_its_triggers_after_migrate():
    """SQLite drops a table's triggers when a migration rebuilds it (audit 0003 did so to the audit trail):
    ``migrate`` re-asserts them, so the test database (built by ``migrate``) has them on every table."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT DISTINCT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                "WHERE NOT t.tgisinternal AND t.tgname LIKE %s",
                ["%no_%"],
            )
        else:
            cursor.execute("SELECT DISTINCT tbl_name FROM sqlite_master WHERE type = 'trigger'")
        protected = {row[0] for row in cursor.fetchall()}
    assert set(APPEND_ONLY) <= protected
    event = record(event_type=EventType.LOGIN, actor=None, summary="x")
    for sql in ("UPDATE audit_auditevent SET summary = 'y'", "DELETE FROM audit_auditevent"):
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql)
    assert AuditEvent.objects.get(pk=event.pk).summary == "x"


# --- PostgreSQL, as the application role ---------------------------------------------------------------------

two_roles = pytest.mark.skipif(
    dbroles.roles() is None, reason="needs PostgreSQL with XUEJI_MIGRATE_DATABASE_URL (an owner role)"
)


def _refused(sql: str) -> str:
    """The SQLSTATE of the error ``sql`` raises as the application role (in a savepoint)."""
    with pytest.raises(DatabaseError) as exc, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql)
    return getattr(exc.value.__cause__, "sqlstate", "")


@pytest.mark.postgres
@two_roles
@pytest.mark.django_db
@pytest.mark.parametrize("table", APPEND_ONLY)
@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE {t} SET {col} = {col}",  # any column of the table (they differ)
        "DELETE FROM {t}",
        "TRUNCATE {t}",
        "ALTER TABLE {t} DISABLE TRIGGER ALL",
        "ALTER TABLE {t} DISABLE TRIGGER USER",
        "DROP TRIGGER {trigger} ON {t}",
        "CREATE TRIGGER sneaky BEFORE INSERT ON {t} FOR EACH ROW EXECUTE FUNCTION audit_append_only()",
        "DROP TABLE {t}",
        "ALTER TABLE {t} OWNER TO CURRENT_USER",
    ],
)
def test_the_application_role_cannot_rewrite_or_unprotect_the_audit_tables(sql, table):
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user")
        assert cursor.fetchone()[0] == dbroles.roles()["app"]["USER"]  # type: ignore[index]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tgname FROM pg_trigger WHERE tgrelid = %s::regclass AND NOT tgisinternal", [table]
        )
        trigger = sorted(row[0] for row in cursor.fetchall())[0]
        cursor.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = %s ORDER BY ordinal_position",
            [table],
        )
        col = cursor.fetchone()[0]  # type: ignore[index]
    event = record(event_type=EventType.LOGIN, actor=None, summary="x")
    assert _refused(sql.format(t=table, trigger=trigger, col=col)) == INSUFFICIENT_PRIVILEGE
    assert AuditEvent.objects.get(pk=event.pk).summary == "x"


@pytest.mark.postgres
@two_roles
@pytest.mark.django_db
@pytest.mark.parametrize(
    "sql",
    [
        "SET session_replication_role = replica",  # would skip every trigger
        "CREATE OR REPLACE FUNCTION audit_append_only() RETURNS trigger AS $$ BEGIN RETURN NEW; END; $$ "
        "LANGUAGE plpgsql",
        "CREATE TABLE probe (id int)",
        "DELETE FROM django_migrations",
    ],
)
def test_the_application_role_cannot_lift_triggers_or_create_objects(sql):
    assert _refused(sql) == INSUFFICIENT_PRIVILEGE


@pytest.mark.postgres
@two_roles
@pytest.mark.django_db
def test_the_application_role_holds_exactly_its_privileges():
    app = dbroles.roles()["app"]["USER"]  # type: ignore[index]
    for table in APPEND_ONLY:
        assert dbroles.table_privileges(connection, app, table) == {"SELECT", "INSERT"}
    assert dbroles.table_privileges(connection, app, "students_person") == {
        "SELECT",
        "INSERT",
        "UPDATE",
        "DELETE",
    }
    assert dbroles.table_privileges(connection, app, "django_migrations") == {"SELECT"}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = current_schema() AND pg_get_userbyid(c.relowner) = %s",
            [app],
        )
        assert cursor.fetchone()[0] == 0  # owns nothing


@pytest.mark.postgres
@two_roles
@pytest.mark.django_db
def test_the_application_role_inserts_audit_rows_and_writes_ordinary_tables(tree):
    school = f.school("440105", "primary", name="海珠区第一小学")
    OrgUnit.objects.filter(pk=school.pk).update(name="海珠区第一小学（新）")
    event = record(event_type=EventType.LOGIN, actor=None, summary="登录")
    assert OrgUnit.objects.get(pk=school.pk).name == "海珠区第一小学（新）"
    assert AuditEvent.objects.filter(pk=event.pk, summary="登录").count() == 1
    session = Session.objects.create(session_key="k" * 32, session_data="", expire_date=timezone.now())
    Session.objects.filter(pk=session.pk).delete()
    assert not Session.objects.filter(pk=session.pk).exists()


@pytest.mark.postgres
@two_roles
@pytest.mark.django_db
def test_tables_a_later_migration_creates_are_granted_by_default(owner_connection):
    """Default privileges: a table the owner creates later is usable by the application at once (and the
    ``migrate`` that creates an append-only table takes UPDATE/DELETE back, see the tests above)."""
    app = dbroles.roles()["app"]["USER"]  # type: ignore[index]
    with owner_connection.cursor() as cursor:
        cursor.execute("CREATE TABLE core_probe_later (id bigserial PRIMARY KEY, note text)")
    try:
        assert dbroles.table_privileges(owner_connection, app, "core_probe_later") == {
            "SELECT",
            "INSERT",
            "UPDATE",
            "DELETE",
        }
    finally:
        with owner_connection.cursor() as cursor:
            cursor.execute("DROP TABLE core_probe_later")


@pytest.mark.postgres
@pytest.mark.django_db
def test_the_triggers_refuse_even_the_owner(owner_connection):
    """The grants stop the application; the triggers stop everyone else short of lifting them."""
    owner_connection.set_autocommit(False)
    try:
        with owner_connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO audit_auditevent (occurred_at, event_type, actor_username, actor_role, province_code,"
                " subject_type, subject_id, summary, success, request_id) "
                "VALUES (now(), 'login', '', '', '', '', '', 'x', true, '') RETURNING id"
            )
            (pk,) = cursor.fetchone()
            for sql in (
                "UPDATE audit_auditevent SET summary = 'y' WHERE id = %s",
                "DELETE FROM audit_auditevent",
            ):
                cursor.execute("SAVEPOINT probe")
                with pytest.raises(DatabaseError, match="append-only"):
                    cursor.execute(sql, [pk] if "%s" in sql else None)
                cursor.execute("ROLLBACK TO SAVEPOINT probe")
    finally:
        owner_connection.rollback()
        owner_connection.set_autocommit(True)


def _pg(user: str, name: str = "xueji") -> dict[str, object]:
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": name,
        "USER": user,
        "PASSWORD": "",
        "HOST": "h",
        "PORT": "",
    }


def test_settings_switch_roles_only_for_two_distinct_postgresql_roles():
    from config.settings import _database_roles

    sqlite = {"ENGINE": "django.db.backends.sqlite3", "NAME": "x.sqlite3"}
    assert _database_roles("postgres://xueji_owner@h/xueji", sqlite) is None
    assert _database_roles(None, _pg("xueji_app")) is None
    assert (
        _database_roles("postgres://xueji_app@h/xueji", _pg("xueji_app")) is None
    )  # one role: dev as before
    assert _database_roles("postgres://xueji_owner:s%40cret@db:5433/xueji", _pg("xueji_app")) == {
        "app": {"USER": "xueji_app", "PASSWORD": "", "HOST": "h", "PORT": ""},
        "owner": {"USER": "xueji_owner", "PASSWORD": "s@cret", "HOST": "db", "PORT": "5433"},
    }
    # Only the credentials are taken: the owner works on DATABASE_URL's database (e.g. the test database).
    assert _database_roles("postgres://xueji_owner@h/other", _pg("xueji_app", "test_xueji")) == {
        "app": {"USER": "xueji_app", "PASSWORD": "", "HOST": "h", "PORT": ""},
        "owner": {"USER": "xueji_owner", "PASSWORD": "", "HOST": "h", "PORT": ""},
    }
    with pytest.raises(ValueError, match="must both name their role"):
        _database_roles("postgres://xueji_owner@h/xueji", _pg(""))
