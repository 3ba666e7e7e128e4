"""Worklists: days left in working days, overdue escalates to the level above (第15条; 第5、26条)."""

from datetime import date

import pytest

from tests.factories import changes as c
from tests.factories import core as f
from xueji.changes.queries import change_get, notifications_for, timeline, transfer_lookup, worklist
from xueji.changes.services import change_submit
from xueji.core.errors import NotFound
from xueji.students.models import Person

pytestmark = pytest.mark.django_db
DAY = date(2026, 9, 24)


@pytest.fixture
def pending(tree):
    c.calendar()
    src, dst = f.school("440105", "primary"), f.school("440105", "primary")
    reg_src, reg_dst = f.registrar(src), f.registrar(dst)
    e = c.enrolled(src, grade=3)
    person = Person.objects.get(pk=e.person_id)
    found = transfer_lookup(student_number=person.student_number, name=person.name)
    req = change_submit(
        actor=reg_dst,
        kind="transfer",
        enrollment=found,
        target_school=dst,
        facts={"class_name": "1班"},
        today=DAY,
    )
    return {"req": req, "reg_src": reg_src, "reg_dst": reg_dst, "src": src, "person": person}


def test_sending_school_sees_days_left(pending):
    [item] = worklist(viewer=pending["reg_src"], today=date(2026, 10, 13))
    assert (item.step.party, item.days_left, item.overdue, item.escalated) == ("school", 2, False, False)


def test_overdue_step_escalates_to_county_and_province(pending):
    late = date(2026, 10, 19)  # two working days after the 2026-10-15 deadline
    [item] = worklist(viewer=pending["reg_src"], today=late)
    assert (item.days_left, item.overdue) == (-2, True)
    county, province = c.dept_registrar("440105"), c.dept_registrar("440000")
    for viewer in (county, province):
        [esc] = worklist(viewer=viewer, today=late)
        assert (esc.escalated, esc.overdue, esc.step.pk) == (True, True, item.step.pk)
    assert worklist(viewer=county, today=date(2026, 10, 14)) == []
    assert worklist(viewer=c.dept_registrar("440106"), today=late) == []


def test_both_sides_see_the_request_and_outsiders_do_not(pending):
    req = pending["req"]
    assert change_get(viewer=pending["reg_src"], request_id=req.pk) == req
    assert change_get(viewer=pending["reg_dst"], request_id=req.pk) == req
    with pytest.raises(NotFound):
        change_get(viewer=f.registrar(f.school("440106", "primary")), request_id=req.pk)
    assert [r.pk for r in timeline(viewer=pending["reg_src"], person_id=pending["person"].pk)] == [req.pk]


def test_notification_lands_on_the_acting_school(pending):
    [note] = notifications_for(viewer=pending["reg_src"])
    assert note.request_id == pending["req"].pk
    assert list(notifications_for(viewer=pending["reg_dst"])) == []


def test_transfer_lookup_needs_number_and_name(pending):
    with pytest.raises(NotFound):
        transfer_lookup(student_number=pending["person"].student_number, name="别人")
