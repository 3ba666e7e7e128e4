"""The audit trail is append-only in the ORM and in the database (第23、24条; 等保 8.1.4.3)."""

import pytest
from django.db import DatabaseError, connection, transaction

from xueji.audit.enums import EventType
from xueji.audit.models import AuditEvent
from xueji.audit.services import record
from xueji.core.errors import ApplicationError

pytestmark = pytest.mark.django_db


def _event() -> AuditEvent:
    return record(event_type=EventType.LOGIN, actor=None, summary="x")


def test_orm_refuses_update_and_delete():
    event = _event()
    event.summary = "changed"
    with pytest.raises(ApplicationError) as exc:
        event.save()
    assert exc.value.code == "audit_append_only"
    with pytest.raises(ApplicationError):
        event.delete()
    with pytest.raises(ApplicationError):
        AuditEvent.objects.filter(pk=event.pk).update(summary="changed")
    with pytest.raises(ApplicationError):
        AuditEvent.objects.all().delete()
    assert AuditEvent.objects.get(pk=event.pk).summary == "x"


@pytest.mark.parametrize(
    "sql", ["UPDATE audit_auditevent SET summary = 'changed'", "DELETE FROM audit_auditevent"]
)
def test_database_trigger_refuses_raw_sql(sql):
    event = _event()
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql)
    assert AuditEvent.objects.get(pk=event.pk).summary == "x"


def test_record_many_writes_one_row_per_subject():
    from xueji.audit.services import record_many

    n = record_many(
        [{"subject_type": "student", "subject_id": i, "after": {"count": i}} for i in range(3)],
        event_type=EventType.STUDENT_REGISTERED,
        actor=None,
    )
    assert n == 3
    rows = list(AuditEvent.objects.filter(event_type="student.registered").order_by("subject_id"))
    assert [(r.subject_id, r.after, r.actor_username) for r in rows] == [
        ("0", {"count": 0}, "system"),
        ("1", {"count": 1}, "system"),
        ("2", {"count": 2}, "system"),
    ]
