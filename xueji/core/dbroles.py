"""PostgreSQL roles: the application owns nothing, the schema belongs to an owner role (issue #6 §3.8).

等保 8.1.4.3 and 第23条 ask that audit records cannot be altered or deleted. Triggers refuse UPDATE, DELETE and
TRUNCATE on the append-only tables (declared in :mod:`xueji.core.appendonly` by the audit app), but the owner
of a table can lift its triggers (``ALTER TABLE … DISABLE TRIGGER``) and then rewrite history. So the
application connects as a role that owns nothing (``DATABASE_URL``): SELECT/INSERT on the append-only tables,
SELECT/INSERT/UPDATE/DELETE on the others, USAGE on sequences, no CREATE on the schema, no
TRUNCATE/REFERENCES/TRIGGER anywhere. ``migrate``, ``db_roles``, ``backup`` and ``restore`` switch the
connection to the owner's credentials (``XUEJI_MIGRATE_DATABASE_URL``, settings ``DATABASE_ROLES``) with
:func:`as_owner`.

Unconfigured (SQLite, or one role for both) every helper here is a no-op, so development is unchanged.
This module holds no domain code and imports no app: the append-only tables are those registered in
:mod:`xueji.core.appendonly` (by the apps that own them, in their ``AppConfig.ready``) and those that carry an
append-only trigger in the database.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper

from xueji.core import appendonly

CREDENTIALS = ("USER", "PASSWORD", "HOST", "PORT")
APP_TABLE_PRIVILEGES = "SELECT, INSERT, UPDATE, DELETE"
APPEND_ONLY_PRIVILEGES = "SELECT, INSERT"
# What the application role must never hold on an append-only table (TRIGGER would let it add triggers,
# REFERENCES is not needed: the owner creates the foreign keys).
APPEND_ONLY_DENIED = "UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER"
SCHEMA = "public"


def roles() -> dict[str, dict[str, str]] | None:
    """``{"app": credentials, "owner": credentials}`` when the two roles differ, else ``None``."""
    return getattr(settings, "DATABASE_ROLES", None)


def _switch(alias: str, credentials: dict[str, str]) -> Iterator[BaseDatabaseWrapper]:
    connection = connections[alias]
    if all(connection.settings_dict.get(k) == v for k, v in credentials.items()):
        yield connection
        return
    if connection.in_atomic_block:
        raise RuntimeError("cannot switch database roles inside a transaction")
    saved = {key: connection.settings_dict.get(key) for key in CREDENTIALS}
    connection.close()
    connection.settings_dict.update(credentials)
    try:
        yield connection
    finally:
        connection.close()
        connection.settings_dict.update(saved)


@contextmanager
def as_owner(alias: str = "default") -> Iterator[BaseDatabaseWrapper]:
    """The ``alias`` connection as the schema owner for the block (closed and reopened around it).

    The settings dict is shared by every thread's connection of the alias: use only where nothing else is
    running (management commands, the test harness).
    """
    configured = roles()
    if configured is None:
        yield connections[alias]
        return
    yield from _switch(alias, configured["owner"])


@contextmanager
def as_app(alias: str = "default") -> Iterator[BaseDatabaseWrapper]:
    """The ``alias`` connection as the application role (the inverse of :func:`as_owner`, for the test
    harness, which creates the test database as the owner and then runs the tests as the application)."""
    configured = roles()
    if configured is None:
        yield connections[alias]
        return
    yield from _switch(alias, configured["app"])


def owner_connection(alias: str = "default") -> BaseDatabaseWrapper:
    """A new, separate connection to the same database as ``alias``, as the owner role (or the configured
    role when unconfigured). The caller closes it."""
    connection = connections[alias]
    settings_dict = dict(connection.settings_dict)
    configured = roles()
    if configured is not None:
        settings_dict.update(configured["owner"])
    return type(connection)(settings_dict, alias=f"{alias}-owner")


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def declared_append_only_tables() -> list[str]:
    """The tables the apps declare append-only (:func:`xueji.core.appendonly.declared_tables`; the audit app
    registers its ``TABLES``), so a new append-only table is covered once its app registers it."""
    return appendonly.declared_tables()


def append_only_tables(connection: BaseDatabaseWrapper | None = None) -> list[str]:
    """The declared append-only tables and, given a PostgreSQL connection, every table of the schema that
    carries a trigger calling an ``…append_only…`` function (so nothing protected by a trigger is missed)."""
    tables = set(declared_append_only_tables())
    if connection is not None and connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT DISTINCT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                "JOIN pg_proc p ON p.oid = t.tgfoid JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE NOT t.tgisinternal AND p.proname LIKE %s AND n.nspname = current_schema()",
                ["%append_only%"],
            )
            tables.update(row[0] for row in cursor.fetchall())
    return sorted(tables)


def grant_statements(
    *,
    app_role: str,
    owner_role: str,
    append_only: list[str],
    schema: str = SCHEMA,
    migrations_table: bool = True,
) -> list[str]:
    """Idempotent SQL, run as the owner in the application's database, that gives the application role its
    privileges on every table that exists now and, through default privileges, on those later migrations
    create; then takes back from it all but SELECT/INSERT on the append-only tables (issue #6 §3.8)."""
    app, owner, sch = _quote(app_role), _quote(owner_role), _quote(schema)
    statements = [
        f"REVOKE CREATE ON SCHEMA {sch} FROM PUBLIC",
        f"REVOKE CREATE ON SCHEMA {sch} FROM {app}",
        f"GRANT USAGE ON SCHEMA {sch} TO {app}",
        f"GRANT {APP_TABLE_PRIVILEGES} ON ALL TABLES IN SCHEMA {sch} TO {app}",
        f"REVOKE TRUNCATE, REFERENCES, TRIGGER ON ALL TABLES IN SCHEMA {sch} FROM {app}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {sch} TO {app}",
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA {sch} GRANT {APP_TABLE_PRIVILEGES} ON TABLES TO {app}",
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA {sch} GRANT USAGE, SELECT ON SEQUENCES TO {app}",
    ]
    if migrations_table:  # the migration history is the owner's: the application may read it, not fake it
        statements.append(f"REVOKE INSERT, UPDATE, DELETE ON {sch}.django_migrations FROM {app}")
    for table in append_only:
        qualified = f"{sch}.{_quote(table)}"
        statements += [
            f"REVOKE {APPEND_ONLY_DENIED} ON {qualified} FROM PUBLIC",
            f"REVOKE {APPEND_ONLY_DENIED} ON {qualified} FROM {app}",
            f"GRANT {APPEND_ONLY_PRIVILEGES} ON {qualified} TO {app}",
        ]
    return statements


def apply_grants(
    connection: BaseDatabaseWrapper, *, app_role: str | None = None, owner_role: str | None = None
) -> list[str]:
    """Run :func:`grant_statements` on ``connection`` (the owner's, or a superuser's); returns the statements.
    No-op (empty list) on SQLite or when no separate application role is configured or given."""
    configured = roles()
    if connection.vendor != "postgresql" or (configured is None and app_role is None):
        return []
    app = app_role or (configured or {})["app"]["USER"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user, current_schema()")
        current, schema = cursor.fetchone()
    owner = owner_role or (configured["owner"]["USER"] if configured else current)
    if owner == app:
        return []
    statements = grant_statements(
        app_role=app,
        owner_role=owner,
        append_only=append_only_tables(connection),
        schema=schema,
        migrations_table="django_migrations" in connection.introspection.table_names(),
    )
    with connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql)
    return statements


def ensure_append_only_triggers(connection: BaseDatabaseWrapper) -> list[str]:
    """(Re)create the append-only triggers of every declared append-only table that exists (idempotent).

    On SQLite an ``AlterField`` rebuilds the table (create new, copy, drop old, rename) and the old table's
    triggers go with it: migration ``audit.0003`` silently removed the audit trail's. ``migrate`` therefore
    ends with this, so no migration can leave an append-only table unprotected (等保 8.1.4.3)."""
    existing = set(connection.introspection.table_names())
    tables = [table for table in declared_append_only_tables() if table in existing]
    with connection.cursor() as cursor:
        for table in tables:
            appendonly.create_triggers(connection.vendor, cursor, [table])
    return tables


def table_privileges(connection: Any, role: str, table: str) -> set[str]:
    """The privileges ``role`` holds on ``table`` (PostgreSQL), for checks and tests."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT p FROM unnest(ARRAY['SELECT','INSERT','UPDATE','DELETE','TRUNCATE','REFERENCES','TRIGGER']) "
            "AS p WHERE has_table_privilege(%s, %s, p)",
            [role, table],
        )
        return {row[0] for row in cursor.fetchall()}
