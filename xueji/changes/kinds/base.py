"""The plug-in interface of a change kind. Each kind validates its facts, says who starts it and which chain
variant applies, and applies the change when the last step approves. Nothing else touches the enrollment."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, ClassVar

from xueji.schools.models import School
from xueji.students.models import Enrollment

from ..enums import Party, Scope
from ..policy import Policy


@dataclass
class Context:
    actor: Any
    today: date
    policy: Policy
    enrollment: Enrollment | None
    school: School | None  # the record's school
    target_school: School | None
    facts: dict[str, Any]
    reason: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


class KindSpec:
    kind: ClassVar[str]
    initiator: ClassVar[str] = Party.SCHOOL  # whose registrar submits
    needs_enrollment: ClassVar[bool] = True
    needs_target_school: ClassVar[bool] = False
    # Enrollment statuses from which the change may start (None = any active record).
    from_statuses: ClassVar[frozenset[str] | None] = frozenset({"01", "05"})
    # Closed records a kind may still start from (progression of a graduate: status 07, inactive).
    closed_statuses: ClassVar[frozenset[str]] = frozenset()

    def variant(self, ctx: Context) -> str:
        return "any"

    def scope(self, ctx: Context) -> str:
        return Scope.NONE

    def prepare(self, ctx: Context) -> dict[str, Any]:
        """Validate the facts; return the cleaned facts to store. Raise ApplicationError/FieldError."""
        return dict(ctx.facts)

    def apply(self, request: Any, actor: Any, today: date) -> dict[str, Any]:
        """Write the change (the request is approved by its last step). Returns the 'after' for the audit."""
        raise NotImplementedError
