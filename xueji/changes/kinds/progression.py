"""升学 (第14条): the student moves from the graduating stage into the admitting school's next stage.

第14条: each party completes the hand-over per admission policy, plan and actual reporting; the admitting
school receives and completes the archive. Chain (三方核办, domain.md §3.1): the receiving school applies,
its department approves, then the graduating school's department. The person and the 学籍号 never change
(第8条); the new record starts at the first grade of the next stage (7 or 10). Cross-province progression
may only be started in the windows of policy ``cross_province_progression_windows`` (15 Aug–14 Dec,
1 Mar–31 May by MOE rule; provinces may narrow them).

The student is either still in the graduating grade (6 or 9, active) — the old record then closes as
graduated (07) — or already graduated (07, inactive). The request always carries the old enrollment, so the
graduating school and its department see it (``source_path``) and the graduating department's step resolves.
Starting from a graduated (inactive) record needs the engine to accept inactive records in a kind's
``closed_statuses`` (see that attribute).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any, ClassVar

from django import forms
from django.db import transaction
from django.db.models import CharField, Q
from django.db.models.fields.json import KT
from django.db.models.functions import Cast
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop as N_

from xueji.accounts.types import Actor
from xueji.audit.enums import EventType
from xueji.audit.services import record
from xueji.core.dates import MonthTextInput
from xueji.core.errors import ApplicationError, Conflict, FieldError, NotFound
from xueji.schools.enums import SchoolState
from xueji.schools.grades import grade_label
from xueji.schools.models import School
from xueji.students.enums import Stage, StudentStatus, entry_methods_for
from xueji.students.models import ArchiveDocument, Enrollment, Person
from xueji.students.search import identified_q, normalise_name

from ..enums import ChangeKind, Entry, Party, Scope
from ..models import ChangeRequest
from ..parties import two_school_scope
from ..policy import in_window
from ..services import change_submit
from ..workflow import RequestState
from . import register
from .base import Context, KindSpec
from .cohorts import CohortResult, require_initiator, submit_each
from .common import move_to_school
from .facts import KindFacts, Month, Text, fact
from .inputs import (
    KindForm,
    select_input,
    text_input,
)
from .stages import NEXT_STAGE, first_grade, graduating_grade

GRADUATED = StudentStatus.GRADUATED


def progression_lookup(*, student_number: str, name: str) -> Enrollment:
    """For the admitting school (第14条): the record to progress, found nationally by 学籍号 AND name —
    the active record, else the latest graduated one. Both must match (numbers cannot be probed)."""
    q = identified_q(student_number, name, "person__")
    qs = Enrollment.objects.select_related("school", "school__org", "person").filter(q or Q(pk__in=[]))
    enrollment = (
        (qs.filter(is_active=True).first() or qs.filter(status=GRADUATED).order_by("-registered_at").first())
        if q is not None
        else None
    )
    if enrollment is None:
        raise NotFound("未找到学籍号（或身份证件号）与姓名均匹配的在读或已毕业学生")
    return enrollment


# --- the page's form --------------------------------------------------------------------------------


class ProgressionForm(KindForm):
    kind = ChangeKind.PROGRESSION
    article = _("第十四条")
    intro = _("由升入学校发起，其主管部门和毕业学校主管部门三方核办；学籍号不变，档案由升入学校接收。")
    student_number = forms.CharField(required=False, widget=forms.HiddenInput)
    name = forms.CharField(required=False, widget=forms.HiddenInput)
    class_name = text_input(_("升入班级"), required=True, max_length=30)
    admission_ref = text_input(_("录取依据"), required=True, help_text=_("招生录取文件、录取名单或报到记录"))
    entry_ym = forms.CharField(label=_("入学年月"), required=False, widget=MonthTextInput())
    entry_method = select_input(_("入学方式"), [], required=False)

    def setup(self, **kw: Any) -> None:
        self.fields["entry_ym"].initial = timezone.localdate().strftime("%Y-%m")
        next_stage = kw.get("next_stage")
        if next_stage:
            self.fields["entry_method"].widget.choices = [
                (m.value, m.label) for m in entry_methods_for(next_stage)
            ]


class ProgressionFacts(KindFacts):
    student_number: Text = fact("学籍号（也可在请求体的 lookup 中给出）")
    name: Text = fact("姓名")
    class_name: Text = fact("升入班级")
    admission_ref: Text = fact("录取依据：招生录取文件、录取名单或报到记录")
    entry_ym: Month = fact("入学年月（YYYY-MM，默认本月）")
    entry_method: Text = fact("入学方式（代码，须适用于升入的学段）")


@register
class Progression(KindSpec):
    kind = ChangeKind.PROGRESSION
    entry = Entry.LOOKUP
    menu_order = 20
    start_label = N_("升学接收")
    facts_schema = ProgressionFacts
    form = ProgressionForm
    fact_labels: ClassVar[dict[str, str]] = {
        "from_school": N_("毕业学校"),
        "to_school": N_("升入学校"),
        "stage": N_("升入学段"),
        "grade": N_("升入年级"),
        "class_name": N_("升入班级"),
    }

    def lookup(self, *, student_number: str, name: str) -> Enrollment:
        return progression_lookup(student_number=student_number, name=name)

    def form_options(self, *, enrollment: Enrollment | None) -> dict[str, Any]:
        """The entry methods of the stage the student moves up to."""
        return {"next_stage": NEXT_STAGE.get(enrollment.stage) if enrollment else None}

    initiator = Party.TARGET_SCHOOL
    needs_target_school = True
    from_statuses = frozenset({StudentStatus.ENROLLED, StudentStatus.RESUMED, GRADUATED})
    # ENGINE PROPOSAL: inactive statuses from which this change may start (change_submit refuses inactive
    # records today; with this honoured a graduated student can progress).
    closed_statuses: ClassVar[frozenset[str]] = frozenset({GRADUATED})

    def scope(self, ctx: Context) -> str:
        assert ctx.school is not None and ctx.target_school is not None
        return two_school_scope(ctx.school, ctx.target_school)

    def prepare(self, ctx: Context) -> dict[str, Any]:
        enrollment, target, school = ctx.enrollment, ctx.target_school, ctx.school
        assert enrollment is not None and target is not None and school is not None
        next_stage = NEXT_STAGE.get(enrollment.stage)
        if next_stage is None:
            raise ApplicationError("no_next_stage", "普通高中毕业后的升学不在本系统办理（第十四条）")
        stage_label = Stage(enrollment.stage).label
        last = graduating_grade(enrollment.stage)
        if enrollment.grade != last:
            raise ApplicationError(
                "not_graduating_grade",
                f"只有{stage_label}毕业年级（{grade_label(last)}）的学生或已毕业学生可以办理升学",
            )
        person = Person.objects.get(pk=enrollment.person_id)
        given_number = str(ctx.facts.get("student_number") or "").strip()
        if given_number:
            by_number = identified_q(given_number, person.name)
            if by_number is None or not Person.objects.filter(by_number, pk=person.pk).exists():
                raise FieldError("student_number", "student_number_mismatch", "学籍号与所选学生不符")
        given_name = normalise_name(str(ctx.facts.get("name") or ""))
        if given_name and given_name != person.name:
            raise FieldError("name", "name_mismatch", "姓名与学籍号不符")
        elsewhere = (
            Enrollment.objects.filter(person_id=enrollment.person_id, is_active=True)
            .exclude(pk=enrollment.pk)
            .select_related("school")
            .first()
        )
        if elsewhere is not None:
            raise ApplicationError(
                "student_already_enrolled",
                f"该学生已在“{elsewhere.school.name}”有在读学籍，不能重复建立学籍（第九条）",
            )
        if target.pk == school.pk:
            raise FieldError(
                "target_school", "same_school", "本校学段之间的升级由系统自动完成（第七条），不需办理升学"
            )
        if target.state != SchoolState.ACTIVE:
            raise FieldError("target_school", "school_not_active", "升入学校已合并或撤销")
        if not target.teaches(next_stage):
            raise FieldError(
                "target_school", "stage_not_taught", f"升入学校没有{Stage(next_stage).label}学段"
            )
        if self.scope(ctx) == Scope.CROSS_PROVINCE:
            windows = ctx.policy.get("cross_province_progression_windows") or []
            if not any(in_window(ctx.today, w) for w in windows):
                spans = "、".join(f"{w[0]}至{w[1]}" for w in windows)
                raise ApplicationError(
                    "progression_window",
                    f"毕业后跨省升学只能在每年{spans}发起（第十四条配套规定）",
                )
        admission = str(ctx.facts.get("admission_ref") or "").strip()
        if not admission:
            raise FieldError(
                "admission_ref",
                "required",
                "请填写录取依据（第十四条：依据招生政策、招生计划及学生实际报到情况）",
            )
        class_name = str(ctx.facts.get("class_name") or "").strip()
        if not class_name:
            raise FieldError("class_name", "required", "请填写升入班级")
        if len(class_name) > 30:
            raise FieldError("class_name", "too_long", "班级不能超过 30 个字符")
        entry_ym = str(ctx.facts.get("entry_ym") or f"{ctx.today:%Y%m}").replace("-", "")
        if not (len(entry_ym) == 6 and entry_ym.isdigit() and 1 <= int(entry_ym[4:]) <= 12):
            raise FieldError("entry_ym", "invalid_ym", "入学年月无效（格式 YYYYMM）")
        allowed = [m.value for m in entry_methods_for(next_stage)]
        method = str(ctx.facts.get("entry_method") or allowed[0])
        if method not in allowed:
            raise FieldError(
                "entry_method", "invalid_code", f"入学方式与学段（{Stage(next_stage).label}）不符"
            )
        return {
            "student_number": person.student_number,
            "name": person.name,
            "from_school": school.name,
            "to_school": target.name,
            "graduated": enrollment.status == GRADUATED,
            "stage": next_stage,
            "grade": first_grade(next_stage),
            "class_name": class_name,
            "entry_ym": entry_ym,
            "entry_method": method,
            "admission_ref": admission[:100],
        }

    def what_changes(self, request: Any) -> list[tuple[str, Any, Any]]:
        e, facts = request.enrollment, request.facts
        return [
            ("school", e.school.name, facts["to_school"]),
            ("grade", e.grade, facts["grade"]),
            ("class_name", e.class_name, facts["class_name"]),
        ]

    def apply(self, request: Any, actor: Actor, today: date) -> dict[str, Any]:
        old = Enrollment.objects.select_for_update().get(pk=request.enrollment_id)
        if old.status not in self.from_statuses:
            raise Conflict("record_changed", "该学生的学籍状态已变化，请撤销本申请后重新办理")
        other = (
            Enrollment.objects.filter(person_id=old.person_id, is_active=True)
            .exclude(pk=old.pk)
            .select_related("school")
            .first()
        )
        if other is not None:
            raise Conflict(
                "student_already_enrolled",
                f"该学生已在“{other.school.name}”有在读学籍，不能重复建立学籍（第九条）",
            )
        documents = ArchiveDocument.objects.filter(person_id=old.person_id).count()
        new = move_to_school(
            old,
            request.target_school,
            grade=request.facts["grade"],
            class_name=request.facts["class_name"],
            leaving_status=GRADUATED,
            actor=actor,
            stage=request.facts["stage"],
        )
        new.entry_ym = request.facts["entry_ym"]
        new.entry_method = request.facts["entry_method"]
        new.student_source = "1"
        new.save(update_fields=["entry_ym", "entry_method", "student_source"])
        # 第14条: the admitting school receives the archive (it lives on the person and moves with them).
        request.facts["archive_handover"] = {
            "from_school_id": old.school_id,
            "to_school_id": new.school_id,
            "documents": documents,
            "on": today.isoformat(),
        }
        return {
            "enrollment_id": str(new.pk),
            "school_id": new.school_id,
            "grade": new.grade,
            "previous_status": GRADUATED,
            "student_number_unchanged": True,
        }


def cohort_candidates(*, school: School, grade: int, today: date) -> list[Enrollment]:
    """The cohort of ``school``'s graduating ``grade``: students still in it (active) and students who
    graduated from it within the last year and have not been enrolled anywhere since."""
    active = list(
        Enrollment.objects.filter(
            school=school,
            grade=grade,
            is_active=True,
            status__in=[StudentStatus.ENROLLED, StudentStatus.RESUMED],
        )
        .select_related("person", "school", "school__org", "school__supervising_dept")
        .order_by("class_name", "person__name")
    )
    since = (today - timedelta(days=366)).isoformat()
    graduated_ids = set(
        ChangeRequest.objects.filter(
            kind=ChangeKind.GRADUATION,
            state=RequestState.APPROVED,
            enrollment__school=school,
            enrollment__grade=grade,
            enrollment__status=GRADUATED,
            enrollment__is_active=False,
        )
        .annotate(closed_on=Cast(KT("facts__closed_on"), CharField()))
        .filter(closed_on__gte=since)
        .values_list("enrollment_id", flat=True)
    )
    graduated = list(
        Enrollment.objects.filter(pk__in=graduated_ids)
        .select_related("person", "school", "school__org", "school__supervising_dept")
        .order_by("class_name", "person__name")
    )
    later = set(
        Enrollment.objects.filter(person_id__in=[e.person_id for e in graduated])
        .exclude(pk__in=graduated_ids)
        .values_list("person_id", flat=True)
    )
    return active + [e for e in graduated if e.person_id not in later]


def require_cohort_source(*, actor: Actor, from_school: School, to_school: School) -> None:
    """The parties of a whole-cohort progression (第14条; issue #6 §3.1). The admitting school's registrar acts
    (``TARGET_SCHOOL``), and may name as the graduating school only a school under the department that
    supervises the admitting school (对口/划片升学 is arranged by that department: for a county-run school its
    county). Any other graduating school — another county, another province — is ``NotFound``, before any pupil
    is listed or any request made: a cohort lists a school's pupils, which a single progression (named by
    学籍号 + 姓名, ``progression_lookup``) never does, so the bulk path must not reach further than that
    department. Progressions across departments go one by one."""
    require_initiator(actor, to_school, Party.TARGET_SCHOOL)
    department = to_school.supervising_dept
    if department is None or not from_school.org.path.startswith(department.path):
        raise NotFound()


def cohort_preview(
    *, actor: Actor, from_school: School, to_school: School, grade: int, today: date
) -> list[Enrollment]:
    """The cohort ``progress_cohort`` would submit, for the admitting school's preview; same party rules."""
    require_cohort_source(actor=actor, from_school=from_school, to_school=to_school)
    return cohort_candidates(school=from_school, grade=grade, today=today)


@transaction.atomic
def progress_cohort(
    *,
    actor: Actor,
    from_school: School,
    to_school: School,
    grade: int,
    class_name: str,
    today: date | None = None,
    admission_ref: str = "",
) -> CohortResult:
    """Progress a whole graduating grade of ``from_school`` into ``to_school`` (第14条; e.g. a primary school's
    graduates into their designated junior high), one 升学 request each, started by the admitting school's
    registrar, all in one transaction. Everyone goes into ``class_name`` (the admitting school re-divides its
    classes afterwards). Students the kind refuses are skipped and reported. ``from_school`` outside the
    admitting school's department → ``NotFound`` and nothing written (``require_cohort_source``)."""
    today = today or timezone.localdate()
    require_cohort_source(actor=actor, from_school=from_school, to_school=to_school)
    if grade not in (6, 9):
        raise FieldError("grade", "no_next_stage", "整体升学只适用于小学6年级或初中9年级毕业生")
    reference = admission_ref.strip() or f"{from_school.name}{grade_label(grade)}毕业生整体升学"

    def submit(e: Enrollment) -> ChangeRequest:
        return change_submit(
            actor=actor,
            kind=ChangeKind.PROGRESSION,
            enrollment=e,
            target_school=to_school,
            facts={
                "student_number": e.person.student_number,
                "name": e.person.name,
                "class_name": class_name,
                "admission_ref": reference,
            },
            today=today,
        )

    result = submit_each(
        enrollments=cohort_candidates(school=from_school, grade=grade, today=today),
        submit=submit,
        result=CohortResult(),
    )
    record(
        event_type=EventType.BULK_CHANGE,
        actor=actor,
        subject_type="school",
        subject_id=to_school.pk,
        org_unit_id=to_school.pk,
        province_code=to_school.province_code,
        summary=f"整体升学：{from_school.name}{grade_label(grade)} {len(result.submitted)} 人，跳过 {len(result.skipped)} 人",
        after={
            "from_school": from_school.pk,
            "grade": grade,
            "submitted": [str(r.pk) for r in result.submitted],
            "skipped": [{"enrollment": str(s.enrollment_id), "code": s.code} for s in result.skipped],
        },
    )
    return result
