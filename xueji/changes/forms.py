"""Forms of the change pages other than a kind's own (each kind declares its form in its module,
``kinds/<kind>.py``; see :mod:`xueji.changes.kinds.inputs`): the student lookup, resubmit / cancel,
attachments, the request filter, and the cohort and promotion forms.

Like the student forms, these only collect input: every rule lives in the services, whose
``FieldError.field`` / ``ApplicationError.fields`` keys are the input names here.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from xueji.students.enums import (
    Stage,
    grade_range,
)
from xueji.students.forms import GRADE_LABELS, SpecForm

from .enums import ChangeKind
from .kinds.inputs import CHOOSE, KindForm, select_input, text_input
from .workflow import RequestState

__all__ = ["KindForm"]


class LookupForm(SpecForm):
    """The receiving school names the student by 学籍号 (or identity number) AND 姓名 (both must match: numbers
    cannot be probed). Spaces and full-width characters typed or pasted are tolerated (max_length leaves room)."""

    student_number = text_input(
        _("学籍号或身份证件号"),
        required=True,
        max_length=40,
        autocomplete="off",
        spellcheck="false",
        help_text=_("可填学籍号，也可填学生的身份证件号；须与姓名同时匹配"),
    )
    name = text_input(_("姓名"), required=True, max_length=60)

    def values(self) -> tuple[str, str]:
        get = self.data.get if self.is_bound else (lambda *_a: "")
        return str(get("student_number", "")).strip(), str(get("name", "")).strip()


# --------------------------------------------------------------------------------------- request actions


class CancelForm(SpecForm):
    reason = text_input(_("撤销原因"), required=True, max_length=200)


class ResubmitForm(SpecForm):
    comment = text_input(_("补充说明"), max_length=200)


class AttachmentForm(SpecForm):
    prefix = "att"
    title = text_input(_("附件名称"), required=True, help_text=_("如：医院诊断证明、户口簿"))
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
    kind = select_input(
        _("办理"),
        [(ChangeKind.GRADUATION.value, _("毕业")), (ChangeKind.COMPLETION.value, _("结业（普通高中）"))],
    )
    grade = select_input(_("毕业年级"), [])

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
    from_school_code = text_input(
        _("毕业学校标识码"),
        required=True,
        max_length=10,
        inputmode="numeric",
        help_text=_("10 位学校标识码；须为本校主管教育行政部门所辖学校，跨县（区）升学请逐个办理"),
    )
    grade = select_input(_("毕业年级"), [("6", _("小学六年级")), ("9", _("初中九年级"))])
    class_name = text_input(_("编入班级"), required=True, max_length=30, help_text=_("可在升学后再调整分班"))
    admission_ref = text_input(_("录取依据"), help_text=_("留空则为“××学校×年级毕业生整体升学”"))

    def __init__(self, data: Any = None, *, schools: list[Any]) -> None:
        super().__init__(data)
        self.schools = schools
        self.fields["school"].widget.choices = [(str(s.pk), s.name) for s in schools]
        if len(schools) < 2:
            del self.fields["school"]


class PromotionForm(SpecForm):
    org_unit = forms.CharField(label=_("区域"), required=False, widget=forms.Select)
    school_year = text_input(_("升入学年"), required=True, max_length=4, inputmode="numeric")

    def __init__(self, data: Any = None, *, units: list[Any], school_year: int) -> None:
        super().__init__(data, initial={"school_year": str(school_year)})
        self.units = units
        self.fields["org_unit"].widget.choices = [(str(u.pk), u.name) for u in units]
        if len(units) < 2:
            del self.fields["org_unit"]
