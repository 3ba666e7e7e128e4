"""Upload form for a bulk registration file (第6条)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from xueji.schools.models import School


class SchoolChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: School) -> str:
        return f"{obj.name}（{obj.school_code}）"


class UploadForm(forms.Form):
    school = SchoolChoiceField(
        label=_("学校"), queryset=School.objects.none(), to_field_name="school_code", empty_label=None
    )
    file = forms.FileField(
        label=_("导入文件"),
        help_text=_("Excel（.xlsx）或 CSV 文件，表头与导入模板一致；上传后自动校验，校验通过后再确认导入。"),
        widget=forms.ClearableFileInput(attrs={"accept": ".xlsx,.csv,text/csv"}),
    )

    def __init__(self, *args: Any, schools: QuerySet[School], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        school_field = self.fields["school"]
        assert isinstance(school_field, forms.ModelChoiceField)
        school_field.queryset = schools
        first = schools.first()
        if first is not None:
            self.fields["school"].initial = first.school_code

    def clean_file(self) -> Any:
        uploaded = self.cleaned_data["file"]
        limit = int(settings.IMPORT_MAX_BYTES)
        if uploaded.size > limit:
            raise forms.ValidationError(
                _("文件过大，单个导入文件不能超过 %(mb)d MB，请拆分后分批导入"),
                code="file_too_large",
                params={"mb": limit // 1048576},
            )
        return uploaded
