"""死亡 (第21条): the school files with evidence within 60 working days of the death; the upper level cancels
the record. A late filing is still accepted (a record must never outlive the child) but marked overdue."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.utils.translation import gettext_lazy as _

from xueji.accounts.types import Actor
from xueji.core.errors import FieldError
from xueji.students.enums import StudentStatus
from xueji.workdays.services import official_calendar

from ..enums import ChangeKind
from . import register
from .base import Context, KindSpec
from .common import fact_date, set_status
from .facts import Day, KindFacts, fact
from .inputs import (
    KindForm,
    date_input,
)

# --- the page's form --------------------------------------------------------------------------------


class DeathForm(KindForm):
    kind = ChangeKind.DEATH
    article = _("第二十一条")
    intro = _("学校凭死亡证明在 60 个工作日内报上级主管部门注销学籍。请在提交后上传死亡证明。")
    date_of_death = date_input(_("死亡日期"))


class DeathFacts(KindFacts):
    date_of_death: Day = fact("死亡日期")


@register
class Death(KindSpec):
    kind = ChangeKind.DEATH
    menu_order = 130
    facts_schema = DeathFacts
    form = DeathForm
    from_statuses = None  # any active record

    def prepare(self, ctx: Context) -> dict[str, Any]:
        died = fact_date(ctx.facts, "date_of_death", "死亡日期")
        assert died is not None
        if died > ctx.today:
            raise FieldError("date_of_death", "in_future", "死亡日期不能晚于今天")
        days = int(ctx.policy.get("death_filing_working_days", 60))
        deadline = official_calendar().add_working_days(died, days)
        return {
            "date_of_death": died.isoformat(),
            "filing_due": deadline.due.isoformat(),
            "filing_due_provisional": deadline.provisional,
            "filed_late": ctx.today > deadline.due,
        }

    def what_changes(self, request: Any) -> list[tuple[str, Any, Any]]:
        return [("status", request.enrollment.status, StudentStatus.DECEASED)]

    def apply(self, request: Any, actor: Actor, today: date) -> dict[str, Any]:
        set_status(request.enrollment, StudentStatus.DECEASED, active=False)
        return {"status": StudentStatus.DECEASED}
