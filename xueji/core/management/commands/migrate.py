"""``migrate`` as the schema owner, then the append-only triggers and the application role's grants.

Django's ``migrate`` with one change: when ``XUEJI_MIGRATE_DATABASE_URL`` names an owner role other than
``DATABASE_URL``'s (settings ``DATABASE_ROLES``), the migrations run on the owner's credentials, and afterwards
``db_roles``' grants are applied (idempotent), so a table a migration just created is usable by the
application, and a new append-only table is SELECT/INSERT-only for it at once (issue #6 §3.8). Before that,
the append-only triggers are re-asserted on every append-only table (SQLite loses a table's triggers when a
migration rebuilds it; ``dbroles.ensure_append_only_triggers``). Unconfigured roles → no grants.
"""

from __future__ import annotations

from typing import Any

from django.core.management.commands import migrate

from xueji.core import dbroles


class Command(migrate.Command):
    help = migrate.Command.help + " Runs as the owner role when XUEJI_MIGRATE_DATABASE_URL is set."

    def handle(self, *args: Any, **options: Any) -> None:
        with dbroles.as_owner(options["database"]) as connection:
            super().handle(*args, **options)
            dbroles.ensure_append_only_triggers(connection)
            applied = dbroles.apply_grants(connection)
        if applied and options["verbosity"] >= 1:
            app = (dbroles.roles() or {})["app"]["USER"]
            self.stdout.write(
                f"Granted the application role {app} its privileges ({len(applied)} statements)."
            )
