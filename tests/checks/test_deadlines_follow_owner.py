"""The deadline follows the owner (第9条; issue 10 §2 "problem records have owners, deadlines in working days"):
every change of owner — correct, return, escalate, reopen — gives the new owner the rule's working days from
today on the official calendar; an explanation (same owner) keeps the deadline."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.utils import timezone

from tests.factories import changes as c
from tests.factories import core as f
from xueji.accounts.enums import Role
from xueji.checks.services import run_checks
from xueji.policies.rules import CHECKS_DEFAULT
from xueji.students.models import Enrollment, ProblemRecord
from xueji.students.records import DUE_WORKING_DAYS_OTHER, problem_act
from xueji.workdays.services import add_working_days

pytestmark = pytest.mark.django_db
TODAY = date(2026, 12, 4)
LONG_AGO = date(2026, 1, 5)


@pytest.fixture
def world(school_a, registrar_a):  # type: ignore[no-untyped-def]
    c.calendar()
    late = c.enrolled(school_a)
    Enrollment.objects.filter(pk=late.pk).update(archive_due=TODAY - timedelta(days=5))
    run_checks(actor=None, today=TODAY, provinces=["440000"], rules=["archive_overdue"])
    return {
        "problem": ProblemRecord.objects.get(person_id=late.person_id),
        "school": registrar_a,
        "county": f.user(Role.DEPT_REGISTRAR, f.dept("440105")),
        "city": f.user(Role.DEPT_REGISTRAR, f.dept("440100")),
    }


def _act(w, who: str, action: str, outcome: str = "") -> ProblemRecord:  # type: ignore[no-untyped-def]
    # an old deadline first: the step must set a new one (or keep it)
    ProblemRecord.objects.filter(pk=w["problem"].pk).update(due_on=LONG_AGO)
    problem = ProblemRecord.objects.get(pk=w["problem"].pk)
    return problem_act(actor=w[who], problem=problem, action=action, note="说明", outcome=outcome)


def _due(days: int) -> date:
    return add_working_days(timezone.localdate(), days).due


def test_each_change_of_owner_restarts_the_deadline_in_working_days(world):  # type: ignore[no-untyped-def]
    days = CHECKS_DEFAULT["archive_overdue"]["due_working_days"]
    w = world
    assert _act(w, "school", "explain").due_on == LONG_AGO  # same owner: the deadline stands
    corrected = _act(w, "school", "correct")
    assert (corrected.owner, corrected.due_on) == ("county", _due(days))
    returned = _act(w, "county", "return")
    assert (returned.owner, returned.due_on) == ("school", _due(days))
    escalated = _act(w, "county", "escalate")
    assert (escalated.owner, escalated.due_on) == ("city", _due(days))
    resolved = _act(w, "city", "resolve", outcome="resolved")
    assert resolved.due_on == LONG_AGO  # the city keeps it: no change of owner
    reopened = _act(w, "city", "reopen")
    assert (reopened.owner, reopened.due_on) == ("school", _due(days))
    assert not reopened.is_overdue(timezone.localdate())


def test_the_province_override_gives_the_days(world, monkeypatch):  # type: ignore[no-untyped-def]
    """The days come from the province's check rules in force (data), not a constant."""
    from xueji.policies.rules import CheckRules
    from xueji.students import records

    rules = CheckRules.from_rules({"checks": {"archive_overdue": {"due_working_days": 3}}})
    monkeypatch.setattr(records, "check_rules_for", lambda province, on: rules)
    assert _act(world, "school", "correct").due_on == _due(3)


def test_a_reason_without_a_check_rule_uses_its_documented_days(world):  # type: ignore[no-untyped-def]
    ProblemRecord.objects.filter(pk=world["problem"].pk).update(kind=ProblemRecord.Kind.VERIFY_PHANTOM)
    done = _act(world, "school", "correct")
    assert done.due_on == _due(DUE_WORKING_DAYS_OTHER[ProblemRecord.Kind.VERIFY_PHANTOM])


def test_closing_keeps_the_deadline(world):  # type: ignore[no-untyped-def]
    """A school-owned record resolved by the county (owner → county) is closed, not handed on: its deadline
    stays, so whether it was handled in time can still be read."""
    done = _act(world, "county", "resolve", outcome="resolved")
    assert (done.state, done.owner, done.due_on) == ("resolved", "county", LONG_AGO)
