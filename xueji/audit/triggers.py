"""Database triggers that make the audit tables append-only, on SQLite and PostgreSQL.

Four tables: the audit trail (``audit_auditevent``, migration 0002), the record history of personal
fields (``audit_fieldhistory``, migration 0004; issue #6 §3.3), and the hash chain over the trail with its
signed checkpoints (``audit_auditchainlink``, ``audit_auditcheckpoint``, migration 0005; issue 11 §2): a link
or a checkpoint, once written, can no more be changed than the event it seals. Used by those migrations and by the test
harness, which must lift them just before it empties the database between transactional tests (a flush is the
one "delete" the test harness needs). In production the application's database role should additionally be
denied TRUNCATE/DELETE/UPDATE on the tables (REVOKE).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

EVENTS = "audit_auditevent"
FIELD_HISTORY = "audit_fieldhistory"
CHAIN = "audit_auditchainlink"
CHECKPOINTS = "audit_auditcheckpoint"
TABLES = (EVENTS, FIELD_HISTORY, CHAIN, CHECKPOINTS)

# Trigger names of the first table are kept as they were created by migration 0002.
_SQLITE_NAMES = {EVENTS: ("audit_no_update", "audit_no_delete")}
_PG_NAMES = {EVENTS: ("audit_no_update_delete", "audit_no_truncate")}


def _sqlite_names(table: str) -> tuple[str, str]:
    return _SQLITE_NAMES.get(table, (f"{table}_no_update", f"{table}_no_delete"))


def _pg_names(table: str) -> tuple[str, str]:
    return _PG_NAMES.get(table, (f"{table}_no_update_delete", f"{table}_no_truncate"))


def sqlite_create(table: str) -> list[str]:
    upd, dele = _sqlite_names(table)
    return [
        f"""CREATE TRIGGER IF NOT EXISTS {upd} BEFORE UPDATE ON {table}
       BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END;""",
        f"""CREATE TRIGGER IF NOT EXISTS {dele} BEFORE DELETE ON {table}
       BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END;""",
    ]


def sqlite_drop(table: str) -> list[str]:
    return [f"DROP TRIGGER IF EXISTS {name};" for name in _sqlite_names(table)]


POSTGRES_FUNCTION = """CREATE OR REPLACE FUNCTION audit_append_only() RETURNS trigger AS $$
       BEGIN RAISE EXCEPTION USING MESSAGE = TG_TABLE_NAME || ' is append-only'; END; $$ LANGUAGE plpgsql;"""


def postgres_create(table: str) -> list[str]:
    row, stmt = _pg_names(table)
    return [
        POSTGRES_FUNCTION,
        f"""CREATE OR REPLACE TRIGGER {row} BEFORE UPDATE OR DELETE ON {table}
       FOR EACH ROW EXECUTE FUNCTION audit_append_only();""",
        f"""CREATE OR REPLACE TRIGGER {stmt} BEFORE TRUNCATE ON {table}
       FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();""",
    ]


def postgres_drop(table: str) -> list[str]:
    return [f"DROP TRIGGER IF EXISTS {name} ON {table};" for name in _pg_names(table)]


# The first table's statements, as before (kept for callers that name them).
SQLITE_CREATE = sqlite_create(EVENTS)
SQLITE_DROP = sqlite_drop(EVENTS)
POSTGRES_CREATE = postgres_create(EVENTS)
POSTGRES_DROP = postgres_drop(EVENTS)


def _run(cursor_owner: Any, statements: list[str]) -> None:
    for sql in statements:
        cursor_owner.execute(sql)


def create(vendor: str, executor: Any, tables: Iterable[str] = TABLES) -> None:
    for table in tables:
        _run(executor, postgres_create(table) if vendor == "postgresql" else sqlite_create(table))


def drop(vendor: str, executor: Any, tables: Iterable[str] = TABLES) -> None:
    for table in tables:
        _run(executor, postgres_drop(table) if vendor == "postgresql" else sqlite_drop(table))
