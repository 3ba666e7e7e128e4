"""Forms of the change pages: one form per kind (its inputs are exactly the facts the kind's ``prepare``
reads), the decision / resubmit / cancel forms, attachments, and the cohort and promotion forms.

Like the student forms, these only collect input: every rule lives in the kind's ``prepare`` and the engine
(:mod:`xueji.changes.services`), whose ``FieldError.field`` / ``ApplicationError.fields`` keys are the input
names here, so a refusal lands next to the input it names and everything else at the top of the form.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django import forms
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from xueji.students.enums import (
    DisabilityType,
    Gender,
    IdDocumentType,
    Nationality,
    Stage,
    entry_methods_for,
    grade_range,
)
from xueji.students.forms import GRADE_LABELS, SpecForm

from .enums import ChangeKind
from .kinds.abroad import DOCUMENT_TYPES
from .kinds.special import DECISIONS, EVIDENCE_TYPES, SERVICES
from .kinds.suspension import REASONS
from .workflow import RequestState

CHOOSE = ("", _("请选择"))


def _text(label: Any, *, required: bool = False, help_text: Any = "", max_length: int = 100, **attrs: Any):
    field = forms.CharField(
        label=label,
        required=False,
        help_text=help_text,
        strip=False,
        widget=forms.TextInput(attrs={"maxlength": max_length, **attrs}),
    )
    field.xj_required = required  # type: ignore[attr-defined]
    return field


def _area(label: Any, *, required: bool = False, help_text: Any = "", max_length: int = 200):
    field = forms.CharField(
        label=label,
        required=False,
        help_text=help_text,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 2, "maxlength": max_length}),
    )
    field.xj_required = required  # type: ignore[attr-defined]
    field.xj_wide = True  # type: ignore[attr-defined]
    return field


def _date(label: Any, *, required: bool = True, help_text: Any = ""):
    field = forms.CharField(
        label=label, required=False, help_text=help_text, widget=forms.DateInput(attrs={"type": "date"})
    )
    field.xj_required = required  # type: ignore[attr-defined]
    return field


def _select(label: Any, choices: list[tuple[Any, Any]], *, required: bool = True, help_text: Any = ""):
    field = forms.CharField(
        label=label,
        required=False,
        help_text=help_text,
        widget=forms.Select(choices=[CHOOSE, *choices] if required else choices),
    )
    field.xj_required = required  # type: ignore[attr-defined]
    return field


def _grade_choices(stage: str | None = None) -> list[tuple[str, Any]]:
    grades = grade_range(stage) if stage else range(1, 13)
    return [(str(g), GRADE_LABELS[g]) for g in grades]


YES_NO = [("0", _("否")), ("1", _("是"))]
DESTINATIONS = [(c.value, c.label) for c in Nationality if c != Nationality.CHN]


# ------------------------------------------------------------------------------------------- kind forms


class KindForm(SpecForm):
    """The facts of one kind. ``facts()`` returns what was typed (blanks dropped) for ``change_submit``."""

    kind: ClassVar[str]
    article: ClassVar[Any] = ""
    intro: ClassVar[Any] = ""
    # Input names that are not facts (e.g. ``reason`` goes to the request's own column too).
    reason_field: ClassVar[str] = ""

    def __init__(self, data: Any = None, *, enrollment: Any = None, school: Any = None, **kw: Any) -> None:
        super().__init__(data, initial=kw.pop("initial", None))
        self.enrollment = enrollment
        self.school = school
        self.setup(**kw)

    def setup(self, **kw: Any) -> None:
        """Per-kind adjustments (choices that depend on the record's stage or the school)."""

    def facts(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in self.fields:
            value = str(self.data.get(self.add_prefix(name), "")) if self.is_bound else ""
            if value.strip():
                out[name] = value.strip()
        return out

    def request_reason(self) -> str:
        """The request's own ``reason`` column (a code, e.g. 休学原因), where the kind has one."""
        return self.facts().get(self.reason_field, "")[:40] if self.reason_field else ""


class TransferForm(KindForm):
    kind = ChangeKind.TRANSFER
    article = _("第十五条")
    intro = _("由转入学校发起；转出学校、双方主管部门各在 10 个工作日内办理。学籍号不变，档案随转。")
    class_name = _text(_("转入班级"), required=True, max_length=30)
    reason_text = _area(_("转学原因"), help_text=_("如：随父母工作调动、户籍迁移等"))


class SuspensionForm(KindForm):
    kind = ChangeKind.SUSPENSION
    article = _("第十六条")
    intro = _("由父母或其他法定监护人提出申请，学校核准后报上级主管部门；每次休学不超过一年。")
    reason_field = "reason"
    reason = _select(_("休学原因"), list(REASONS.items()))
    start_date = _date(_("休学开始日期"))
    end_date = _date(_("休学结束日期"), help_text=_("每次不超过 12 个月，期满仍需休学的应重新申请"))
    applicant_name = _text(_("申请的监护人姓名"), required=True, max_length=60)


class ResumptionForm(KindForm):
    kind = ChangeKind.RESUMPTION
    article = _("第十六条")
    intro = _("休学期满，学生复学；学校核准后报上级主管部门。")
    resume_date = _date(_("复学日期"))
    grade_choice = _select(
        _("复学年级"), [("original", _("原年级")), ("next", _("下一年级"))], help_text=_("按本省规定")
    )
    class_name = _text(_("班级"), max_length=30, help_text=_("留空则为原班级"))


class WithdrawalForm(KindForm):
    kind = ChangeKind.WITHDRAWAL
    article = _("第十八条")
    intro = _("仅限普通高中；由监护人申请，学校确认后报上级主管部门备案。义务教育阶段不予办理退学。")
    applicant_name = _text(_("申请的监护人姓名"), required=True, max_length=60)
    reason_text = _area(_("退学原因"))


class DeathForm(KindForm):
    kind = ChangeKind.DEATH
    article = _("第二十一条")
    intro = _("学校凭死亡证明在 60 个工作日内报上级主管部门注销学籍。请在提交后上传死亡证明。")
    date_of_death = _date(_("死亡日期"))


class LeavingForm(KindForm):
    kind = ChangeKind.GRADUATION
    article = _("第十九条")
    intro = _("毕业、结业、肄业后学籍保留在系统中；有在办业务或问题学籍的学生须先处理。")
    certificate_number = _text(_("证书编号"), max_length=40, help_text=_("可在证书发放后补填"))


class GraduationForm(LeavingForm):
    kind = ChangeKind.GRADUATION


class CompletionForm(LeavingForm):
    kind = ChangeKind.COMPLETION


class IncompleteForm(LeavingForm):
    kind = ChangeKind.INCOMPLETE


class AbroadForm(KindForm):
    kind = ChangeKind.ABROAD
    article = _("第二十条")
    intro = _("凭有效证件在学校办理，学校将学籍档案转交上级学籍管理部门。")
    destination = _select(_("前往国家或地区"), DESTINATIONS)
    document_type = _select(_("出境证件类型"), list(DOCUMENT_TYPES.items()))
    document_number = _text(_("证件号码"), required=True, max_length=20, autocomplete="off")
    departure_date = _date(_("出境日期"))
    public_funded = _select(_("是否公派"), YES_NO, required=False)


class ReturnFromAbroadForm(KindForm):
    kind = ChangeKind.RETURN_FROM_ABROAD
    article = _("第二十条")
    intro = _("境外返回的学生由接收学校按学习经历编入相应年级，学籍号不变，并标注境外学习经历。")
    student_number = _text(_("学籍号"), required=True, max_length=19, autocomplete="off")
    name = _text(_("姓名"), required=True, max_length=60)
    abroad_from = _date(
        _("境外学习开始日期"), required=False, help_text=_("已办理出境就读的，可留空（按出境日期）")
    )
    abroad_to = _date(_("境外学习结束日期"))
    destination = _select(_("就读国家或地区"), [CHOOSE, *DESTINATIONS], required=False)
    study_record = _area(_("境外学习记录"), required=True, help_text=_("成绩单、在读证明等，据以确定年级"))
    grade = _select(_("编入年级"), _grade_choices())
    class_name = _text(_("编入班级"), required=True, max_length=30)

    def setup(self, **kw: Any) -> None:
        if self.school is not None:
            grades = [(str(g), GRADE_LABELS[g]) for s in self.school.stages for g in grade_range(s)]
            self.fields["grade"].widget.choices = [CHOOSE, *grades]


class DeferralForm(KindForm):
    kind = ChangeKind.DEFERRAL
    article = _("第十一条")
    intro = _(
        "由户籍所在地县级教育行政部门审核批准；一般为一学年，期满仍不能入学的应重新申请。缓学儿童暂不注册学籍。"
    )
    name = _text(_("儿童姓名"), required=True, max_length=60)
    gender = _select(_("性别"), list(Gender.choices))
    birth_date = _date(_("出生日期"))
    id_type = _select(_("身份证件类型"), list(IdDocumentType.choices))
    id_number = _text(_("身份证件号"), max_length=20, autocomplete="off", spellcheck="false")
    household_code = _text(
        _("户口所在地"),
        required=True,
        max_length=6,
        inputmode="numeric",
        help_text=_("6位行政区划代码，须属本县（区）"),
    )
    school_year = _text(
        _("缓学学年"), max_length=4, inputmode="numeric", help_text=_("学年开始的年份，如 2026")
    )
    applicant_name = _text(_("申请的监护人姓名"), required=True, max_length=60)
    reason_text = _area(_("缓学原因"), required=True)
    evidence = _text(_("证明材料"), required=True, max_length=200, help_text=_("如：县级以上医院诊断证明"))

    def setup(self, **kw: Any) -> None:
        self.fields["school_year"].initial = str(timezone.localdate().year)
        self.fields["id_type"].initial = "1"
        counties = kw.get("counties") or []
        if len(counties) > 1:
            field = _select(_("受理部门"), [(str(c.pk), c.name) for c in counties])
            self.fields = {"county": field, **self.fields}  # type: ignore[assignment]

    def facts(self) -> dict[str, Any]:
        out = super().facts()
        out.pop("county", None)
        return out


class ReformPlacementForm(KindForm):
    kind = ChangeKind.REFORM_PLACEMENT
    article = _("第十一条")
    intro = _("进入专门学校就读的学生，学籍保留在原学校。")
    reform_school_id = _select(_("专门学校"), [])
    start_date = _date(_("进入专门学校日期"))
    decision_ref = _text(_("依据"), required=True, help_text=_("教育行政部门决定书或评估意见文号"))

    def setup(self, **kw: Any) -> None:
        self.fields["reform_school_id"].widget.choices = [
            CHOOSE,
            *[(str(s.pk), s.name) for s in kw.get("reform_schools", [])],
        ]


class ReformReturnForm(KindForm):
    kind = ChangeKind.REFORM_RETURN
    article = _("第十一条")
    intro = _("从专门学校返回原学校，由学校及主管部门确定年级，及时更新学籍。")
    return_date = _date(_("返回原校日期"))
    grade = _select(_("返回后年级"), _grade_choices())
    class_name = _text(_("班级"), max_length=30, help_text=_("留空则为原班级"))

    def setup(self, **kw: Any) -> None:
        if self.enrollment is not None:
            self.fields["grade"].widget.choices = [CHOOSE, *_grade_choices(self.enrollment.stage)]


class SpecialEducationForm(KindForm):
    kind = ChangeKind.SPECIAL_EDUCATION
    article = _("第十一条")
    intro = _(
        "随班就读、送教上门学生凭残疾人证或县级以上医院、相关鉴定单位出具的证明认定，按残疾类别和等级管理。"
    )
    service = _select(_("安置方式"), list(SERVICES.items()))
    disability_type = _select(
        _("残疾类别"), [(c.value, c.label) for c in DisabilityType if c != DisabilityType.NONE]
    )
    disability_level = _select(
        _("残疾等级"), [("1", _("一级")), ("2", _("二级")), ("3", _("三级")), ("4", _("四级"))]
    )
    evidence_type = _select(_("证明材料类型"), list(EVIDENCE_TYPES.items()))
    evidence_ref = _text(_("证明编号或名称"), required=True, help_text=_("残疾人证为 20 位号码"))


class SpecialEdDecisionForm(KindForm):
    kind = ChangeKind.SPECIAL_EDUCATION_DECISION
    article = _("第十四条")
    intro = _("依据残疾人教育专家委员会的评估意见办理升级、降级、毕业或升学。")
    decision = _select(_("评估结论"), list(DECISIONS.items()))
    committee = _text(_("专家委员会"), required=True)
    assessed_on = _date(_("评估日期"))
    decision_ref = _text(_("评估意见书编号"), required=True)
    class_name = _text(_("班级"), max_length=30, help_text=_("留空则为原班级"))


class KeyDataChangeForm(KindForm):
    kind = ChangeKind.KEY_DATA_CHANGE
    article = _("第十三条")
    intro = _(
        "姓名、性别、出生日期、身份证件变更须凭户籍证明材料，由学校申请、主管部门核准。只填写需要变更的项目。"
    )
    name = _text(_("新姓名"), max_length=60, help_text=_("不变更则留空"))
    gender = _select(_("新性别"), [("", _("不变更")), *Gender.choices], required=False)
    birth_date = _date(_("新出生日期"), required=False, help_text=_("不变更则留空"))
    id_type = _select(_("新身份证件类型"), [("", _("不变更")), *IdDocumentType.choices], required=False)
    id_number = _text(
        _("新身份证件号"), max_length=20, autocomplete="off", spellcheck="false", help_text=_("不变更则留空")
    )
    evidence_ref = _text(_("户籍证明材料"), required=True, help_text=_("名称或编号；请在提交后上传扫描件"))
    reason_text = _area(_("变更原因"))


class ProgressionForm(KindForm):
    kind = ChangeKind.PROGRESSION
    article = _("第十四条")
    intro = _("由升入学校发起，其主管部门和毕业学校主管部门三方核办；学籍号不变，档案由升入学校接收。")
    student_number = forms.CharField(required=False, widget=forms.HiddenInput)
    name = forms.CharField(required=False, widget=forms.HiddenInput)
    class_name = _text(_("升入班级"), required=True, max_length=30)
    admission_ref = _text(_("录取依据"), required=True, help_text=_("招生录取文件、录取名单或报到记录"))
    entry_ym = forms.CharField(
        label=_("入学年月"), required=False, widget=forms.TextInput(attrs={"type": "month"})
    )
    entry_method = _select(_("入学方式"), [], required=False)

    def setup(self, **kw: Any) -> None:
        self.fields["entry_ym"].initial = timezone.localdate().strftime("%Y-%m")
        next_stage = kw.get("next_stage")
        if next_stage:
            self.fields["entry_method"].widget.choices = [
                (m.value, m.label) for m in entry_methods_for(next_stage)
            ]


KIND_FORMS: dict[str, type[KindForm]] = {
    f.kind: f
    for f in (
        TransferForm,
        SuspensionForm,
        ResumptionForm,
        WithdrawalForm,
        DeathForm,
        GraduationForm,
        CompletionForm,
        IncompleteForm,
        AbroadForm,
        ReturnFromAbroadForm,
        DeferralForm,
        ReformPlacementForm,
        ReformReturnForm,
        SpecialEducationForm,
        SpecialEdDecisionForm,
        KeyDataChangeForm,
        ProgressionForm,
    )
}


class LookupForm(SpecForm):
    """The receiving school names the student by 学籍号 AND 姓名 (both must match: numbers cannot be probed)."""

    student_number = _text(_("学籍号"), required=True, max_length=19, autocomplete="off", spellcheck="false")
    name = _text(_("姓名"), required=True, max_length=60)

    def values(self) -> tuple[str, str]:
        get = self.data.get if self.is_bound else (lambda *_a: "")
        return str(get("student_number", "")).strip(), str(get("name", "")).strip()


# --------------------------------------------------------------------------------------- request actions


class DecideForm(forms.Form):
    action = forms.ChoiceField(choices=[("approve", ""), ("reject", ""), ("return", "")])
    comment = forms.CharField(required=False, max_length=500)
    position = forms.IntegerField(required=False, min_value=0)


class CancelForm(SpecForm):
    reason = _text(_("撤销原因"), required=True, max_length=200)


class ResubmitForm(SpecForm):
    comment = _text(_("补充说明"), max_length=200)


class AttachmentForm(SpecForm):
    prefix = "att"
    title = _text(_("附件名称"), required=True, help_text=_("如：医院诊断证明、户口簿"))
    file = forms.FileField(
        label=_("文件"),
        required=False,
        widget=forms.ClearableFileInput(
            attrs={"accept": ".pdf,.jpg,.jpeg,.png,application/pdf,image/jpeg,image/png"}
        ),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["file"].xj_required = True  # type: ignore[attr-defined]
        self.fields["file"].help_text = _("PDF、JPEG 或 PNG（按文件内容识别），不超过 %(mb)s MB") % {
            "mb": settings.ARCHIVE_MAX_BYTES // (1024 * 1024)
        }

    def error_key(self, key: str) -> str:
        return key


class RequestFilterForm(forms.Form):
    kind = forms.ChoiceField(
        label=_("业务类型"), required=False, choices=[("", _("全部")), *ChangeKind.choices]
    )
    state = forms.ChoiceField(
        label=_("状态"), required=False, choices=[("", _("全部")), *RequestState.choices]
    )


# ------------------------------------------------------------------------------------------ cohort forms


class GraduationCohortForm(SpecForm):
    school = forms.CharField(label=_("学校"), required=False, widget=forms.Select)
    kind = _select(
        _("办理"),
        [(ChangeKind.GRADUATION.value, _("毕业")), (ChangeKind.COMPLETION.value, _("结业（普通高中）"))],
    )
    grade = _select(_("毕业年级"), [])

    def __init__(self, data: Any = None, *, schools: list[Any]) -> None:
        super().__init__(data, initial={"kind": ChangeKind.GRADUATION.value})
        self.schools = schools
        self.fields["school"].widget.choices = [(str(s.pk), s.name) for s in schools]
        stages = sorted({st for s in schools for st in s.stages}, key=lambda st: max(grade_range(st)))
        self.fields["grade"].widget.choices = [
            CHOOSE,
            *[
                (str(max(grade_range(st))), f"{Stage(st).label} {GRADE_LABELS[max(grade_range(st))]}")
                for st in stages
            ],
        ]
        if len(schools) < 2:
            del self.fields["school"]


class ProgressionCohortForm(SpecForm):
    school = forms.CharField(label=_("升入学校"), required=False, widget=forms.Select)
    from_school_code = _text(
        _("毕业学校标识码"),
        required=True,
        max_length=10,
        inputmode="numeric",
        help_text=_("10 位学校标识码；须为本校主管教育行政部门所辖学校，跨县（区）升学请逐个办理"),
    )
    grade = _select(_("毕业年级"), [("6", _("小学六年级")), ("9", _("初中九年级"))])
    class_name = _text(_("编入班级"), required=True, max_length=30, help_text=_("可在升学后再调整分班"))
    admission_ref = _text(_("录取依据"), help_text=_("留空则为“××学校×年级毕业生整体升学”"))

    def __init__(self, data: Any = None, *, schools: list[Any]) -> None:
        super().__init__(data)
        self.schools = schools
        self.fields["school"].widget.choices = [(str(s.pk), s.name) for s in schools]
        if len(schools) < 2:
            del self.fields["school"]


class PromotionForm(SpecForm):
    org_unit = forms.CharField(label=_("区域"), required=False, widget=forms.Select)
    school_year = _text(_("升入学年"), required=True, max_length=4, inputmode="numeric")

    def __init__(self, data: Any = None, *, units: list[Any], school_year: int) -> None:
        super().__init__(data, initial={"school_year": str(school_year)})
        self.units = units
        self.fields["org_unit"].widget.choices = [(str(u.pk), u.name) for u in units]
        if len(units) < 2:
            del self.fields["org_unit"]
