"""``manage.py seed_checks``: problem records for the demo (issue 10 §2) after ``manage.py seed`` — the demo
seed registers only clean data, so a handful of records per school with a registrar are made to look like legacy
data (an archive past its 2-month deadline 第6条, a pupil without a class 第25条, one suspended for over a year
第16条, one whose grade lags its entry year 第7条), then the checks run as they do each night. Idempotent: nothing
is changed when check-opened records exist."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from xueji.accounts.enums import Role
from xueji.accounts.models import RoleGrant
from xueji.checks.services import run_checks
from xueji.students.demo import demo_exists
from xueji.students.models import Enrollment, ProblemRecord

SCHOOLS = 6  # schools with a registrar that get legacy-looking records


class Command(BaseCommand):
    help = "演示数据：问题学籍（在 manage.py seed 之后运行；已有自动检查发现的问题学籍时不再生成）"

    def handle(self, *args: Any, **options: Any) -> None:
        if not demo_exists():
            self.stdout.write("没有演示数据：未生成问题学籍。")
            return
        if ProblemRecord.objects.filter(source=ProblemRecord.Source.CHECK).exists():
            self.stdout.write("已有自动检查发现的问题学籍：未再生成。")
            return
        self._legacy()
        report = run_checks(actor=None)
        self.stdout.write(f"问题学籍自动检查：新增 {report.total} 条 {report.opened}")

    @transaction.atomic
    def _legacy(self) -> None:
        today = timezone.localdate()
        schools = list(
            RoleGrant.objects.filter(role=Role.SCHOOL_REGISTRAR)
            .order_by("org_unit_id")
            .values_list("org_unit_id", flat=True)
            .distinct()[:SCHOOLS]
        )
        for school in schools:
            pupils = list(
                Enrollment.objects.filter(
                    school_id=school, is_active=True, status="01", grade__in=[2, 3, 4, 5]
                )
                .order_by("pk")
                .values_list("pk", "entry_ym")[:4]
            )
            if len(pupils) < 4:
                continue
            (archive, _), (no_class, _), (suspended, _), (lagging, entry) = pupils
            Enrollment.objects.filter(pk=archive).update(
                archive_due=today - timedelta(days=40), archive_completed_at=None
            )
            Enrollment.objects.filter(pk=no_class).update(
                class_name="", registered_at=timezone.now() - timedelta(days=60)
            )
            Enrollment.objects.filter(pk=suspended).update(status="02")
            Enrollment.objects.filter(pk=lagging).update(
                entry_ym=f"{int(entry[:4]) - 1}{entry[4:]}", promoted_year=None
            )
