"""Maintained counts of 在读学籍 per school (issue 7: region counts whose cost does not grow with the region).

The dashboard of a province or of the ministry counted every active enrollment of its region on each visit (a
scan of the region's rows: a million here, 1.9 亿 nationally). Instead:

- database triggers on ``students_enrollment`` append a row to ``students_schoolcountdelta`` for every change
  in a school's active enrollments — an insert, a delete, ``is_active`` or ``school_id`` changing (PostgreSQL:
  one row per school per INSERT/DELETE statement through transition tables, so a COPY of 5 000 registrations
  writes one; a row per changed enrollment on UPDATE. SQLite: a row per changed enrollment). Appending never
  updates a shared row, so writers never wait on a counter and cannot deadlock on one. No application code
  writes either table, so no write path — import, transfer, graduation, merger, a future one — can forget it;
- :func:`counts_compact` (every minute, ``XUEJI_SCHEDULE``) folds the deltas into ``students_schoolactivecount``;
- :func:`active_count` = folded counts + the deltas not folded yet, over the schools of the viewer's region:
  exact at any moment, and a sum over the region's schools (thousands of rows for a province), not its students.

SQLite caveat: when a migration makes Django rebuild ``students_enrollment`` (SQLite cannot alter some column
definitions in place), the rebuilt table has no triggers; such a migration must call :func:`install_triggers`
again. ``tests/students/test_counters.py`` fails if the triggers are missing after the migrations.
"""

from __future__ import annotations

from typing import Any

from django.db import connection, transaction
from django.db.models import Q, Sum

from xueji.accounts.jurisdiction import scope_paths
from xueji.accounts.types import Actor
from xueji.schools.models import School

from .models import SchoolActiveCount, SchoolCountDelta

TRIGGERS = ("enrollment_count_insert", "enrollment_count_delete", "enrollment_count_update")

_POSTGRES = [
    """
    CREATE OR REPLACE FUNCTION xueji_count_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO students_schoolcountdelta (school_id, delta)
        SELECT school_id, count(*) FROM new_rows WHERE is_active GROUP BY school_id;
        RETURN NULL;
    END $$
    """,
    """
    CREATE OR REPLACE FUNCTION xueji_count_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO students_schoolcountdelta (school_id, delta)
        SELECT school_id, -count(*) FROM old_rows WHERE is_active GROUP BY school_id;
        RETURN NULL;
    END $$
    """,
    """
    CREATE OR REPLACE FUNCTION xueji_count_updated() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF OLD.is_active THEN
            INSERT INTO students_schoolcountdelta (school_id, delta) VALUES (OLD.school_id, -1);
        END IF;
        IF NEW.is_active THEN
            INSERT INTO students_schoolcountdelta (school_id, delta) VALUES (NEW.school_id, 1);
        END IF;
        RETURN NULL;
    END $$
    """,
    "DROP TRIGGER IF EXISTS enrollment_count_insert ON students_enrollment",
    """
    CREATE TRIGGER enrollment_count_insert AFTER INSERT ON students_enrollment
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION xueji_count_inserted()
    """,
    "DROP TRIGGER IF EXISTS enrollment_count_delete ON students_enrollment",
    """
    CREATE TRIGGER enrollment_count_delete AFTER DELETE ON students_enrollment
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION xueji_count_deleted()
    """,
    "DROP TRIGGER IF EXISTS enrollment_count_update ON students_enrollment",
    """
    CREATE TRIGGER enrollment_count_update AFTER UPDATE OF is_active, school_id ON students_enrollment
    FOR EACH ROW WHEN (OLD.is_active IS DISTINCT FROM NEW.is_active OR OLD.school_id IS DISTINCT FROM NEW.school_id)
    EXECUTE FUNCTION xueji_count_updated()
    """,
]

_SQLITE = [
    "DROP TRIGGER IF EXISTS enrollment_count_insert",
    """
    CREATE TRIGGER enrollment_count_insert AFTER INSERT ON students_enrollment WHEN NEW.is_active
    BEGIN
        INSERT INTO students_schoolcountdelta (school_id, delta) VALUES (NEW.school_id, 1);
    END
    """,
    "DROP TRIGGER IF EXISTS enrollment_count_delete",
    """
    CREATE TRIGGER enrollment_count_delete AFTER DELETE ON students_enrollment WHEN OLD.is_active
    BEGIN
        INSERT INTO students_schoolcountdelta (school_id, delta) VALUES (OLD.school_id, -1);
    END
    """,
    "DROP TRIGGER IF EXISTS enrollment_count_update",
    """
    CREATE TRIGGER enrollment_count_update AFTER UPDATE OF is_active, school_id ON students_enrollment
    WHEN OLD.is_active IS NOT NEW.is_active OR OLD.school_id IS NOT NEW.school_id
    BEGIN
        INSERT INTO students_schoolcountdelta (school_id, delta) SELECT OLD.school_id, -1 WHERE OLD.is_active;
        INSERT INTO students_schoolcountdelta (school_id, delta) SELECT NEW.school_id, 1 WHERE NEW.is_active;
    END
    """,
]


def install_triggers(schema_editor: Any) -> None:
    """Create (or re-create) the counting triggers on ``students_enrollment`` for this engine."""
    statements = _POSTGRES if schema_editor.connection.vendor == "postgresql" else _SQLITE
    for sql in statements:
        schema_editor.execute(sql)


def triggers_installed() -> set[str]:
    """The names of the counting triggers present on ``students_enrollment`` (the check for SQLite rebuilds)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT tgname FROM pg_trigger WHERE tgrelid = 'students_enrollment'::regclass AND NOT tgisinternal"
            )
        else:
            cursor.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'students_enrollment'"
            )
        return {row[0] for row in cursor.fetchall()} & set(TRIGGERS)


def counts_compact() -> int:
    """Fold the visible deltas into the per-school counts; returns how many deltas were folded.

    PostgreSQL: one statement (one snapshot) deletes the deltas it folds, so a delta committed meanwhile is
    neither lost nor counted twice. SQLite: the first statement takes the database's write lock, so no delta
    can be appended until the transaction ends."""
    base = SchoolActiveCount._meta.db_table
    delta = SchoolCountDelta._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"WITH moved AS (DELETE FROM {delta} RETURNING school_id, delta), "  # noqa: S608 - constant names
                f"folded AS (INSERT INTO {base} (school_id, active) "
                f"SELECT school_id, sum(delta) FROM moved GROUP BY school_id "
                f"ON CONFLICT (school_id) DO UPDATE SET active = {base}.active + EXCLUDED.active RETURNING 1) "
                f"SELECT (SELECT count(*) FROM moved)"
            )
            return int(cursor.fetchone()[0])
        cursor.execute(
            f"INSERT INTO {base} (school_id, active) SELECT school_id, sum(delta) FROM {delta} "  # noqa: S608
            f"WHERE true GROUP BY school_id "
            f"ON CONFLICT (school_id) DO UPDATE SET active = {base}.active + excluded.active"
        )
        cursor.execute(f"DELETE FROM {delta}")  # noqa: S608 - the write lock is ours since the statement above
        return int(cursor.rowcount)


def active_count(*, viewer: Actor) -> int:
    """在读学籍 in the viewer's region: the same number as ``enrollment_list(viewer, StudentFilters()).count()``
    (active enrollments under the viewer's scope paths), from the maintained per-school counts."""
    paths = scope_paths(viewer)
    if not paths:
        return 0
    region = Q()
    for path in paths:
        region |= Q(org__path__startswith=path)
    schools = School.objects.filter(region).values("pk")
    folded = SchoolActiveCount.objects.filter(school__in=schools).aggregate(n=Sum("active"))["n"] or 0
    pending = SchoolCountDelta.objects.filter(school__in=schools).aggregate(n=Sum("delta"))["n"] or 0
    return int(folded) + int(pending)
