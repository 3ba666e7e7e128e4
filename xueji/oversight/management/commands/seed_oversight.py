"""``manage.py seed_oversight``: violations for the demo's 违规监督 page (issue 10 §4, 第26条), after the other
seeds — so that every column of the page has a non-zero count somewhere. Real work through the change services
by the demo registrars (audited, notified like a user's), dated back with the services' ``today`` or, where only
time makes the violation, with a ``queryset.update()`` of the timestamps afterwards:

- a transfer submitted three weeks ago and left at the sending school: an approval past its clock and a transfer
  left to expire (第15条, 第26条 五);
- a transfer the sending school refused (第15条, 第26条 五);
- a suspension approved by the county after its clock ran out (第15、16条: approvals past their clock, by person);
- a death filed long after its 60 working days (第21条, 第26条 三: a change not entered on time);
- open problem records past their due day (第9条), and registrations past their archive deadline (第6条), only
  when the demo has none yet (the checks seed usually makes them).

Idempotent: the requests carry the note :data:`MARK`; when one exists no request is added (the back-dating of
problem records and archives only happens when their count is zero). Deterministic for a given ``--today``:
pupils are the first free ones of a school in grade and class order."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from xueji.accounts.enums import Role
from xueji.accounts.models import RoleGrant, User
from xueji.changes.enums import ChangeKind
from xueji.changes.models import ApprovalStep, ChangeRequest
from xueji.changes.services import change_decide, change_submit
from xueji.changes.workflow import IN_FLIGHT_STATES, RequestState, StepState
from xueji.core.errors import ApplicationError
from xueji.dropouts.models import DropoutCase
from xueji.oversight.queries import METRICS, Window
from xueji.schools.models import School
from xueji.students.demo import BASE_SCHOOLS, demo_exists, first_class, school_codes
from xueji.students.models import Enrollment, ProblemRecord
from xueji.verification.models import Finding

#: The note every request of this seed carries: how a second run knows the demo violations exist.
MARK = "演示数据：违规监督（manage.py seed_oversight）"
COUNTY_LOGIN = "haizhu_county"
#: Days back: the expired transfer's submission, the late suspension's submission, the late death's date.
EXPIRED_DAYS_AGO = 21
LATE_DECISION_DAYS_AGO = 24
DEATH_DAYS_AGO = 150
#: How many open problem records / registrations are dated past their deadline when the demo has none.
BACKDATED = 3


class Command(BaseCommand):
    help = "演示数据：违规监督各列的违规情形（在其他演示数据之后运行；已有时不再建立）"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--today", type=date.fromisoformat, default=None, help="按此日期安排（YYYY-MM-DD，默认今天）"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not demo_exists():
            self.stdout.write("没有演示数据：未建立违规监督演示数据。")
            return
        today = options["today"] or timezone.localdate()
        seeder = Seeder(today)
        with transaction.atomic():
            seeder.run()
        for line in seeder.done:
            self.stdout.write(f"  {line}")
        for line in seeder.skipped:
            self.stdout.write(f"  未建立：{line}")
        window = Window.default()
        counts = "、".join(f"{m.short} {m.records('/', window).count()}" for m in METRICS)
        self.stdout.write(f"违规监督演示数据：{counts}。")


class Seeder:
    def __init__(self, today: date) -> None:
        self.today = today
        codes = school_codes(list(BASE_SCHOOLS))
        schools = {
            s.school_code: s
            for s in School.objects.select_related("org").filter(school_code__in=list(codes.values()))
        }
        self.by_key = {key: schools[code] for key, code in codes.items() if code in schools}
        self.county = User.objects.filter(username=COUNTY_LOGIN).first()
        self.done: list[str] = []
        self.skipped: list[str] = []

    def run(self) -> None:
        if ChangeRequest.objects.filter(note=MARK).exists():
            self.skipped.append("已有演示违规异动，未再办理")
        else:
            self._try("转学申请逾期未办理", self._expired_transfer)
            self._try("转学申请被拒绝", self._refused_transfer)
            self._try("审核超期办结", self._late_decision)
            self._try("死亡注销逾期报告", self._late_death)
        self._problems_overdue()
        self._archives_overdue()

    def _try(self, label: str, action: Any) -> None:
        """One violation; a refusal by the services skips that one only (reported), nothing half-written."""
        try:
            with transaction.atomic():
                action()
        except (ApplicationError, LookupError) as exc:
            self.skipped.append(f"{label}（{getattr(exc, 'message', exc)}）")
        else:
            self.done.append(label)

    # --- through the services -------------------------------------------------------------------------

    def _school(self, key: str) -> School:
        school = self.by_key.get(key)
        if school is None:
            raise LookupError("演示学校不存在")
        return school

    def _transfer(self, source_key: str, target_key: str, on: date) -> ChangeRequest:
        """转学 (第15条): the receiving school applies on ``on``."""
        source, target = self._school(source_key), self._school(target_key)
        pupil = self._pupil(source)
        return change_submit(
            actor=self._registrar(target),
            kind=ChangeKind.TRANSFER,
            enrollment=pupil,
            target_school=target,
            facts={"class_name": self._class_at(target, pupil.grade), "reason_text": "随家庭迁居"},
            note=MARK,
            today=on,
        )

    def _expired_transfer(self) -> None:
        """Submitted three weeks ago; the sending school has sat on it past its 10 working days."""
        on = self.today - timedelta(days=EXPIRED_DAYS_AGO)
        req = self._transfer("hz_p2", "hz_p1", on)
        ChangeRequest.objects.filter(pk=req.pk).update(created_at=_at(on))
        pending = ApprovalStep.objects.filter(request=req, state=StepState.PENDING).first()
        if pending is None or pending.due_on is None or pending.due_on >= self.today:
            raise ApplicationError("not_overdue", "转学申请的办理期限未过")

    def _refused_transfer(self) -> None:
        """The sending school refuses (第15条 requires a reason; 第26条 五 makes refusals visible)."""
        req = self._transfer("hz_9", "hz_p1", self.today - timedelta(days=3))
        step = ApprovalStep.objects.select_related("org_unit").get(request=req, position=req.current_position)
        actor = self._actor_for(step)
        req = change_decide(
            actor=actor,
            request=req,
            action="reject",
            comment="转入学校学位已满",
            position=step.position,
            today=self.today,
        )
        if req.state != RequestState.REJECTED:
            raise ApplicationError("not_rejected", "转学申请未被拒绝")

    def _late_decision(self) -> None:
        """休学 (第16条) submitted weeks ago, approved by the county today — after its clock ran out."""
        on = self.today - timedelta(days=LATE_DECISION_DAYS_AGO)
        school, pupil = self._first_free(("hz_p1", "hz_9", "hz_j1", "hz_p2"))
        req = change_submit(
            actor=self._registrar(school),
            kind=ChangeKind.SUSPENSION,
            enrollment=pupil,
            facts={
                "start_date": on.isoformat(),
                "end_date": (on + timedelta(days=180)).isoformat(),
                "reason": "illness",
                "applicant_name": "监护人",
            },
            note=MARK,
            today=on,
        )
        ChangeRequest.objects.filter(pk=req.pk).update(created_at=_at(on))
        self._approve_all(req)
        late = ApprovalStep.objects.filter(request=req, decided_at__isnull=False, due_on__lt=self.today)
        if not late.exists():
            raise ApplicationError("not_late", "审核未超期")

    def _late_death(self) -> None:
        """死亡 (第21条): filed today for a death five months ago — past its 60 working days."""
        school = self._school("hz_p2")
        req = change_submit(
            actor=self._registrar(school),
            kind=ChangeKind.DEATH,
            enrollment=self._pupil(school),
            facts={"date_of_death": (self.today - timedelta(days=DEATH_DAYS_AGO)).isoformat()},
            note=MARK,
            today=self.today,
        )
        if not req.facts.get("filed_late"):
            raise ApplicationError("not_late", "死亡注销未逾期")
        self._approve_all(req)

    def _approve_all(self, req: ChangeRequest) -> None:
        for _ in range(10):
            req = ChangeRequest.objects.get(pk=req.pk)
            if req.state != RequestState.PENDING:
                return
            step = ApprovalStep.objects.select_related("org_unit").get(
                request=req, position=req.current_position
            )
            change_decide(
                actor=self._actor_for(step),
                request=req,
                action="approve",
                position=step.position,
                today=self.today,
            )

    # --- back-dating only ------------------------------------------------------------------------------

    def _problems_overdue(self) -> None:
        """第9条: a few open problem records past their due day, when none is."""
        open_ = ProblemRecord.objects.filter(state=ProblemRecord.State.OPEN)
        if open_.filter(due_on__lt=self.today).exists():
            return
        pks = list(open_.order_by("created_at", "pk").values_list("pk", flat=True)[:BACKDATED])
        if not pks:
            self.skipped.append("问题学籍逾期（没有待处理的问题学籍）")
            return
        ProblemRecord.objects.filter(pk__in=pks).update(due_on=self.today - timedelta(days=3))
        self.done.append(f"问题学籍逾期 {len(pks)} 条")

    def _archives_overdue(self) -> None:
        """第6条: a few registrations past their two-month archive deadline, when none is."""
        active = Enrollment.objects.filter(is_active=True, archive_completed_at__isnull=True)
        if active.filter(archive_due__lt=self.today).exists():
            return
        pks = list(active.order_by("school_id", "pk").values_list("pk", flat=True)[:BACKDATED])
        Enrollment.objects.filter(pk__in=pks).update(archive_due=self.today - timedelta(days=10))
        if pks:
            self.done.append(f"档案逾期 {len(pks)} 条")

    # --- helpers ----------------------------------------------------------------------------------------

    def _pupil(self, school: School) -> Enrollment:
        """The first compulsory pupil of the school free of other business (grade, class order)."""
        busy = (
            Q(person_id__in=ProblemRecord.objects.filter(state=ProblemRecord.State.OPEN).values("person_id"))
            | Q(person_id__in=DropoutCase.objects.values("person_id"))
            | Q(pk__in=Finding.objects.values("enrollment_id"))
            | Q(
                person_id__in=ChangeRequest.objects.filter(state__in=list(IN_FLIGHT_STATES)).values(
                    "person_id"
                )
            )
        )
        pupil = (
            Enrollment.objects.filter(
                school_id=school.pk,
                is_active=True,
                status="01",
                stage__in=["primary", "junior"],
                grade__gte=2,
            )
            .exclude(busy)
            .select_related("school", "school__org")
            .order_by("grade", "class_name", "class_number", "pk")
            .first()
        )
        if pupil is None:
            raise LookupError(f"{school.name}没有合适的学生")
        return pupil

    def _first_free(self, keys: tuple[str, ...]) -> tuple[School, Enrollment]:
        """The first of the schools ``keys`` that has a free pupil, and that pupil."""
        for key in keys:
            school = self.by_key.get(key)
            if school is not None:
                try:
                    return school, self._pupil(school)
                except LookupError:
                    continue
        raise LookupError("演示学校没有合适的学生")

    def _registrar(self, school: School) -> User:
        grant = (
            RoleGrant.objects.filter(role=Role.SCHOOL_REGISTRAR, org_unit_id=school.org_id)
            .order_by("pk")
            .first()
        )
        if grant is None:
            raise LookupError(f"{school.name}没有演示学籍管理员")
        return User.objects.get(pk=grant.user_id)

    def _actor_for(self, step: ApprovalStep) -> User:
        if step.party in {"school", "target_school"}:
            school = School.objects.filter(org_id=step.org_unit_id).first()
            if school is not None:
                return self._registrar(school)
        grant = (
            RoleGrant.objects.filter(
                org_unit_id=step.org_unit_id, role__in=[Role.DEPT_REGISTRAR, Role.APPROVER]
            )
            .order_by("pk")
            .first()
        )
        if grant is None:
            raise LookupError(f"{step.org_unit.name}没有演示账号")
        return User.objects.get(pk=grant.user_id)

    @staticmethod
    def _class_at(school: School, grade: int) -> str:
        return first_class(school, grade)


def _at(day: date) -> Any:
    """Nine in the morning of ``day``, local time."""
    from datetime import datetime, time  # noqa: PLC0415

    return timezone.make_aware(datetime.combine(day, time(9)))
