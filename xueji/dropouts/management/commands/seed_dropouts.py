"""``manage.py seed_dropouts``: dropout cases for the demo (issue 10 §3) after ``manage.py seed`` — 第17条: school
reports and leads from other departments; cases followed and returned to school (this month and earlier months,
for the ledger's returns per month); one being followed; overdue ones escalated to the county and to the city —
so that the 控辍保学 ledger is not empty on a fresh ``make run``. Idempotent: nothing is added when cases exist.
Everything goes through the services, audited like a user's work."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django.core.management.base import BaseCommand
from django.utils import timezone

from xueji.accounts.enums import Role
from xueji.accounts.models import RoleGrant
from xueji.dropouts.enums import FollowUpKind, Outcome, Reason, Source
from xueji.dropouts.models import DropoutCase
from xueji.dropouts.services import case_close, case_open, cases_escalate, follow_up_add
from xueji.regions.enums import OrgLevel
from xueji.students.demo import demo_exists
from xueji.students.models import Enrollment

#: (days ago opened, source, what happens) per demo pupil.
PLAN = (
    (30, Source.SCHOOL, "returned"),  # followed up, back at school this month or last
    (20, Source.SCHOOL, "overdue"),  # first follow-up date passed: escalated to the county
    (10, Source.SCHOOL, "followed"),  # being followed
    (30, Source.LEAD, "overdue"),  # a lead nobody followed for weeks: escalated to the city
    (75, Source.SCHOOL, "returned"),  # returned two months ago
    (12, Source.LEAD, "followed"),  # a lead being followed
)
LEAD_DEPARTMENTS = ("城关派出所", "街道办事处", "民政局")


class Command(BaseCommand):
    help = "演示数据：控辍保学案件（在 manage.py seed 之后运行；已有案件时不再建立）"

    def handle(self, *args: Any, **options: Any) -> None:
        if not demo_exists():
            self.stdout.write("没有演示数据：未建立控辍保学案件。")
        elif not DropoutCase.objects.exists():
            opened = self._cases()
            report = cases_escalate()
            self.stdout.write(
                f"已建立控辍保学演示案件 {opened} 件（升级至县级 {report.county} 件、地市级 {report.city} 件、"
                f"省级 {report.province} 件）。"
            )

    def _cases(self) -> int:
        today = timezone.localdate()
        with_registrar = RoleGrant.objects.filter(role=Role.SCHOOL_REGISTRAR).values("org_unit_id")
        eligible = Enrollment.objects.filter(
            is_active=True, stage__in=["primary", "junior"], grade__gte=4, school__org_id__in=with_registrar
        )
        step = max(1, min(67, eligible.count() // len(PLAN)))  # spread over the demo's schools
        pupils = list(
            eligible.select_related("school", "school__org").order_by("school_id", "pk")[
                : step * len(PLAN) : step
            ]
        )
        counties = list(
            RoleGrant.objects.filter(
                role=Role.DEPT_REGISTRAR, org_unit__level=OrgLevel.COUNTY
            ).select_related("user", "org_unit")
        )
        opened = 0
        for i, (e, (ago, source, fate)) in enumerate(zip(pupils, PLAN, strict=False)):
            school_grant = (
                RoleGrant.objects.filter(role=Role.SCHOOL_REGISTRAR, org_unit_id=e.school.org_id)
                .select_related("user")
                .first()
            )
            county = next((g.user for g in counties if e.scope_path.startswith(g.org_unit.path)), None)
            if school_grant is None or (source == Source.LEAD and county is None):
                continue
            actor = county if source == Source.LEAD else school_grant.user
            assert actor is not None
            start = today - timedelta(days=ago)
            case = case_open(
                actor=actor,
                enrollment=e,
                source=source,
                lead_from=LEAD_DEPARTMENTS[i % len(LEAD_DEPARTMENTS)] if source == Source.LEAD else "",
                days_absent=12 + 5 * i,
                last_seen=start - timedelta(days=14),
                reason=[Reason.STUDY_AVERSION, Reason.WORK, Reason.FAMILY][i % 3],
                today=start,
            )
            opened += 1
            if fate == "returned":
                self._visit(actor, case, start + timedelta(days=3))
                back = start + timedelta(days=7)
                case_close(
                    actor=actor,
                    case=case,
                    outcome=Outcome.RETURNED,
                    returned_class=e.class_name,
                    returned_on=back,
                    today=back,
                )
            elif fate == "followed":
                self._visit(actor, case, today, kind=FollowUpKind.PHONE)
            # "overdue": left with its follow-up date passed — the escalation below moves it up.
        return opened

    @staticmethod
    def _visit(actor: Any, case: DropoutCase, on: date, kind: str = FollowUpKind.VISIT) -> None:
        follow_up_add(
            actor=actor,
            case=case,
            on=on,
            kind=kind,
            people="班主任、学籍管理员",
            result="与监护人面谈，学生同意返校" if kind == FollowUpKind.VISIT else "已联系监护人，约定家访",
            next_in_working_days=5,
            today=on,
        )
