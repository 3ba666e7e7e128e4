"""Issue #6 §3 leak 2: ID number → current school, nationwide.

第9条/第12条 一人一籍: an identity document enrolled elsewhere is refused. Only a filed registrar registering ONE
student through the single registration (web form, API) learns which school holds it — the receiving school needs
it to start a transfer (第15条) — and that answer is an audited cross-region identity lookup, rate-limited per
account per day. Bulk paths (register_students with many rows, the import dry run and commit) say only
"已在其他学校有学籍，请发起转学".
"""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from tests.factories import core as f
from tests.factories import imports as fi
from tests.factories import students as sf
from xueji.accounts.auth import issue_token
from xueji.audit.models import AuditEvent
from xueji.imports import services as imports
from xueji.imports.models import ImportBatch
from xueji.students.models import Person
from xueji.students.services import RegistrationRejected, register_students

pytestmark = pytest.mark.django_db

HOLDER = "天河区实验小学"  # school_b's name (tests/conftest.py)
GENERIC = "该身份证件号的学生已在其他学校有学籍，请发起转学"


@pytest.fixture
def holder(school_b):
    """A student enrolled at 天河区实验小学; returns (person, their ID number)."""
    registrar_b = f.registrar(school_b, username="reg_holder")
    [done] = register_students(
        actor=registrar_b, school=school_b, registrations=[sf.registration(school_b, name="陈持籍")]
    )
    person = Person.objects.get(pk=done.person_id)
    return person, person.id_number


def lookups() -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(event_type="identity.lookup").order_by("id"))


def test_the_generic_message_names_no_school():
    from xueji.students.services import ENROLLED_ELSEWHERE

    assert GENERIC == ENROLLED_ELSEWHERE
    assert "已在其他学校有学籍，请发起转学" in ENROLLED_ELSEWHERE


def test_bulk_registration_does_not_name_the_holding_school(school_a, registrar_a, holder):
    _person, number = holder
    regs = [
        sf.registration(school_a, name="王新生"),
        sf.registration(school_a, name="陈持籍", id_number=number),
    ]
    with pytest.raises(RegistrationRejected) as exc:
        register_students(actor=registrar_a, school=school_a, registrations=regs)
    [error] = exc.value.errors
    assert (error.index, error.code, error.message) == (1, "student_already_enrolled", GENERIC)
    assert HOLDER not in json.dumps(exc.value.as_dict(), ensure_ascii=False)
    assert lookups() == []


def test_disclosure_is_refused_for_more_than_one_student(school_a, registrar_a, holder):
    _person, number = holder
    regs = [
        sf.registration(school_a, name="王新生"),
        sf.registration(school_a, name="陈持籍", id_number=number),
    ]
    with pytest.raises(RegistrationRejected) as exc:
        register_students(actor=registrar_a, school=school_a, registrations=regs, disclose_holder=True)
    assert exc.value.errors[0].message == GENERIC
    assert lookups() == []


def test_default_single_registration_through_the_service_does_not_name_the_school(
    school_a, registrar_a, holder
):
    _person, number = holder
    with pytest.raises(RegistrationRejected) as exc:
        register_students(
            actor=registrar_a, school=school_a, registrations=[sf.registration(school_a, id_number=number)]
        )
    assert (exc.value.code, exc.value.message) == ("student_already_enrolled", GENERIC)


def test_import_dry_run_does_not_name_the_holding_school(school_a, registrar_a, holder, tmp_path):
    _person, number = holder
    rows = [fi.student_row(), fi.student_row(**{"身份证件号": number})]
    path = fi.write_csv(tmp_path / "a.csv", rows)
    batch = imports.import_batch_create(
        actor=registrar_a, school=school_a, uploaded_file_path=path, file_name=path.name
    )
    imports.import_batch_check(actor=registrar_a, batch=batch)
    batch.refresh_from_db()
    assert batch.status == ImportBatch.Status.INVALID
    assert [(e["row"], e["code"], e["message"]) for e in batch.errors] == [
        (3, "student_already_enrolled", GENERIC)
    ]
    assert HOLDER not in json.dumps(batch.errors, ensure_ascii=False) + batch.message
    assert lookups() == []


def test_import_commit_does_not_name_the_holding_school(school_a, registrar_a, school_b, tmp_path):
    """The dry run was clean; another school registered the same child before the commit."""
    row = fi.student_row()
    path = fi.write_csv(tmp_path / "a.csv", [row])
    batch = imports.import_batch_create(
        actor=registrar_a, school=school_a, uploaded_file_path=path, file_name=path.name
    )
    imports.import_batch_check(actor=registrar_a, batch=batch)
    assert batch.status == ImportBatch.Status.CHECKED
    register_students(
        actor=f.registrar(school_b, username="reg_race"),
        school=school_b,
        registrations=[sf.registration(school_b, name=row["姓名"], id_number=row["身份证件号"])],
    )
    with pytest.raises(imports.ImportAborted):
        imports.import_batch_commit(actor=registrar_a, batch=batch)
    batch.refresh_from_db()
    assert [(e["code"], e["message"]) for e in batch.errors] == [("student_already_enrolled", GENERIC)]
    assert HOLDER not in json.dumps(batch.errors, ensure_ascii=False)


def test_single_web_registration_names_the_school_and_is_an_audited_lookup(
    client, school_a, registrar_a, holder
):
    person, number = holder
    client.force_login(registrar_a)
    response = client.post(
        reverse("students:register"), sf.registration_post(f.person_data(name="陈持籍", id_number=number))
    )
    body = response.content.decode()
    assert response.status_code == 400
    assert 'data-error-code="student_already_enrolled"' in body
    assert HOLDER in body
    [event] = lookups()
    assert (event.actor_id, event.subject_type, event.subject_id, event.success) == (
        registrar_a.pk,
        "student",
        str(person.pk),
        True,
    )
    assert event.after == {"kind": "registration", "outcome": "found"}
    stored = json.dumps([event.summary, event.before, event.after], ensure_ascii=False)
    assert number not in stored and "陈持籍" not in stored and person.student_number not in stored


def test_single_api_registration_names_the_school_then_is_rate_limited_per_day(
    client, settings, school_a, registrar_a, holder
):
    settings.XUEJI_RATE_LIMITS = {"lookup": (1, 86400)}
    person, number = holder
    headers = {"HTTP_AUTHORIZATION": f"Bearer {issue_token(registrar_a)[0]}"}
    body = {
        "school_id": school_a.pk,
        "person": f.person_data(name="陈持籍", id_number=number),
        "enrollment": f.enrollment_data(),
        "guardians": [f.guardian_data()],
    }

    first = client.post("/api/v1/students/", json.dumps(body), content_type="application/json", **headers)
    second = client.post("/api/v1/students/", json.dumps(body), content_type="application/json", **headers)

    assert first.status_code == 409
    assert first.json()["code"] == "student_already_enrolled"
    assert HOLDER in first.json()["message"]
    assert second.status_code == 429
    out = second.json()
    assert set(out) == {"code", "message", "fields"}
    assert (out["code"], out["fields"]) == ("rate_limited", {})
    assert out["message"].startswith("操作过于频繁：跨区域身份查询每天最多 1 次")
    assert HOLDER not in second.content.decode()
    assert [e.subject_id for e in lookups()] == [str(person.pk)]
    assert AuditEvent.objects.filter(event_type="security.rate_limited", actor_id=registrar_a.pk).count() == 1
    assert Person.objects.count() == 1
