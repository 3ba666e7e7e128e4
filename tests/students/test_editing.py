"""Issue 8 item 2 (第7条): the school edits ordinary fields, non-basic fields (第3条), family members and the
class of its own active records, with before/after history; key fields change only through the key-data change
(第13条); 调班 one by one and in batch, all or nothing; out of scope = 404 and nothing written."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.factories import core as f
from tests.factories import policies as pf
from tests.factories import students as sf
from xueji.audit.enums import EventType
from xueji.audit.models import AuditEvent, FieldHistory
from xueji.core.errors import ApplicationError, Forbidden, NotFound
from xueji.students.edit_forms import raw_value
from xueji.students.models import Enrollment, Guardian, Person
from xueji.students.records import (
    class_assign,
    guardian_remove,
    guardian_update,
    student_edit,
    student_update,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def pupil(school_a, registrar_a):  # type: ignore[no-untyped-def]
    return sf.student(school_a, registrar_a, name="林小雨")


def _form_post(e: Enrollment, **changes: str) -> dict[str, str]:
    """What the edit page posts: every field as pre-filled, with ``changes`` typed over it."""
    response_form = {}
    from xueji.students.edit_forms import StudentEditForm

    form = StudentEditForm(person=e.person, enrollment=e)
    for name, field in form.fields.items():
        response_form[name] = str(form.initial.get(name, field.initial or ""))
    response_form.update(changes)
    return response_form


def test_edit_page_saves_changed_fields_only_with_history(client, pupil, registrar_a) -> None:
    client.force_login(registrar_a)
    url = reverse("students:edit", args=[pupil.person_id])
    page = client.get(url)
    assert page.status_code == 200 and 'name="phone"' in page.content.decode()
    # The phone is masked on the form as on the record (第24条): left empty, it stays.
    assert pupil.person.phone not in page.content.decode() and "138****8000" in page.content.decode()
    assert 'name="name"' not in page.content.decode() and 'name="id_number"' not in page.content.decode()
    response = client.post(url, _form_post(pupil, phone="13912345678", class_name="三(2)班", health="20"))
    assert response.status_code == 302, response.content.decode()[:2000]
    person = Person.objects.get(pk=pupil.person_id)
    assert (person.phone, person.health) == ("13912345678", "20")
    assert Enrollment.objects.get(pk=pupil.pk).class_name == "三(2)班"
    history = {h.field: (h.before, h.after) for h in FieldHistory.objects.filter(subject_id=str(person.pk))}
    assert history["health"] == ("10", "20")
    assert set(history) == {"phone", "health"}  # nothing recorded for fields left as they were
    assert (
        AuditEvent.objects.filter(event_type=EventType.CLASS_ASSIGNED, subject_id=str(person.pk)).count() == 1
    )
    # Saving the unchanged form again writes nothing.
    before = AuditEvent.objects.count()
    client.post(url, _form_post(Enrollment.objects.select_related("person").get(pk=pupil.pk)))
    assert AuditEvent.objects.filter(event_type=EventType.STUDENT_UPDATED).count() == 1
    assert AuditEvent.objects.count() == before


def test_a_bad_field_leaves_the_record_as_it_was(client, pupil, registrar_a) -> None:
    client.force_login(registrar_a)
    url = reverse("students:edit", args=[pupil.person_id])
    response = client.post(url, _form_post(pupil, phone="12", class_name="四(1)班", postal_code="abc"))
    body = response.content.decode()
    assert response.status_code == 400
    assert "联系电话" in body and "邮政编码" in body
    e = Enrollment.objects.select_related("person").get(pk=pupil.pk)
    assert (e.person.phone, e.class_name) == (pupil.person.phone, pupil.class_name)
    assert not FieldHistory.objects.exists()
    bad_class = client.post(url, _form_post(pupil, phone="13912345678", class_name="<b>x</b>"))
    assert bad_class.status_code == 400 and "班级" in bad_class.content.decode()
    assert Person.objects.get(pk=pupil.person_id).phone == pupil.person.phone


def test_key_fields_are_refused_outside_the_key_data_change(pupil, registrar_a) -> None:
    """第13条: 姓名、证件、性别、出生日期 only through the key-data change with approval."""
    for key, value in {
        "name": "林大雨",
        "id_number": "110101201001010011",
        "birth_date": "2017-01-01",
    }.items():
        with pytest.raises(ApplicationError) as exc:
            student_update(actor=registrar_a, enrollment=pupil, changes={key: value})
        assert exc.value.code == "key_field_change"
    assert Person.objects.get(pk=pupil.person_id).name == "林小雨"


@pytest.mark.parametrize("who", ["county", "other_school"])
def test_only_the_schools_registrar_edits(client, pupil, school_b, who) -> None:
    user = f.user("dept_registrar", f.dept("440105")) if who == "county" else f.registrar(school_b)
    client.force_login(user)
    url = reverse("students:edit", args=[pupil.person_id])
    expected = 403 if who == "county" else 404
    assert client.get(url).status_code == expected
    assert client.post(url, _form_post(pupil, phone="13912345678")).status_code == expected
    assert Person.objects.get(pk=pupil.person_id).phone == pupil.person.phone


def test_province_extra_fields_are_edited_and_validated(pupil, registrar_a) -> None:
    """第3条: the non-basic fields of the province's active set, validated like at registration."""
    pf.field_set("440000", active=True)
    with pytest.raises(ApplicationError) as exc:
        student_update(actor=registrar_a, enrollment=pupil, changes={}, extra={"bus_route": "99"})
    assert "extra.bus_route" in exc.value.fields
    student_update(
        actor=registrar_a, enrollment=pupil, changes={}, extra={"bus_route": "01", "siblings": "2"}
    )
    person = Person.objects.get(pk=pupil.person_id)
    assert person.extra["bus_route"] == "01" and person.extra["siblings"] == 2
    assert person.extra_version == 1  # validated against the active set: labelled with its version
    fields = set(FieldHistory.objects.filter(subject_id=str(person.pk)).values_list("field", flat=True))
    assert {"extra.bus_route", "extra.siblings"} <= fields


def test_student_edit_rolls_back_what_was_written_when_a_later_part_fails(pupil, registrar_a, monkeypatch):
    """The ordinary fields are written first; a refusal of the class afterwards undoes them (one transaction)."""
    from xueji.students import records

    def refuse(**_kw):  # type: ignore[no-untyped-def]
        raise ApplicationError("record_inactive", "该学籍已不在本校在读，不能修改")

    monkeypatch.setattr(records, "class_assign", refuse)
    with pytest.raises(ApplicationError):
        student_edit(
            actor=registrar_a,
            enrollment=pupil,
            changes={"phone": "13912345678"},
            extra=None,
            class_name="三(2)班",
            class_number="",
        )
    assert Person.objects.get(pk=pupil.person_id).phone == pupil.person.phone
    assert not FieldHistory.objects.exists()
    assert not AuditEvent.objects.filter(event_type=EventType.STUDENT_UPDATED).exists()


def test_student_edit_is_all_or_nothing(pupil, registrar_a) -> None:
    with pytest.raises(ApplicationError) as exc:
        student_edit(
            actor=registrar_a,
            enrollment=pupil,
            changes={"phone": "13912345678"},
            extra=None,
            class_name="",
            class_number="",
        )
    assert "class_name" in exc.value.fields
    assert Person.objects.get(pk=pupil.person_id).phone == pupil.person.phone


def test_guardian_edit_and_remove_keep_history_and_one_guardian(pupil, registrar_a) -> None:
    [g] = Guardian.objects.filter(person_id=pupil.person_id)
    data = {k: raw_value(getattr(g, k)) for k in ("name", "relation", "is_guardian", "address", "phone")}
    guardian_update(
        actor=registrar_a, enrollment=pupil, guardian_id=g.pk, data={**data, "phone": "13700137000"}
    )
    assert Guardian.objects.get(pk=g.pk).phone == "13700137000"
    [h] = FieldHistory.objects.filter(subject_id=str(pupil.person_id))
    assert h.field == "guardians.1.phone" and h.after.endswith("7000")
    with pytest.raises(ApplicationError):  # no guardian would remain
        guardian_update(
            actor=registrar_a, enrollment=pupil, guardian_id=g.pk, data={**data, "is_guardian": "0"}
        )
    assert Guardian.objects.get(pk=g.pk).is_guardian
    with pytest.raises(ApplicationError) as exc:  # the last family member stays
        guardian_remove(actor=registrar_a, enrollment=pupil, guardian_id=g.pk)
    assert exc.value.code == "last_guardian"
    with pytest.raises(NotFound):
        guardian_update(actor=registrar_a, enrollment=pupil, guardian_id="not-a-uuid", data=data)


def test_guardian_pages(client, pupil, registrar_a) -> None:
    client.force_login(registrar_a)
    [g] = Guardian.objects.filter(person_id=pupil.person_id)
    url = reverse("students:guardian_edit", args=[pupil.person_id, g.pk])
    page = client.get(url)
    assert page.status_code == 200 and g.phone not in page.content.decode()
    assert (
        client.post(
            url,
            {
                **{
                    f"g-{k}": raw_value(getattr(g, k)) for k in ("name", "relation", "is_guardian", "address")
                },
                "g-phone": "",
            },
        ).status_code
        == 302
    )
    assert Guardian.objects.get(pk=g.pk).phone == g.phone  # left empty: unchanged
    data = {
        f"g-{k}": raw_value(getattr(g, k)) for k in ("name", "relation", "is_guardian", "address", "phone")
    }
    assert client.post(url, {**data, "g-phone": "13700137000"}).status_code == 302
    assert Guardian.objects.get(pk=g.pk).phone == "13700137000"
    assert client.post(url, {**data, "g-phone": "1"}).status_code == 400
    remove = client.post(reverse("students:guardian_remove", args=[pupil.person_id, g.pk]))
    assert remove.status_code == 302 and Guardian.objects.filter(pk=g.pk).exists()


def test_batch_class_move_all_or_nothing(client, school_a, school_b, registrar_a) -> None:
    mine = [sf.student(school_a, registrar_a, name=n) for n in ("林小雨", "王小明", "李小红")]
    theirs = sf.student(school_b, f.registrar(school_b), name="赵小刚")
    client.force_login(registrar_a)
    url = reverse("students:class_move")
    ids = [str(e.person_id) for e in mine]
    confirm = client.post(url, {"ids": ids})
    assert confirm.status_code == 200 and "林小雨" in confirm.content.decode()
    done = client.post(url, {"ids": ids, "class_name": "三(5)班"})
    assert done.status_code == 302
    assert set(
        Enrollment.objects.filter(pk__in=[e.pk for e in mine]).values_list("class_name", flat=True)
    ) == {"三(5)班"}
    assert AuditEvent.objects.filter(event_type=EventType.CLASS_ASSIGNED).count() == 3
    # One record out of scope: 404 and nothing moves (the bulk path is no oracle).
    mixed = client.post(url, {"ids": [*ids, str(theirs.person_id)], "class_name": "三(6)班"})
    assert mixed.status_code == 404
    assert not Enrollment.objects.filter(class_name="三(6)班").exists()
    assert client.post(url, {"ids": ["nonsense"], "class_name": "三(6)班"}).status_code == 404


def test_class_move_needs_the_schools_registrar(school_a, registrar_a, pupil) -> None:
    county = f.user("dept_registrar", f.dept("440105"))
    with pytest.raises(Forbidden):
        class_assign(actor=county, enrollments=[pupil], class_name="三(9)班")
    with pytest.raises(ApplicationError):
        class_assign(actor=registrar_a, enrollments=[pupil, pupil], class_name="三(9)班", class_number="7")
    assert class_assign(actor=registrar_a, enrollments=[pupil], class_name=pupil.class_name) == 0
    Enrollment.objects.filter(pk=pupil.pk).update(is_active=False)  # transferred out since the page was shown
    with pytest.raises(ApplicationError):
        class_assign(actor=registrar_a, enrollments=[pupil], class_name="三(9)班")
    assert Enrollment.objects.get(pk=pupil.pk).class_name == pupil.class_name


def test_guardian_identity_is_checked_like_at_registration(pupil, registrar_a) -> None:
    [g] = Guardian.objects.filter(person_id=pupil.person_id)
    data = {k: raw_value(getattr(g, k)) for k in ("name", "relation", "is_guardian", "address", "phone")}
    with pytest.raises(ApplicationError) as exc:
        guardian_update(
            actor=registrar_a,
            enrollment=pupil,
            guardian_id=g.pk,
            data={**data, "id_type": "1", "id_number": "110101198001010000"},
        )
    assert "id_number" in exc.value.fields
    assert Guardian.objects.get(pk=g.pk).id_number == g.id_number


def test_a_foreign_students_latin_former_name_can_be_edited(school_a, registrar_a) -> None:
    """Issue 8 item 3: Latin names only with a foreign identity document — the record's own, on an edit."""
    e = sf.student(
        school_a,
        registrar_a,
        name="John Smith",
        nationality="USA",
        id_type="A",
        id_number="E12345678",
        birthplace_code="440105",
    )
    student_update(actor=registrar_a, enrollment=e, changes={"former_name": "Johnny Smith"})
    assert Person.objects.get(pk=e.person_id).former_name == "Johnny Smith"


def test_a_latin_former_name_is_refused_for_a_resident_id_holder(pupil, registrar_a) -> None:
    with pytest.raises(ApplicationError) as exc:
        student_update(actor=registrar_a, enrollment=pupil, changes={"former_name": "Lin Xiaoyu"})
    assert "former_name" in exc.value.fields
