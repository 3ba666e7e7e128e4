"""转学 (第15条): started by the receiving school; sending school and both upper departments each have 10
working days; the archive moves, the sending school keeps a read-only copy; the 学籍号 never changes."""

from __future__ import annotations

from datetime import date
from typing import Any, ClassVar

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop as N_

from xueji.accounts.types import Actor
from xueji.core.errors import ApplicationError, FieldError
from xueji.schools.enums import SchoolState
from xueji.schools.grades import grade_label
from xueji.students.enums import StudentStatus
from xueji.students.models import ArchiveDocument, Enrollment, Person

from ..enums import ChangeKind, Entry, Party, Scope
from ..parties import two_school_scope
from ..policy import in_window
from ..queries import transfer_lookup
from . import register
from .base import Context, KindSpec
from .common import move_to_school, term_of
from .facts import KindFacts, Text, fact
from .inputs import (
    KindForm,
    area_input,
    text_input,
)

# --- the page's form --------------------------------------------------------------------------------


class TransferForm(KindForm):
    kind = ChangeKind.TRANSFER
    article = _("第十五条")
    intro = _("由转入学校发起；转出学校、双方主管部门各在 10 个工作日内办理。学籍号不变，档案随转。")
    class_name = text_input(_("转入班级"), required=True, max_length=30)
    reason_text = area_input(_("转学原因"), help_text=_("如：随父母工作调动、户籍迁移等"))


class TransferFacts(KindFacts):
    class_name: Text = fact("转入班级（必填）")
    reason_text: Text = fact("转学原因")


@register
class Transfer(KindSpec):
    kind = ChangeKind.TRANSFER
    entry = Entry.LOOKUP
    menu_order = 10
    start_label = N_("转学（转入）")
    facts_schema = TransferFacts
    form = TransferForm
    fact_labels: ClassVar[dict[str, str]] = {
        "from_school": N_("转出学校"),
        "to_school": N_("转入学校"),
        "class_name": N_("转入班级"),
        "reason_text": N_("转学原因"),
    }
    initiator = Party.TARGET_SCHOOL
    needs_target_school = True

    def lookup(self, *, student_number: str, name: str) -> Enrollment:
        return transfer_lookup(student_number=student_number, name=name)  # type: ignore[no-any-return]

    def scope(self, ctx: Context) -> str:
        assert ctx.school is not None and ctx.target_school is not None
        return two_school_scope(ctx.school, ctx.target_school)

    def variant(self, ctx: Context) -> str:
        return self.scope(ctx)

    def prepare(self, ctx: Context) -> dict[str, Any]:
        """Rules: blackout 7/15–8/14 for new requests (policy ``transfer_blackout``); grades/terms a province
        closes (``no_transfer_grades``); the target school must be another, active school teaching the stage."""
        enrollment, target = ctx.enrollment, ctx.target_school
        assert enrollment is not None and target is not None and ctx.school is not None
        blackout = ctx.policy.get("transfer_blackout")
        if blackout and in_window(ctx.today, blackout):
            raise ApplicationError(
                "transfer_blackout", f"每年{blackout[0]}至{blackout[1]}不能发起转学申请（第十五条配套规定）"
            )
        if self.scope(ctx) == Scope.SAME_SCHOOL:
            raise FieldError("target_school", "same_school", "转入学校不能是学生当前所在学校")
        if target.state != SchoolState.ACTIVE:
            raise FieldError("target_school", "school_not_active", "转入学校已合并或撤销")
        if not target.teaches(enrollment.stage):
            raise FieldError("target_school", "stage_not_taught", "转入学校没有该学段")
        term = term_of(ctx.today)
        for grade, closed_term in ctx.policy.get("no_transfer_grades", []):
            if enrollment.grade == grade and term == closed_term:
                raise ApplicationError(
                    "grade_closed", f"按本省规定，{grade_label(grade)}第{term}学期不能转学"
                )
        class_name = str(ctx.facts.get("class_name", "")).strip()
        if not class_name:
            raise FieldError("class_name", "required", "请填写转入班级")
        return {
            "class_name": class_name[:30],
            "grade": enrollment.grade,
            "from_school": ctx.school.name,
            "to_school": target.name,
            "reason_text": str(ctx.facts.get("reason_text", ""))[:200],
        }

    def what_changes(self, request: Any) -> list[tuple[str, Any, Any]]:
        e, facts = request.enrollment, request.facts
        return [
            ("school", e.school.name, facts["to_school"]),
            ("class_name", e.class_name, facts["class_name"]),
        ]

    def apply(self, request: Any, actor: Actor, today: date) -> dict[str, Any]:
        enrollment = request.enrollment

        person = Person.objects.get(pk=enrollment.person_id)
        # The sending school's read-only backup of the electronic archive (第15条).
        request.facts["archive_backup"] = {
            "taken_at": timezone.now().isoformat(),
            "school_id": enrollment.school_id,
            "person": {
                "name": person.name,
                "student_number": person.student_number,
                "grade": enrollment.grade,
                "class_name": enrollment.class_name,
            },
            "documents": list(
                ArchiveDocument.objects.filter(person_id=person.pk).values("id", "title", "sha256")
            ),
        }
        request.facts["archive_backup"]["documents"] = [
            {**d, "id": str(d["id"])} for d in request.facts["archive_backup"]["documents"]
        ]
        new = move_to_school(
            enrollment,
            request.target_school,
            grade=request.facts["grade"],
            class_name=request.facts["class_name"],
            leaving_status=StudentStatus.TRANSFERRED_OUT,
            actor=actor,
        )
        return {"enrollment_id": str(new.pk), "school_id": new.school_id, "student_number_unchanged": True}
