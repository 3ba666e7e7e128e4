"""The sending school's copy is frozen at the move (issue #6 §3.5; 第12、15条).

After a transfer the former school and its county see the record as it stood when the pupil left — address,
phone and family as they were — never what the new school records afterwards, and cannot reveal a current
identifier. The new school and its county see the current record.
"""

from __future__ import annotations

import importlib
from datetime import date

import pytest
from django.urls import reverse

from tests.api.conftest import Api
from tests.factories import changes as c
from tests.factories import core as f
from xueji.changes.services import change_decide, change_submit
from xueji.core.errors import NotFound
from xueji.core.masking import mask_phone
from xueji.students.models import Enrollment, EnrollmentSnapshot, Person
from xueji.students.queries import enrollment_get
from xueji.students.records import guardian_add, student_reveal, student_update

pytestmark = pytest.mark.django_db
DAY = date(2026, 9, 24)
OLD_ADDRESS = "广州市海珠区新港中路1号"
NEW_ADDRESS = "广州市天河区天河路385号"
OLD_PHONE = "13800138000"
NEW_PHONE = "13711112222"
NEW_GUARDIAN_PHONE = "13633334444"


@pytest.fixture
def moved(tree):  # type: ignore[no-untyped-def]
    """林小雨 moves from 海珠一小 to 天河一小 (cross-county transfer, fully approved); then 天河一小 records a new
    address, a new phone and a new family member."""
    c.calendar()
    src = f.school("440105", "primary", name="海珠一小")
    dst = f.school("440106", "primary", name="天河一小")
    s = {
        "src": src,
        "dst": dst,
        "reg_src": f.registrar(src),
        "reg_dst": f.registrar(dst),
        "haizhu": c.dept_registrar("440105"),
        "tianhe": c.dept_registrar("440106"),
    }
    old = c.enrolled(src, grade=3, name="林小雨", current_address=OLD_ADDRESS, phone=OLD_PHONE)
    req = change_submit(
        actor=s["reg_dst"],
        kind="transfer",
        enrollment=old,
        target_school=dst,
        facts={"class_name": "3班"},
        today=DAY,
    )
    for who in ("tianhe", "reg_src", "haizhu"):
        req = change_decide(actor=s[who], request=req, action="approve", today=DAY)
    assert req.state == "approved"
    new = Enrollment.objects.select_related("school").get(person_id=old.person_id, is_active=True)
    student_update(
        actor=s["reg_dst"], enrollment=new, changes={"current_address": NEW_ADDRESS, "phone": NEW_PHONE}
    )
    guardian_add(
        actor=s["reg_dst"],
        enrollment=new,
        data={
            "name": "林新监",
            "relation": "2",
            "is_guardian": True,
            "address": NEW_ADDRESS,
            "phone": NEW_GUARDIAN_PHONE,
        },
    )
    s.update(old=Enrollment.objects.get(pk=old.pk), new=new, person=Person.objects.get(pk=old.person_id))
    return s


def test_the_move_freezes_the_former_enrollment(moved):
    snap = EnrollmentSnapshot.objects.get(enrollment_id=moved["old"].pk)
    assert (snap.person["current_address"], snap.person["phone"], snap.backfilled) == (
        OLD_ADDRESS,
        OLD_PHONE,
        False,
    )
    assert [g["name"] for g in snap.guardians] == ["张大明"]
    assert not EnrollmentSnapshot.objects.filter(enrollment_id=moved["new"].pk).exists()


@pytest.mark.parametrize("who", ["reg_src", "haizhu"])
def test_former_school_and_county_see_the_snapshot(moved, who):
    e = enrollment_get(viewer=moved[who], person_id=moved["person"].pk)
    assert (e.pk, e.person.current_address, e.person.phone) == (moved["old"].pk, OLD_ADDRESS, OLD_PHONE)


@pytest.mark.parametrize("who", ["reg_dst", "tianhe"])
def test_new_school_and_county_see_the_current_record(moved, who):
    e = enrollment_get(viewer=moved[who], person_id=moved["person"].pk)
    assert (e.pk, e.person.current_address, e.person.phone) == (moved["new"].pk, NEW_ADDRESS, NEW_PHONE)


@pytest.mark.parametrize("who", ["reg_src", "haizhu"])
@pytest.mark.parametrize("field", ["phone", "id_number", "guardian_phone"])
def test_former_viewers_cannot_reveal_current_identifiers(moved, who, field):
    e = enrollment_get(viewer=moved[who], person_id=moved["person"].pk)
    guardian = moved["person"].guardians.order_by("id").last()
    with pytest.raises(NotFound):
        student_reveal(actor=moved[who], enrollment=e, field=field, guardian_id=guardian.pk)


def test_former_school_detail_api_shows_only_the_snapshot(moved):
    api = Api(moved["reg_src"])
    response = api.get(f"/api/v1/students/{moved['person'].pk}")
    assert response.status_code == 200
    body = response.json()
    assert (body["person"]["current_address"], body["person"]["phone_masked"]) == (
        OLD_ADDRESS,
        mask_phone(OLD_PHONE),
    )
    assert [g["name"] for g in body["guardians"]] == ["张大明"]
    text = response.content.decode()
    for current in (NEW_ADDRESS, "林新监", mask_phone(NEW_PHONE), mask_phone(NEW_GUARDIAN_PHONE)):
        assert current not in text
    for field in ("phone", "id_number"):
        assert api.post(f"/api/v1/students/{moved['person'].pk}/reveal", {"field": field}).status_code == 404


def test_new_school_detail_api_shows_the_current_record(moved):
    body = Api(moved["reg_dst"]).get(f"/api/v1/students/{moved['person'].pk}").json()
    assert body["person"]["current_address"] == NEW_ADDRESS
    assert sorted(g["name"] for g in body["guardians"]) == ["张大明", "林新监"]


def test_former_school_page_shows_only_the_snapshot(moved, client):
    client.force_login(moved["haizhu"])
    response = client.get(reverse("students:detail", args=[moved["person"].pk]))
    assert response.status_code == 200
    text = response.content.decode()
    assert OLD_ADDRESS in text and "张大明" in text and 'data-testid="frozen-notice"' in text
    assert reverse("students:reveal", args=[moved["person"].pk, "phone"]) not in text
    for current in (NEW_ADDRESS, "林新监", mask_phone(NEW_PHONE), mask_phone(NEW_GUARDIAN_PHONE)):
        assert current not in text
    reveal = client.post(reverse("students:reveal", args=[moved["person"].pk, "phone"]))
    assert reveal.status_code == 404
    assert NEW_PHONE not in reveal.content.decode() and OLD_PHONE not in reveal.content.decode()


def test_backfill_freezes_existing_former_enrollments(moved):
    """The data migration snapshots former enrollments that continued elsewhere with the best data there is
    (the current record), marked as back-filled; records still held nowhere else are left alone."""
    from django.apps import apps

    EnrollmentSnapshot.objects.all().delete()
    graduate = c.enrolled(moved["src"], grade=6, name="毕业生")
    Enrollment.objects.filter(pk=graduate.pk).update(is_active=False, status="07")
    migration = importlib.import_module("xueji.students.migrations.0003_enrollment_snapshot_at_move")
    migration.backfill_snapshots(apps, None)
    [snap] = EnrollmentSnapshot.objects.all()
    assert (snap.enrollment_id, snap.backfilled, snap.person["current_address"]) == (
        moved["old"].pk,
        True,
        NEW_ADDRESS,
    )


def test_former_school_list_shows_the_snapshot_not_a_later_name(moved):
    """A name corrected by the new school after the move (here written directly, as the approved 第13条 change
    would) does not reach the former school's list of former pupils."""
    Person.objects.filter(pk=moved["person"].pk).update(name="林晓宇")
    api = Api(moved["reg_src"])
    body = api.get("/api/v1/students/", {"include_inactive": True}).json()
    assert [(i["person_id"], i["name"]) for i in body["items"]] == [(str(moved["person"].pk), "林小雨")]
    assert (
        "林晓宇"
        not in Api(moved["haizhu"]).get("/api/v1/students/", {"include_inactive": True}).content.decode()
    )
