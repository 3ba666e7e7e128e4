"""Forms of bulk registration (第6条): the upload, and the roster export (issue 8 item 9)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from xueji.regions.enums import OrgLevel
from xueji.regions.models import OrgUnit
from xueji.schools.grades import GRADE_LABELS
from xueji.schools.models import School

from . import queries
from .export import DEFAULT_COLUMNS, ROSTER_COLUMNS
from .services import RosterSpec


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


class RosterExportForm(forms.Form):
    """Roster export (issue 8 item 9): the range — one of the viewer's schools, or a city or county of their
    region, optionally one school in it —, grade and class, and the columns (checkboxes, the common ones
    ticked). ``cleaned_data["spec"]`` is the :class:`~xueji.imports.services.RosterSpec` to export."""

    unit = forms.TypedChoiceField(label=_("区域或学校"), coerce=int)
    school = forms.CharField(
        label=_("学校标识码"),
        required=False,
        max_length=10,
        help_text=_("选填：只导出所选范围内的一所学校"),
    )
    grade = forms.TypedChoiceField(
        label=_("年级"), required=False, coerce=int, empty_value=None, choices=[("", _("全部年级"))]
    )
    class_name = forms.CharField(label=_("班级"), required=False, max_length=30, help_text=_("选填，如 1班"))
    columns = forms.MultipleChoiceField(
        label=_("导出的列"),
        widget=forms.CheckboxSelectMultiple(attrs={"class": "column-choices"}),
        choices=[(c.key, c.header) for c in ROSTER_COLUMNS],
        initial=list(DEFAULT_COLUMNS),
        error_messages={"required": _("请至少选择一列")},
    )

    def __init__(self, *args: Any, units: list[OrgUnit], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.units = {u.pk: u for u in units}
        unit_field = self.fields["unit"]
        assert isinstance(unit_field, forms.ChoiceField)
        unit_field.choices = [(u.pk, _unit_label(u)) for u in units]
        grade_field = self.fields["grade"]
        assert isinstance(grade_field, forms.ChoiceField)
        grade_field.choices = [("", _("全部年级")), *((g, label) for g, label in GRADE_LABELS.items())]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        unit = self.units.get(data.get("unit") or 0)
        if unit is None:
            return data
        school: School | None = None
        code = (data.get("school") or "").strip()
        if unit.level == OrgLevel.SCHOOL:
            school = queries.roster_school(unit=unit, school_code=unit.code)
            if code and code != unit.code:
                self.add_error("school", _("所选范围是一所学校，无需再填学校标识码"))
        elif code:
            school = queries.roster_school(unit=unit, school_code=code)
            if school is None:
                self.add_error("school", _("所选范围内没有学校标识码为 %(code)s 的在办学校") % {"code": code})
        class_name = (data.get("class_name") or "").strip()
        if class_name and school is None and not self.has_error("school"):
            self.add_error("class_name", _("按班级导出时，请先填写学校标识码"))
        if not self.errors:
            data["spec"] = RosterSpec(
                unit=unit,
                columns=tuple(data.get("columns") or ()),
                school=school,
                grade=data.get("grade"),
                class_name=class_name,
            )
        return data


def _unit_label(unit: OrgUnit) -> str:
    if unit.level == OrgLevel.SCHOOL:
        return f"{unit.name}（{unit.code}）"
    return f"{unit.name}（{OrgLevel(unit.level).label}）"
