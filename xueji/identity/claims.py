"""What the digital identity tells a relying party about a guardian (第24条): the guardian's stand-in account,
the pairwise pupil subjects, the enrollment assertions of the ``xueji.enrollment`` scope and the yes/no answer
of the ``xueji.verify`` scope. Never a name unless ``xueji.pupil_name`` was granted; never an ID number, 学籍号,
birth date or phone."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone
from oauth2_provider.models import Application

from xueji.audit.enums import EventType
from xueji.audit.services import record
from xueji.guardians import queries as guardian_queries
from xueji.guardians.ids import GUARDIAN_ROLE, guardian_label
from xueji.guardians.models import GuardianAccount, GuardianLink
from xueji.schools.enums import Stage
from xueji.students.enums import StudentStatus
from xueji.students.models import Enrollment

from .models import GuardianPrincipal, PupilSubject, RelyingParty
from .pairwise import pairwise_sub

#: The statuses in which a pupil is at school (在读): enrolled, or back after a suspension (复学).
IN_SCHOOL = frozenset({StudentStatus.ENROLLED, StudentStatus.RESUMED})


def sector_of(application: Application) -> str:
    party = RelyingParty.objects.filter(application=application).first()
    return party.sector if party else application.client_id


# --- the guardian's stand-in account -------------------------------------------------------------------------


def principal_for(account: GuardianAccount) -> Any:
    """The inactive stand-in account that holds a guardian's codes and tokens (created on first use)."""
    found = GuardianPrincipal.objects.select_related("user").filter(account=account).first()
    if found is not None:
        return found.user
    user_model = get_user_model()
    try:
        with transaction.atomic():
            user = user_model(username=f"guardian~{secrets.token_hex(12)}", is_active=False)
            user.set_unusable_password()
            user.save()
            GuardianPrincipal.objects.create(account=account, user=user)
    except IntegrityError:  # a concurrent first use created it
        return GuardianPrincipal.objects.select_related("user").get(account=account).user
    return user


def guardian_of(user: Any) -> GuardianAccount | None:
    """The guardian account behind a stand-in account, or None for a staff account."""
    if user is None or getattr(user, "pk", None) is None:
        return None
    found = GuardianPrincipal.objects.select_related("account").filter(user_id=user.pk).first()
    return found.account if found else None


# --- pupils --------------------------------------------------------------------------------------------------


def pupil_sub(person_id: Any, sector: str) -> str:
    """The pupil's pairwise subject at ``sector``: stable there, unlinkable elsewhere."""
    subject, _created = PupilSubject.objects.get_or_create(person_id=person_id)
    return pairwise_sub(sector, f"pupil.{subject.internal_id}")


def in_school(enrollment: Enrollment) -> bool:
    return bool(enrollment.is_active and enrollment.status in IN_SCHOOL)


@dataclass(frozen=True)
class Child:
    link: GuardianLink
    enrollment: Enrollment


def children_of(account: GuardianAccount) -> list[Child]:
    """The guardian's bound children (active links) with their current record."""
    out = []
    for link in guardian_queries.links_of(account):
        enrollment = (
            Enrollment.objects.select_related("school")
            .filter(person_id=link.person_id)
            .order_by("-is_active", "-registered_at")
            .first()
        )
        if enrollment is not None:
            out.append(Child(link, enrollment))
    return out


def _label(choices: Any, value: str) -> str:
    return str(choices(value).label) if value in choices.values else value


def enrollment_claims(
    user: Any, application: Application, *, with_names: bool, today: date | None = None
) -> list[dict[str, Any]]:
    """The ``xueji_enrollment`` claim: one assertion per bound child — its pairwise pupil subject, school name
    and 学校标识码, 学段, 年级, 学籍状态, whether it is at school (在读) and the date the assertion speaks for;
    the child's name only with ``xueji.pupil_name``. Each release is an audit event on the child's record
    (access to minors' data is recorded, security.md §2); the audit names the system, not the claims."""
    account = guardian_of(user)
    if account is None:
        return []
    today = today or timezone.localdate()
    sector = sector_of(application)
    out = []
    for child in children_of(account):
        e = child.enrollment
        claim: dict[str, Any] = {
            "pupil": pupil_sub(child.link.person_id, sector),
            "school": e.school.name,
            "school_code": e.school.school_code,
            "stage": e.stage,
            "stage_name": _label(Stage, e.stage),
            "grade": e.grade,
            "status": e.status,
            "status_name": _label(StudentStatus, e.status),
            "enrolled": in_school(e),
            "as_of": today.isoformat(),
        }
        if with_names:
            claim["name"] = child.link.person.name
        out.append(claim)
        record(
            event_type=EventType.OIDC_CLAIMS_RELEASED,
            actor=None,
            actor_role=GUARDIAN_ROLE,
            subject_type="student",
            subject_id=child.link.person_id,
            org_unit_id=e.school_id,
            province_code=e.province_code,
            summary=application.name,
            after={"username": guardian_label(account), "source": application.client_id},
        )
    return out


# --- the yes/no answer -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    enrolled: bool
    as_of: date


def verify_enrollment(
    *, user: Any, application: Application, school_code: str, grade: int | None = None, pupil: str = ""
) -> Answer:
    """``xueji.verify`` (第24条: answer "is enrolled at school X", never a record): is a child of the token's
    guardian — the one named by its pairwise pupil subject ``pupil``, or any bound child when omitted — at
    school (在读) at the school with code ``school_code`` (and in ``grade``, when given)? Anything else, a
    staff subject or a pupil subject the guardian has no link to included, is "no": the answer never tells
    why. Audited (which system asked, the question, the answer; never a name)."""
    account = guardian_of(user)
    today = timezone.localdate()
    code = (school_code or "").strip()
    yes = False
    asked_about: Any = ""
    if account is not None and code:
        sector = sector_of(application)
        for child in children_of(account):
            if pupil and pupil_sub(child.link.person_id, sector) != pupil:
                continue
            e = child.enrollment
            if in_school(e) and e.school.school_code == code and (grade is None or e.grade == grade):
                yes = True
            if pupil:
                asked_about = child.link.person_id
    grade_text = f" {grade} 年级" if grade is not None else ""
    record(
        event_type=EventType.OIDC_VERIFIED,
        actor=None,
        actor_role=GUARDIAN_ROLE if account is not None else "",
        subject_type="student" if asked_about else "oidc_client",
        subject_id=asked_about or application.client_id,
        summary=f"{application.name}：核验 {code}{grade_text} 在读 → {'是' if yes else '否'}",
        # public keys of the audit's redaction only: the question and the answer, never a name
        after={
            "source": application.client_id,
            "username": guardian_label(account) if account is not None else "-",
            "school_code": code,
            "grade": grade,
            "outcome": "yes" if yes else "no",
        },
    )
    return Answer(enrolled=yes, as_of=today)
