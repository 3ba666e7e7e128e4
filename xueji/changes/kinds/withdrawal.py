"""退学 (第18条): 义务教育阶段学生不予办理退学手续; senior high: guardian applies, school confirms, the upper
level is notified (备案, not approval)."""

from __future__ import annotations

from datetime import date
from typing import Any

from xueji.core.errors import ApplicationError, FieldError
from xueji.students.enums import is_compulsory

from ..enums import ChangeKind
from . import register
from .base import Context, KindSpec
from .common import set_status

COMPULSORY_REFUSED = ApplicationError(
    "withdrawal_compulsory", "义务教育阶段学生不予办理退学手续（《中小学生学籍管理办法》第十八条）"
)


@register
class Withdrawal(KindSpec):
    kind = ChangeKind.WITHDRAWAL
    from_statuses = frozenset({"01", "02", "05"})

    def prepare(self, ctx: Context) -> dict[str, Any]:
        assert ctx.enrollment is not None
        if is_compulsory(ctx.enrollment.stage):
            raise COMPULSORY_REFUSED
        applicant = str(ctx.facts.get("applicant_name", "")).strip()
        if not applicant:
            raise FieldError("applicant_name", "required", "请填写申请的监护人姓名（第十八条）")
        return {"applicant_name": applicant[:60], "reason_text": str(ctx.facts.get("reason_text", ""))[:200]}

    def apply(self, request: Any, actor: Any, today: date) -> dict[str, Any]:
        set_status(request.enrollment, "03", active=False)
        return {"status": "03"}
