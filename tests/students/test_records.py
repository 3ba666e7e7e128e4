"""Record services: audited reads (第24条), read-only former records, archive (第6条), problems (第9条)."""

from datetime import date

import pytest

from tests.factories import changes as c
from tests.factories import core as f
from xueji.audit.models import AuditEvent, FieldHistory
from xueji.core.errors import ApplicationError, Forbidden, NotFound
from xueji.students.models import Enrollment, Guardian, ProblemRecord
from xueji.students.records import (
    archive_attach,
    archive_complete,
    archive_open,
    guardian_add,
    problem_resolve,
    student_reveal,
    student_update,
)
from xueji.students.services import register_students
from xueji.students.validation import clean_registration

pytestmark = pytest.mark.django_db
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64


@pytest.fixture
def rec(school_a, registrar_a):
    return c.enrolled(school_a, grade=2)


def test_reveal_student_number_and_guardian_phone_are_audited(rec, registrar_a):
    guardian = Guardian.objects.get(person_id=rec.person_id)
    assert (
        student_reveal(actor=registrar_a, enrollment=rec, field="student_number") == rec.person.student_number
    )
    assert (
        student_reveal(actor=registrar_a, enrollment=rec, field="guardian_phone", guardian_id=guardian.pk)
        == guardian.phone
    )
    assert list(
        AuditEvent.objects.filter(event_type="student.revealed")
        .order_by("id")
        .values_list("after", flat=True)
    ) == [{"field": "student_number"}, {"field": "guardian_phone"}]
    with pytest.raises(NotFound):
        student_reveal(actor=registrar_a, enrollment=rec, field="guardian_phone", guardian_id=rec.person_id)


def test_archive_download_is_an_audited_read(rec, registrar_a):
    doc = archive_attach(actor=registrar_a, enrollment=rec, kind="identity", title="户口簿", data=PNG)
    assert archive_open(actor=registrar_a, enrollment=rec, doc_id=doc.pk) == doc
    assert (
        AuditEvent.objects.filter(event_type="archive.downloaded", subject_id=str(rec.person_id)).count() == 1
    )
    with pytest.raises(NotFound):
        archive_open(actor=registrar_a, enrollment=rec, doc_id="not-a-uuid")


def test_former_record_is_read_only(rec, registrar_a):
    Enrollment.objects.filter(pk=rec.pk).update(is_active=False, status="07")
    rec.refresh_from_db()
    for call in (
        lambda: guardian_add(actor=registrar_a, enrollment=rec, data=f.guardian_data()),
        lambda: archive_attach(actor=registrar_a, enrollment=rec, kind="identity", title="x", data=PNG),
        lambda: student_update(actor=registrar_a, enrollment=rec, changes={"specialty": "书法"}),
    ):
        with pytest.raises(ApplicationError) as exc:
            call()
        assert exc.value.code == "record_inactive"


def test_key_fields_change_only_through_the_key_data_flow(rec, registrar_a):
    """第13条: 姓名/证件/性别/出生日期 need the approved change flow."""
    with pytest.raises(ApplicationError) as exc:
        student_update(actor=registrar_a, enrollment=rec, changes={"name": "改名"})
    assert exc.value.code == "key_field_change"
    person = student_update(actor=registrar_a, enrollment=rec, changes={"specialty": "书法"})
    assert person.specialty == "书法"
    event = AuditEvent.objects.get(event_type="student.updated")
    # The audit names the field with the value masked; the value is in the record history (issue #6 §3.3).
    assert (event.before, event.after) == ({"specialty": ""}, {"specialty": "***"})
    history = FieldHistory.objects.get(event=event)
    assert (history.field, history.before, history.after) == ("specialty", "", "书法")


def test_archive_completion_needs_a_document_and_is_recorded(rec, registrar_a):
    with pytest.raises(ApplicationError) as exc:
        archive_complete(actor=registrar_a, enrollment=rec)
    assert exc.value.code == "archive_empty"
    archive_attach(actor=registrar_a, enrollment=rec, kind="identity", title="户口簿", data=PNG)
    done = archive_complete(actor=registrar_a, enrollment=rec)
    assert done.archive_completed_at is not None


def test_county_resolves_suspected_duplicate_school_cannot(school_a, registrar_a):
    regs = [
        clean_registration(
            f.person_data(id_type="Z", id_number="", name="王五"),
            f.enrollment_data(),
            [f.guardian_data()],
            school_stages=school_a.stages,
            today=date(2026, 11, 27),
        )
        for _ in range(2)
    ]
    register_students(actor=registrar_a, school=school_a, registrations=regs)
    problem = ProblemRecord.objects.first()
    with pytest.raises(Forbidden):
        problem_resolve(actor=registrar_a, problem=problem, outcome="distinct", note="双胞胎")
    with pytest.raises(NotFound):
        problem_resolve(actor=c.dept_registrar("440106"), problem=problem, outcome="distinct", note="x")
    done = problem_resolve(
        actor=c.dept_registrar("440105"), problem=problem, outcome="distinct", note="双胞胎"
    )
    assert (done.state, done.resolution_note) == ("distinct", "双胞胎")
