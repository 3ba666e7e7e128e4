"""Cohort operations (a whole graduating grade, a whole cohort progressing): one request per pupil, each in its
own savepoint, with the pupils a kind refuses reported rather than aborting the batch."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from django.db import transaction

from xueji.accounts.jurisdiction import in_scope
from xueji.accounts.types import Actor
from xueji.core.errors import ApplicationError, Forbidden, NotFound
from xueji.schools.models import School
from xueji.students.models import Enrollment

from ..models import ChangeRequest
from ..parties import resolve
from ..services import acts_for


@dataclass(frozen=True)
class CohortSkip:
    """A student left out of a cohort operation, and why (``code`` as the single request would raise)."""

    enrollment_id: UUID
    name: str
    code: str
    message: str


@dataclass
class CohortResult:
    submitted: list[ChangeRequest] = field(default_factory=list)
    skipped: list[CohortSkip] = field(default_factory=list)


def submit_each(*, enrollments: list[Enrollment], submit: Any, result: CohortResult) -> CohortResult:
    """Submit one request per enrollment, each in its own savepoint: a student the kind refuses is skipped
    and reported; an authorisation failure (NotFound/Forbidden) aborts the whole operation."""
    for e in enrollments:
        try:
            with transaction.atomic():
                req = submit(e)
        except (NotFound, Forbidden):
            raise
        except ApplicationError as exc:
            result.skipped.append(CohortSkip(e.pk, e.person.name, exc.code, exc.message))
        else:
            result.submitted.append(req)
    return result


def require_initiator(actor: Actor, school: School, party: str) -> None:
    """The cohort operations check the actor once, up front, exactly as ``change_submit`` would."""
    unit = resolve(party, school=school, target_school=school)
    if not acts_for(actor, unit, party):
        if in_scope(actor, school.org.path):
            raise Forbidden("not_initiator", "只有本校学籍管理员可以办理此业务")
        raise NotFound()
