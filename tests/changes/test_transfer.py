"""转学 (第15条) end to end through the engine."""

from datetime import date

import pytest

from tests.factories import changes as c
from tests.factories import core as f
from xueji.audit.models import AuditEvent
from xueji.changes.models import ApprovalStep, ChangeRequest, Notification
from xueji.changes.services import change_cancel, change_decide, change_resubmit, change_submit
from xueji.core.errors import ApplicationError, Conflict, Forbidden, NotFound
from xueji.students.models import Enrollment, Person

pytestmark = pytest.mark.django_db
DAY = date(2026, 9, 24)


@pytest.fixture
def setup(tree):
    c.calendar()
    src = f.school("440105", "primary", name="海珠一小")
    dst_same = f.school("440105", "primary", name="海珠二小")
    dst_other = f.school("440106", "primary", name="天河一小")
    return {
        "src": src,
        "dst_same": dst_same,
        "dst_other": dst_other,
        "reg_src": f.registrar(src),
        "reg_same": f.registrar(dst_same),
        "reg_other": f.registrar(dst_other),
        "haizhu": c.dept_registrar("440105"),
        "tianhe": c.dept_registrar("440106"),
        "enrollment": c.enrolled(src, grade=3),
    }


def _submit(s, target="dst_same", actor="reg_same", **kw):
    return change_submit(
        actor=s[actor],
        kind="transfer",
        enrollment=s["enrollment"],
        target_school=s[target],
        facts={"class_name": "3班"},
        today=kw.pop("today", DAY),
        **kw,
    )


def test_same_county_chain_and_ten_working_day_clocks(setup):
    req = _submit(setup)
    steps = list(ApprovalStep.objects.filter(request=req))
    assert [(s.party, s.state) for s in steps] == [
        ("target_school", "approved"),
        ("school", "pending"),
        ("school_dept", "waiting"),
    ]
    # 10 working days after 2026-09-24 is 2026-10-15 (National Day holidays skipped, Oct 10 make-up day counted).
    assert (steps[1].due_on, steps[1].due_provisional) == (date(2026, 10, 15), False)
    assert Notification.objects.filter(org_unit=setup["src"].org, request=req).count() == 1


def test_full_transfer_moves_the_record_and_keeps_the_number(setup):
    s = setup
    number = Person.objects.get(pk=s["enrollment"].person_id).student_number
    req = _submit(s, target="dst_other", actor="reg_other")
    assert [st.party for st in ApprovalStep.objects.filter(request=req)] == [
        "target_school",
        "target_dept",
        "school",
        "school_dept",
    ]
    change_decide(actor=s["tianhe"], request=req, action="approve", today=DAY)
    change_decide(actor=s["reg_src"], request=req, action="approve", today=DAY)
    req = change_decide(actor=s["haizhu"], request=req, action="approve", today=DAY)
    assert req.state == "approved"
    old = Enrollment.objects.get(pk=s["enrollment"].pk)
    new = Enrollment.objects.get(person_id=old.person_id, is_active=True)
    assert (old.is_active, old.status) == (False, "10")
    assert (new.school_id, new.grade, new.class_name, new.status) == (s["dst_other"].pk, 3, "3班", "01")
    assert Person.objects.get(pk=old.person_id).student_number == number
    assert req.facts["archive_backup"]["school_id"] == s["src"].pk
    assert AuditEvent.objects.filter(event_type="change.applied").count() == 1


def test_only_the_receiving_school_starts_a_transfer(setup):
    with pytest.raises((Forbidden, NotFound)):
        _submit(setup, actor="reg_src")


def test_blackout_refuses_new_requests(setup):
    with pytest.raises(ApplicationError) as exc:
        _submit(setup, today=date(2026, 7, 20))
    assert exc.value.code == "transfer_blackout"
    assert ChangeRequest.objects.count() == 0


def test_rejection_leaves_the_record_exactly_as_it_was(setup):
    s = setup
    before = Enrollment.objects.filter(pk=s["enrollment"].pk).values().get()
    req = _submit(s)
    req = change_decide(
        actor=s["reg_src"], request=req, action="reject", comment="学生仍在本校就读", today=DAY
    )
    assert req.state == "rejected"
    assert Enrollment.objects.filter(pk=s["enrollment"].pk).values().get() == before
    assert Enrollment.objects.filter(person_id=s["enrollment"].person_id).count() == 1


def test_cancel_restores_and_allows_a_new_request(setup):
    s = setup
    before = Enrollment.objects.filter(pk=s["enrollment"].pk).values().get()
    req = _submit(s)
    with pytest.raises(Conflict):
        _submit(s, target="dst_other", actor="reg_other")
    change_cancel(actor=s["reg_same"], request=req, reason="家长改变主意")
    assert Enrollment.objects.filter(pk=s["enrollment"].pk).values().get() == before
    assert _submit(s, target="dst_other", actor="reg_other").state == "pending"


def test_return_and_resubmit_restart_the_same_step(setup):
    s = setup
    req = _submit(s)
    req = change_decide(actor=s["reg_src"], request=req, action="return", comment="请补充户籍证明", today=DAY)
    assert req.state == "returned"
    req = change_resubmit(actor=s["reg_same"], request=req, today=date(2026, 9, 28))
    step = ApprovalStep.objects.get(request=req, position=1)
    assert (req.state, step.state, step.started_on) == ("pending", "pending", date(2026, 9, 28))


def test_reject_and_return_need_a_comment(setup):
    req = _submit(setup)
    with pytest.raises(ApplicationError) as exc:
        change_decide(actor=setup["reg_src"], request=req, action="reject", today=DAY)
    assert exc.value.code == "required"


def test_wrong_party_cannot_decide(setup):
    s = setup
    req = _submit(s)
    with pytest.raises(Forbidden):
        change_decide(
            actor=s["haizhu"], request=req, action="approve", today=DAY
        )  # county's step comes later
    with pytest.raises(NotFound):
        change_decide(actor=s["tianhe"], request=req, action="approve", today=DAY)


def test_same_decision_twice_has_one_effect(setup):
    s = setup
    req = _submit(s)
    change_decide(actor=s["reg_src"], request=req, action="approve", position=1, today=DAY)
    again = change_decide(actor=s["reg_src"], request=req, action="approve", position=1, today=DAY)
    assert again.current_position == 2
    assert AuditEvent.objects.filter(event_type="change.decided").count() == 1
    with pytest.raises(Conflict):
        change_decide(actor=s["reg_src"], request=req, action="reject", comment="x", position=1, today=DAY)


def test_idempotency_key_replays_the_submission(setup):
    first = _submit(setup, idempotency_key="abc-1")
    second = _submit(setup, idempotency_key="abc-1")
    assert first.pk == second.pk and ChangeRequest.objects.count() == 1
