"""Forms of the dropout ledger pages (第17条); the rules live in the services."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from xueji.core.dates import DateTextInput

from .enums import Escalation, FollowUpKind, Outcome, Reason, Source, State
from .queries import ANY_ESCALATION
from .services import LEAD_FROM_MAX, LEAD_MAX_BYTES, MAX_FOLLOW_UP_WORKING_DAYS

DATE = DateTextInput()  # YYYY-MM-DD typed, whatever the browser locale (issue 8 item 12)


class OpenCaseForm(forms.Form):
    source = forms.ChoiceField(label=_("来源"), choices=Source.choices)
    lead_from = forms.CharField(
        label=_("线索来源部门"),
        max_length=LEAD_FROM_MAX,
        required=False,
        help_text=_("相关部门反馈线索时必填，如：公安派出所、民政部门、乡镇人民政府"),
    )
    reason = forms.ChoiceField(label=_("辍学原因"), choices=Reason.choices)
    days_absent = forms.IntegerField(label=_("连续缺课天数"), min_value=0, max_value=366)
    last_seen = forms.DateField(label=_("最后到校日期"), required=False, widget=DATE)


class FollowUpForm(forms.Form):
    date = forms.DateField(label=_("跟踪日期"), widget=DATE)
    kind = forms.ChoiceField(
        label=_("方式"), choices=[c for c in FollowUpKind.choices if c[0] != FollowUpKind.SYSTEM]
    )
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


class LeadForm(forms.Form):
    """A lead from another department (第17条): the pupil named by number AND name, as the transfer look-up."""

    number = forms.CharField(label=_("学籍号或身份证件号"), max_length=40)
    name = forms.CharField(label=_("学生姓名"), max_length=50)
    lead_from = forms.CharField(
        label=_("线索来源部门"),
        max_length=LEAD_FROM_MAX,
        help_text=_("如：公安派出所、民政部门、乡镇人民政府"),
    )
    reason = forms.ChoiceField(label=_("辍学原因"), choices=Reason.choices)
    days_absent = forms.IntegerField(label=_("连续缺课天数"), min_value=0, max_value=366)
    last_seen = forms.DateField(label=_("最后到校日期"), required=False, widget=DATE)


class LeadImportForm(forms.Form):
    file = forms.FileField(label=_("线索文件（.xlsx）"))

    def clean_file(self) -> object:
        upload = self.cleaned_data["file"]
        if upload.size > LEAD_MAX_BYTES:
            raise forms.ValidationError(_("文件不能超过2MB"))
        return upload


class LedgerFilterForm(forms.Form):
    state = forms.ChoiceField(label=_("状态"), choices=[("", _("全部")), *State.choices], required=False)
    overdue = forms.BooleanField(label=_("仅看跟踪逾期"), required=False)
    escalation = forms.ChoiceField(
        label=_("升级督办"),
        choices=[
            ("", _("全部")),
            (ANY_ESCALATION, _("已升级（县级、地市级或省级）")),
            *[(v, lbl) for v, lbl in Escalation.choices if v != Escalation.NONE],
        ],
        required=False,
    )
    #: The unit whose ledger is shown (an org unit id in the viewer's jurisdiction; anything else is 404).
    unit = forms.CharField(required=False, widget=forms.HiddenInput)
