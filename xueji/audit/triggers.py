"""Database triggers that make the audit table append-only, on SQLite and PostgreSQL.

Used by migration 0002 and by the test harness, which must lift them just before it empties the database
between transactional tests (a flush is the one "delete" the test harness needs). In production the
application's database role should additionally be denied TRUNCATE/DELETE/UPDATE on the table (REVOKE).
"""

from __future__ import annotations

from typing import Any

SQLITE_CREATE = [
    """CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit_auditevent
       BEGIN SELECT RAISE(ABORT, 'audit_auditevent is append-only'); END;""",
    """CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit_auditevent
       BEGIN SELECT RAISE(ABORT, 'audit_auditevent is append-only'); END;""",
]
SQLITE_DROP = ["DROP TRIGGER IF EXISTS audit_no_update;", "DROP TRIGGER IF EXISTS audit_no_delete;"]
POSTGRES_CREATE = [
    """CREATE OR REPLACE FUNCTION audit_append_only() RETURNS trigger AS $$
       BEGIN RAISE EXCEPTION 'audit_auditevent is append-only'; END; $$ LANGUAGE plpgsql;""",
    """CREATE OR REPLACE TRIGGER audit_no_update_delete BEFORE UPDATE OR DELETE ON audit_auditevent
       FOR EACH ROW EXECUTE FUNCTION audit_append_only();""",
    """CREATE OR REPLACE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit_auditevent
       FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();""",
]
POSTGRES_DROP = [
    "DROP TRIGGER IF EXISTS audit_no_update_delete ON audit_auditevent;",
    "DROP TRIGGER IF EXISTS audit_no_truncate ON audit_auditevent;",
]


def _run(cursor_owner: Any, statements: list[str]) -> None:
    for sql in statements:
        cursor_owner.execute(sql)


def create(vendor: str, executor: Any) -> None:
    _run(executor, POSTGRES_CREATE if vendor == "postgresql" else SQLITE_CREATE)


def drop(vendor: str, executor: Any) -> None:
    _run(executor, POSTGRES_DROP if vendor == "postgresql" else SQLITE_DROP)
