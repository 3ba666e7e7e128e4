"""The states of a school's return in a verification round (第25条) and the actions that move it.

draft → submitted (the school confirms its roster) → accepted or returned (the county's review, 第5条 县级教育
行政部门具体负责); returned → submitted again. Pure Python, no imports below it.
"""

from __future__ import annotations

from .enums import ReturnState

SUBMIT = "submit"
ACCEPT = "accept"
RETURN = "return"

#: (state, action) → next state. Anything else is refused.
TRANSITIONS: dict[tuple[str, str], str] = {
    (ReturnState.DRAFT, SUBMIT): ReturnState.SUBMITTED,
    (ReturnState.RETURNED, SUBMIT): ReturnState.SUBMITTED,
    (ReturnState.SUBMITTED, ACCEPT): ReturnState.ACCEPTED,
    (ReturnState.SUBMITTED, RETURN): ReturnState.RETURNED,
}

#: States in which the school still edits its findings (before submitting, or after the county returned it).
EDITABLE = frozenset({ReturnState.DRAFT, ReturnState.RETURNED})

#: States that are not done by the school: past the deadline these are overdue.
PENDING_SCHOOL = frozenset({ReturnState.DRAFT, ReturnState.RETURNED})


def next_state(state: str, action: str) -> str | None:
    """The state after ``action`` in ``state``, or None when the action is not allowed there."""
    return TRANSITIONS.get((state, action))
