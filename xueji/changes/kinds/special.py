"""特殊教育 (第11、14条): 随班就读 / 送教上门 status, and the expert committee's decisions.

第11条: students needing 随班就读 (learning in an ordinary class) or 送教上门 (an ordinary school teaching at
home) prove their special status with a 残疾人证 or material from a county-level (or higher) hospital or an
assessment body; the school manages them by disability category and level. Both services belong to ORDINARY
schools (a special-education school's students need no such status).

- The category is ``Person.disability_type`` (national codes 1–8); ``Person.inclusive_education`` is set
  from it for 随班就读 (1 视力, 2 听力, 3 智力, else 4 其他) and stays 0 for 送教上门. The level (1–4) and the
  service (随班就读/送教上门) have no national field: they are kept in the approved request (model fields for
  them are proposed to the lead).
- A 第二代残疾人证 number is the holder's 18-character ID number + category digit (1–7) + level digit (1–4);
  when given, it must agree with the student's ID number and the declared category and level.

第14条: the school commissions the disability-education expert committee; on its assessment the student is
promoted, graduates, progresses, or — in special cases — repeats a grade (降级). The school registers the
decision, the upper level approves, then the grade (or status) changes.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any, ClassVar

from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop as N_

from xueji.accounts.types import Actor
from xueji.core.errors import ApplicationError, FieldError
from xueji.core.masking import mask_id_number
from xueji.schools.enums import SchoolType
from xueji.students.enums import DisabilityType, Stage, StudentStatus, grade_range
from xueji.students.models import Enrollment, Person

from ..enums import IN_SCHOOL, ChangeKind
from . import register
from .base import Context, KindSpec
from .common import fact_date, set_status
from .facts import Code, Day, Integer, KindFacts, Text, fact
from .inputs import (
    KindForm,
    date_input,
    select_input,
    text_input,
)
from .stages import NEXT_STAGE, first_grade, valid_entry_method

SERVICES = {"inclusive": "随班就读", "home_teaching": "送教上门"}
EVIDENCE_TYPES = {
    "disability_certificate": "残疾人证",
    "medical": "县级以上医院或相关鉴定单位出具的证明材料",
}
INCLUSIVE_CODE = {"1": "1", "2": "2", "5": "3"}  # disability type → 随班就读 code; others → "4"
_CERTIFICATE = re.compile(r"([0-9]{17}[0-9X])([1-7])([1-4])", re.ASCII)
DECISIONS = {"promote": "升级", "repeat": "降级", "graduate": "毕业", "progress": "升学"}


def _required_text(facts: dict[str, Any], key: str, message: str, limit: int = 100) -> str:
    value = str(facts.get(key) or "").strip()
    if not value:
        raise FieldError(key, "required", message)
    return value[:limit]


# --- the page's form --------------------------------------------------------------------------------


class SpecialEducationForm(KindForm):
    kind = ChangeKind.SPECIAL_EDUCATION
    article = _("第十一条")
    intro = _(
        "随班就读、送教上门学生凭残疾人证或县级以上医院、相关鉴定单位出具的证明认定，按残疾类别和等级管理。"
    )
    service = select_input(_("安置方式"), list(SERVICES.items()))
    disability_type = select_input(
        _("残疾类别"), [(c.value, c.label) for c in DisabilityType if c != DisabilityType.NONE]
    )
    disability_level = select_input(
        _("残疾等级"), [("1", _("一级")), ("2", _("二级")), ("3", _("三级")), ("4", _("四级"))]
    )
    evidence_type = select_input(_("证明材料类型"), list(EVIDENCE_TYPES.items()))
    evidence_ref = text_input(_("证明编号或名称"), required=True, help_text=_("残疾人证为 20 位号码"))


class SpecialEdDecisionForm(KindForm):
    kind = ChangeKind.SPECIAL_EDUCATION_DECISION
    article = _("第十四条")
    intro = _("依据残疾人教育专家委员会的评估意见办理升级、降级、毕业或升学。")
    decision = select_input(_("评估结论"), list(DECISIONS.items()))
    committee = text_input(_("专家委员会"), required=True)
    assessed_on = date_input(_("评估日期"))
    decision_ref = text_input(_("评估意见书编号"), required=True)
    class_name = text_input(_("班级"), max_length=30, help_text=_("留空则为原班级"))


class SpecialEducationFacts(KindFacts):
    service: Code = fact("安置方式：inclusive 随班就读、home_teaching 送教上门", choices=tuple(SERVICES))
    disability_type: Code = fact(
        "残疾类别（代码）", choices=[c.value for c in DisabilityType if c != DisabilityType.NONE]
    )
    disability_level: Integer = fact("残疾等级（1–4）")
    evidence_type: Code = fact("证明材料类型", choices=tuple(EVIDENCE_TYPES))
    evidence_ref: Text = fact("证明编号或名称（残疾人证为 20 位号码）")


class SpecialEdDecisionFacts(KindFacts):
    decision: Code = fact(
        "评估结论：promote 升级、repeat 降级、graduate 毕业、progress 升学", choices=tuple(DECISIONS)
    )
    committee: Text = fact("专家委员会")
    assessed_on: Day = fact("评估日期")
    decision_ref: Text = fact("评估意见书编号")
    class_name: Text = fact("班级（留空则为原班级）")


@register
class SpecialEducation(KindSpec):
    """特殊教育认定 (第11条): 随班就读 or 送教上门 with evidence, category and level; school + department."""

    kind = ChangeKind.SPECIAL_EDUCATION
    menu_order = 70
    facts_schema = SpecialEducationFacts
    form = SpecialEducationForm

    def offered_on(self, enrollment: Enrollment) -> bool:
        """认定 applies to pupils of ordinary schools (随班就读、送教上门, 第11条)."""
        return super().offered_on(enrollment) and enrollment.school.school_type != SchoolType.SPECIAL

    def fact_text(self, key: str, value: Any) -> str | None:
        if key == "evidence_type":
            return EVIDENCE_TYPES.get(str(value), str(value))
        if key == "evidence_ref" and len(str(value)) == 20:
            return mask_id_number(str(value))  # a 残疾人证 number carries the holder's ID number
        return None

    from_statuses = frozenset({StudentStatus.ENROLLED, StudentStatus.SUSPENDED, StudentStatus.RESUMED})

    def prepare(self, ctx: Context) -> dict[str, Any]:
        enrollment, school = ctx.enrollment, ctx.school
        assert enrollment is not None and school is not None
        if school.school_type == SchoolType.SPECIAL:
            raise ApplicationError(
                "not_ordinary_school",
                "随班就读、送教上门是普通学校对特殊教育学生的安置方式，特殊教育学校学生不需办理（第十一条）",
            )
        service = str(ctx.facts.get("service") or "").strip()
        if service not in SERVICES:
            raise FieldError("service", "invalid_code", "请选择安置方式：随班就读或送教上门")
        category = str(ctx.facts.get("disability_type") or "").strip()
        if category not in DisabilityType.values or category == DisabilityType.NONE:
            raise FieldError(
                "disability_type", "invalid_code", "请选择残疾类别（第十一条：按残疾类别和等级分类管理）"
            )
        try:
            level = int(ctx.facts.get("disability_level"))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            level = 0
        if not 1 <= level <= 4:
            raise FieldError("disability_level", "invalid_level", "残疾等级须为一至四级（1–4）")
        evidence_type = str(ctx.facts.get("evidence_type") or "").strip()
        if evidence_type not in EVIDENCE_TYPES:
            raise FieldError(
                "evidence_type",
                "required",
                "请选择证明材料：残疾人证或县级以上医院、相关鉴定单位出具的证明（第十一条）",
            )
        evidence = _required_text(
            ctx.facts, "evidence_ref", f"请填写{EVIDENCE_TYPES[evidence_type]}的编号或名称（第十一条）"
        ).upper()
        if evidence_type == "disability_certificate":
            self._check_certificate(evidence, enrollment.person_id, category, level)
        return {
            "service": service,
            "service_name": SERVICES[service],
            "disability_type": category,
            "disability_level": level,
            "evidence_type": evidence_type,
            "evidence_ref": evidence,
        }

    @staticmethod
    def _check_certificate(number: str, person_id: Any, category: str, level: int) -> None:
        match = _CERTIFICATE.fullmatch(number)
        if match is None:
            raise FieldError(
                "evidence_ref",
                "certificate_format",
                "残疾人证号格式错误：应为20位（18位身份证号+残疾类别1位+残疾等级1位）",
            )
        id_part, cert_category, cert_level = match.groups()
        person = Person.objects.only("id_type", "id_number").get(pk=person_id)
        if person.id_type == "1" and person.id_number and id_part != person.id_number:
            raise FieldError("evidence_ref", "certificate_mismatch", "残疾人证号与学生身份证件号不一致")
        if cert_category != category or int(cert_level) != level:
            raise FieldError(
                "evidence_ref",
                "certificate_mismatch",
                "残疾人证号中的残疾类别或等级与所填不一致",
            )

    def what_changes(self, request: Any) -> list[tuple[str, Any, Any]]:
        facts = request.facts
        return [
            ("disability_type", request.person.disability_type, facts["disability_type"]),
            ("service_name", "", facts["service_name"]),
        ]

    def apply(self, request: Any, actor: Actor, today: date) -> dict[str, Any]:
        person = Person.objects.select_for_update().get(pk=request.person_id)
        before = {
            "disability_type": person.disability_type,
            "inclusive_education": person.inclusive_education,
        }
        category = request.facts["disability_type"]
        person.disability_type = category
        person.inclusive_education = (
            INCLUSIVE_CODE.get(category, "4") if request.facts["service"] == "inclusive" else "0"
        )
        person.save(update_fields=["disability_type", "inclusive_education", "updated_at"])
        request.facts["previous"] = before
        return {
            "disability_type": person.disability_type,
            "inclusive_education": person.inclusive_education,
            "disability_level": request.facts["disability_level"],
            "service": request.facts["service"],
        }


@register
class SpecialEducationDecision(KindSpec):
    """残疾人教育专家委员会评估决定 (第14条): promote / repeat (降级) / graduate / progress; school registers,
    the upper level approves."""

    kind = ChangeKind.SPECIAL_EDUCATION_DECISION
    menu_order = 80
    facts_schema = SpecialEdDecisionFacts
    form = SpecialEdDecisionForm
    fact_labels: ClassVar[dict[str, str]] = {"grade": N_("决定后年级"), "stage": N_("决定后学段")}

    def offered_on(self, enrollment: Enrollment) -> bool:
        """For pupils of a special school or with a recorded disability (第14条)."""
        if not super().offered_on(enrollment):
            return False
        special_school = enrollment.school.school_type == SchoolType.SPECIAL
        return special_school or enrollment.person.disability_type not in ("", DisabilityType.NONE)

    from_statuses = IN_SCHOOL

    def prepare(self, ctx: Context) -> dict[str, Any]:
        enrollment, school = ctx.enrollment, ctx.school
        assert enrollment is not None and school is not None
        person = Person.objects.only("disability_type").get(pk=enrollment.person_id)
        if person.disability_type == DisabilityType.NONE and school.school_type != SchoolType.SPECIAL:
            raise ApplicationError(
                "not_special_education",
                "该学生不是特殊教育学生（无残疾类别记录），不适用专家委员会评估（第十四条）",
            )
        decision = str(ctx.facts.get("decision") or "").strip()
        if decision not in DECISIONS:
            raise FieldError("decision", "invalid_code", "评估结论只能是升级、降级、毕业或升学")
        committee = _required_text(ctx.facts, "committee", "请填写作出评估的残疾人教育专家委员会（第十四条）")
        assessed = fact_date(ctx.facts, "assessed_on", "评估日期")
        assert assessed is not None
        if assessed > ctx.today:
            raise FieldError("assessed_on", "in_future", "评估日期不能晚于今天")
        decision_ref = _required_text(ctx.facts, "decision_ref", "请填写评估意见书编号")
        grades = grade_range(enrollment.stage)
        stage, grade, status = enrollment.stage, enrollment.grade, enrollment.status
        if decision == "promote":
            grade += 1
            if grade not in grades:
                raise ApplicationError(
                    "grade_out_of_stage",
                    f"该学生已在{Stage(stage).label}最高年级，请选择毕业或升学",
                )
        elif decision == "repeat":
            grade -= 1
            if grade not in grades:
                raise ApplicationError(
                    "grade_out_of_stage", f"该学生在{Stage(stage).label}起始年级，不能降级"
                )
        elif decision == "progress":
            next_stage = NEXT_STAGE.get(stage)
            if next_stage is None:
                raise ApplicationError("no_next_stage", "普通高中之后的升学不在本系统办理")
            if not school.teaches(next_stage):
                raise ApplicationError(
                    "stage_not_taught",
                    f"本校没有{Stage(next_stage).label}学段：请先办理毕业，再由升入学校办理升学（第十四条）",
                )
            stage, grade = next_stage, first_grade(next_stage)
        else:  # graduate: the committee may judge graduation in any grade (第14条 适度放开)
            status = StudentStatus.GRADUATED
        class_name = str(ctx.facts.get("class_name") or enrollment.class_name).strip()[:30]
        return {
            "decision": decision,
            "decision_name": DECISIONS[decision],
            "committee": committee,
            "assessed_on": assessed.isoformat(),
            "decision_ref": decision_ref,
            "stage": stage,
            "grade": grade,
            "class_name": class_name,
            "status": status,
        }

    def what_changes(self, request: Any) -> list[tuple[str, Any, Any]]:
        e, facts = request.enrollment, request.facts
        if facts["decision"] == "graduate":
            return [("status", e.status, StudentStatus.GRADUATED)]
        return [
            ("stage", e.stage, facts["stage"]),
            ("grade", e.grade, facts["grade"]),
            ("class_name", e.class_name, facts["class_name"]),
        ]

    def apply(self, request: Any, actor: Actor, today: date) -> dict[str, Any]:
        e = request.enrollment
        facts = request.facts
        if facts["decision"] == "graduate":
            set_status(e, StudentStatus.GRADUATED, active=False)
            facts["closed_on"] = today.isoformat()
            return {"status": StudentStatus.GRADUATED, "is_active": False}
        e.stage, e.grade, e.class_name = facts["stage"], facts["grade"], facts["class_name"]
        fields = ["stage", "grade", "class_name"]
        method = valid_entry_method(e.stage, e.entry_method)
        if method != e.entry_method:
            e.entry_method = method
            fields.append("entry_method")
        e.save(update_fields=fields)
        return {"stage": e.stage, "grade": e.grade, "class_name": e.class_name}
