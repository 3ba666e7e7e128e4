"""Writes of the statistics app: the nightly snapshot rebuild and the audited .xlsx export (第5、23条)."""

from __future__ import annotations

import io
from datetime import date

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from openpyxl import Workbook

from xueji.accounts.types import Actor
from xueji.audit.enums import EventType
from xueji.audit.services import record
from xueji.regions.models import OrgUnit
from xueji.students.models import Enrollment, Person

from .models import StatCell
from .queries import Breakdown

# The grain: every column of StatCell but as_of and count, as (StatCell column, source expression).
_GRAIN = (
    ("school_id", "e.school_id"),
    ("scope_path", "e.scope_path"),
    ("province_code", "e.province_code"),
    ("stage", "e.stage"),
    ("grade", "e.grade"),
    ("gender", "p.gender"),
    ("status", "e.status"),
    ("household_type", "p.household_type"),
    ("migrant_child", "p.migrant_child"),
    ("left_behind", "p.left_behind"),
    ("disabled", "(p.disability_type <> '0')"),
)


def _rebuild_sql() -> str:
    qn = connection.ops.quote_name
    columns = ", ".join(qn(c) for c, _expr in _GRAIN)
    exprs = ", ".join(expr for _c, expr in _GRAIN)
    # identifiers from the models' metadata and the constant grain above; values are parameters
    return f"""
        INSERT INTO {qn(StatCell._meta.db_table)} ({qn("as_of")}, {columns}, {qn("count")})
        SELECT %s, {exprs}, COUNT(*)
        FROM {qn(Enrollment._meta.db_table)} e
        JOIN {qn(Person._meta.db_table)} p ON p.{qn("id")} = e.{qn("person_id")}
        WHERE e.{qn("is_active")} = %s
        GROUP BY {exprs}
    """  # noqa: S608


def snapshot_rebuild(as_of: date | None = None) -> int:
    """Replace the snapshot with the counts of active enrollments (在籍) as they stand now, dated ``as_of``
    (today by default). One set-based ``INSERT … SELECT … GROUP BY`` over enrollments joined to persons, in
    one transaction with the delete, so readers see the old snapshot or the new one, never a mix. Returns the
    number of rows written (第5、23条: the statistics every level reads)."""
    as_of = as_of or timezone.localdate()
    with transaction.atomic():
        if connection.vendor == "postgresql":
            # Two rebuilds at once (the nightly task and a manual one) would each insert a full set after the
            # other's delete: the second waits here until the first has committed. SQLite writes one at a time.
            with connection.cursor() as cursor:
                cursor.execute(f"LOCK TABLE {StatCell._meta.db_table} IN SHARE ROW EXCLUSIVE MODE")
        StatCell.objects.all().delete()
        with connection.cursor() as cursor:
            cursor.execute(_rebuild_sql(), [connection.ops.adapt_datefield_value(as_of), True])
            return max(cursor.rowcount, 0)


def export_xlsx(*, actor: Actor, unit: OrgUnit, breakdown: Breakdown) -> bytes:
    """The numbers of one breakdown table as an .xlsx workbook, recorded in the audit trail (第23、24条: who
    exported which unit's statistics and when; counts only, no personal data)."""
    book = Workbook()
    sheet = book.active
    sheet.title = str(breakdown.title)[:31]
    sheet.append([_("单位"), unit.name])
    sheet.append([_("统计日期"), breakdown.as_of.isoformat() if breakdown.as_of else ""])
    sheet.append([str(breakdown.title), _("人数")])
    for row in breakdown.rows:
        sheet.append([row.label, row.count])
    sheet.append([_("合计"), breakdown.total])
    buffer = io.BytesIO()
    book.save(buffer)
    with transaction.atomic():
        record(
            event_type=EventType.STATISTICS_EXPORTED,
            actor=actor,
            subject_type="org",
            subject_id=unit.pk,
            org_unit_id=unit.pk,
            province_code=unit.province_code,
            summary=f"{unit.name} · {breakdown.title}",
            after={"by": breakdown.by, "as_of": breakdown.as_of.isoformat() if breakdown.as_of else ""},
        )
    return buffer.getvalue()
