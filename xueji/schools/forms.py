"""The new-school form. Validation lives in :func:`xueji.schools.services.school_create`; the form only
collects input and carries the service's field errors back to the inputs."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from .enums import Listing, Operator, SchoolType, Stage

# Service error keys → form inputs.
SERVICE_FIELDS = {"central_school": "central_school_code"}


class SchoolForm(forms.Form):
    name = forms.CharField(label=_("学校名称"), max_length=120)
    school_code = forms.CharField(
        label=_("学校标识码"),
        max_length=10,
        help_text=_("10位数字：2位类型+2位省份+6位序号"),
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    school_type = forms.ChoiceField(label=_("办学类型"), choices=[("", _("请选择")), *SchoolType.choices])
    county_code = forms.CharField(
        label=_("所在县区代码"),
        max_length=6,
        help_text=_("6位行政区划代码"),
        widget=forms.TextInput(attrs={"inputmode": "numeric", "list": "counties", "autocomplete": "off"}),
    )
    operator = forms.ChoiceField(label=_("举办者"), choices=Operator.choices, initial=Operator.PUBLIC)
    stages = forms.MultipleChoiceField(
        label=_("学段"),
        choices=Stage.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("不选则按办学类型默认"),
    )
    central_school_code = forms.CharField(
        label=_("中心校标识码"),
        max_length=10,
        required=False,
        help_text=_("教学点须填写其中心校（第二十二条）"),
    )
    listing = forms.ChoiceField(label=_("类别"), choices=Listing.choices, initial=Listing.MAINLAND)
    address = forms.CharField(label=_("地址"), max_length=200, required=False)

    error_code = ""

    def add_service_errors(self, fields: dict[str, str], message: str, code: str = "") -> None:
        """Attach an ApplicationError's ``fields`` to inputs; anything else becomes a form-level error."""
        self.error_code = code
        placed = False
        for key, msg in fields.items():
            name = SERVICE_FIELDS.get(key, key)
            if name in self.fields:
                self.add_error(name, msg)
                placed = True
            else:
                self.add_error(None, msg)
                placed = True
        if not placed:
            self.add_error(None, message)
