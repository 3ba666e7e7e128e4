"""The engine's own refusals (xueji/changes/services.py), independent of any kind's rules: unknown kinds,
idempotent submissions, the record's state, who may resubmit, cancel or clear, and what each leaves behind."""

from datetime import date

import pytest

from tests.factories import changes as c
from tests.factories import core as f
from xueji.changes.models import ChangeRequest
from xueji.changes.services import (
    change_cancel,
    change_decide,
    change_resubmit,
    change_submit,
    clear_pending_business,
)
from xueji.changes.workflow import RequestState
from xueji.core.errors import ApplicationError, FieldError, Forbidden, NotFound
from xueji.students.enums import StudentStatus

pytestmark = pytest.mark.django_db
DAY = date(2026, 9, 24)
SUSPENSION = {
    "start_date": "2026-09-24",
    "end_date": "2027-07-01",
    "reason": "illness",
    "applicant_name": "张大明",
}


@pytest.fixture
def env(tree):
    c.calendar()
    primary = f.school("440105", "primary")
    return {
        "primary": primary,
        "reg": f.registrar(primary),
        "county": c.dept_registrar("440105"),
        "other_county": c.dept_registrar("440106"),
    }


def _suspend(env, enrollment, **kwargs):
    return change_submit(
        actor=env["reg"],
        kind="suspension",
        enrollment=enrollment,
        facts=dict(SUSPENSION),
        today=DAY,
        **kwargs,
    )


def test_unknown_kind_names_the_field_and_creates_nothing(env):
    e = c.enrolled(env["primary"], grade=4)
    with pytest.raises(FieldError) as exc:
        change_submit(actor=env["reg"], kind="teleport", enrollment=e, facts={}, today=DAY)
    assert (exc.value.field, exc.value.code) == ("kind", "unknown_kind")
    assert not ChangeRequest.objects.exists()


def test_same_idempotency_key_returns_the_first_request(env):
    e = c.enrolled(env["primary"], grade=4)
    first = _suspend(env, e, idempotency_key="k-1")
    again = _suspend(env, e, idempotency_key="k-1")
    assert again.pk == first.pk
    assert ChangeRequest.objects.count() == 1


def test_idempotency_key_reused_for_another_kind_is_422(env):
    e = c.enrolled(env["primary"], grade=4)
    _suspend(env, e, idempotency_key="k-2")
    with pytest.raises(ApplicationError) as exc:
        change_submit(
            actor=env["reg"],
            kind="death",
            enrollment=e,
            facts={"date_of_death": "2026-09-20"},
            idempotency_key="k-2",
            today=DAY,
        )
    assert (exc.value.code, exc.value.status) == ("idempotency_key_reused", 422)
    assert ChangeRequest.objects.count() == 1


def test_a_kind_about_a_record_needs_the_record(env):
    with pytest.raises(FieldError) as exc:
        change_submit(actor=env["reg"], kind="suspension", facts=dict(SUSPENSION), today=DAY)
    assert (exc.value.field, exc.value.code) == ("enrollment", "required")
    assert not ChangeRequest.objects.exists()


def test_a_record_no_longer_active_is_refused(env):
    e = c.enrolled(env["primary"], grade=4)
    e.is_active = False
    e.status = StudentStatus.TRANSFERRED_OUT
    e.save(update_fields=["is_active", "status"])
    with pytest.raises(ApplicationError) as exc:
        _suspend(env, e)
    assert exc.value.code == "record_inactive"
    assert not ChangeRequest.objects.exists()


def test_only_a_returned_request_is_resubmitted(env):
    e = c.enrolled(env["primary"], grade=4)
    req = _suspend(env, e)
    with pytest.raises(ApplicationError) as exc:
        change_resubmit(actor=env["reg"], request=req, today=DAY)
    assert exc.value.code == "illegal_action"
    req.refresh_from_db()
    assert req.state == RequestState.PENDING


def test_resubmission_by_someone_else_in_scope_is_forbidden_and_out_of_scope_is_404(env):
    e = c.enrolled(env["primary"], grade=4)
    req = _suspend(env, e)
    change_decide(actor=env["county"], request=req, action="return", comment="补充材料", today=DAY)
    with pytest.raises(Forbidden):
        change_resubmit(actor=env["county"], request=req, today=DAY)
    with pytest.raises(NotFound):
        change_resubmit(actor=env["other_county"], request=req, today=DAY)
    req.refresh_from_db()
    assert req.state == RequestState.RETURNED


def test_a_decided_request_cannot_be_cancelled(env):
    e = c.enrolled(env["primary"], grade=4)
    req = _suspend(env, e)
    change_decide(actor=env["county"], request=req, action="approve", today=DAY)
    with pytest.raises(ApplicationError) as exc:
        change_cancel(actor=env["reg"], request=req, reason="家长改变主意")
    assert exc.value.code == "illegal_action"
    req.refresh_from_db()
    assert req.state == RequestState.APPROVED


def test_cancellation_needs_a_reason_and_the_initiator(env):
    e = c.enrolled(env["primary"], grade=4)
    req = _suspend(env, e)
    with pytest.raises(FieldError) as exc:
        change_cancel(actor=env["reg"], request=req, reason="  ")
    assert (exc.value.field, exc.value.code) == ("reason", "required")
    with pytest.raises(Forbidden) as forbidden:
        change_cancel(actor=env["county"], request=req, reason="不需要了")
    assert forbidden.value.code == "not_initiator"
    req.refresh_from_db()
    assert req.state == RequestState.PENDING


def test_clearing_pending_business_is_for_the_department_in_scope_with_a_reason(env):
    e = c.enrolled(env["primary"], grade=6)
    req = _suspend(env, e)
    with pytest.raises(NotFound):
        clear_pending_business(actor=env["other_county"], enrollment=e, reason="毕业前清理")
    with pytest.raises(Forbidden) as forbidden:
        clear_pending_business(actor=env["reg"], enrollment=e, reason="毕业前清理")
    assert forbidden.value.code == "not_department"
    with pytest.raises(FieldError) as exc:
        clear_pending_business(actor=env["county"], enrollment=e, reason=" ")
    assert (exc.value.field, exc.value.code) == ("reason", "required")
    req.refresh_from_db()
    assert req.state == RequestState.PENDING
