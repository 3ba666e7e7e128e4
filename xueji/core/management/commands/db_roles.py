"""``manage.py db_roles``: the PostgreSQL grants of the application role (issue #6 §3.8).

Prints (default) or applies (``--apply``, as the owner role) the SQL that gives the application role ordinary
DML on every table, USAGE on sequences, default privileges for tables later migrations create, and only
SELECT/INSERT on the append-only tables (those the apps declare in ``xueji.core.appendonly`` and, with
``--apply``, those carrying an append-only trigger in the database). Idempotent; ``migrate`` runs it itself
when the two roles are configured. The roles themselves are created once by ``deploy/postgres/roles.sql``.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from xueji.core import dbroles


class Command(BaseCommand):
    help = "Print or apply the PostgreSQL grants of the application role (append-only audit tables)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--apply", action="store_true", help="Run the statements as the owner role.")
        parser.add_argument(
            "--app-role", help="Application role (default: DATABASE_URL's user, else xueji_app)."
        )
        parser.add_argument(
            "--owner-role", help="Owner role (default: XUEJI_MIGRATE_DATABASE_URL's user, else xueji_owner)."
        )
        parser.add_argument("--database", default="default")

    def handle(self, *args: Any, **options: Any) -> None:
        configured = dbroles.roles()
        app = options["app_role"] or (configured["app"]["USER"] if configured else "xueji_app")
        owner = options["owner_role"] or (configured["owner"]["USER"] if configured else "xueji_owner")
        if not options["apply"]:
            statements = dbroles.grant_statements(
                app_role=app, owner_role=owner, append_only=dbroles.declared_append_only_tables()
            )
            self.stdout.write(
                f"-- Run as {owner} in the application's database (manage.py db_roles --apply does so).\n"
            )
            self.stdout.write("\n".join(f"{sql};" for sql in statements))
            return
        with dbroles.as_owner(options["database"]) as connection:
            if connection.vendor != "postgresql":
                raise CommandError("db_roles --apply needs PostgreSQL (SQLite has no roles).")
            applied = dbroles.apply_grants(connection, app_role=app, owner_role=owner)
        if not applied:
            raise CommandError(
                f"The application role and the owner are the same role ({app}); nothing to grant."
            )
        self.stdout.write(f"Applied {len(applied)} statements: {app} owns nothing, {owner} owns the schema.")
