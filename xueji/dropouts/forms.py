"""Forms of the dropout ledger pages (第17条); the rules live in the services."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from xueji.core.dates import DateTextInput

from .enums import FollowUpKind, Outcome, Reason, Source, State
from .services import MAX_FOLLOW_UP_WORKING_DAYS

DATE = DateTextInput()  # YYYY-MM-DD typed, whatever the browser locale (issue 8 item 12)


class OpenCaseForm(forms.Form):
    source = forms.ChoiceField(label=_("来源"), choices=Source.choices)
    reason = forms.ChoiceField(label=_("辍学原因"), choices=Reason.choices)
    days_absent = forms.IntegerField(label=_("连续缺课天数"), min_value=0, max_value=366)
    last_seen = forms.DateField(label=_("最后到校日期"), required=False, widget=DATE)


class FollowUpForm(forms.Form):
    date = forms.DateField(label=_("跟踪日期"), widget=DATE)
    kind = forms.ChoiceField(label=_("方式"), choices=FollowUpKind.choices)
    people = forms.CharField(label=_("参与人员"), max_length=100)
    result = forms.CharField(label=_("结果"), max_length=500, widget=forms.Textarea(attrs={"rows": 3}))
    next_in_working_days = forms.IntegerField(
        label=_("下次跟踪（工作日后）"), min_value=1, max_value=MAX_FOLLOW_UP_WORKING_DAYS, initial=5
    )


class CloseCaseForm(forms.Form):
    outcome = forms.ChoiceField(label=_("结案结果"), choices=[("", "—"), *Outcome.choices])
    returned_class = forms.CharField(label=_("复学班级"), max_length=30, required=False)
    returned_on = forms.DateField(label=_("复学日期"), required=False, widget=DATE)
    note = forms.CharField(label=_("结案说明"), max_length=300, required=False)

    def clean_outcome(self) -> str:
        value = self.cleaned_data["outcome"]
        if not value:
            raise forms.ValidationError(_("结案须选择结案结果"))
        return str(value)


class LedgerFilterForm(forms.Form):
    state = forms.ChoiceField(label=_("状态"), choices=[("", _("全部")), *State.choices], required=False)
    overdue = forms.BooleanField(label=_("仅看跟踪逾期"), required=False)
