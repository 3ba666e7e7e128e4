"""``manage.py seed_verification``: a semester verification round 学籍核查 for the demo (issue 10 §2, 第25条), after
``manage.py seed`` and ``seed_dropouts``: 广东省 opened it three weeks ago and its deadline passed yesterday; a
few schools submitted (one accepted by 海珠区, one waiting for its review, one returned with a note), the others
— the demo school registrar's among them, left for the demo user — are overdue. Idempotent: nothing is added when a round exists.
Everything goes through the services, audited like a user's work; schools without a demo login get a filed
registrar account ``demo_reg_<学校标识码>`` (no usable password) so that their submission is a registrar's."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from xueji.accounts.models import RoleGrant, User
from xueji.checks.queries import unexplained_open_problems
from xueji.regions.models import OrgUnit
from xueji.students.demo import demo_exists, demo_school_registrar
from xueji.students.models import Enrollment
from xueji.verification.enums import CorrectionField, FindingKind, Semester, Whereabouts
from xueji.verification.models import SchoolReturn, VerificationRound
from xueji.verification.services import (
    finding_save,
    return_accept,
    return_send_back,
    return_submit,
    round_open,
)


class Command(BaseCommand):
    help = "演示数据：学籍核查批次（在 manage.py seed 之后运行；已有核查批次时不再建立）"

    def handle(self, *args: Any, **options: Any) -> None:
        if not demo_exists():
            self.stdout.write("没有演示数据：未建立学籍核查。")
        elif VerificationRound.objects.exists():
            self.stdout.write("已有学籍核查批次：未再建立。")
        else:
            with transaction.atomic():
                self.stdout.write(self._round())

    def _user(self, username: str) -> User | None:
        return User.objects.filter(username=username).first()

    def _registrar(self, ret: SchoolReturn) -> User:
        return demo_school_registrar(ret.school)

    def _round(self) -> str:
        province = self._user("gd_province")
        county = self._user("haizhu_county")
        unit = OrgUnit.objects.filter(level="province", code="440000").first()
        if province is None or county is None or unit is None:
            return "演示账号不全：未建立学籍核查。"
        today = timezone.localdate()
        year = today.year if today.month >= 8 else today.year - 1
        semester = Semester.FIRST if today.month >= 8 or today.month == 1 else Semester.SECOND
        rnd = round_open(
            actor=province,
            unit=unit,
            title=f"{year}—{year + 1}学年{Semester(semester).label}学籍核查",
            school_year=year,
            semester=semester,
            deadline=today - timedelta(days=1),
            today=today - timedelta(days=21),
        )
        # The demo school registrar's own school stays to do (overdue) for whoever tries the demo.
        demo_login_schools = set(
            RoleGrant.objects.filter(user__username="school_registrar").values_list("org_unit_id", flat=True)
        )
        # Schools of 海珠区 without open problem records (those could not submit before explaining them, 第25条).
        free = [
            r
            for r in SchoolReturn.objects.filter(round=rnd, scope_path__startswith=county_path(county))
            .select_related("school", "school__org", "round", "reviewer")
            .order_by("school__school_code")
            if not unexplained_open_problems(r.school).exists() and r.school_id not in demo_login_schools
        ]
        plan = ["accept", "return", "wait"]
        done = 0
        for ret, step in zip(free, plan, strict=False):
            registrar = self._registrar(ret)
            pupils = list(
                Enrollment.objects.filter(school_id=ret.school_id, is_active=True).order_by("grade", "pk")[:2]
            )  # the lowest grades first: a compulsory-education pupil where the school has any
            if pupils and step == "return":
                finding_save(
                    actor=registrar,
                    ret=ret,
                    enrollment_id=pupils[0].pk,
                    kind=FindingKind.ABSENT,
                    whereabouts=Whereabouts.NOT_IN_SCHOOL,
                    detail="开学以来未到校，监护人外出务工，电话未接通",
                )
            if pupils and step == "accept":
                finding_save(
                    actor=registrar,
                    ret=ret,
                    enrollment_id=pupils[0].pk,
                    kind=FindingKind.CORRECTION,
                    correction_fields=[CorrectionField.GRADE_CLASS],
                    detail="实际在读班级与学籍不符",
                )
            if len(pupils) > 1 and step == "wait":
                finding_save(
                    actor=registrar,
                    ret=ret,
                    enrollment_id=pupils[1].pk,
                    kind=FindingKind.PHANTOM,
                    detail="查无此人，学籍为上学期误录",
                )
            submitted = return_submit(actor=registrar, ret=ret)
            if step == "accept":
                return_accept(actor=county, ret=submitted, note="核查结果属实")
            elif step == "return":
                return_send_back(
                    actor=county, ret=submitted, note="人籍分离学生须报告控辍保学并说明家访情况后重新提交"
                )
            done += 1
        total = SchoolReturn.objects.filter(round=rnd).count()
        return f"已建立学籍核查“{rnd.title}”：{total} 所学校，其中 {done} 所已提交（1 所通过、1 所退回）。"


def county_path(county: User) -> str:
    grant = RoleGrant.objects.filter(user=county).select_related("org_unit").first()
    return grant.org_unit.path if grant else "/-/"
