"""关键数据变更 (第13条; 第8、9条): validated like registration, no duplicates, approved up the chain, history
kept, the G number follows a corrected resident ID."""

from datetime import date

import pytest
from django.db import connection

from tests.factories import changes as c
from tests.factories import core as f
from xueji.audit.models import AuditEvent, FieldHistory
from xueji.changes.models import ApprovalStep
from xueji.changes.services import change_decide, change_submit
from xueji.core.errors import ApplicationError, Conflict, FieldError
from xueji.students.models import IdentityKey, Person, StudentNumber

pytestmark = pytest.mark.django_db
DAY = date(2026, 9, 24)
BIRTH = date(2018, 3, 14)  # the factory's default birth date


@pytest.fixture
def env(tree):
    c.calendar()
    primary = f.school("440105", "primary", name="海珠一小")
    return {"primary": primary, "reg": f.registrar(primary), "county": c.dept_registrar("440105")}


def _new_id(**kw):
    return f.resident_id(region="440106", birth=kw.pop("birth", BIRTH), seq=kw.pop("seq", 77), **kw)


def _change(env, e, **facts):
    data = {"evidence_ref": "户口簿首页及本人页"}
    data.update(facts)
    return change_submit(actor=env["reg"], kind="key_data_change", enrollment=e, facts=data, today=DAY)


def _approve(env, req):
    return change_decide(actor=env["county"], request=req, action="approve", today=DAY)


def test_name_change_is_approved_up_the_chain_and_history_is_kept(env):
    e = c.enrolled(env["primary"], grade=3, name="张小明")
    req = _change(env, e, name="张晓明")
    assert [(s.party, s.state) for s in ApprovalStep.objects.filter(request=req)] == [
        ("school", "approved"),
        ("school_dept", "pending"),
    ]
    assert Person.objects.get(pk=e.person_id).name == "张小明"  # nothing before the last approval
    req = _approve(env, req)
    assert Person.objects.get(pk=e.person_id).name == "张晓明"
    assert (req.facts["changed"], req.facts["previous"]["name"]) == (["name"], "张小明")
    assert req.before["person"]["name"] == "张小明"
    applied = AuditEvent.objects.get(event_type="change.applied")
    # The audit masks the names (issue #6 §3.3); the record history keeps them.
    assert (applied.before["person"]["name"], applied.after["person"]["name"]) == ("***", "***")
    history = FieldHistory.objects.get(event=applied, field="person.name")
    assert (history.before, history.after) == ("张小明", "张晓明")
    assert applied.after["student_number_changed"] is False


def test_corrected_resident_id_moves_the_g_number_and_the_identity_registry(env):
    e = c.enrolled(env["primary"], grade=3)
    person = Person.objects.get(pk=e.person_id)
    old_id, old_number = person.id_number, person.student_number
    assert old_number == "G" + old_id
    new_id = _new_id()
    req = _approve(env, _change(env, e, id_number=new_id))
    person.refresh_from_db()
    assert (person.id_number, person.student_number) == (new_id, "G" + new_id)
    assert list(StudentNumber.objects.filter(person=person).values_list("number", flat=True)) == [
        StudentNumber.key_for("G" + new_id)
    ]
    assert not StudentNumber.objects.filter(number=StudentNumber.key_for(old_number)).exists()
    assert list(IdentityKey.objects.filter(person=person).values_list("key", flat=True)) == [
        IdentityKey.make_key("1", new_id)
    ]
    assert (req.facts["previous"]["id_number"], req.facts["previous"]["student_number"]) == (
        old_id,
        old_number,
    )
    # Issue 11 §3: the numbers among the facts are sealed in the database, the other facts stay queryable.
    with connection.cursor() as cursor:
        key = req.pk.hex if connection.vendor == "sqlite" else req.pk
        cursor.execute("SELECT CAST(facts AS TEXT) FROM changes_changerequest WHERE id = %s", [key])
        raw = cursor.fetchone()[0]
    assert new_id not in raw and old_id not in raw and '"student_number_follows"' in raw
    applied = AuditEvent.objects.get(event_type="change.applied")
    assert applied.after["student_number_changed"] is True
    assert old_id not in str(applied.before) and new_id not in str(applied.after)  # masked in the audit
    assert applied.before["person"]["student_number"] == "G***"


def test_id_and_birth_date_corrected_together(env):
    e = c.enrolled(env["primary"], grade=3)
    new_birth = date(2018, 4, 2)
    _approve(env, _change(env, e, id_number=_new_id(birth=new_birth), birth_date=new_birth.isoformat()))
    assert Person.objects.get(pk=e.person_id).birth_date == new_birth


def test_birth_date_alone_must_still_agree_with_the_id(env):
    e = c.enrolled(env["primary"], grade=3)
    with pytest.raises(FieldError) as exc:
        _change(env, e, birth_date="2018-04-02")
    assert exc.value.code == "id_birth_mismatch"


def test_identity_held_by_an_enrolled_student_is_refused_with_the_registration_wording(env):
    e = c.enrolled(env["primary"], grade=3)
    other = c.enrolled(f.school("440106", "primary", name="天河一小"), grade=2)
    taken = Person.objects.get(pk=other.person_id).id_number
    with pytest.raises(Conflict) as exc:
        _change(env, e, id_number=taken)
    assert exc.value.code == "student_already_enrolled"
    # Issue #6 §3.2: never which school holds the identity.
    assert exc.value.message == "该身份证件号的学生已在其他学校有学籍，请发起转学"


def test_identity_held_by_a_former_student_is_refused(env):
    senior = f.school("440105", "senior")
    other = c.enrolled(senior, grade=10)
    w = change_submit(
        actor=f.registrar(senior),
        kind="withdrawal",
        enrollment=other,
        facts={"applicant_name": "李四"},
        today=DAY,
    )
    _approve(env, w)
    e = c.enrolled(env["primary"], grade=3)
    with pytest.raises(Conflict) as exc:
        _change(env, e, id_number=Person.objects.get(pk=other.person_id).id_number)
    assert exc.value.code == "id_duplicate"


def test_duplicate_arising_before_the_final_approval_is_refused_then(env):
    e = c.enrolled(env["primary"], grade=3)
    before = Person.objects.filter(pk=e.person_id).values().get()
    new_id = _new_id()
    req = _change(env, e, id_number=new_id)
    c.enrolled(f.school("440106", "primary", name="天河一小"), grade=2, id_number=new_id)
    with pytest.raises(Conflict) as exc:
        _approve(env, req)
    assert exc.value.code == "student_already_enrolled"
    assert Person.objects.filter(pk=e.person_id).values().get() == before
    assert StudentNumber.objects.get(person_id=e.person_id).number == StudentNumber.key_for(
        Person.objects.get(pk=e.person_id).student_number
    )
    req.refresh_from_db()
    assert req.state == "pending"


def test_j_number_stays_when_an_id_is_supplied(env):
    e = c.enrolled(env["primary"], grade=3, id_type="Z", id_number="")
    person = Person.objects.get(pk=e.person_id)
    assert person.student_number.startswith("J")
    new_id = _new_id()
    req = _approve(env, _change(env, e, id_type="1", id_number=new_id))
    person.refresh_from_db()
    assert (person.id_type, person.id_number, person.student_number[0]) == ("1", new_id, "J")
    assert req.facts["student_number_follows"] is False
    assert list(IdentityKey.objects.filter(person=person).values_list("key", flat=True)) == [
        IdentityKey.make_key("1", new_id)
    ]


def test_evidence_is_required(env):
    e = c.enrolled(env["primary"], grade=3)
    with pytest.raises(FieldError) as exc:
        _change(env, e, name="张晓明", evidence_ref="")
    assert exc.value.code == "required"
    assert "户籍证明材料" in exc.value.message


def test_nothing_to_change(env):
    e = c.enrolled(env["primary"], grade=3, name="张小明")
    with pytest.raises(ApplicationError) as exc:
        _change(env, e, name="张小明")
    assert exc.value.code == "no_change"


@pytest.mark.parametrize(
    ("facts", "field", "code"),
    [
        ({"name": ""}, "name", "key_data_invalid"),
        ({"gender": "3"}, "gender", "key_data_invalid"),
        ({"birth_date": "2018-02-30"}, "birth_date", "key_data_invalid"),
    ],
)
def test_new_values_are_validated_like_registration(env, facts, field, code):
    e = c.enrolled(env["primary"], grade=3)
    with pytest.raises(ApplicationError) as exc:
        _change(env, e, **facts)
    assert (exc.value.code, list(exc.value.fields)) == (code, [field])


def test_bad_identity_number_is_refused(env):
    e = c.enrolled(env["primary"], grade=3)
    bad = _new_id()[:-1] + ("0" if _new_id()[-1] != "0" else "1")
    with pytest.raises(FieldError) as exc:
        _change(env, e, id_number=bad)
    assert exc.value.code == "id_checksum"


def test_rejection_leaves_the_person_untouched(env):
    e = c.enrolled(env["primary"], grade=3)
    before = Person.objects.filter(pk=e.person_id).values().get()
    req = _change(env, e, name="张晓明")
    change_decide(actor=env["county"], request=req, action="reject", comment="证明材料不符", today=DAY)
    assert Person.objects.filter(pk=e.person_id).values().get() == before
