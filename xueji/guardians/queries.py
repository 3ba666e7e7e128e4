"""Reads of the guardian end. A guardian reads only through its own active links (a child not bound to the
account is NotFound, security.md test 10); a school registrar reads only its own school's requests and pupils
(``accounts.jurisdiction``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from xueji.accounts.jurisdiction import require_registrar_for_school, school_registrar_units, scope_q
from xueji.accounts.types import Actor
from xueji.audit.enums import EventType
from xueji.audit.models import FieldHistory
from xueji.audit.services import record
from xueji.changes.models import ApprovalStep, ChangeRequest
from xueji.core.errors import NotFound
from xueji.core.fieldcrypto import index_for
from xueji.students.models import Enrollment, Guardian, Person

from . import conf
from .enums import RequestState
from .ids import GUARDIAN_ROLE, guardian_label, uuid_or_none
from .models import BindingCode, GuardianAccount, GuardianLink, GuardianNotice, GuardianRequest

# --- the guardian's side -----------------------------------------------------------------------------------


def links_of(account: GuardianAccount) -> list[GuardianLink]:
    """The children bound to the account (active links), with the person."""
    return list(
        GuardianLink.objects.filter(account=account, revoked_at__isnull=True)
        .select_related("person")
        .order_by("created_at")
    )


def link_get(account: GuardianAccount, link_id: Any) -> GuardianLink:
    """One of the account's own active links; any other id (another guardian's child, a revoked link, a
    malformed id) → NotFound, with nothing about the child revealed."""
    pk = uuid_or_none(link_id)
    link = (
        GuardianLink.objects.select_related("person")
        .filter(pk=pk, account=account, revoked_at__isnull=True)
        .first()
        if pk
        else None
    )
    if link is None:
        raise NotFound()
    return link


def enrollment_of(link: GuardianLink) -> Enrollment:
    """The child's current record (the active one, else the latest)."""
    enrollment = (
        Enrollment.objects.select_related("school", "person")
        .filter(person_id=link.person_id)
        .order_by("-is_active", "-registered_at")
        .first()
    )
    if enrollment is None:
        raise NotFound()
    return enrollment


def child_viewed(account: GuardianAccount, link: GuardianLink, enrollment: Enrollment, what: str) -> None:
    """Every guardian read of a child's data is an audit event (第24条; security.md §2: access to minors'
    data is recorded)."""
    record(
        event_type=EventType.GUARDIAN_VIEWED,
        actor=None,
        actor_role=GUARDIAN_ROLE,
        subject_type="student",
        subject_id=link.person_id,
        org_unit_id=enrollment.school_id,
        province_code=enrollment.province_code,
        summary=f"家长查看{what}",
        after={"username": guardian_label(account)},
    )


def family_of(link: GuardianLink) -> list[Guardian]:
    return list(Guardian.objects.filter(person_id=link.person_id).order_by("relation", "name"))


@dataclass
class HistoryRow:
    on: Any
    fields: list[str] = field(default_factory=list)


def field_history(link: GuardianLink, limit: int = 30) -> list[tuple[Any, str]]:
    """When which field of the record changed (no values: the guardian sees the current record)."""
    rows = (
        FieldHistory.objects.filter(subject_type="student", subject_id=str(link.person_id))
        .order_by("-occurred_at")
        .values_list("occurred_at", "field")[:limit]
    )
    return list(rows)


def change_requests_of(link: GuardianLink) -> list[ChangeRequest]:
    """The child's 学籍变动 requests (any origin), newest first, with their steps (progress and deadlines,
    第15条 健全…通过移动端查询…转学进度)."""
    return list(
        ChangeRequest.objects.filter(person_id=link.person_id)
        .prefetch_related("steps", "steps__org_unit")
        .select_related("target_school")
        .order_by("-created_at")[:20]
    )


def guardian_requests_of(link: GuardianLink) -> list[GuardianRequest]:
    return list(
        GuardianRequest.objects.filter(link__person_id=link.person_id, link__account_id=link.account_id)
        .select_related("school")
        .order_by("-created_at")[:20]
    )


def guardian_request_get(account: GuardianAccount, request_id: Any) -> GuardianRequest:
    """A request made through one of the account's own active links; anything else → NotFound."""
    pk = uuid_or_none(request_id)
    request = (
        GuardianRequest.objects.select_related("link", "school", "enrollment", "change_request")
        .prefetch_related("events")
        .filter(pk=pk, link__account=account, link__revoked_at__isnull=True)
        .first()
        if pk
        else None
    )
    if request is None:
        raise NotFound()
    return request


def steps_of(change: ChangeRequest | None) -> list[ApprovalStep]:
    if change is None:
        return []
    return list(change.steps.select_related("org_unit").order_by("position"))


def notices_of(account: GuardianAccount, limit: int = 10) -> list[GuardianNotice]:
    return list(GuardianNotice.objects.filter(account=account)[:limit])


# --- the school's side ---------------------------------------------------------------------------------------


def _school_q(viewer: Actor) -> Q:
    units = [u.pk for u in school_registrar_units(viewer)]
    if not units:
        return Q(pk__in=[])
    return Q(school__org_id__in=units) | Q(school__central_school__org_id__in=units)


def school_worklist(viewer: Actor, *, open_only: bool = True) -> QuerySet[GuardianRequest]:
    """Guardian requests the viewer's school decides: its own pupils' corrections and 休学/复学, and transfer
    applications naming it as the receiving school (第15条)."""
    qs = GuardianRequest.objects.filter(_school_q(viewer)).select_related(
        "person", "school", "enrollment__school"
    )
    if open_only:
        return qs.filter(state=RequestState.SUBMITTED).order_by("due_on", "created_at")
    return qs.exclude(state=RequestState.SUBMITTED).order_by("-decided_at", "-created_at")


def pupil_by_number(viewer: Actor, student_number: str) -> Enrollment:
    """A pupil of the viewer's school by exact 学籍号 (to issue binding codes); elsewhere → NotFound."""
    number = (student_number or "").strip().upper()
    enrollment = (
        Enrollment.objects.select_related("school", "school__org", "person")
        .filter(
            scope_q(viewer),
            person__student_number_bidx=index_for(Person, "student_number", number),
            is_active=True,
        )
        .first()
        if number
        else None
    )
    if enrollment is None:
        raise NotFound("未找到本校在读学生（请核对学籍号）")
    require_registrar_for_school(viewer, enrollment.school)
    return enrollment


def pupil_get(viewer: Actor, person_id: Any) -> Enrollment:
    """The pupil's active record at the viewer's school; elsewhere or not in school → NotFound."""
    pk = uuid_or_none(person_id)
    enrollment = (
        Enrollment.objects.select_related("school", "school__org", "person")
        .filter(person_id=pk, is_active=True)
        .first()
        if pk
        else None
    )
    if enrollment is None:
        raise NotFound()
    require_registrar_for_school(viewer, enrollment.school)
    return enrollment


@dataclass
class Slot:
    number: int
    link: GuardianLink | None
    code: BindingCode | None


def slots_of(enrollment: Enrollment, *, today: date | None = None) -> list[Slot]:
    """Each guardian slot of a pupil: the bound guardian, or the open binding code, or nothing."""
    now = timezone.now()
    links = {
        link.slot: link
        for link in GuardianLink.objects.filter(
            person_id=enrollment.person_id, revoked_at__isnull=True
        ).select_related("account")
    }
    codes = {
        code.slot: code
        for code in BindingCode.objects.filter(
            person_id=enrollment.person_id, used_at__isnull=True, revoked_at__isnull=True, expires_at__gt=now
        )
    }
    return [Slot(n, links.get(n), codes.get(n)) for n in range(1, conf.guardians_per_child() + 1)]
