"""Every (state, action) pair of the request state machine, legal and illegal."""

import itertools

import pytest

from xueji.changes.workflow import (
    Action,
    IllegalTransition,
    RequestState,
    StepMode,
    StepState,
    legal_pairs,
    next_state,
    step_result,
)

EXPECTED = {
    (RequestState.PENDING, Action.APPROVE): RequestState.PENDING,
    (RequestState.PENDING, Action.REJECT): RequestState.REJECTED,
    (RequestState.PENDING, Action.RETURN): RequestState.RETURNED,
    (RequestState.PENDING, Action.CANCEL): RequestState.CANCELLED,
    (RequestState.RETURNED, Action.RESUBMIT): RequestState.PENDING,
    (RequestState.RETURNED, Action.CANCEL): RequestState.CANCELLED,
    (RequestState.SCHEDULED, Action.APPLY): RequestState.APPROVED,
    (RequestState.SCHEDULED, Action.CANCEL): RequestState.CANCELLED,
}


@pytest.mark.parametrize(("state", "action"), list(itertools.product(RequestState.values, Action.values)))
def test_every_pair(state, action):
    if (state, action) in EXPECTED:
        assert next_state(state, action) == EXPECTED[(state, action)]
    else:
        with pytest.raises(IllegalTransition):
            next_state(state, action)


def test_table_is_exactly_the_expected_one():
    assert legal_pairs() == frozenset(EXPECTED)


def test_final_approval_completes_request():
    assert next_state(RequestState.PENDING, Action.APPROVE, last_step=True) == RequestState.APPROVED
    assert next_state(RequestState.PENDING, Action.REJECT, last_step=True) == RequestState.REJECTED


def test_final_approval_of_a_change_starting_later_schedules_it():
    """A start date after the approval (第16条 休学开始日期): approved, applied on the date by the task."""
    after = next_state(RequestState.PENDING, Action.APPROVE, last_step=True, deferred=True)
    assert after == RequestState.SCHEDULED
    assert next_state(after, Action.APPLY) == RequestState.APPROVED
    assert next_state(RequestState.PENDING, Action.APPROVE, last_step=False, deferred=True) == "pending"
    with pytest.raises(IllegalTransition):
        next_state(RequestState.APPROVED, Action.APPLY)


@pytest.mark.parametrize(("mode", "action"), list(itertools.product(StepMode.values, Action.values)))
def test_step_modes(mode, action):
    expected = {
        (StepMode.APPROVE, Action.APPROVE): StepState.APPROVED,
        (StepMode.APPROVE, Action.REJECT): StepState.REJECTED,
        (StepMode.APPROVE, Action.RETURN): StepState.RETURNED,
        (StepMode.NOTIFY, Action.APPROVE): StepState.FILED,
        (StepMode.NOTIFY, Action.RETURN): StepState.RETURNED,
    }
    if (mode, action) in expected:
        assert step_result(mode, action) == expected[(mode, action)]
    else:
        with pytest.raises(IllegalTransition):
            step_result(mode, action)
