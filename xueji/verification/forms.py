"""Forms of the verification pages (第25条); the rules live in the services."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from xueji.core.dates import DateTextInput

from .enums import CorrectionField, FindingKind, Semester, Whereabouts
from .services import MAX_TEXT, MAX_TITLE


class OpenRoundForm(forms.Form):
    unit = forms.TypedChoiceField(label=_("发起单位"), coerce=int)
    title = forms.CharField(label=_("核查名称"), max_length=MAX_TITLE)
    school_year = forms.IntegerField(label=_("学年（起始年份）"), min_value=2000, max_value=2100)
    semester = forms.ChoiceField(label=_("学期"), choices=Semester.choices)
    deadline = forms.DateField(label=_("截止日期"), widget=DateTextInput())

    def __init__(self, *args: object, units: list[tuple[int, str]], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["unit"].choices = units  # type: ignore[attr-defined]


class FindingForm(forms.Form):
    kind = forms.ChoiceField(label=_("异常类型"), choices=FindingKind.choices, widget=forms.RadioSelect)
    whereabouts = forms.ChoiceField(
        label=_("学生去向（人籍分离）"), choices=[("", "—"), *Whereabouts.choices], required=False
    )
    correction_fields = forms.MultipleChoiceField(
        label=_("需更正的信息"),
        choices=CorrectionField.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    detail = forms.CharField(
        label=_("情况说明"),
        max_length=MAX_TEXT,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("人籍分离：学生现在何处、未到校的原因；空挂学籍：核实情况；需更正：更正内容"),
    )


class ReviewForm(forms.Form):
    note = forms.CharField(
        label=_("审核意见"), max_length=MAX_TEXT, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
