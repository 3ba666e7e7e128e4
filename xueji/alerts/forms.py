from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from .enums import AlertState, Severity


class HandleForm(forms.Form):
    state = forms.ChoiceField(
        label=_("处理"), choices=[(AlertState.ACKNOWLEDGED, _("确认")), (AlertState.RESOLVED, _("解决"))]
    )
    note = forms.CharField(
        label=_("处理说明"), max_length=300, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )


class RuleForm(forms.Form):
    threshold = forms.IntegerField(label=_("阈值"), min_value=1)
    window_seconds = forms.IntegerField(label=_("时间窗口（秒）"), min_value=0, max_value=30 * 86400)
    severity = forms.ChoiceField(label=_("级别"), choices=Severity.choices)
    enabled = forms.BooleanField(label=_("启用"), required=False)
    notify_upper = forms.BooleanField(label=_("同时通知上级部门"), required=False)
