"""The export request form (第24条): prefilled from the roster's filters or the statistics page's unit and
breakdown (query string); the service validates everything again."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from xueji.accounts.types import Actor
from xueji.core.dates import DateTextInput
from xueji.imports.queries import roster_units
from xueji.regions.enums import OrgLevel
from xueji.regions.models import OrgUnit
from xueji.schools.grades import GRADE_LABELS
from xueji.statistics.queries import stat_roots

from .enums import AuthorityLevel, Source
from .services import allowed_fields


def _label(unit: OrgUnit) -> str:
    if unit.level == OrgLevel.SCHOOL:
        return f"{unit.name}（{unit.code}）"
    return f"{unit.name}（{OrgLevel(unit.level).label}）"


def unit_choices(user: Actor, source: str, extra: OrgUnit | None) -> list[tuple[int, str]]:
    units = roster_units(user) if source == Source.ROSTER else stat_roots(user)
    if extra is not None and extra.pk not in {u.pk for u in units}:
        units = [extra, *units]
    return [(u.pk, _label(u)) for u in units]


#: Statistics and flows: what "identified" output means for a counts table (第24条, issue 10 §1): the page's
#: exact numbers — no small-cell suppression, the months asked for — only when the approver opts in.
EXACT_REQUEST_LABEL = _(
    "申请导出与统计页面完全一致的精确数字（不做小单元格抑制、不按整年扩展；须审批人明确批准；默认导出去标识化统计）"
)
EXACT_DECISION_LABEL = _("批准导出精确统计数（与统计页面一致）")
EXACT_DECISION_HELP = _(
    "默认不勾选，即导出去标识化统计：少于阈值的单元格隐藏，学籍变动按整年成表；"
    "勾选后导出与统计页面完全一致的数字和月份"
)


class ExportRequestForm(forms.Form):
    source = forms.ChoiceField(label=_("导出内容"), choices=Source.choices, widget=forms.HiddenInput)
    unit = forms.TypedChoiceField(label=_("范围"), coerce=int)
    fields_ = forms.MultipleChoiceField(
        label=_("导出字段"),
        widget=forms.CheckboxSelectMultiple(attrs={"class": "column-choices"}),
        error_messages={"required": _("请至少选择一个字段")},
    )
    school = forms.CharField(label=_("学校标识码"), required=False, max_length=10)
    grade = forms.TypedChoiceField(label=_("年级"), required=False, coerce=int, empty_value=None)
    class_name = forms.CharField(label=_("班级"), required=False, max_length=30)
    as_of = forms.CharField(
        label=_("统计日期"),
        required=False,
        max_length=10,
        help_text=_("YYYY-MM-DD，按该日及之前最近一次统计快照；不填为最新快照"),
    )
    period_from = forms.CharField(label=_("统计起始月份"), required=False, max_length=7)
    period_to = forms.CharField(label=_("统计结束月份"), required=False, max_length=7)
    purpose = forms.CharField(label=_("用途"), max_length=300, widget=forms.Textarea(attrs={"rows": 2}))
    recipient = forms.CharField(label=_("接收方"), max_length=120)
    legal_basis = forms.CharField(
        label=_("法律依据或批准文件"),
        max_length=200,
        help_text=_("法律、行政法规的名称和条款，或县级以上人民政府的批准文件名称"),
    )
    authority = forms.CharField(label=_("批准机关"), max_length=120)
    authority_level = forms.ChoiceField(label=_("批准机关级别"), choices=AuthorityLevel.choices)
    document_number = forms.CharField(label=_("批准文号"), max_length=60)
    period_start = forms.DateField(label=_("使用期限起"), widget=DateTextInput())
    period_end = forms.DateField(label=_("使用期限止"), widget=DateTextInput())
    identified = forms.BooleanField(
        label=_("申请导出可识别个人的数据（须审批人明确批准；默认导出去标识化数据）"), required=False
    )
    generalise_school = forms.BooleanField(label=_("学校泛化为所在区县"), required=False)

    def __init__(self, *args: Any, user: Actor, source: str, extra_unit: OrgUnit | None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.export_source = source
        unit_field = self.fields["unit"]
        assert isinstance(unit_field, forms.ChoiceField)
        unit_field.choices = unit_choices(user, source, extra_unit)
        fields_field = self.fields["fields_"]
        assert isinstance(fields_field, forms.ChoiceField)
        fields_field.choices = list(allowed_fields(source).items())
        grade_field = self.fields["grade"]
        assert isinstance(grade_field, forms.ChoiceField)
        grade_field.choices = [("", _("全部年级")), *GRADE_LABELS.items()]
        if source != Source.ROSTER:
            for name in ("school", "class_name", "generalise_school"):
                del self.fields[name]
            self.fields["identified"].label = EXACT_REQUEST_LABEL
        if source != Source.STATISTICS:
            del self.fields["as_of"]
        if source != Source.FLOWS:
            del self.fields["period_from"], self.fields["period_to"]
        if source == Source.FLOWS:
            del self.fields["grade"]
            fields_field.help_text = _(
                "学籍变动统计始终包含全部变动类别，并按所选月份所在的自然年整年成表（防止不同导出相减推算出被隐藏的人数）"
            )

    def service_kwargs(self) -> dict[str, Any]:
        data = self.cleaned_data
        filters = {
            "school": data.get("school", ""),
            "grade": data.get("grade"),
            "class_name": data.get("class_name", ""),
            "from": data.get("period_from", ""),
            "to": data.get("period_to", ""),
            "as_of": data.get("as_of", ""),
        }
        return {
            "source": self.export_source,
            "unit_id": data["unit"],
            "fields": list(data["fields_"]),
            "filters": filters,
            "purpose": data["purpose"],
            "recipient": data["recipient"],
            "legal_basis": data["legal_basis"],
            "authority": data["authority"],
            "authority_level": data["authority_level"],
            "document_number": data["document_number"],
            "period_start": data["period_start"],
            "period_end": data["period_end"],
            "identified": bool(data.get("identified")),
            "generalise_school": bool(data.get("generalise_school")),
        }


class DecisionForm(forms.Form):
    note = forms.CharField(label=_("审批意见"), required=False, max_length=300)
    identified = forms.BooleanField(
        label=_("批准导出可识别个人的数据"),
        required=False,
        help_text=_("默认不勾选，即导出去标识化数据；学籍号、身份证件号在任何情况下都脱敏导出"),
    )

    def __init__(self, *args: Any, source: str = Source.ROSTER, **kwargs: Any):
        super().__init__(*args, **kwargs)
        if source != Source.ROSTER:  # a counts table: the opt-in is for the page's exact numbers
            self.fields["identified"].label = EXACT_DECISION_LABEL
            self.fields["identified"].help_text = EXACT_DECISION_HELP
