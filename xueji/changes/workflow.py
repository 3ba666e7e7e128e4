"""The state machine of every change request (pure Python; exhaustively tested).

A request has an ordered chain of steps. The current step's party acts: approve (the next step starts, or — on
the last step — the change is applied), reject (the request ends, the record untouched), or return for more
material (the initiator resubmits, the same step acts again). The initiator may cancel while it is open.
A "notify" step (备案, e.g. 第18条 withdrawal) is acknowledged, not approved: the party can file it but not refuse.
Only the final step applies the change to the enrollment (architecture.md convention 4).

A change with a start date (休学 第16条 from its 开始日期, …) takes effect on that date: a final approval before it
leaves the request ``scheduled`` (已批准待生效) and the daily task applies it on the date (``apply``); until
then the initiator may still withdraw it (nothing was written). ADR 0005.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class RequestState(models.TextChoices):
    PENDING = "pending", _("办理中")
    RETURNED = "returned", _("已退回补充材料")
    SCHEDULED = "scheduled", _("已批准待生效")
    APPROVED = "approved", _("已办结")
    REJECTED = "rejected", _("未通过")
    CANCELLED = "cancelled", _("已撤销")


OPEN_STATES = frozenset({RequestState.PENDING, RequestState.RETURNED})
#: A student's business in flight: being approved, or approved and waiting for its start date (one at a time).
IN_FLIGHT_STATES = OPEN_STATES | {RequestState.SCHEDULED}
FINAL_STATES = frozenset({RequestState.APPROVED, RequestState.REJECTED, RequestState.CANCELLED})


class Action(models.TextChoices):
    APPROVE = "approve", _("同意")
    REJECT = "reject", _("不同意")
    RETURN = "return", _("退回补充材料")
    RESUBMIT = "resubmit", _("重新提交")
    CANCEL = "cancel", _("撤销申请")
    APPLY = "apply", _("到期生效")  # the system, on the start date of a scheduled change


class StepMode(models.TextChoices):
    APPROVE = "approve", _("审核")
    NOTIFY = "notify", _("备案")


class StepState(models.TextChoices):
    WAITING = "waiting", _("未开始")
    PENDING = "pending", _("待办理")
    APPROVED = "approved", _("已同意")
    FILED = "filed", _("已备案")
    REJECTED = "rejected", _("不同意")
    RETURNED = "returned", _("已退回")
    CANCELLED = "cancelled", _("已撤销")


class IllegalTransition(Exception):
    def __init__(self, state: str, action: str) -> None:
        super().__init__(f"{action} is not allowed in state {state}")
        self.state, self.action = state, action


# (request state, action) → request state after it. "approve" on a step that is not the last keeps PENDING;
# the caller passes ``last_step`` to learn whether the request completes.
_TABLE: dict[tuple[str, str], str] = {
    (RequestState.PENDING, Action.APPROVE): RequestState.PENDING,
    (RequestState.PENDING, Action.REJECT): RequestState.REJECTED,
    (RequestState.PENDING, Action.RETURN): RequestState.RETURNED,
    (RequestState.PENDING, Action.CANCEL): RequestState.CANCELLED,
    (RequestState.RETURNED, Action.RESUBMIT): RequestState.PENDING,
    (RequestState.RETURNED, Action.CANCEL): RequestState.CANCELLED,
    (RequestState.SCHEDULED, Action.APPLY): RequestState.APPROVED,
    (RequestState.SCHEDULED, Action.CANCEL): RequestState.CANCELLED,
}

# Which actions a step in each mode admits.
MODE_ACTIONS: dict[str, frozenset[str]] = {
    StepMode.APPROVE: frozenset({Action.APPROVE, Action.REJECT, Action.RETURN}),
    StepMode.NOTIFY: frozenset({Action.APPROVE, Action.RETURN}),  # 备案: file it or ask for material
}

STEP_RESULT: dict[tuple[str, str], str] = {
    (StepMode.APPROVE, Action.APPROVE): StepState.APPROVED,
    (StepMode.NOTIFY, Action.APPROVE): StepState.FILED,
    (StepMode.APPROVE, Action.REJECT): StepState.REJECTED,
    (StepMode.APPROVE, Action.RETURN): StepState.RETURNED,
    (StepMode.NOTIFY, Action.RETURN): StepState.RETURNED,
}


def next_state(state: str, action: str, *, last_step: bool = False, deferred: bool = False) -> str:
    """The request state after ``action``; raises :class:`IllegalTransition` for any pair not in the table.

    The last step's approval completes the request: ``approved`` (applied now), or ``scheduled`` when the
    change starts on a later date (``deferred``)."""
    try:
        after = _TABLE[(state, action)]
    except KeyError:
        raise IllegalTransition(state, action) from None
    if action == Action.APPROVE and last_step:
        return RequestState.SCHEDULED if deferred else RequestState.APPROVED
    return after


def step_result(mode: str, action: str) -> str:
    if action not in MODE_ACTIONS.get(mode, frozenset()):
        raise IllegalTransition(f"step:{mode}", action)
    return STEP_RESULT[(mode, action)]


def legal_pairs() -> frozenset[tuple[str, str]]:
    return frozenset(_TABLE)
