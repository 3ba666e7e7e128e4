"""学校合并与撤销 (第12条): records and archives move in one audited operation, no per-student approvals."""

from datetime import date

import pytest

from tests.factories import changes as c
from tests.factories import core as f
from xueji.accounts.enums import Role
from xueji.accounts.jurisdiction import scope_q
from xueji.audit.models import AuditEvent
from xueji.changes.merger import school_close, school_merge
from xueji.changes.models import ChangeRequest, Notification
from xueji.changes.services import change_submit
from xueji.core.errors import ApplicationError, Conflict, FieldError, Forbidden, NotFound
from xueji.schools.models import School
from xueji.students.models import ArchiveDocument, Enrollment, ProblemRecord

pytestmark = pytest.mark.django_db
REASON = "海教〔2027〕12号"


@pytest.fixture
def env(tree):
    c.calendar()
    old = f.school("440105", "primary", name="海珠旧小")
    new = f.school("440105", "primary", name="海珠新小")
    s = {
        "old": old,
        "new": new,
        "reg_old": f.registrar(old),
        "reg_new": f.registrar(new),
        "county": c.dept_registrar("440105"),
        "haizhu": f.dept("440105"),
        "active": c.enrolled(old, grade=3),
        "suspended": c.enrolled(old, grade=2),
        "former": c.enrolled(old, grade=6),
    }
    Enrollment.objects.filter(pk=s["suspended"].pk).update(status="02")
    Enrollment.objects.filter(pk=s["former"].pk).update(is_active=False, status="07")
    s["doc"] = ArchiveDocument.objects.create(
        person_id=s["active"].person_id,
        province_code="440000",
        kind="identity",
        title="身份证",
        file="archive/440000/x",
        content_type="image/png",
        size=10,
        sha256="0" * 64,
        uploaded_by=s["reg_old"],
    )
    s["problem"] = ProblemRecord.objects.create(
        kind="suspected_duplicate",
        person_id=s["active"].person_id,
        province_code="440000",
        scope_path=old.org.path,
    )
    return s


def _reload(e):
    return Enrollment.objects.get(pk=e.pk)


def _visible(user):
    user = type(user).objects.get(pk=user.pk)  # fresh grant cache
    return set(Enrollment.objects.filter(scope_q(user)).values_list("pk", flat=True))


def test_merger_moves_every_record_and_archive_in_one_audited_operation(env):
    s = env
    result = school_merge(actor=s["county"], school=s["old"], into=s["new"], reason=REASON)
    assert (result.active_moved, result.former_moved, result.problems_moved) == (2, 1, 1)
    new_path = s["new"].org.path
    for key in ("active", "suspended"):
        e = _reload(s[key])
        assert (e.school_id, e.scope_path, e.is_active) == (s["new"].pk, new_path, True)
    assert _reload(s["suspended"]).status == "02"  # the record moves as it is
    former = _reload(s["former"])
    # History is kept (graduated from the old school), but the successor now manages and finds the record.
    assert (former.school_id, former.scope_path, former.status) == (s["old"].pk, new_path, "07")
    assert ProblemRecord.objects.get(pk=s["problem"].pk).scope_path == new_path
    # The archive travels with the student: its owner's record is now the new school's.
    doc_owner = Enrollment.objects.get(person_id=s["doc"].person_id, is_active=True)
    assert doc_owner.school_id == s["new"].pk
    school = School.objects.select_related("org").get(pk=s["old"].pk)
    assert (school.state, school.successor_id, school.org.is_active) == ("merged", s["new"].pk, False)
    # Findable: the successor's registrar sees all three; the old school's registrar no longer sees any.
    assert _visible(s["reg_new"]) >= {s["active"].pk, s["suspended"].pk, s["former"].pk}
    assert _visible(s["reg_old"]) == set()
    per_student = AuditEvent.objects.filter(event_type="change.bulk", subject_type="student")
    assert sorted(per_student.values_list("subject_id", flat=True)) == sorted(
        str(s[k].person_id) for k in ("active", "suspended", "former")
    )
    ev = per_student.get(subject_id=str(s["active"].person_id))
    assert ev.before == {"school_id": s["old"].pk, "scope_path": s["old"].org.path}
    assert ev.after["school_id"] == s["new"].pk and ev.after["scope_path"] == new_path
    assert ev.after["is_active"] is True and ev.after["enrollment_id"] == str(s["active"].pk)
    ev_former = per_student.get(subject_id=str(s["former"].person_id))
    assert ev_former.after["school_id"] == s["old"].pk and ev_former.after["is_active"] is False
    [summary] = AuditEvent.objects.filter(event_type="change.bulk", subject_type="school")
    assert summary.subject_id == str(s["old"].pk)
    assert summary.after["active_moved"] == 2 and summary.after["former_moved"] == 1
    assert summary.after["reason"] == REASON
    [notice] = Notification.objects.filter(org_unit=s["new"].org)
    assert "海珠旧小已合并" in notice.message


def test_records_of_an_earlier_merger_move_on_with_the_successor(env):
    s = env
    school_merge(actor=s["county"], school=s["old"], into=s["new"], reason=REASON)
    third = f.school("440105", "primary", name="海珠三小")
    result = school_merge(actor=s["county"], school=s["new"], into=third, reason=REASON)
    assert (result.active_moved, result.former_moved) == (2, 1)
    assert _reload(s["former"]).scope_path == third.org.path
    assert _reload(s["active"]).school_id == third.pk


def test_merger_refused_while_requests_are_in_flight(env):
    s = env
    req = change_submit(
        actor=s["reg_old"],
        kind="suspension",
        enrollment=s["active"],
        facts={
            "start_date": "2026-10-08",
            "end_date": "2027-07-01",
            "reason": "illness",
            "applicant_name": "张大明",
        },
        today=date(2026, 9, 24),
    )
    with pytest.raises(Conflict) as exc:
        school_merge(actor=s["county"], school=s["old"], into=s["new"], reason=REASON)
    assert exc.value.code == "requests_in_flight"
    assert exc.value.fields["requests"] == str(req.pk)
    assert _reload(s["active"]).school_id == s["old"].pk
    assert School.objects.get(pk=s["old"].pk).state == "active"
    assert not AuditEvent.objects.filter(event_type="change.bulk").exists()
    # Once it is closed the merger goes through.
    ChangeRequest.objects.filter(pk=req.pk).update(state="cancelled")
    assert school_merge(actor=s["county"], school=s["old"], into=s["new"], reason=REASON).active_moved == 2


def test_merger_refusals(env):
    s = env
    other_county = f.school("440106", "primary", name="天河一小")
    with pytest.raises(NotFound):  # the successor lies outside the county's jurisdiction
        school_merge(actor=s["county"], school=s["old"], into=other_county, reason=REASON)
    with pytest.raises(Forbidden) as exc:  # a school registrar sees the school but may not merge it
        school_merge(actor=s["reg_old"], school=s["old"], into=s["new"], reason=REASON)
    assert exc.value.code == "not_department_registrar"
    with pytest.raises(FieldError) as exc:
        school_merge(actor=s["county"], school=s["old"], into=s["new"], reason="  ")
    assert exc.value.field == "reason"
    with pytest.raises(FieldError) as exc:
        school_merge(actor=s["county"], school=s["old"], into=s["old"], reason=REASON)
    assert exc.value.code == "same_school"
    junior = f.school("440105", "junior", name="海珠一中")
    with pytest.raises(FieldError) as exc:
        school_merge(actor=s["county"], school=s["old"], into=junior, reason=REASON)
    assert exc.value.code == "stage_not_taught"
    point = f.school("440105", "teaching_point", name="海珠教学点", central_school=s["old"])
    with pytest.raises(ApplicationError) as exc:
        school_merge(actor=s["county"], school=s["old"], into=s["new"], reason=REASON)
    assert exc.value.code == "has_teaching_points"
    School.objects.filter(pk=point.pk).update(state="closed")
    assert not AuditEvent.objects.filter(event_type="change.bulk").exists()
    # A city registrar covers both counties.
    city = f.user(Role.DEPT_REGISTRAR, f.dept("440100"))
    school_merge(actor=city, school=s["old"], into=other_county, reason=REASON)
    assert _reload(s["active"]).scope_path == other_county.org.path
    with pytest.raises(Conflict) as exc:
        school_merge(actor=city, school=s["old"], into=s["new"], reason=REASON)
    assert exc.value.code == "school_not_active"
    with pytest.raises(FieldError) as exc:  # a merged school receives nothing
        school_merge(actor=city, school=s["new"], into=s["old"], reason=REASON)
    assert exc.value.code == "school_not_active"


def test_closure_refused_until_active_students_are_placed(env):
    s = env
    with pytest.raises(ApplicationError) as exc:
        school_close(actor=s["county"], school=s["old"], reason=REASON)
    assert exc.value.code == "students_not_placed"
    assert exc.value.fields == {"active_students": "2"}  # the suspended student counts
    assert School.objects.get(pk=s["old"].pk).state == "active"


def test_closure_hands_former_records_to_the_supervising_department(env):
    s = env
    Enrollment.objects.filter(pk__in=[s["active"].pk, s["suspended"].pk]).update(is_active=False, status="10")
    result = school_close(actor=s["county"], school=s["old"], reason=REASON)
    assert (result.active_moved, result.former_moved, result.successor_org_id) == (0, 3, s["haizhu"].pk)
    dept_path = s["haizhu"].path
    for key in ("active", "suspended", "former"):
        e = _reload(s[key])
        assert (e.school_id, e.scope_path) == (s["old"].pk, dept_path)
    school = School.objects.select_related("org").get(pk=s["old"].pk)
    assert (school.state, school.successor_id, school.org.is_active) == ("closed", s["haizhu"].pk, False)
    assert _visible(s["county"]) >= {s["active"].pk, s["suspended"].pk, s["former"].pk}
    assert _visible(s["reg_old"]) == set()
    assert AuditEvent.objects.filter(event_type="change.bulk", subject_type="student").count() == 3
    assert AuditEvent.objects.filter(event_type="change.bulk", subject_type="school").count() == 1


def test_closure_to_a_designated_school_and_custodian_checks(env):
    s = env
    Enrollment.objects.filter(pk__in=[s["active"].pk, s["suspended"].pk]).update(is_active=False, status="10")
    with pytest.raises(NotFound):
        school_close(actor=s["county"], school=s["old"], reason=REASON, custodian=f.dept("440106"))
    with pytest.raises(FieldError) as exc:
        school_close(actor=s["county"], school=s["old"], reason=REASON, custodian=s["old"].org)
    assert exc.value.code == "custodian_inside"
    school_close(actor=s["county"], school=s["old"], reason=REASON, custodian=s["new"].org)
    assert _reload(s["former"]).scope_path == s["new"].org.path
    assert s["former"].pk in _visible(s["reg_new"])
