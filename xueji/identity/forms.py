from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from .scopes import Audience
from .services import registrable_scopes


class ClientForm(forms.Form):
    name = forms.CharField(label=_("系统名称"), max_length=100)
    redirect_uris = forms.CharField(
        label=_("回调地址"),
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("每行一个，须为 https 地址"),
    )
    sector = forms.CharField(
        label=_("标识域"),
        max_length=200,
        required=False,
        help_text=_("同一标识域的系统看到同一用户标识；留空则取第一个回调地址的主机名"),
    )
    audience = forms.ChoiceField(
        label=_("使用者"),
        choices=Audience.choices,
        initial=Audience.STAFF,
        required=False,
        help_text=_("家长使用的系统只能登记子女在读情况、姓名和在读核验；教职工使用的系统只能登记姓名、角色"),
    )
    scopes = forms.MultipleChoiceField(
        label=_("可申请的授权范围"), widget=forms.CheckboxSelectMultiple, required=False, choices=()
    )
    confidential = forms.BooleanField(
        label=_("机密客户端（服务器端系统，持有密钥）"), required=False, initial=True
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["scopes"].choices = [(k, _(v)) for k, v in registrable_scopes().items()]  # type: ignore[attr-defined]

    def clean_audience(self) -> str:
        return str(self.cleaned_data.get("audience") or Audience.STAFF)
