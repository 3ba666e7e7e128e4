"""Small pure helpers shared by the guardian services and queries (a leaf: imports no model)."""

from __future__ import annotations

import uuid
from typing import Any

#: The audit's ``actor_role`` of a guardian's own actions.
GUARDIAN_ROLE = "guardian"


def uuid_or_none(value: Any) -> uuid.UUID | None:
    """A UUID from a path or form value; anything malformed is None (the caller answers NotFound)."""
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except (ValueError, TypeError, AttributeError):
        return None


def guardian_label(account: Any) -> str:
    """How the audit names a guardian account (``guardian:<account id>``; never its phone number)."""
    return f"guardian:{account.pk}" if account is not None else "guardian:-"
