"""Forms of the certificate pages (Chinese errors naming the field)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from .enums import Kind

LEAVING_KINDS = [(k.value, k.label) for k in Kind if k != Kind.ENROLLMENT]


class IssueForm(forms.Form):
    person_id = forms.UUIDField(label=_("学生编号"), error_messages={"invalid": _("学生编号：格式无效")})
    kind = forms.ChoiceField(label=_("证书类型"), choices=Kind.choices)


class RevokeForm(forms.Form):
    reason = forms.CharField(label=_("撤销原因"), max_length=200)


class BatchForm(forms.Form):
    school_code = forms.CharField(label=_("学校标识码"), max_length=10)
    kind = forms.ChoiceField(label=_("证书类型"), choices=LEAVING_KINDS)


class VerifyForm(forms.Form):
    """The public check of a credential file (or its pasted JSON)."""

    file = forms.FileField(label=_("证书文件（JSON）"), required=False)
    text = forms.CharField(
        label=_("或粘贴证书内容"), required=False, widget=forms.Textarea(attrs={"rows": 6})
    )

    MAX_BYTES = 64 * 1024

    def document_text(self) -> str:
        upload = self.cleaned_data.get("file")
        if upload is not None:
            if upload.size > self.MAX_BYTES:
                raise forms.ValidationError(_("证书文件：不超过 64 KB"))
            return upload.read().decode("utf-8", errors="replace")
        return str(self.cleaned_data.get("text") or "")
