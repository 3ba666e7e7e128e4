"""``manage.py seed_changes``: applied 学籍异动 for the demo (issue 10 §1), after ``manage.py seed`` — the demo
seed registers pupils and applies no change, so the statistics' monthly flows would show dropouts only. Here a
handful of real changes at the schools of 海珠区 go through the change services, approved step by step by the
registrars of the chain like a user's work (audited, notified): transfers between schools of the county
(第15条), suspensions and a resumption (第16条), a senior-high withdrawal (第18条: never in compulsory education),
a death (第21条) and — in the graduation season (June–August, the end of the school year) — graduations
(第19条). Each change is dated some days to weeks back within the current school year (the services' ``today``,
as ``seed_dropouts`` dates its cases), so the flows spread over recent months.

Idempotent: the requests carry the note :data:`MARK`; when one exists nothing is added. Deterministic for a
given ``--today``: the pupils are the first eligible ones of a school and grade in class and class-number order.
Pupils with a problem record, business in flight, an earlier change of this seed or any audited event since
their registration (a dropout case, a verification finding, a bound guardian) are left alone. Schools of the
chain without a registrar get a filed account ``demo_reg_<学校标识码>`` (no usable password), as
``seed_verification`` makes them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from xueji.accounts.enums import Role
from xueji.accounts.models import RoleGrant, User
from xueji.audit.enums import EventType
from xueji.audit.models import AuditEvent
from xueji.changes.enums import ChangeKind
from xueji.changes.models import ApprovalStep, ChangeRequest
from xueji.changes.policy import in_window, policy_for
from xueji.changes.services import change_decide, change_submit
from xueji.changes.workflow import IN_FLIGHT_STATES, RequestState
from xueji.core.errors import ApplicationError
from xueji.schools.models import School
from xueji.students.demo import (
    BASE_SCHOOLS,
    demo_exists,
    demo_school_registrar,
    first_class,
    school_codes,
    school_year_start,
)
from xueji.students.models import Enrollment, Guardian, ProblemRecord

#: The note every request of this seed carries: how a second run knows the demo changes exist.
MARK = "演示数据：学籍异动（manage.py seed_changes）"
COUNTY_LOGIN = "haizhu_county"
GRADUATION_MONTHS = (6, 7, 8)  # the end of the school year (第19条 graduations happen then)


@dataclass(frozen=True)
class Step:
    """One planned change: its kind, the school key and the grades to take the pupil from (the first that has
    a free pupil; small demos have few per grade), days before today, and for a transfer the receiving
    school's key."""

    kind: str
    school: str
    grades: tuple[int, ...]
    days_ago: int
    target: str = ""


#: The plan, at the schools of 海珠区 (the demo county login approves). A resumption brings back the pupil of
#: the first suspension at the same school.
PLAN: tuple[Step, ...] = (
    Step(ChangeKind.TRANSFER, "hz_p2", (3, 4, 2, 5), 75, target="hz_p1"),
    Step(ChangeKind.SUSPENSION, "hz_p1", (5, 4, 3, 2, 1), 70),
    Step(ChangeKind.SUSPENSION, "hz_j1", (7, 8), 50),
    Step(ChangeKind.TRANSFER, "hz_p1", (4, 3, 2, 5, 1), 45, target="hz_9"),
    Step(ChangeKind.WITHDRAWAL, "hz_s1", (10, 11), 40),
    Step(ChangeKind.RESUMPTION, "hz_p1", (), 30),
    Step(ChangeKind.DEATH, "hz_p2", (2, 1, 3, 4, 5), 25),
    Step(ChangeKind.SUSPENSION, "hz_s1", (11, 10), 20),
    Step(ChangeKind.TRANSFER, "hz_j1", (8, 7), 12, target="hz_9"),
)
#: Graduations in the graduation season only: (school key, graduating grade, pupils).
GRADUATIONS: tuple[tuple[str, int, int], ...] = (("hz_p1", 6, 2), ("hz_j1", 9, 1), ("hz_s1", 12, 1))


class Command(BaseCommand):
    help = (
        "演示数据：已办结的学籍异动（转学、休学、复学、退学、死亡、毕业），供统计的月度变动"
        "（在 manage.py seed 之后运行；已有时不再建立）"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--today",
            type=date.fromisoformat,
            default=None,
            help="按此日期安排异动日期（YYYY-MM-DD，默认今天）",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not demo_exists():
            self.stdout.write("没有演示数据：未办理学籍异动。")
            return
        if ChangeRequest.objects.filter(note=MARK).exists():
            self.stdout.write("已有演示学籍异动：未再办理。")
            return
        county = User.objects.filter(username=COUNTY_LOGIN).first()
        if county is None:
            self.stdout.write("演示账号不全：未办理学籍异动。")
            return
        today = options["today"] or timezone.localdate()
        with transaction.atomic():
            done, skipped = Seeder(county, today).run()
        summary = "、".join(f"{ChangeKind(k).label} {n} 件" for k, n in done.items()) or "无"
        self.stdout.write(f"已办理演示学籍异动：{summary}。")
        for line in skipped:
            self.stdout.write(f"  未办理：{line}")


class Seeder:
    def __init__(self, county: User, today: date) -> None:
        self.county = county
        self.today = today
        # Nothing dated before this school year began: the demo pupils' grades are this year's.
        self.year_start = date(school_year_start(today), 9, 1)
        codes = school_codes(list(BASE_SCHOOLS))
        self.schools = {
            s.school_code: s
            for s in School.objects.select_related("org").filter(school_code__in=list(codes.values()))
        }
        self.by_key = {key: self.schools[code] for key, code in codes.items() if code in self.schools}
        # Students something was audited about since their registration (their subject id is the person's).
        self.touched = set(
            AuditEvent.objects.filter(subject_type="student")
            .exclude(event_type=EventType.STUDENT_REGISTERED)
            .values_list("subject_id", flat=True)
        )
        self.suspended: dict[str, Enrollment] = {}  # school key → the pupil of its first suspension
        self.done: dict[str, int] = {}
        self.skipped: list[str] = []

    # --- the plan -------------------------------------------------------------------------------------

    def run(self) -> tuple[dict[str, int], list[str]]:
        for step in PLAN:
            school = self.by_key.get(step.school)
            if school is None or (step.target and step.target not in self.by_key):
                self.skipped.append(f"{ChangeKind(step.kind).label}（演示学校不存在）")
                continue
            on = max(self.today - timedelta(days=step.days_ago), self.year_start)
            self._one(step, school, on)
        if self.today.month in GRADUATION_MONTHS:
            for key, grade, count in GRADUATIONS:
                school = self.by_key.get(key)
                for pupil in self._pupils(school, grade, count) if school is not None else []:
                    self._try(ChangeKind.GRADUATION, lambda p=pupil, s=school: self._graduate(s, p))
        return self.done, self.skipped

    def _one(self, step: Step, school: School, on: date) -> None:
        if step.kind == ChangeKind.RESUMPTION:
            pupil = self.suspended.get(step.school)
            if pupil is None:
                self.skipped.append(f"{ChangeKind(step.kind).label}（没有演示休学学生）")
                return
            self._try(step.kind, lambda: self._resume(school, pupil, on))
            return
        found = next((p for g in step.grades if (p := self._pupils(school, g, 1))), [])
        if not found:
            self.skipped.append(f"{ChangeKind(step.kind).label}（{school.name}没有合适的学生）")
            return
        pupil = found[0]
        if step.kind == ChangeKind.TRANSFER:
            target = self.by_key[step.target]
            self._try(
                step.kind,
                lambda: self._transfer(school, target, pupil, self._transfer_day(on, school.province_code)),
            )
        elif step.kind == ChangeKind.SUSPENSION:
            if self._try(step.kind, lambda: self._suspend(school, pupil, on)):
                self.suspended.setdefault(step.school, pupil)
        elif step.kind == ChangeKind.WITHDRAWAL:
            self._try(step.kind, lambda: self._withdraw(school, pupil, on))
        elif step.kind == ChangeKind.DEATH:
            self._try(step.kind, lambda: self._death(school, pupil, on))

    def _try(self, kind: str, action: Any) -> bool:
        """Run one change; a refusal (the services' rules) is reported and skips that change only."""
        try:
            with transaction.atomic():
                req = action()
                if req.state != RequestState.APPROVED:
                    raise ApplicationError("not_applied", f"申请停在“{req.get_state_display()}”")
        except ApplicationError as exc:
            self.skipped.append(f"{ChangeKind(kind).label}（{exc.message}）")
            return False
        self.done[kind] = self.done.get(kind, 0) + 1
        return True

    # --- the changes, through the services ------------------------------------------------------------

    def _transfer(self, school: School, target: School, pupil: Enrollment, on: date) -> ChangeRequest:
        """转学 (第15条): the receiving school applies, the sending school and the county approve."""
        req = change_submit(
            actor=self._registrar(target),
            kind=ChangeKind.TRANSFER,
            enrollment=pupil,
            target_school=target,
            facts={"class_name": self._class_at(target, pupil.grade), "reason_text": "随家庭迁居"},
            note=MARK,
            today=on,
        )
        return self._approve_all(req, on)

    def _suspend(self, school: School, pupil: Enrollment, on: date) -> ChangeRequest:
        """休学 (第16条): the guardian applies through the school, the county approves; at most one year."""
        req = change_submit(
            actor=self._registrar(school),
            kind=ChangeKind.SUSPENSION,
            enrollment=pupil,
            facts={
                "start_date": on.isoformat(),
                "end_date": (on + timedelta(days=180)).isoformat(),
                "reason": "illness",
                "applicant_name": self._guardian(pupil),
            },
            note=MARK,
            today=on,
        )
        return self._approve_all(req, on)

    def _resume(self, school: School, pupil: Enrollment, on: date) -> ChangeRequest:
        """复学 (第16条): back to the original grade."""
        req = change_submit(
            actor=self._registrar(school),
            kind=ChangeKind.RESUMPTION,
            enrollment=Enrollment.objects.get(pk=pupil.pk),
            facts={"resume_date": on.isoformat(), "grade_choice": "original"},
            note=MARK,
            today=on,
        )
        return self._approve_all(req, on)

    def _withdraw(self, school: School, pupil: Enrollment, on: date) -> ChangeRequest:
        """退学 (第18条): senior high only, on the guardian's application; filed with the county."""
        req = change_submit(
            actor=self._registrar(school),
            kind=ChangeKind.WITHDRAWAL,
            enrollment=pupil,
            facts={"applicant_name": self._guardian(pupil), "reason_text": "监护人申请，随家庭出国"},
            note=MARK,
            today=on,
        )
        return self._approve_all(req, on)

    def _death(self, school: School, pupil: Enrollment, on: date) -> ChangeRequest:
        """死亡 (第21条): filed by the school within 60 working days of the death."""
        req = change_submit(
            actor=self._registrar(school),
            kind=ChangeKind.DEATH,
            enrollment=pupil,
            facts={"date_of_death": (on - timedelta(days=5)).isoformat()},
            note=MARK,
            today=on,
        )
        return self._approve_all(req, on)

    def _graduate(self, school: School, pupil: Enrollment) -> ChangeRequest:
        """毕业 (第19条): the graduating grade, at the end of the school year."""
        req = change_submit(
            actor=self._registrar(school),
            kind=ChangeKind.GRADUATION,
            enrollment=pupil,
            facts={"certificate_number": ""},
            note=MARK,
            today=self.today,
        )
        return self._approve_all(req, self.today)

    def _approve_all(self, req: ChangeRequest, on: date) -> ChangeRequest:
        """Each remaining step of the chain approved by a registrar acting for its unit."""
        for _ in range(10):  # a chain has at most a handful of steps
            req = ChangeRequest.objects.get(pk=req.pk)
            if req.state != RequestState.PENDING:
                break
            step = ApprovalStep.objects.select_related("org_unit").get(
                request=req, position=req.current_position
            )
            actor = self._actor_for(step.org_unit_id, step.party)
            if actor is None:
                raise ApplicationError("no_demo_approver", f"{step.org_unit.name}没有演示账号")
            req = change_decide(actor=actor, request=req, action="approve", position=step.position, today=on)
        return req

    # --- helpers --------------------------------------------------------------------------------------

    def _actor_for(self, org_unit_id: int, party: str) -> User | None:
        school = School.objects.filter(pk=org_unit_id).first()
        if school is not None and party in {"school", "target_school"}:
            return self._registrar(school)
        grant = (
            RoleGrant.objects.filter(org_unit_id=org_unit_id, role__in=[Role.DEPT_REGISTRAR, Role.APPROVER])
            .select_related("user")
            .order_by("pk")
            .first()
        )
        return User.objects.get(pk=grant.user_id) if grant is not None else None

    def _registrar(self, school: School) -> User:
        return demo_school_registrar(school)

    def _pupils(self, school: School, grade: int, count: int) -> list[Enrollment]:
        """The first ``count`` pupils of the school's grade, in class and class-number order, to whom nothing
        has happened since their registration: no problem record, no request in flight or of this seed, no
        audited event about them but the registration (the other demo seeds' dropout cases, verification
        findings and bound guardians are audited on the student)."""
        requests = ChangeRequest.objects.filter(Q(state__in=list(IN_FLIGHT_STATES)) | Q(note=MARK))
        busy = Q(person_id__in=ProblemRecord.objects.values("person_id")) | Q(
            person_id__in=requests.values("person_id")
        )
        candidates = (
            Enrollment.objects.filter(school_id=school.pk, grade=grade, is_active=True, status="01")
            .exclude(busy)
            .select_related("school", "school__org")
            .order_by("class_name", "class_number", "person__birth_date", "pk")
        )
        found: list[Enrollment] = []
        for pupil in candidates.iterator(chunk_size=200):
            if str(pupil.person_id) not in self.touched:
                found.append(pupil)
                if len(found) == count:
                    break
        return found

    def _guardian(self, pupil: Enrollment) -> str:
        member = Guardian.objects.filter(person_id=pupil.person_id, is_guardian=True).order_by("pk").first()
        return member.name if member is not None else "监护人"

    @staticmethod
    def _class_at(school: School, grade: int) -> str:
        return first_class(school, grade)

    @staticmethod
    def _transfer_day(on: date, province: str) -> date:
        """The day, moved before the province's summer stop for new transfer requests when it falls inside."""
        for _ in range(40):
            blackout = policy_for(province, on).get("transfer_blackout")
            if not blackout or not in_window(on, blackout):
                return on
            on -= timedelta(days=1)
        return on
