"""Students API behaviour: register → list → detail → edit → reveal, validation, duplicates (第9条), mass
assignment (security.md test 11), masking, family, archive (第6条), problem records (第9条), history."""

from __future__ import annotations

from typing import Any

import pytest
from django.forms.models import model_to_dict
from django.test import Client

from tests.api.conftest import PDF, World, pdf_upload
from tests.factories import core as f
from xueji.audit.enums import EventType
from xueji.audit.models import AuditEvent
from xueji.audit.services import record
from xueji.students.models import Enrollment, Guardian, IdentityKey, Person, ProblemRecord, StudentNumber


def _registration(world: World, **person: Any) -> dict[str, Any]:
    return {
        "school_id": world.school_a.pk,
        "person": f.person_data(**person),
        "enrollment": f.enrollment_data(),
        "guardians": [f.guardian_data()],
    }


def _counts() -> tuple[int, ...]:
    return (
        Person.objects.count(),
        Enrollment.objects.count(),
        Guardian.objects.count(),
        IdentityKey.objects.count(),
        StudentNumber.objects.count(),
        ProblemRecord.objects.count(),
    )


def _snapshot(person: Person) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    fresh = Person.objects.get(pk=person.pk)
    return model_to_dict(fresh) | {"updated_at": fresh.updated_at}, [
        model_to_dict(e) for e in Enrollment.objects.filter(person=person).order_by("pk")
    ]


# --- the happy path -----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_register_list_detail_patch_reveal(world: World) -> None:
    api = world.api("registrar_a")
    body = _registration(world, name="陈新生")
    id_number = body["person"]["id_number"]

    created = api.post("/api/v1/students/", body)
    assert created.status_code == 201
    out = created.json()
    assert out == {
        "person_id": out["person_id"],
        "student_number": "G" + id_number,
        "suspected_duplicate": False,
    }
    pid = out["person_id"]

    listed = api.get("/api/v1/students/", {"q": "陈新生"})
    assert listed.status_code == 200
    [item] = listed.json()["items"]
    assert listed.json()["count"] == 1
    assert item["person_id"] == pid
    assert item["student_number_masked"] == "G44" + "*" * 12 + id_number[-4:]
    assert item["id_number_masked"] == id_number[:3] + "*" * 11 + id_number[-4:]
    assert id_number not in listed.content.decode()

    detail = api.get(f"/api/v1/students/{pid}")
    assert detail.status_code == 200
    d = detail.json()
    assert d["student_number"] == "G" + id_number
    assert d["person"]["name"] == "陈新生"
    assert d["person"]["id_number_masked"] == id_number[:3] + "*" * 11 + id_number[-4:]
    assert d["person"]["phone_masked"] == "138****8000"
    assert "id_number" not in d["person"] and "phone" not in d["person"]
    assert [g["phone_masked"] for g in d["guardians"]] == ["139****9000"]
    assert d["enrollment"]["grade"] == 1
    assert d["enrollment"]["status"] == "01"
    assert d["enrollment"]["school_id"] == world.school_a.pk
    assert d["archive"] == []
    assert (
        AuditEvent.objects.filter(
            event_type=EventType.STUDENT_VIEWED, subject_id=pid, actor=world.users["registrar_a"]
        ).count()
        == 1
    )

    patched = api.patch(
        f"/api/v1/students/{pid}", {"current_address": "广州市海珠区江南大道中100号", "phone": "13700137000"}
    )
    assert patched.status_code == 200
    assert patched.json()["changed"] == ["current_address", "phone"]
    assert patched.json()["person"]["phone_masked"] == "137****7000"
    person = Person.objects.get(pk=pid)
    assert (person.current_address, person.phone) == ("广州市海珠区江南大道中100号", "13700137000")
    assert AuditEvent.objects.filter(event_type=EventType.STUDENT_UPDATED, subject_id=pid).count() == 1

    revealed = api.post(f"/api/v1/students/{pid}/reveal", {"field": "id_number"})
    assert revealed.status_code == 200
    assert revealed.json() == {"field": "id_number", "value": id_number}
    assert AuditEvent.objects.filter(event_type=EventType.STUDENT_REVEALED, subject_id=pid).count() == 1


# --- registration errors --------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_missing_fields_are_chinese_field_errors_and_nothing_is_written(world: World) -> None:
    before = _counts()
    body = _registration(world)
    del body["person"]["name"]
    body["guardians"] = []

    response = world.api("registrar_a").post("/api/v1/students/", body)

    assert response.status_code == 400
    out = response.json()
    assert out["code"] == "registration_invalid"
    assert out["fields"] == {"name": "姓名为必填项", "guardians": "至少填写一名家庭成员（监护人）"}
    assert _counts() == before


@pytest.mark.django_db
def test_bad_identity_checksum_is_a_field_error(world: World) -> None:
    body = _registration(world)
    number = body["person"]["id_number"]
    body["person"]["id_number"] = number[:-1] + ("0" if number[-1] != "0" else "1")

    response = world.api("registrar_a").post("/api/v1/students/", body)

    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"id_number"}


@pytest.mark.django_db
def test_grade_outside_the_schools_stages_is_refused(world: World) -> None:
    body = _registration(world)
    body["enrollment"]["grade"] = 7  # a JSON number; school_a is a primary school

    response = world.api("registrar_a").post("/api/v1/students/", body)

    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"grade"}


@pytest.mark.django_db
def test_json_booleans_are_accepted_for_flags(world: World) -> None:
    body = _registration(world, only_child=True, orphan=False)
    body["guardians"][0]["is_guardian"] = True

    response = world.api("registrar_a").post("/api/v1/students/", body)

    assert response.status_code == 201
    person = Person.objects.get(pk=response.json()["person_id"])
    assert (person.only_child, person.orphan) == (True, False)


@pytest.mark.django_db
def test_duplicate_registration_is_409_naming_the_other_school(world: World) -> None:
    """第9条/第12条 一人一籍: 天河区's school cannot open a second record for 海珠区's student."""
    before = _counts()
    body = {
        "school_id": world.school_b.pk,
        "enrollment": f.enrollment_data(),
        "guardians": [f.guardian_data()],
        "person": f.person_data(name="李小红", gender="2", id_number=world.student.id_number),
    }

    response = world.api("registrar_b").post("/api/v1/students/", body)

    assert response.status_code == 409
    out = response.json()
    assert out["code"] == "student_already_enrolled"
    assert set(out["fields"]) == {"id_number"}
    assert "海珠区第一小学" in out["message"]
    assert "海珠区第一小学" in out["fields"]["id_number"]
    assert _counts() == before


@pytest.mark.django_db
def test_student_without_identity_number_matching_another_is_flagged(world: World) -> None:
    body = _registration(world, name="王无证", id_type="Z", id_number="")

    response = world.api("registrar_a").post("/api/v1/students/", body)

    assert response.status_code == 201
    assert response.json()["suspected_duplicate"] is True
    assert response.json()["student_number"].startswith("J440105")


@pytest.mark.django_db
def test_undefined_province_field_in_extra_is_refused(world: World) -> None:
    body = _registration(world) | {"extra": {"shoe_size": "36"}}

    response = world.api("registrar_a").post("/api/v1/students/", body)

    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"extra.shoe_size"}


@pytest.mark.django_db
def test_registrar_cannot_register_at_another_school(world: World) -> None:
    body = _registration(world) | {"school_id": world.school_b.pk}

    response = world.api("registrar_a").post("/api/v1/students/", body)

    assert response.status_code == 404


# --- mass assignment (security.md test 11) --------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("where", "key", "value"),
    [
        ("person", "student_number", "G440105201803140010"),
        ("person", "province_code", "110000"),
        ("person", "extra_version", 7),
        ("enrollment", "status", "07"),
        ("enrollment", "school_id", 1),
        ("enrollment", "is_active", False),
        ("enrollment", "scope_path", "/1/"),
        ("enrollment", "archive_due", "2030-01-01"),
        ("top", "status", "07"),
        ("top", "province_code", "110000"),
        ("top", "is_staff", True),
        ("guardian", "person_id", "00000000-0000-0000-0000-000000000000"),
    ],
)
def test_register_refuses_smuggled_fields(world: World, where: str, key: str, value: Any) -> None:
    before = _counts()
    body = _registration(world)
    target = {
        "person": body["person"],
        "enrollment": body["enrollment"],
        "top": body,
        "guardian": body["guardians"][0],
    }[where]
    target[key] = value

    response = world.api("registrar_a").post("/api/v1/students/", body)

    assert response.status_code == 422
    assert response.json()["code"] == "invalid_input"
    assert len(response.json()["fields"]) == 1
    assert _counts() == before


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("student_number", "G110101201803140011"),
        ("status", "07"),
        ("school", 1),
        ("school_id", 1),
        ("province_code", "110000"),
        ("is_active", False),
        ("scope_path", "/1/"),
        ("extra", {"x": 1}),
        ("extra_version", 3),
        ("id", "00000000-0000-0000-0000-000000000000"),
        ("created_at", "2020-01-01T00:00:00Z"),
        ("is_staff", True),
        ("is_superuser", True),
    ],
)
def test_patch_refuses_fields_that_are_not_editable(world: World, key: str, value: Any) -> None:
    before = _snapshot(world.student)

    response = world.api("registrar_a").patch(f"/api/v1/students/{world.student.pk}", {key: value})

    assert response.status_code == 400
    assert response.json()["code"] == "unknown_fields"
    assert response.json()["fields"] == {key: "未知字段"}
    assert _snapshot(world.student) == before


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("name", "李大红"),
        ("gender", "1"),
        ("birth_date", "2018-03-15"),
        ("id_type", "A"),
        ("id_number", "E12345678"),
    ],
)
def test_patch_refuses_key_fields(world: World, key: str, value: str) -> None:
    """第13条: key data changes only through the change flow."""
    before = _snapshot(world.student)

    response = world.api("registrar_a").patch(f"/api/v1/students/{world.student.pk}", {key: value})

    assert response.status_code == 400
    assert response.json()["code"] == "key_field_change"
    assert set(response.json()["fields"]) == {key}
    assert _snapshot(world.student) == before


@pytest.mark.django_db
def test_patch_with_one_bad_key_writes_nothing(world: World) -> None:
    before = _snapshot(world.student)

    response = world.api("registrar_a").patch(
        f"/api/v1/students/{world.student.pk}", {"current_address": "别处", "status": "07"}
    )

    assert response.status_code == 400
    assert _snapshot(world.student) == before


@pytest.mark.django_db
def test_patch_validates_values(world: World) -> None:
    response = world.api("registrar_a").patch(f"/api/v1/students/{world.student.pk}", {"phone": "12345"})

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_input"
    assert set(response.json()["fields"]) == {"phone"}


@pytest.mark.django_db
def test_empty_patch_is_refused(world: World) -> None:
    response = world.api("registrar_a").patch(f"/api/v1/students/{world.student.pk}", {})

    assert response.status_code == 400
    assert response.json()["code"] == "no_changes"


# --- list -----------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_list_is_scoped_and_filtered(world: World) -> None:
    province = world.api("province_gd")
    county = world.api("county_a")

    assert province.get("/api/v1/students/").json()["count"] == 4
    assert county.get("/api/v1/students/").json()["count"] == 3
    assert county.get("/api/v1/students/", {"school_id": world.school_b.pk}).json()["count"] == 0
    assert province.get("/api/v1/students/", {"school_id": world.school_b.pk}).json()["count"] == 1
    assert county.get("/api/v1/students/", {"q": "王无"}).json()["count"] == 2
    assert county.get("/api/v1/students/", {"q": world.student.student_number}).json()["count"] == 1
    assert county.get("/api/v1/students/", {"q": world.student.id_number}).json()["count"] == 1
    assert county.get("/api/v1/students/", {"q": world.student.id_number[:10]}).json()["count"] == 0
    assert county.get("/api/v1/students/", {"grade": 2}).json()["count"] == 0
    assert county.get("/api/v1/students/", {"class_name": "1班"}).json()["count"] == 3
    assert county.get("/api/v1/students/", {"status": "07"}).json()["count"] == 0


@pytest.mark.django_db
def test_list_pages(world: World) -> None:
    api = world.api("county_a")

    first = api.get("/api/v1/students/", {"page_size": 2}).json()
    second = api.get("/api/v1/students/", {"page_size": 2, "page": 2}).json()

    assert (first["count"], first["page"], first["page_size"], len(first["items"])) == (3, 1, 2, 2)
    assert (second["count"], second["page"], len(second["items"])) == (3, 2, 1)
    ids = {i["person_id"] for i in first["items"]} | {i["person_id"] for i in second["items"]}
    assert len(ids) == 3


@pytest.mark.django_db
@pytest.mark.parametrize("params", [{"page_size": 0}, {"page_size": 201}, {"page": 0}, {"grade": 13}])
def test_list_bounds(world: World, params: dict[str, int]) -> None:
    response = world.api("county_a").get("/api/v1/students/", params)

    assert response.status_code == 422
    assert set(response.json()["fields"]) == set(params)


@pytest.mark.django_db
def test_list_never_carries_full_identifiers(world: World) -> None:
    response = world.api("county_a").get("/api/v1/students/")
    body = response.content.decode()

    assert response.status_code == 200
    assert str(world.student.pk) in body  # the student is listed, only masked
    assert world.student.student_number not in body
    assert world.student.id_number not in body
    assert world.student.phone not in body


# --- reveal, family, archive ------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("field", ["name", "home_address", ""])
def test_reveal_only_identifiers(world: World, field: str) -> None:
    response = world.api("registrar_a").post(f"/api/v1/students/{world.student.pk}/reveal", {"field": field})

    assert response.status_code == 400
    assert response.json()["code"] == "not_revealable"
    assert not AuditEvent.objects.filter(event_type=EventType.STUDENT_REVEALED).exists()


@pytest.mark.django_db
def test_add_guardian(world: World) -> None:
    response = world.api("registrar_a").post(
        f"/api/v1/students/{world.student.pk}/guardians",
        f.guardian_data(name="李妈妈", relation="2", phone="13600136000"),
    )

    assert response.status_code == 201
    assert response.json()["phone_masked"] == "136****6000"
    assert sorted(world.student.guardians.values_list("name", flat=True)) == ["张大明", "李妈妈"]


@pytest.mark.django_db
def test_add_guardian_validates(world: World) -> None:
    response = world.api("registrar_a").post(
        f"/api/v1/students/{world.student.pk}/guardians", f.guardian_data(phone="abc", relation="")
    )

    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"phone", "relation"}
    assert world.student.guardians.count() == 1


@pytest.mark.django_db
def test_archive_upload_by_content_and_complete(world: World) -> None:
    api = world.api("registrar_a")
    url = f"/api/v1/students/{world.student.pk}/archive"

    png = api.upload(
        url,
        {"file": pdf_upload("photo.pdf", b"\x89PNG\r\n\x1a\n" + b"0" * 32), "kind": "photo", "title": "照片"},
    )
    fake = api.upload(url, {"file": pdf_upload("note.pdf", b"just text"), "kind": "other", "title": "说明"})
    bad_kind = api.upload(url, {"file": pdf_upload(), "kind": "passport", "title": "护照"})
    no_title = api.upload(url, {"file": pdf_upload(), "kind": "identity"})

    assert png.status_code == 201
    assert (png.json()["content_type"], png.json()["kind_label"]) == ("image/png", "照片")
    assert (fake.status_code, fake.json()["code"]) == (400, "file_type")
    assert (bad_kind.status_code, bad_kind.json()["code"]) == (400, "invalid_kind")
    assert (no_title.status_code, no_title.json()["fields"]) == (400, {"title": "材料名称为必填项"})
    assert world.student.archive_documents.count() == 2  # the fixture's 户口簿 and the photo

    done = api.post(f"/api/v1/students/{world.student.pk}/archive/complete")
    again = api.post(f"/api/v1/students/{world.student.pk}/archive/complete")

    assert done.status_code == 200
    assert done.json()["overdue"] is False
    assert (again.status_code, again.json()["code"]) == (400, "archive_already_complete")


@pytest.mark.django_db
def test_archive_upload_size_limit(world: World, settings: Any) -> None:
    settings.ARCHIVE_MAX_BYTES = len(PDF) - 1

    response = world.api("registrar_a").upload(
        f"/api/v1/students/{world.student.pk}/archive",
        {"file": pdf_upload(), "kind": "identity", "title": "身份证"},
    )

    assert (response.status_code, response.json()["code"]) == (400, "file_too_large")


@pytest.mark.django_db
def test_archive_cannot_complete_empty(world: World) -> None:
    response = world.api("registrar_b").post(f"/api/v1/students/{world.student_b.pk}/archive/complete")

    assert (response.status_code, response.json()["code"]) == (400, "archive_empty")


@pytest.mark.django_db
def test_detail_lists_archive_metadata_not_files(world: World) -> None:
    d = world.api("county_a").get(f"/api/v1/students/{world.student.pk}").json()

    [doc] = d["archive"]
    assert (doc["kind"], doc["title"], doc["content_type"], doc["size"]) == (
        "household",
        "户口簿",
        "application/pdf",
        len(PDF),
    )
    assert set(doc) == {"id", "kind", "kind_label", "title", "content_type", "size", "sha256", "uploaded_at"}


# --- problems (第9条) -------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_county_resolves_a_suspected_duplicate(world: World) -> None:
    api = world.api("county_a")
    [item] = api.get("/api/v1/students/problems").json()["items"]
    assert (item["id"], item["kind"], item["person_name"]) == (
        str(world.problem.pk),
        "suspected_duplicate",
        "王无证",
    )

    response = api.post(
        f"/api/v1/students/problems/{world.problem.pk}/resolve",
        {"outcome": "distinct", "note": "两名学生，已核实"},
    )
    again = api.post(
        f"/api/v1/students/problems/{world.problem.pk}/resolve", {"outcome": "distinct", "note": "再次"}
    )

    assert response.status_code == 200
    assert (response.json()["state"], response.json()["resolution_note"]) == ("distinct", "两名学生，已核实")
    assert (again.status_code, again.json()["code"]) == (400, "problem_closed")
    assert api.get("/api/v1/students/problems").json()["count"] == 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "field"),
    [({"outcome": "merged", "note": "x"}, "outcome"), ({"outcome": "distinct", "note": " "}, "note")],
)
def test_problem_resolution_is_validated(world: World, body: dict[str, str], field: str) -> None:
    response = world.api("county_a").post(f"/api/v1/students/problems/{world.problem.pk}/resolve", body)

    assert response.status_code == 400
    assert set(response.json()["fields"]) == {field}
    world.problem.refresh_from_db()
    assert world.problem.state == "open"


# --- history ------------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_history_shows_changes_not_views(world: World) -> None:
    api = world.api("registrar_a")
    api.get(f"/api/v1/students/{world.student.pk}")
    api.patch(f"/api/v1/students/{world.student.pk}", {"specialty": "书法"})

    history = api.get(f"/api/v1/students/{world.student.pk}/history").json()

    assert [i["event_type"] for i in history["items"]] == [
        "student.updated",
        "archive.attached",
        "student.registered",
    ]
    assert history["items"][0]["after"] == {"specialty": "书法"}
    assert history["items"][0]["event_label"] == "修改学籍信息"


@pytest.mark.django_db
def test_history_is_scoped_to_the_viewers_subtree(world: World) -> None:
    """Events about the student recorded at another county (say, before a transfer) stay with that county."""
    record(
        event_type=EventType.STUDENT_UPDATED,
        actor=None,
        subject_type="student",
        subject_id=world.student.pk,
        org_unit_id=world.school_b.pk,
        province_code="440000",
        summary="在天河区时的修改",
    )

    county = world.api("county_a").get(f"/api/v1/students/{world.student.pk}/history").json()
    province = world.api("province_gd").get(f"/api/v1/students/{world.student.pk}/history").json()

    assert "在天河区时的修改" not in [i["summary"] for i in county["items"]]
    assert "在天河区时的修改" in [i["summary"] for i in province["items"]]
    assert province["count"] == county["count"] + 1


@pytest.mark.django_db
def test_former_student_stays_visible_to_the_level_that_held_them(world: World) -> None:
    Enrollment.objects.filter(person=world.student).update(is_active=False, status="10")
    api = world.api("registrar_a")

    assert api.get("/api/v1/students/", {"q": "李小红"}).json()["count"] == 0
    assert api.get("/api/v1/students/", {"q": "李小红", "include_inactive": "true"}).json()["count"] == 1
    assert api.get(f"/api/v1/students/{world.student.pk}").status_code == 200
    patch = api.patch(f"/api/v1/students/{world.student.pk}", {"specialty": "书法"})
    assert (patch.status_code, patch.json()["code"]) == (400, "record_inactive")


@pytest.mark.django_db
def test_unfiled_registrar_is_told_to_file_first(world: World) -> None:
    """第22条 先培训后上岗."""
    from xueji.accounts.enums import Role

    unfiled = f.user(Role.SCHOOL_REGISTRAR, world.school_a.org, filed=False)
    client = Client()
    client.force_login(unfiled)

    response = client.get("/api/v1/students/")

    assert response.status_code == 403
    assert response.json()["code"] == "registrar_not_filed"
