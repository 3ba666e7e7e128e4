"""休学 / 复学 (第16条): guardian applies (a registrar enters it for them), school confirms, upper level
approves; at most one year per request (policy ``suspension_max_months``), re-apply to extend; the record is
kept; resumption returns the student to the original or the next grade (policy ``resumption_grade``)."""

from __future__ import annotations

from datetime import date
from typing import Any, ClassVar

from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop as N_

from xueji.accounts.types import Actor
from xueji.core.errors import ApplicationError, FieldError
from xueji.students.enums import StudentStatus, grade_range

from ..enums import IN_SCHOOL, ChangeKind
from . import register
from .base import Context, KindSpec
from .common import fact_date, set_status
from .facts import Code, Day, KindFacts, Text, fact
from .inputs import (
    KindForm,
    date_input,
    select_input,
    text_input,
)

REASONS = {
    "illness": "伤病",
    "military": "参军",
    "abroad": "出国（境）",
    "family": "家庭原因",
    "other": "其他",
}


def _months_between(start: date, end: date) -> float:
    return (end - start).days / 30.4375


# --- the page's form --------------------------------------------------------------------------------


class SuspensionForm(KindForm):
    kind = ChangeKind.SUSPENSION
    article = _("第十六条")
    intro = _("由父母或其他法定监护人提出申请，学校核准后报上级主管部门；每次休学不超过一年。")
    reason_field = "reason"
    reason = select_input(_("休学原因"), list(REASONS.items()))
    start_date = date_input(_("休学开始日期"))
    end_date = date_input(_("休学结束日期"), help_text=_("每次不超过 12 个月，期满仍需休学的应重新申请"))
    applicant_name = text_input(_("申请的监护人姓名"), required=True, max_length=60)


class ResumptionForm(KindForm):
    kind = ChangeKind.RESUMPTION
    article = _("第十六条")
    intro = _("休学期满，学生复学；学校核准后报上级主管部门。")
    resume_date = date_input(_("复学日期"))
    grade_choice = select_input(
        _("复学年级"), [("original", _("原年级")), ("next", _("下一年级"))], help_text=_("按本省规定")
    )
    class_name = text_input(_("班级"), max_length=30, help_text=_("留空则为原班级"))


class SuspensionFacts(KindFacts):
    reason: Code = fact("休学原因（代码）", choices=tuple(REASONS))
    start_date: Day = fact("休学开始日期")
    end_date: Day = fact("休学结束日期（每次不超过 12 个月）")
    applicant_name: Text = fact("申请的监护人姓名")


class ResumptionFacts(KindFacts):
    resume_date: Day = fact("复学日期")
    grade_choice: Code = fact(
        "复学年级：original 原年级、next 下一年级（按本省规定）", choices=("original", "next")
    )
    class_name: Text = fact("班级（留空则为原班级）")


@register
class Suspension(KindSpec):
    kind = ChangeKind.SUSPENSION
    menu_order = 10
    facts_schema = SuspensionFacts
    form = SuspensionForm
    fact_labels: ClassVar[dict[str, str]] = {
        "reason": N_("休学原因"),
        "start_date": N_("休学开始日期"),
        "end_date": N_("休学结束日期"),
    }
    from_statuses = IN_SCHOOL
    # 第16条: the suspension runs from its start date — an approval before it is applied on that date.
    effective_fact = "start_date"

    def fact_text(self, key: str, value: Any) -> str | None:
        return REASONS.get(str(value), str(value)) if key == "reason" else None

    def what_changes(self, request: Any) -> list[tuple[str, Any, Any]]:
        return [("status", request.enrollment.status, StudentStatus.SUSPENDED)]

    def prepare(self, ctx: Context) -> dict[str, Any]:
        start = fact_date(ctx.facts, "start_date", "休学开始日期")
        end = fact_date(ctx.facts, "end_date", "休学结束日期")
        assert start is not None and end is not None
        if end <= start:
            raise FieldError("end_date", "end_before_start", "休学结束日期须晚于开始日期")
        limit = int(ctx.policy.get("suspension_max_months", 12))
        if _months_between(start, end) > limit + 0.01:
            raise FieldError(
                "end_date",
                "suspension_too_long",
                f"每次休学不超过 {limit} 个月（第十六条），期满确需继续休学的应重新申请",
            )
        reason = ctx.reason or str(ctx.facts.get("reason", ""))
        if reason not in REASONS:
            raise FieldError("reason", "invalid_reason", "请选择休学原因")
        applicant = str(ctx.facts.get("applicant_name", "")).strip()
        if not applicant:
            raise FieldError(
                "applicant_name", "required", "请填写申请的监护人姓名（第十六条：由父母或其他法定监护人提出）"
            )
        return {
            "start_date": start.isoformat(),
            "end_date": end.isoformat(),
            "reason": reason,
            "applicant_name": applicant[:60],
        }

    def apply(self, request: Any, actor: Actor, today: date) -> dict[str, Any]:
        set_status(request.enrollment, StudentStatus.SUSPENDED)  # 休学: record kept, still this school's
        return {"status": StudentStatus.SUSPENDED, "until": request.facts["end_date"]}


@register
class Resumption(KindSpec):
    kind = ChangeKind.RESUMPTION
    menu_order = 20
    facts_schema = ResumptionFacts
    form = ResumptionForm
    fact_labels: ClassVar[dict[str, str]] = {"grade": N_("复学年级")}
    from_statuses = frozenset({StudentStatus.SUSPENDED})
    effective_fact = "resume_date"  # 第16条: the student resumes on the date (approved earlier: on that date)

    def what_changes(self, request: Any) -> list[tuple[str, Any, Any]]:
        e, facts = request.enrollment, request.facts
        return [
            ("status", e.status, StudentStatus.RESUMED),
            ("grade", e.grade, facts["grade"]),
            ("class_name", e.class_name, facts["class_name"]),
        ]

    def prepare(self, ctx: Context) -> dict[str, Any]:
        assert ctx.enrollment is not None
        day = fact_date(ctx.facts, "resume_date", "复学日期")
        policy_grade = ctx.policy.get("resumption_grade", "original")
        choice = str(ctx.facts.get("grade_choice") or policy_grade)
        if choice not in {"original", "next"}:
            raise FieldError("grade_choice", "invalid", "复学年级只能是原年级或下一年级")
        grade = ctx.enrollment.grade + (1 if choice == "next" else 0)
        if grade not in grade_range(ctx.enrollment.stage):
            raise ApplicationError("grade_out_of_stage", "下一年级超出本学段，请办理升学或毕业")
        class_name = str(ctx.facts.get("class_name") or ctx.enrollment.class_name).strip()
        return {"resume_date": day.isoformat() if day else "", "grade": grade, "class_name": class_name[:30]}

    def apply(self, request: Any, actor: Actor, today: date) -> dict[str, Any]:
        e = request.enrollment
        e.grade, e.class_name, e.status = (
            request.facts["grade"],
            request.facts["class_name"],
            StudentStatus.RESUMED,
        )
        e.save(update_fields=["grade", "class_name", "status"])
        return {"status": StudentStatus.RESUMED, "grade": e.grade, "class_name": e.class_name}
