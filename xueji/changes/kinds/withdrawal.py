"""退学 (第18条): 义务教育阶段学生不予办理退学手续; senior high: guardian applies, school confirms, the upper
level is notified (备案, not approval)."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.utils.translation import gettext_lazy as _

from xueji.accounts.types import Actor
from xueji.core.errors import ApplicationError, FieldError
from xueji.students.enums import StudentStatus, is_compulsory
from xueji.students.models import Enrollment

from ..enums import ChangeKind
from . import register
from .base import Context, KindSpec
from .common import set_status
from .facts import KindFacts, Text, fact
from .inputs import (
    KindForm,
    area_input,
    text_input,
)

COMPULSORY_REFUSED = ApplicationError(
    "withdrawal_compulsory", "义务教育阶段学生不予办理退学手续（《中小学生学籍管理办法》第十八条）"
)


# --- the page's form --------------------------------------------------------------------------------


class WithdrawalForm(KindForm):
    kind = ChangeKind.WITHDRAWAL
    article = _("第十八条")
    intro = _("仅限普通高中；由监护人申请，学校确认后报上级主管部门备案。义务教育阶段不予办理退学。")
    applicant_name = text_input(_("申请的监护人姓名"), required=True, max_length=60)
    reason_text = area_input(_("退学原因"))


class WithdrawalFacts(KindFacts):
    applicant_name: Text = fact("申请的监护人姓名")
    reason_text: Text = fact("退学原因")


@register
class Withdrawal(KindSpec):
    kind = ChangeKind.WITHDRAWAL
    menu_order = 30
    facts_schema = WithdrawalFacts
    form = WithdrawalForm
    from_statuses = frozenset({StudentStatus.ENROLLED, StudentStatus.SUSPENDED, StudentStatus.RESUMED})

    def refusal(self, enrollment: Enrollment) -> ApplicationError | None:
        """第18条: 义务教育阶段学生不予办理退学手续 — said up front on the pages; ``prepare`` refuses it anyway."""
        return COMPULSORY_REFUSED if is_compulsory(enrollment.stage) else None

    def prepare(self, ctx: Context) -> dict[str, Any]:
        assert ctx.enrollment is not None
        if is_compulsory(ctx.enrollment.stage):
            raise COMPULSORY_REFUSED
        applicant = str(ctx.facts.get("applicant_name", "")).strip()
        if not applicant:
            raise FieldError("applicant_name", "required", "请填写申请的监护人姓名（第十八条）")
        return {"applicant_name": applicant[:60], "reason_text": str(ctx.facts.get("reason_text", ""))[:200]}

    def what_changes(self, request: Any) -> list[tuple[str, Any, Any]]:
        return [("status", request.enrollment.status, StudentStatus.WITHDRAWN)]

    def apply(self, request: Any, actor: Actor, today: date) -> dict[str, Any]:
        set_status(request.enrollment, StudentStatus.WITHDRAWN, active=False)
        return {"status": StudentStatus.WITHDRAWN}
