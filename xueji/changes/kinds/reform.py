"""进入专门学校 / 专门学校返回原校 (第11条).

第11条: a student placed in a 专门学校 keeps the 学籍 at the original school. When the student returns to
ordinary education at the original school, the school and its supervising department decide the grade and
the record is updated promptly.

Placement: the school registers it, the department approves; the record stays ACTIVE at the original school
with its status unchanged ("01"/"05"), and the placement (专门学校, start date, the decision it rests on) is
kept in the approved request — :func:`current_placement` is the marker every reader asks. (A nullable
``Enrollment.placement_school`` FK would make it a column; proposed to the lead.)
Return: the school proposes the grade and class, the department approves; then the grade is written.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from xueji.core.errors import ApplicationError, FieldError
from xueji.schools.enums import SchoolState, SchoolType
from xueji.schools.models import School
from xueji.students.enums import Stage, grade_range

from ..enums import ChangeKind
from ..models import ChangeRequest
from ..workflow import RequestState
from . import register
from .base import Context, KindSpec
from .common import fact_date


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


@register
class ReformPlacement(KindSpec):
    kind = ChangeKind.REFORM_PLACEMENT
    from_statuses = frozenset({"01", "05"})

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

    def apply(self, request: Any, actor: Any, today: date) -> dict[str, Any]:
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
    from_statuses = frozenset({"01", "05"})

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

    def apply(self, request: Any, actor: Any, today: date) -> dict[str, Any]:
        e = request.enrollment
        e.grade, e.class_name = request.facts["grade"], request.facts["class_name"]
        e.save(update_fields=["grade", "class_name"])
        return {"grade": e.grade, "class_name": e.class_name, "status": e.status}
