"""Issue #6 §3.3: the audit administrator reads no personal data.

A realistic flow (register, edit, family member, reveal, transfer submit/approve, key-data change, suspension
with a health reason, cancel with a free-text reason, import) must leave no personal value in any audit event —
neither in ``before``/``after`` nor in the summary. The values that changed are kept in the record history,
which only those who may see the student read (404 otherwise).
"""

from __future__ import annotations

import json
from datetime import date

import pytest
from django.test import Client

from tests.factories import changes as c
from tests.factories import core as f
from tests.factories import imports as fi
from tests.factories import students as fs
from xueji.accounts.enums import Role
from xueji.audit import redaction
from xueji.audit.enums import EventType
from xueji.audit.models import APPEND_ONLY, AuditEvent, FieldHistory
from xueji.audit.services import record
from xueji.changes.services import change_cancel, change_decide, change_submit
from xueji.core.errors import ApplicationError, NotFound
from xueji.students.models import Person
from xueji.students.queries import record_history
from xueji.students.records import guardian_add, student_reveal, student_update

pytestmark = pytest.mark.django_db
DAY = date(2026, 9, 24)

NAME, NEW_NAME = "欧阳晓岚", "欧阳晓兰"
GUARDIAN, SECOND_GUARDIAN, APPLICANT = "欧阳建国", "林淑芬", "欧阳监护"
PHONE, NEW_PHONE, GUARDIAN_PHONE = "13812345678", "13987654321", "13711112222"
ADDRESS, NEW_ADDRESS = "广州市海珠区宝岗大道88号3栋", "广州市天河区体育西路9号501"
EMAIL = "ouyang.xiaolan@example.cn"
SPECIALTY = "钢琴十级"
IMPORT_NAME, IMPORT_GUARDIAN, IMPORT_ADDRESS = "司马小雨", "司马大江", "广州市海珠区江南西路7号"
CANCEL_REASON = "家长说孩子哮喘住院，暂缓转学"


@pytest.fixture
def env(tree, settings, tmp_path):
    settings.VAR_DIR = tmp_path / "var"
    c.calendar()
    src = f.school("440105", "primary", name="海珠一小")
    dst = f.school("440105", "primary", name="海珠二小")
    other = f.school("440106", "primary", name="天河一小")
    return {
        "src": src,
        "dst": dst,
        "reg_src": f.registrar(src),
        "reg_dst": f.registrar(dst),
        "reg_other": f.registrar(other),
        "county": c.dept_registrar("440105"),
        "auditor": f.user(Role.AUDIT_ADMIN, f.dept("440000")),
    }


def _flow(env) -> dict[str, str]:
    """Run the flow; return the personal values it used (label → value)."""
    student_id = f.resident_id(birth=date(2018, 5, 20), seq=321)
    new_id = f.resident_id(region="440106", birth=date(2018, 5, 20), seq=77)
    e = fs.student(
        env["src"],
        env["reg_src"],
        name=NAME,
        id_number=student_id,
        birth_date=date(2018, 5, 20),
        phone=PHONE,
        current_address=ADDRESS,
        home_address=ADDRESS,
        mailing_address=ADDRESS,
        guardians=[f.guardian_data(name=GUARDIAN, phone=GUARDIAN_PHONE, address=ADDRESS)],
    )
    number = Person.objects.get(pk=e.person_id).student_number
    student_update(
        actor=env["reg_src"],
        enrollment=e,
        changes={
            "current_address": NEW_ADDRESS,
            "email": EMAIL,
            "phone": NEW_PHONE,
            "specialty": SPECIALTY,
            "health": "20",
            "disability_type": "2",
        },
    )
    guardian_add(
        actor=env["reg_src"],
        enrollment=e,
        data=f.guardian_data(name=SECOND_GUARDIAN, relation="2", phone="13655556666", address=NEW_ADDRESS),
    )
    for field in ("id_number", "student_number", "phone"):
        student_reveal(actor=env["reg_src"], enrollment=e, field=field)

    # 关键数据变更: name and ID number, approved by the county.
    key = change_submit(
        actor=env["reg_src"],
        kind="key_data_change",
        enrollment=e,
        facts={"evidence_ref": "户口簿首页及本人页", "name": NEW_NAME, "id_number": new_id},
        today=DAY,
    )
    change_decide(actor=env["county"], request=key, action="approve", today=DAY)
    new_number = Person.objects.get(pk=e.person_id).student_number

    # 休学 with a health reason and the guardian's name, then withdrawn with a free-text reason.
    suspension = change_submit(
        actor=env["reg_src"],
        kind="suspension",
        enrollment=e,
        facts={
            "start_date": "2026-10-08",
            "end_date": "2027-07-01",
            "reason": "illness",
            "applicant_name": APPLICANT,
        },
        today=DAY,
    )
    change_cancel(actor=env["reg_src"], request=suspension, reason=CANCEL_REASON)

    # 转学 within the county: submitted by the receiving school, approved by the sending school and the county.
    transfer = change_submit(
        actor=env["reg_dst"],
        kind="transfer",
        enrollment=e,
        target_school=env["dst"],
        facts={"class_name": "3班", "reason_text": f"随父{GUARDIAN}工作调动，住{NEW_ADDRESS}"},
        today=DAY,
    )
    change_decide(actor=env["reg_src"], request=transfer, action="approve", today=DAY)
    change_decide(actor=env["county"], request=transfer, action="approve", today=DAY)

    # 批量导入 at the sending school.
    from xueji.imports import services as imports

    row = fi.student_row(
        **{
            "姓名": IMPORT_NAME,
            "家庭成员1姓名": IMPORT_GUARDIAN,
            "现住址": IMPORT_ADDRESS,
            "家庭地址": IMPORT_ADDRESS,
            "通信地址": IMPORT_ADDRESS,
            "联系电话": "13522223333",
        }
    )
    path = fi.write_xlsx(env["tmp"] / "新生.xlsx", [row])
    batch = imports.import_batch_create(
        actor=env["reg_src"], school=env["src"], uploaded_file_path=path, file_name=path.name
    )
    imports.import_batch_check(actor=env["reg_src"], batch=batch)
    imports.import_batch_commit(actor=env["reg_src"], batch=batch)

    return {
        "student name": NAME,
        "new name": NEW_NAME,
        "guardian": GUARDIAN,
        "second guardian": SECOND_GUARDIAN,
        "applicant": APPLICANT,
        "ID": student_id,
        "new ID": new_id,
        "学籍号": number,
        "new 学籍号": new_number,
        "phone": PHONE,
        "new phone": NEW_PHONE,
        "guardian phone": GUARDIAN_PHONE,
        "address": ADDRESS,
        "new address": NEW_ADDRESS,
        "e-mail": EMAIL,
        "specialty": SPECIALTY,
        "cancel reason": CANCEL_REASON,
        "imported name": IMPORT_NAME,
        "imported guardian": IMPORT_GUARDIAN,
        "imported address": IMPORT_ADDRESS,
        "imported ID": row["身份证件号"],
        "imported phone": "13522223333",
        "person": str(e.person_id),
    }


def _payload(ev: AuditEvent) -> str:
    return json.dumps([ev.summary, ev.before, ev.after], ensure_ascii=False)


def test_no_audit_event_of_a_realistic_flow_carries_personal_values(env, tmp_path):
    env["tmp"] = tmp_path
    values = _flow(env)
    person = values.pop("person")
    events = list(AuditEvent.objects.order_by("id"))
    produced = {ev.event_type for ev in events}
    assert {
        EventType.STUDENT_REGISTERED,
        EventType.STUDENT_UPDATED,
        EventType.GUARDIAN_ADDED,
        EventType.STUDENT_REVEALED,
        EventType.CHANGE_SUBMITTED,
        EventType.CHANGE_DECIDED,
        EventType.CHANGE_APPLIED,
        EventType.CHANGE_CANCELLED,
        EventType.IMPORT_COMMITTED,
    } <= produced
    leaks = [
        (ev.event_type, label) for ev in events for label, value in values.items() if value in _payload(ev)
    ]
    assert leaks == []
    # Which fields changed is still said, with the values masked like the UI masks them.
    updated = AuditEvent.objects.get(event_type=EventType.STUDENT_UPDATED, subject_id=person)
    assert sorted(updated.after) == [
        "current_address",
        "disability_type",
        "email",
        "health",
        "phone",
        "specialty",
    ]
    assert (updated.after["current_address"], updated.after["phone"]) == (redaction.MASK, "139****4321")
    applied = AuditEvent.objects.get(
        event_type=EventType.CHANGE_APPLIED, after__changed=["name", "id_number"]
    )
    assert applied.after["person"]["name"] == redaction.MASK
    assert applied.after["person"]["id_number"] == values["new ID"][:3] + "*" * 11 + values["new ID"][-4:]


def test_record_history_keeps_the_values_for_those_who_may_see_the_student(env, tmp_path):
    e = fs.student(env["src"], env["reg_src"], name=NAME, current_address=ADDRESS, phone=PHONE)
    student_update(
        actor=env["reg_src"],
        enrollment=e,
        changes={"current_address": NEW_ADDRESS, "email": EMAIL, "phone": NEW_PHONE},
    )

    rows = list(record_history(viewer=env["reg_src"], person_id=e.person_id))

    event = AuditEvent.objects.get(event_type=EventType.STUDENT_UPDATED)
    assert sorted((r.field, r.before, r.after) for r in rows) == [
        ("current_address", ADDRESS, NEW_ADDRESS),
        ("email", "", EMAIL),
        (
            "phone",
            "138****5678",
            "139****4321",
        ),  # masked on the record page too (full value = audited reveal)
    ]
    assert {(r.event_id, r.actor_id, r.scope_path) for r in rows} == {
        (event.pk, env["reg_src"].pk, env["src"].org.path)
    }
    assert len(list(record_history(viewer=env["county"], person_id=e.person_id))) == 3
    for outsider in (env["reg_other"], env["auditor"], env["reg_dst"]):
        with pytest.raises(NotFound):
            record_history(viewer=outsider, person_id=e.person_id)


def test_record_history_is_append_only(env):
    e = fs.student(env["src"], env["reg_src"])
    student_update(actor=env["reg_src"], enrollment=e, changes={"email": EMAIL})
    row = FieldHistory.objects.get()
    with pytest.raises(ApplicationError) as exc:
        row.save()
    assert exc.value is APPEND_ONLY
    with pytest.raises(ApplicationError):
        FieldHistory.objects.update(after="x")
    from django.db import DatabaseError, connection, transaction

    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE audit_fieldhistory SET after = NULL")
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM audit_fieldhistory")
    assert FieldHistory.objects.get().after == EMAIL


def test_a_new_call_site_cannot_leak_by_accident(env):
    """The service sanitises whatever a caller passes: unknown keys are masked, identifiers keep the UI's shape,
    free text is kept only on organisational events, and numbers in summaries are masked."""
    ev = record(
        event_type=EventType.STUDENT_UPDATED,
        actor=None,
        subject_type="student",
        subject_id="p1",
        summary=f"联系 {PHONE}，证件 440105201805203215，邮箱 {EMAIL}",
        after={
            "guardian_name": GUARDIAN,
            "id_number": "440105201805203215",
            "student_number": "G440105201805203215",
            "nested": {"address": ADDRESS, "grade": 3},
            "reason": "哮喘",
            "grade": 3,
            "flags": [True, "残疾"],
        },
    )
    ev = AuditEvent.objects.get(pk=ev.pk)
    assert ev.after == {
        "guardian_name": "***",
        "id_number": "440***********3215",
        "student_number": "G440105********3215",
        "nested": {"address": "***", "grade": 3},
        "reason": "***",
        "grade": 3,
        "flags": ["***", "***"],
    }
    assert ev.summary == "联系 138****5678，证件 440***********3215，邮箱 ***"
    org = record(
        event_type=EventType.BULK_CHANGE,
        actor=None,
        subject_type="school",
        subject_id=1,
        after={"reason": "撤并"},
    )
    assert AuditEvent.objects.get(pk=org.pk).after == {"reason": "撤并"}


def _api(user) -> tuple:
    from tests.factories import accounts as fa

    c = fa.client()
    token = fa.token(c, user.username).json()["token"]
    return c, {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def test_values_reach_authorised_readers_on_the_page_and_in_the_api_but_not_the_auditor(env):
    e = fs.student(env["src"], env["reg_src"], current_address=ADDRESS)
    student_update(
        actor=env["reg_src"], enrollment=e, changes={"current_address": NEW_ADDRESS, "email": EMAIL}
    )

    # The record page (history tab) and the students API show the values to the school and its county.
    page = Client()
    page.force_login(env["reg_src"])
    html = page.get(f"/students/{e.person_id}/").content.decode()
    assert "信息修改记录" in html and NEW_ADDRESS in html and EMAIL in html
    for reader in (env["reg_src"], env["county"]):
        c, auth = _api(reader)
        items = c.get(f"/api/v1/students/{e.person_id}/history", **auth).json()["items"]
        assert items[0]["event_type"] == "student.updated"
        assert (items[0]["before"], items[0]["after"]) == (
            {"current_address": ADDRESS, "email": ""},
            {"current_address": NEW_ADDRESS, "email": EMAIL},
        )
    c, auth = _api(env["reg_other"])
    assert c.get(f"/api/v1/students/{e.person_id}/history", **auth).status_code == 404

    # The audit administrator sees which fields changed, never the values.
    c, auth = _api(env["auditor"])
    body = c.get("/api/v1/audit/events", {"event_type": "student.updated"}, **auth).json()
    assert [(i["before"], i["after"]) for i in body["items"]] == [
        (
            {"current_address": redaction.MASK, "email": ""},
            {"current_address": redaction.MASK, "email": redaction.MASK},
        )
    ]
    auditor_page = Client()
    auditor_page.force_login(env["auditor"])
    listing = auditor_page.get("/audit/").content.decode()
    assert "修改学籍信息" in listing
    assert ADDRESS not in listing and NEW_ADDRESS not in listing and EMAIL not in listing
