"""进入专门学校 / 专门学校返回原校 (第11条).

第11条: a student placed in a 专门学校 keeps the 学籍 at the original school. When the student returns to
ordinary education at the original school, the school and its supervising department decide the grade and
the record is updated promptly.

Placement: the school registers it, the department approves; the record stays ACTIVE at the original school
with its status unchanged (在读 or 复学), and the placement (专门学校, start date, the decision it rests on) is
kept in the approved request — :func:`current_placement` is the marker every reader asks. (A nullable
``Enrollment.placement_school`` FK would make it a column; proposed to the lead.)
Return: the school proposes the grade and class, the department approves; then the grade is written.
"""

from __future__ import annotations

from datetime import date
from typing import Any, ClassVar

from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop as N_

from xueji.accounts.types import Actor
from xueji.core.errors import ApplicationError, FieldError
from xueji.schools.enums import SchoolState, SchoolType
from xueji.schools.models import School
from xueji.students.enums import Stage, grade_range
from xueji.students.models import Enrollment

from ..enums import IN_SCHOOL, ChangeKind
from ..models import ChangeRequest
from ..workflow import RequestState
from . import register
from .base import Context, KindSpec
from .common import fact_date
from .facts import Day, Integer, KindFacts, Text, fact
from .inputs import (
    CHOOSE,
    KindForm,
    date_input,
    grade_choices,
    select_input,
    text_input,
)


def current_placement(person_id: Any) -> ChangeRequest | None:
    """The approved placement the student has not yet returned from, if any."""
    placement = (
        ChangeRequest.objects.filter(
            person_id=person_id, kind=ChangeKind.REFORM_PLACEMENT, state=RequestState.APPROVED
        )
        .order_by("-closed_at")
        .first()
    )
    if placement is None:
        return None
    returned = ChangeRequest.objects.filter(
        person_id=person_id,
        kind=ChangeKind.REFORM_RETURN,
        state=RequestState.APPROVED,
        facts__placement_request_id=str(placement.pk),
    ).exists()
    return None if returned else placement


# --- the page's form --------------------------------------------------------------------------------


class ReformPlacementForm(KindForm):
    kind = ChangeKind.REFORM_PLACEMENT
    article = _("第十一条")
    intro = _("进入专门学校就读的学生，学籍保留在原学校。")
    reform_school_id = select_input(_("专门学校"), [])
    start_date = date_input(_("进入专门学校日期"))
    decision_ref = text_input(_("依据"), required=True, help_text=_("教育行政部门决定书或评估意见文号"))

    def setup(self, **kw: Any) -> None:
        self.fields["reform_school_id"].widget.choices = [
            CHOOSE,
            *[(str(s.pk), s.name) for s in kw.get("reform_schools", [])],
        ]


class ReformReturnForm(KindForm):
    kind = ChangeKind.REFORM_RETURN
    article = _("第十一条")
    intro = _("从专门学校返回原学校，由学校及主管部门确定年级，及时更新学籍。")
    return_date = date_input(_("返回原校日期"))
    grade = select_input(_("返回后年级"), grade_choices())
    class_name = text_input(_("班级"), max_length=30, help_text=_("留空则为原班级"))

    def setup(self, **kw: Any) -> None:
        if self.enrollment is not None:
            self.fields["grade"].widget.choices = [CHOOSE, *grade_choices(self.enrollment.stage)]


class ReformPlacementFacts(KindFacts):
    reform_school_id: Integer = fact("专门学校（学校ID）")
    start_date: Day = fact("进入专门学校日期")
    decision_ref: Text = fact("依据：教育行政部门决定书或评估意见文号")


class ReformReturnFacts(KindFacts):
    return_date: Day = fact("返回原校日期")
    grade: Integer = fact("返回后年级（本学段内）")
    class_name: Text = fact("班级（留空则为原班级）")


def reform_schools(province_code: str) -> list[School]:
    """The active 专门学校 of a province, the choices of a placement."""
    return list(
        School.objects.filter(
            school_type=SchoolType.REFORM, state=SchoolState.ACTIVE, province_code=province_code
        ).order_by("name")[:200]
    )


@register
class ReformPlacement(KindSpec):
    kind = ChangeKind.REFORM_PLACEMENT
    menu_order = 50
    facts_schema = ReformPlacementFacts
    form = ReformPlacementForm
    fact_labels: ClassVar[dict[str, str]] = {"start_date": N_("进入专门学校日期")}

    def offered_on(self, enrollment: Enrollment) -> bool:
        """Not while the student is placed already (第11条)."""
        return super().offered_on(enrollment) and current_placement(enrollment.person_id) is None

    def form_options(self, *, enrollment: Enrollment | None) -> dict[str, Any]:
        return {"reform_schools": reform_schools(enrollment.province_code) if enrollment else []}

    from_statuses = IN_SCHOOL

    def prepare(self, ctx: Context) -> dict[str, Any]:
        enrollment = ctx.enrollment
        assert enrollment is not None
        raw = ctx.facts.get("reform_school_id")
        if raw in (None, ""):
            raise FieldError("reform_school_id", "required", "请选择专门学校")
        try:
            reform = School.objects.filter(pk=int(str(raw))).first()
        except (TypeError, ValueError):
            reform = None
        # Only a reform school of the pupil's province may be named (the page offers no other); another
        # province's is answered like a school that is not there (issue #6 §3.1: no wider reach than the page).
        if (
            reform is None
            or reform.school_type != SchoolType.REFORM
            or reform.province_code != enrollment.school.province_code
        ):
            raise FieldError("reform_school_id", "not_reform_school", "所选学校不是本省的专门学校")
        if reform.state != SchoolState.ACTIVE:
            raise FieldError("reform_school_id", "school_not_active", "所选专门学校已合并或撤销")
        if not reform.teaches(enrollment.stage):
            raise FieldError(
                "reform_school_id",
                "stage_not_taught",
                f"所选专门学校没有{Stage(enrollment.stage).label}学段",
            )
        if current_placement(enrollment.person_id) is not None:
            raise ApplicationError("already_placed", "该学生已在专门学校就读，返回原校后才能再次办理")
        start = fact_date(ctx.facts, "start_date", "进入专门学校日期")
        assert start is not None
        decision = str(ctx.facts.get("decision_ref") or "").strip()
        if not decision:
            raise FieldError(
                "decision_ref", "required", "请填写进入专门学校的依据（教育行政部门决定书或评估意见文号）"
            )
        return {
            "reform_school_id": reform.pk,
            "reform_school_name": reform.name,
            "start_date": start.isoformat(),
            "decision_ref": decision[:100],
            "record_school_id": enrollment.school_id,
        }

    # 第11条: the placement starts on its date — an approval before it is applied on that date.
    effective_fact = "start_date"

    def what_changes(self, request: Any) -> list[tuple[str, Any, Any]]:
        return [("reform_school_name", "", request.facts["reform_school_name"])]

    def apply(self, request: Any, actor: Actor, today: date) -> dict[str, Any]:
        # 第11条: 学籍保留在原所在学校 — the enrollment is not touched; the approved request is the marker.
        enrollment = request.enrollment
        request.facts["placed_on"] = today.isoformat()
        return {
            "placement_school_id": request.facts["reform_school_id"],
            "record_school_id": enrollment.school_id,
            "status": enrollment.status,
            "is_active": enrollment.is_active,
        }


@register
class ReformReturn(KindSpec):
    kind = ChangeKind.REFORM_RETURN
    menu_order = 60
    facts_schema = ReformReturnFacts
    form = ReformReturnForm
    fact_labels: ClassVar[dict[str, str]] = {"grade": N_("返回后年级")}

    def offered_on(self, enrollment: Enrollment) -> bool:
        """Only while the student is placed (第11条)."""
        return super().offered_on(enrollment) and current_placement(enrollment.person_id) is not None

    from_statuses = IN_SCHOOL

    def prepare(self, ctx: Context) -> dict[str, Any]:
        enrollment = ctx.enrollment
        assert enrollment is not None and ctx.school is not None
        placement = current_placement(enrollment.person_id)
        if placement is None:
            raise ApplicationError("not_placed", "该学生没有进入专门学校的记录，不需办理返回原校")
        back = fact_date(ctx.facts, "return_date", "返回原校日期")
        assert back is not None
        if back < date.fromisoformat(placement.facts["start_date"]):
            raise FieldError("return_date", "before_placement", "返回原校日期不能早于进入专门学校日期")
        try:
            grade = int(ctx.facts.get("grade"))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise FieldError("grade", "invalid_grade", "请填写返回后的就读年级（1–12）") from None
        if grade not in grade_range(enrollment.stage):
            raise FieldError(
                "grade",
                "grade_out_of_stage",
                f"返回后的年级须在{Stage(enrollment.stage).label}学段内；跨学段请办理升学",
            )
        class_name = str(ctx.facts.get("class_name") or enrollment.class_name).strip()[:30]
        return {
            "placement_request_id": str(placement.pk),
            "reform_school_name": placement.facts["reform_school_name"],
            "return_date": back.isoformat(),
            "grade": grade,
            "class_name": class_name,
        }

    effective_fact = "return_date"  # back at the original school from that date (第11条)

    def what_changes(self, request: Any) -> list[tuple[str, Any, Any]]:
        e, facts = request.enrollment, request.facts
        return [
            ("reform_school_name", facts["reform_school_name"], ""),
            ("grade", e.grade, facts["grade"]),
            ("class_name", e.class_name, facts["class_name"]),
        ]

    def apply(self, request: Any, actor: Actor, today: date) -> dict[str, Any]:
        e = request.enrollment
        e.grade, e.class_name = request.facts["grade"], request.facts["class_name"]
        e.save(update_fields=["grade", "class_name"])
        return {"grade": e.grade, "class_name": e.class_name, "status": e.status}
