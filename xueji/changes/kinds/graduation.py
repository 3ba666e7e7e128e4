"""毕业 / 结业 / 肄业 (第19条), and graduating a whole grade at once.

第19条: after graduation, completion (结业) or leaving without completing (肄业) the record is KEPT in the
system (status 07 / 08 / 09, no longer active, still found by every level that held it); the supervising
department issues the certificate.

Rules (national system practice, domain.md §3.1):

- 义务教育: the school graduates its graduating grade itself (chain variant ``compulsory``: school only, so
  the submission completes it); 普通高中: the school applies and the county approves (variant ``senior``).
- 结业 and 肄业 exist for 普通高中 only.
- Only the graduating grade of a stage (6, 9, 12) graduates or completes; 肄业 (leaving senior high before
  completing it) may happen in any senior grade.
- A student with business in flight (any open change request) or an unresolved 问题学籍 cannot graduate;
  the department's "在办业务清理" (``services.clear_pending_business``) cancels the open requests.
"""

from __future__ import annotations

from datetime import date
from typing import Any, ClassVar

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from xueji.accounts.types import Actor
from xueji.audit.enums import EventType
from xueji.audit.services import record
from xueji.core.errors import ApplicationError, Conflict, FieldError
from xueji.schools.grades import grade_label
from xueji.schools.models import School
from xueji.students.enums import (
    Stage,
    StudentStatus,
    is_compulsory,
    stage_for_grade,
)
from xueji.students.models import Enrollment, ProblemRecord

from ..enums import IN_SCHOOL, ChangeKind, Party
from ..models import ChangeRequest
from ..services import change_submit
from ..workflow import IN_FLIGHT_STATES
from . import register
from .base import Context, KindSpec
from .cohorts import CohortResult, require_initiator, submit_each
from .common import set_status
from .facts import KindFacts, Text, fact
from .inputs import (
    KindForm,
    text_input,
)
from .stages import graduating_grade


def open_request(person_id: Any) -> ChangeRequest | None:
    """The student's request in flight, if any (there is at most one: a database constraint)."""
    return (
        ChangeRequest.objects.filter(person_id=person_id, state__in=list(IN_FLIGHT_STATES))
        .order_by("created_at")
        .first()
    )


def pending_business(open_req: ChangeRequest, kind: str) -> Conflict:
    return Conflict(
        "pending_business",
        f"该学生有正在办理的“{open_req.get_kind_display()}”申请，须待其办结或撤销，或由教育行政部门"
        f"进行在办业务清理后，才能办理{ChangeKind(kind).label}（第十九条）",
    )


# --- the page's form --------------------------------------------------------------------------------


class LeavingForm(KindForm):
    kind = ChangeKind.GRADUATION
    article = _("第十九条")
    intro = _("毕业、结业、肄业后学籍保留在系统中；有在办业务或问题学籍的学生须先处理。")
    certificate_number = text_input(_("证书编号"), max_length=40, help_text=_("可在证书发放后补填"))


class GraduationForm(LeavingForm):
    kind = ChangeKind.GRADUATION


class CompletionForm(LeavingForm):
    kind = ChangeKind.COMPLETION


class IncompleteForm(LeavingForm):
    kind = ChangeKind.INCOMPLETE


class LeavingFacts(KindFacts):
    certificate_number: Text = fact("证书编号（可在证书发放后补填，不超过 40 个字符）")


class _Leaving(KindSpec):
    """Common rules of 毕业 / 结业 / 肄业: the record closes with ``status`` and stays findable."""

    status: ClassVar[str]
    senior_only: ClassVar[bool] = False
    graduating_grade_only: ClassVar[bool] = True
    from_statuses = IN_SCHOOL
    facts_schema = LeavingFacts

    def offered_on(self, enrollment: Enrollment) -> bool:
        """第19条: 结业/肄业 only in 普通高中; 毕业/结业 only from the stage's graduating grade."""
        if not super().offered_on(enrollment):
            return False
        if self.senior_only and is_compulsory(enrollment.stage):
            return False
        return not self.graduating_grade_only or enrollment.grade == graduating_grade(enrollment.stage)

    def variant(self, ctx: Context) -> str:
        assert ctx.enrollment is not None
        return "compulsory" if is_compulsory(ctx.enrollment.stage) else "senior"

    def prepare(self, ctx: Context) -> dict[str, Any]:
        enrollment = ctx.enrollment
        assert enrollment is not None
        label = ChangeKind(self.kind).label
        stage_label = Stage(enrollment.stage).label
        if self.senior_only and is_compulsory(enrollment.stage):
            raise ApplicationError(
                "senior_only",
                f"{label}仅适用于普通高中学生，{stage_label}学生只能办理毕业（第十九条）",
            )
        last = graduating_grade(enrollment.stage)
        if self.graduating_grade_only and enrollment.grade != last:
            raise ApplicationError(
                "not_graduating_grade",
                f"只有{stage_label}毕业年级（{grade_label(last)}）的学生可以办理{label}，该学生在{grade_label(enrollment.grade)}",
            )
        in_flight = open_request(enrollment.person_id)
        if in_flight is not None:
            raise pending_business(in_flight, self.kind)
        if ProblemRecord.objects.filter(
            person_id=enrollment.person_id, state=ProblemRecord.State.OPEN
        ).exists():
            raise ApplicationError(
                "problem_record_open",
                f"该学生有未处理的问题学籍，须由教育行政部门处理后才能办理{label}（第九条、第十九条）",
            )
        certificate = str(ctx.facts.get("certificate_number") or "").strip()
        if len(certificate) > 40:
            raise FieldError("certificate_number", "too_long", "证书编号不能超过 40 个字符")
        return {
            "stage": enrollment.stage,
            "grade": enrollment.grade,
            "class_name": enrollment.class_name,
            "certificate_number": certificate,
        }

    def what_changes(self, request: Any) -> list[tuple[str, Any, Any]]:
        return [("status", request.enrollment.status, self.status)]

    def apply(self, request: Any, actor: Actor, today: date) -> dict[str, Any]:
        set_status(request.enrollment, self.status, active=False)
        request.facts["closed_on"] = today.isoformat()
        return {"status": self.status, "is_active": False, "closed_on": today.isoformat()}


@register
class Graduation(_Leaving):
    """毕业 (第19条): graduating grade of any stage; status 07."""

    kind = ChangeKind.GRADUATION
    menu_order = 100
    form = GraduationForm
    status = StudentStatus.GRADUATED


@register
class Completion(_Leaving):
    """结业 (第19条): 普通高中 graduating grade only; status 08."""

    kind = ChangeKind.COMPLETION
    menu_order = 110
    form = CompletionForm
    status = StudentStatus.COMPLETED
    senior_only = True


@register
class Incomplete(_Leaving):
    """肄业 (第19条): 普通高中 only, any senior grade (the student leaves before completing); status 09."""

    kind = ChangeKind.INCOMPLETE
    menu_order = 120
    form = IncompleteForm
    status = StudentStatus.INCOMPLETE
    senior_only = True
    graduating_grade_only = False


LEAVING_KINDS = frozenset({ChangeKind.GRADUATION, ChangeKind.COMPLETION, ChangeKind.INCOMPLETE})


@transaction.atomic
def graduate_cohort(
    *,
    actor: Actor,
    school: School,
    grade: int,
    kind: str = ChangeKind.GRADUATION,
    today: date | None = None,
) -> CohortResult:
    """Graduate (or complete) every student of ``school`` in its graduating ``grade`` (第19条), one request
    each, in one transaction. Students with business in flight or otherwise refused are skipped and
    reported; nothing is written for them."""
    if kind not in LEAVING_KINDS:
        raise FieldError("kind", "invalid_kind", "批量办理只能是毕业、结业或肄业")
    today = today or timezone.localdate()
    require_initiator(actor, school, Party.SCHOOL)
    try:
        stage = stage_for_grade(int(grade)).value
    except (TypeError, ValueError):
        raise FieldError("grade", "invalid_grade", "年级须为 1–12 的整数") from None
    if int(grade) != graduating_grade(stage):
        raise FieldError(
            "grade",
            "not_graduating_grade",
            f"{grade_label(int(grade))}不是毕业年级（小学六年级、初中初三、高中高三）",
        )
    enrollments = list(
        Enrollment.objects.filter(
            school=school,
            grade=grade,
            is_active=True,
            status__in=list(IN_SCHOOL),
        )
        .select_related("person", "school", "school__org", "school__supervising_dept")
        .order_by("class_name", "person__name")
    )
    result = submit_each(
        enrollments=enrollments,
        submit=lambda e: change_submit(actor=actor, kind=kind, enrollment=e, today=today),
        result=CohortResult(),
    )
    record(
        event_type=EventType.BULK_CHANGE,
        actor=actor,
        subject_type="school",
        subject_id=school.pk,
        org_unit_id=school.pk,
        province_code=school.province_code,
        summary=f"批量{ChangeKind(kind).label}：{grade_label(grade)} {len(result.submitted)} 人，跳过 {len(result.skipped)} 人",
        after={
            "kind": str(kind),
            "grade": int(grade),
            "submitted": [str(r.pk) for r in result.submitted],
            "skipped": [{"enrollment": str(s.enrollment_id), "code": s.code} for s in result.skipped],
        },
    )
    return result
