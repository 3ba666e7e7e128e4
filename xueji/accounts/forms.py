"""Forms for the account pages. They only parse input; every rule lives in services (errors come back as
``ApplicationError.fields`` and are attached to the matching inputs with :func:`attach_errors`)."""

from __future__ import annotations

from typing import Any, ClassVar

from django import forms
from django.contrib.auth import password_validation
from django.utils.translation import gettext_lazy as _

from xueji.core.dates import DateTextInput
from xueji.core.errors import ApplicationError

from .enums import Role
from .queries import STATUS_CHOICES

# Longer input is refused before hashing (the profiles allow up to 128; the margin keeps the error clear).
PASSWORD_INPUT_MAX = 256


class ServiceForm(forms.Form):
    """A form whose service errors map back onto its inputs."""

    # service field name → form field name
    field_map: ClassVar[dict[str, str]] = {}

    def attach_errors(self, exc: ApplicationError) -> None:
        attached = False
        for field, message in exc.fields.items():
            name = self.field_map.get(field, field)
            if name in self.fields:
                self.add_error(name, message)
                attached = True
        if not attached:
            self.add_error(None, exc.message)


class LoginForm(forms.Form):
    username = forms.CharField(
        label=_("用户名"),
        max_length=150,
        widget=forms.TextInput(attrs={"autocomplete": "username", "autofocus": True}),
    )
    password = forms.CharField(
        label=_("密码"),
        max_length=PASSWORD_INPUT_MAX,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


class PasswordChangeForm(ServiceForm):
    field_map: ClassVar[dict[str, str]] = {"old_password": "old_password", "new_password": "new_password1"}

    old_password = forms.CharField(
        label=_("原密码"),
        max_length=PASSWORD_INPUT_MAX,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    new_password1 = forms.CharField(
        label=_("新密码"),
        max_length=PASSWORD_INPUT_MAX,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    new_password2 = forms.CharField(
        label=_("再次输入新密码"),
        max_length=PASSWORD_INPUT_MAX,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["new_password1"].help_text = password_validation.password_validators_help_text_html()

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if (
            data.get("new_password1")
            and data.get("new_password2")
            and data["new_password1"] != data["new_password2"]
        ):
            self.add_error("new_password2", _("两次输入的新密码不一致"))
        return data


class UserCreateForm(ServiceForm):
    field_map: ClassVar[dict[str, str]] = {"org_unit": "org_code"}

    username = forms.CharField(label=_("用户名"), max_length=150)
    display_name = forms.CharField(label=_("姓名"), max_length=60)
    phone = forms.CharField(label=_("联系电话"), max_length=20, required=False)
    org_code = forms.CharField(
        label=_("所属机构代码"), max_length=16, help_text=_("教育行政部门填行政区划代码，学校填学校标识码")
    )


class RoleGrantForm(ServiceForm):
    field_map: ClassVar[dict[str, str]] = {"org_unit": "org_code"}

    role = forms.ChoiceField(label=_("角色"), choices=Role.choices)
    org_code = forms.CharField(
        label=_("授权机构代码"), max_length=16, help_text=_("该机构及其下级即为管辖范围")
    )


class FilingForm(ServiceForm):
    field_map: ClassVar[dict[str, str]] = {"filed_with": "filed_with_code"}

    filed_with_code = forms.CharField(
        label=_("备案机关代码"), max_length=16, help_text=_("上级教育行政部门的行政区划代码（第二十二条）")
    )
    filed_on = forms.DateField(label=_("备案日期"), widget=DateTextInput())
    filing_reference = forms.CharField(label=_("备案编号"), max_length=60, required=False)
    trained_on = forms.DateField(
        label=_("培训日期"),
        required=False,
        widget=DateTextInput(),
        help_text=_("先培训后上岗：培训日期登记后方可办理学籍业务"),
    )
    training_course = forms.CharField(label=_("培训内容"), max_length=120, required=False)


class SealForm(ServiceForm):
    reason = forms.CharField(label=_("封存原因"), max_length=200)


class UserFilterForm(forms.Form):
    q = forms.CharField(label=_("用户名或姓名"), required=False, max_length=60)
    role = forms.ChoiceField(label=_("角色"), required=False, choices=[("", _("全部")), *Role.choices])
    status = forms.ChoiceField(
        label=_("状态"), required=False, choices=[("", _("全部")), *((k, _(v)) for k, v in STATUS_CHOICES)]
    )
