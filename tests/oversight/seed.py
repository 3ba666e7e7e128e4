"""Violations for the 监督 tests (第6、9、15、26条): records that count and near misses that must not."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone

from tests.factories import changes as cf
from tests.factories import core as f
from xueji.changes.enums import ChangeKind, Party
from xueji.changes.models import ApprovalStep, ChangeRequest
from xueji.changes.workflow import RequestState, StepState
from xueji.regions.models import OrgUnit
from xueji.students.models import Enrollment, ProblemRecord

_n = iter(range(1, 10_000))


def pupil(school: Any) -> Enrollment:
    return cf.enrolled(school, name=f"学生{f.han_digits(next(_n))}")


def archive_overdue(school: Any, days: int = 3, **changes: Any) -> Enrollment:
    e = pupil(school)
    Enrollment.objects.filter(pk=e.pk).update(
        archive_due=timezone.localdate() - timedelta(days=days), **changes
    )
    return e


def request_for(school: Any, *, kind: str, state: str) -> ChangeRequest:
    e = pupil(school)
    return ChangeRequest.objects.create(
        kind=kind,
        state=state,
        person=e.person,
        enrollment=e,
        province_code=e.province_code,
        source_path=e.scope_path,
        created_by=f.user(),
        initiator_org=school.org,
    )


def step(
    req: ChangeRequest, unit: OrgUnit, *, state: str, due_days: int = 0, decided_days: int | None = None
) -> ApprovalStep:
    today = timezone.localdate()
    return ApprovalStep.objects.create(
        request=req,
        position=req.steps.count() + 1,
        party=Party.SCHOOL,
        org_unit=unit,
        state=state,
        due_on=today + timedelta(days=due_days),
        decided_at=None if decided_days is None else timezone.now() - timedelta(days=decided_days),
    )


def problem(
    school: Any, *, days_old: int, state: str = ProblemRecord.State.OPEN, due_in: int | None = None
) -> ProblemRecord:
    """A problem record found ``days_old`` days ago, due ``due_in`` days from today (default: 30 days after it
    was found)."""
    e = pupil(school)
    p = ProblemRecord.objects.create(
        kind=ProblemRecord.Kind.ID_INVALID,
        state=state,
        person=e.person,
        province_code=e.province_code,
        scope_path=e.scope_path,
    )
    due = timezone.localdate() + timedelta(days=30 - days_old if due_in is None else due_in)
    ProblemRecord.objects.filter(pk=p.pk).update(
        created_at=timezone.now() - timedelta(days=days_old), due_on=due
    )
    return p


def seed_violations(school_a: Any, school_b: Any) -> None:
    """Violations in 海珠区 (school_a) and 天河区 (school_b), with near misses that must not count."""
    county_a = school_a.org.parent
    # 第6条: two overdue in A, one in B; near misses: completed, inactive, not yet due.
    archive_overdue(school_a)
    archive_overdue(school_a, days=40)
    archive_overdue(school_b)
    archive_overdue(school_a, archive_completed_at=timezone.now())
    archive_overdue(school_a, is_active=False)
    pupil(school_a)  # due in two months
    # 第15条: steps past their clock — at school A, at 海珠区 itself (a child of the city), at school B;
    # near misses: due today, already decided.
    step(
        request_for(school_a, kind=ChangeKind.SUSPENSION, state=RequestState.PENDING),
        school_a.org,
        state=StepState.PENDING,
        due_days=-2,
    )
    step(
        request_for(school_a, kind=ChangeKind.SUSPENSION, state=RequestState.PENDING),
        county_a,
        state=StepState.PENDING,
        due_days=-1,
    )
    step(
        request_for(school_b, kind=ChangeKind.WITHDRAWAL, state=RequestState.PENDING),
        school_b.org,
        state=StepState.PENDING,
        due_days=-5,
    )
    step(
        request_for(school_a, kind=ChangeKind.SUSPENSION, state=RequestState.PENDING),
        school_a.org,
        state=StepState.PENDING,
        due_days=0,
    )
    step(
        request_for(school_a, kind=ChangeKind.SUSPENSION, state=RequestState.APPROVED),
        school_a.org,
        state=StepState.APPROVED,
        due_days=-9,
        decided_days=1,
    )
    # 第15、26条: transfers refused — by school B in the period; near misses: long ago, another kind.
    step(
        request_for(school_a, kind=ChangeKind.TRANSFER, state=RequestState.REJECTED),
        school_b.org,
        state=StepState.REJECTED,
        decided_days=3,
    )
    step(
        request_for(school_a, kind=ChangeKind.TRANSFER, state=RequestState.REJECTED),
        school_b.org,
        state=StepState.REJECTED,
        decided_days=400,
    )
    step(
        request_for(school_b, kind=ChangeKind.WITHDRAWAL, state=RequestState.REJECTED),
        school_b.org,
        state=StepState.REJECTED,
        decided_days=3,
    )
    # 第9条: open problem records past their due day; near misses: not yet due, resolved.
    problem(school_a, days_old=45)
    problem(school_b, days_old=31)
    problem(school_b, days_old=60)
    problem(school_a, days_old=5)
    problem(school_a, days_old=90, state=ProblemRecord.State.MERGED)


def decided_late(
    req: ChangeRequest, unit: OrgUnit, by: Any, *, due_days: int, decided_days: int
) -> ApprovalStep:
    """A step decided ``decided_days`` ago by ``by`` whose clock ran out ``due_days`` from today."""
    s = step(req, unit, state=StepState.APPROVED, due_days=due_days, decided_days=decided_days)
    ApprovalStep.objects.filter(pk=s.pk).update(decided_by=by)
    return s


def change_entered(school: Any, *, kind: str, facts: dict[str, Any], days_ago: int = 0) -> ChangeRequest:
    req = request_for(school, kind=kind, state=RequestState.PENDING)
    ChangeRequest.objects.filter(pk=req.pk).update(
        facts=facts, created_at=timezone.now() - timedelta(days=days_ago)
    )
    return req


def seed_new_metrics(school_a: Any, school_b: Any) -> dict[str, Any]:
    """第7、15、21、26条: late decisions by two people, transfers left to expire, changes entered late — with near
    misses. Returns the two deciders."""
    county_a = school_a.org.parent
    today = timezone.localdate()
    wang, li = f.user(username="wang_approver"), f.user(username="li_approver")
    # decided late: two by 王 at school A, one by 李 at 海珠区 itself; near misses: in time, before the period.
    for _ in range(2):
        decided_late(
            request_for(school_a, kind=ChangeKind.SUSPENSION, state=RequestState.APPROVED),
            school_a.org,
            wang,
            due_days=-6,
            decided_days=2,
        )
    decided_late(
        request_for(school_a, kind=ChangeKind.SUSPENSION, state=RequestState.APPROVED),
        county_a,
        li,
        due_days=-4,
        decided_days=1,
    )
    decided_late(
        request_for(school_a, kind=ChangeKind.SUSPENSION, state=RequestState.APPROVED),
        school_a.org,
        li,
        due_days=0,
        decided_days=1,
    )
    decided_late(
        request_for(school_a, kind=ChangeKind.SUSPENSION, state=RequestState.APPROVED),
        school_a.org,
        wang,
        due_days=-300,
        decided_days=200,
    )
    # transfers left to expire at school B; near misses: not yet due, another kind.
    step(
        request_for(school_a, kind=ChangeKind.TRANSFER, state=RequestState.PENDING),
        school_b.org,
        state=StepState.PENDING,
        due_days=-3,
    )
    step(
        request_for(school_a, kind=ChangeKind.TRANSFER, state=RequestState.PENDING),
        school_b.org,
        state=StepState.PENDING,
        due_days=2,
    )
    # changes entered late (more than a month after the event, or a death after its 60 working days).
    long_ago = (today - timedelta(days=60)).isoformat()
    change_entered(school_a, kind=ChangeKind.ABROAD, facts={"departure_date": long_ago})
    change_entered(school_b, kind=ChangeKind.DEATH, facts={"date_of_death": long_ago, "filed_late": True})
    # near misses: within the month; a death late by days but within 60 working days; a cancelled one; too old.
    change_entered(
        school_a, kind=ChangeKind.ABROAD, facts={"departure_date": (today - timedelta(days=20)).isoformat()}
    )
    change_entered(school_b, kind=ChangeKind.DEATH, facts={"date_of_death": long_ago, "filed_late": False})
    cancelled = change_entered(school_a, kind=ChangeKind.ABROAD, facts={"departure_date": long_ago})
    ChangeRequest.objects.filter(pk=cancelled.pk).update(state=RequestState.CANCELLED)
    change_entered(school_a, kind=ChangeKind.ABROAD, facts={"departure_date": "2020-01-01"}, days_ago=200)
    return {"wang": wang, "li": li}
