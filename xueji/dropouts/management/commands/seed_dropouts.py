"""``manage.py seed_dropouts``: dropout cases for the demo (issue 10 §3) after ``manage.py seed`` — 第17条: one
followed and returned to school, one overdue, one being followed — so that the 控辍保学 ledger is not empty on a
fresh ``make run``. Idempotent: nothing is added when cases exist. Everything goes through the services, audited
like a user's work."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand
from django.utils import timezone

from xueji.accounts.enums import Role
from xueji.accounts.models import RoleGrant
from xueji.dropouts.enums import FollowUpKind, Outcome, Reason, Source
from xueji.dropouts.models import DropoutCase
from xueji.dropouts.services import case_close, case_open, follow_up_add
from xueji.students.demo import demo_exists
from xueji.students.models import Enrollment


class Command(BaseCommand):
    help = "演示数据：控辍保学案件（在 manage.py seed 之后运行；已有案件时不再建立）"

    def handle(self, *args: Any, **options: Any) -> None:
        if not demo_exists():
            self.stdout.write("没有演示数据：未建立控辍保学案件。")
        elif not DropoutCase.objects.exists():
            self.stdout.write(f"已建立控辍保学演示案件 {self._cases()} 件。")

    def _cases(self) -> int:
        today = timezone.localdate()
        with_registrar = RoleGrant.objects.filter(role=Role.SCHOOL_REGISTRAR).values("org_unit_id")
        pupils = list(
            Enrollment.objects.filter(
                is_active=True,
                stage__in=["primary", "junior"],
                grade__gte=4,
                school__org_id__in=with_registrar,
            )
            .select_related("school", "school__org")
            .order_by("school_id", "pk")[:200:67]
        )
        opened = 0
        for i, e in enumerate(pupils):
            grant = (
                RoleGrant.objects.filter(role=Role.SCHOOL_REGISTRAR, org_unit_id=e.school.org_id)
                .select_related("user")
                .first()
            )
            if grant is None:
                continue
            actor = grant.user
            start = today - timedelta(days=30 - 10 * i)
            case = case_open(
                actor=actor,
                enrollment=e,
                source=Source.SCHOOL,
                days_absent=12 + 5 * i,
                last_seen=start - timedelta(days=14),
                reason=[Reason.STUDY_AVERSION, Reason.WORK, Reason.FAMILY][i % 3],
                today=start,
            )
            opened += 1
            if i == 0:  # followed up, then back at school
                follow_up_add(
                    actor=actor,
                    case=case,
                    on=start + timedelta(days=3),
                    kind=FollowUpKind.VISIT,
                    people="班主任、学籍管理员",
                    result="与监护人面谈，学生同意返校",
                    next_in_working_days=5,
                    today=start + timedelta(days=3),
                )
                case_close(
                    actor=actor,
                    case=case,
                    outcome=Outcome.RETURNED,
                    returned_class=e.class_name,
                    returned_on=start + timedelta(days=7),
                    today=start + timedelta(days=7),
                )
            elif i == 2:  # being followed
                follow_up_add(
                    actor=actor,
                    case=case,
                    on=today,
                    kind=FollowUpKind.PHONE,
                    people="班主任",
                    result="已联系监护人，约定家访",
                    next_in_working_days=3,
                    today=today,
                )
            # i == 1 is left with its first follow-up date passed: overdue on the ledger.
        return opened
