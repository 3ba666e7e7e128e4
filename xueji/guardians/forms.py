"""Forms of the guardian pages and of the school's worklist. They only carry the inputs: the services check
every rule and name the field in Chinese (:func:`refused` puts that message on the input)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from xueji.changes.kinds.suspension import REASONS
from xueji.core.dates import DateTextInput
from xueji.core.errors import ApplicationError

from .enums import Relation


def refused(form: forms.Form, exc: ApplicationError) -> None:
    """Attach a refused write's field messages to the form (the whole message when no field is named)."""
    if not exc.fields:
        form.add_error(None, exc.message)
    for name, message in exc.fields.items():
        form.add_error(name if name in form.fields else None, message)


def _tel(**attrs: Any) -> forms.TextInput:
    return forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off", **attrs})


class PhoneForm(forms.Form):
    phone = forms.CharField(
        label=_("手机号码"),
        max_length=20,
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "tel", "type": "tel"}),
    )
    captcha_id = forms.CharField(widget=forms.HiddenInput, max_length=40)
    captcha = forms.CharField(
        label=_("图形验证码"),
        max_length=10,
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "characters"}),
    )


class VerifyForm(forms.Form):
    phone = forms.CharField(widget=forms.HiddenInput, max_length=20)
    code = forms.CharField(
        label=_("短信验证码"), max_length=6, widget=_tel(autocomplete="one-time-code", maxlength="6")
    )


class BindForm(forms.Form):
    code = forms.CharField(
        label=_("绑定码"),
        max_length=20,
        help_text=_("学校发放的绑定单上的 12 位绑定码，可扫码自动填写"),
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "autocapitalize": "characters", "spellcheck": "false"}
        ),
    )
    child_name = forms.CharField(label=_("学生姓名"), max_length=60)
    guardian_name = forms.CharField(label=_("您的姓名"), max_length=60)
    relation = forms.ChoiceField(label=_("与学生关系"), choices=[("", _("请选择")), *Relation.choices])
    consent = forms.BooleanField(
        label=_("我是该学生的父母或其他法定监护人，已阅读并同意《儿童个人信息处理规则》"), required=False
    )


class CorrectionForm(forms.Form):
    field = forms.ChoiceField(label=_("更正项目"))
    value = forms.CharField(label=_("正确内容"), max_length=200)
    note = forms.CharField(
        label=_("说明"), max_length=200, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args: Any, choices: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["field"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [("", _("请选择")), *choices]


class TransferForm(forms.Form):
    school_code = forms.CharField(
        label=_("转入学校标识码"),
        max_length=10,
        help_text=_("10 位数字，可向转入学校询问"),
        widget=_tel(maxlength="10"),
    )
    reason = forms.CharField(label=_("转学原因"), max_length=200, widget=forms.Textarea(attrs={"rows": 3}))


class SuspensionForm(forms.Form):
    reason = forms.ChoiceField(label=_("休学原因"), choices=[("", _("请选择")), *REASONS.items()])
    start_date = forms.CharField(label=_("休学开始日期"), widget=DateTextInput())
    end_date = forms.CharField(
        label=_("休学结束日期"),
        help_text=_("每次不超过 1 年"),
        widget=DateTextInput(),
    )
    note = forms.CharField(
        label=_("说明"), max_length=200, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )


class ResumptionForm(forms.Form):
    resume_date = forms.CharField(label=_("复学日期"), widget=DateTextInput())
    note = forms.CharField(
        label=_("说明"), max_length=200, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )


REQUEST_FORMS: dict[str, type[forms.Form]] = {
    "correction": CorrectionForm,
    "transfer": TransferForm,
    "suspension": SuspensionForm,
    "resumption": ResumptionForm,
}


# --- the school's side -----------------------------------------------------------------------------------------


class FindPupilForm(forms.Form):
    student_number = forms.CharField(label=_("学籍号"), max_length=19)


class IssueForm(forms.Form):
    slot = forms.IntegerField(widget=forms.HiddenInput, min_value=1, max_value=20)


class DeclineForm(forms.Form):
    reason = forms.CharField(
        label=_("不予受理的理由"), max_length=300, widget=forms.Textarea(attrs={"rows": 3})
    )


class AcceptForm(forms.Form):
    """What the school adds when it turns the request into the normal change."""

    evidence_ref = forms.CharField(
        label=_("户籍证明材料"),
        max_length=100,
        required=False,
        help_text=_("关键信息更正必填：材料名称或编号"),
    )
    class_name = forms.CharField(
        label=_("班级"),
        max_length=30,
        required=False,
        help_text=_("转学：转入班级（必填）；复学：留空为原班级"),
    )
    grade_choice = forms.ChoiceField(
        label=_("复学年级"),
        required=False,
        choices=[("", _("按本省规定")), ("original", _("原年级")), ("next", _("下一年级"))],
    )
    note = forms.CharField(label=_("办理说明"), max_length=200, required=False)
