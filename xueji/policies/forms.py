"""The row-based field-set editor and the filing form.

Each row of the editor is one field definition (key, label, type, required, type attributes, options one per
line "code 标签"). The rows become the definition dicts that :func:`xueji.policies.extra_fields.validate_definition`
checks — the schema lives in one place; the form only parses the options text and maps the schema's errors
(``fields.<index>.<attribute>``) back onto the row inputs.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from django import forms
from django.utils.translation import gettext_lazy as _

from xueji.core.dates import DateTextInput

from .extra_fields import CHOICE_TYPES, MAX_FIELDS, TEXT, TYPE_LABELS, DefinitionInvalid, FieldDef
from .rules import CHECK_BOUNDS, CHECK_OWNERS, CHECK_RULE_LABELS, CHECK_RULES, CHECKS, CHECKS_DEFAULT

PREFIX = "rows"
_OPTION_LINE = re.compile(r"^(\S+?)(?:[\s\u3000]+|[-:：])(.+)$")
# Schema attribute → row input.
_ATTRIBUTE_INPUT = {"choices": "options"}
_ATTRIBUTES = ("max_length", "min_value", "max_value", "decimal_places")


def options_text(choices: list[dict[str, Any]] | tuple[Any, ...]) -> str:
    lines = []
    for c in choices:
        code, label = (c["code"], c["label"]) if isinstance(c, dict) else (c.code, c.label)
        lines.append(f"{code} {label}")
    return "\n".join(lines)


def row_initial(definition: FieldDef) -> dict[str, Any]:
    """A stored definition as the initial data of one editor row (for editing a draft or copying a version)."""
    data = definition.to_dict()
    initial: dict[str, Any] = {k: data.get(k, "") for k in ("key", "label", "type", "help")}
    initial["required"] = bool(data.get("required"))
    for attr in _ATTRIBUTES:
        value = data.get(attr)
        initial[attr] = "" if value is None else str(value)
    initial["options"] = options_text(data.get("choices") or [])
    return initial


class FieldRowForm(forms.Form):
    """One field definition. Every input is optional here: a row left blank is ignored, and the schema checks
    (with messages naming the row and attribute) run on the assembled definition."""

    key = forms.CharField(
        label=_("字段键"),
        max_length=40,
        required=False,
        help_text=_("小写字母开头，字母、数字、下划线，如 residence_permit_no"),
    )
    label = forms.CharField(
        label=_("字段名称"), max_length=30, required=False, help_text=_("导入模板的列标题，如“居住证号码”")
    )
    type = forms.ChoiceField(label=_("类型"), choices=list(TYPE_LABELS.items()), initial=TEXT)
    required = forms.BooleanField(
        label=_("是否必填"),
        required=False,
        widget=forms.Select(choices=[(False, _("选填")), (True, _("必填"))]),
    )
    max_length = forms.CharField(label=_("最大长度"), required=False, help_text=_("仅文本，默认 200"))
    min_value = forms.CharField(label=_("最小值"), required=False, help_text=_("仅整数、小数"))
    max_value = forms.CharField(label=_("最大值"), required=False, help_text=_("仅整数、小数"))
    decimal_places = forms.CharField(label=_("小数位数"), required=False, help_text=_("仅小数，默认 2"))
    options = forms.CharField(
        label=_("选项"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("仅单选、多选：每行一项“代码 标签”，如“01 一号线”"),
    )
    help = forms.CharField(label=_("填写说明"), max_length=200, required=False)

    def is_blank(self) -> bool:
        data = self.cleaned_data
        texts = ("key", "label", "help", *_ATTRIBUTES)
        return not data.get("options") and not any((data.get(name) or "").strip() for name in texts)

    def clean_options(self) -> list[dict[str, str]]:
        """Parse "code 标签" lines into a code table (the schema checks codes and labels further)."""
        text = self.cleaned_data.get("options") or ""
        choices: list[dict[str, str]] = []
        for number, raw_line in enumerate(text.splitlines(), start=1):
            line = raw_line.strip()
            if not line:
                continue
            match = _OPTION_LINE.match(line)
            if match is None:
                raise forms.ValidationError(
                    _("选项第 %(n)s 行“%(line)s”须写成“代码 标签”，如“01 一号线”"),
                    code="invalid_option_line",
                    params={"n": number, "line": line[:30]},
                )
            choices.append({"code": match.group(1), "label": match.group(2).strip()})
        return choices

    def definition(self) -> dict[str, Any]:
        data = self.cleaned_data
        out: dict[str, Any] = {
            "key": (data.get("key") or "").strip(),
            "label": (data.get("label") or "").strip(),
            "type": data.get("type") or TEXT,
            "required": bool(data.get("required")),
        }
        if (data.get("help") or "").strip():
            out["help"] = data["help"].strip()
        for attr in _ATTRIBUTES:
            value = (data.get(attr) or "").strip()
            if value:
                out[attr] = value
        if data.get("options"):
            out["choices"] = data["options"]
        elif out["type"] in CHOICE_TYPES:
            out["choices"] = []
        return out


RowFormSet = forms.formset_factory(
    FieldRowForm,
    extra=0,
    can_delete=True,
    max_num=MAX_FIELDS,
    absolute_max=MAX_FIELDS,
    validate_max=True,
)


class FieldSetEditor:
    """A formset of :class:`FieldRowForm` rows that yields a definition list or carries row errors."""

    def __init__(self, data: Any = None, *, initial: list[dict[str, Any]] | None = None) -> None:
        self.formset = RowFormSet(data, initial=initial if data is None else None, prefix=PREFIX)
        self.errors: list[str] = []
        self._kept: list[FieldRowForm] = []

    @classmethod
    def blank(cls) -> FieldSetEditor:
        return cls(initial=[{"type": TEXT}])

    @classmethod
    def from_definitions(cls, defs: list[FieldDef]) -> FieldSetEditor:
        return cls(initial=[row_initial(d) for d in defs] or [{"type": TEXT}])

    def definitions(self) -> list[dict[str, Any]] | None:
        """The definition dicts of the non-blank, non-deleted rows, or ``None`` when a row could not be parsed."""
        if not self.formset.is_valid():
            self.errors.extend(str(e) for e in self.formset.non_form_errors())
            return None
        self._kept = [
            form
            for form in self.formset.forms
            if not form.cleaned_data.get("DELETE") and not form.is_blank()  # type: ignore[attr-defined]
        ]
        return [form.definition() for form in self._kept]

    def attach(self, exc: DefinitionInvalid) -> None:
        """Put the schema's errors (``fields.<index>.<attribute>``) on the matching row inputs."""
        for path, message in exc.fields.items():
            parts = path.split(".")
            if len(parts) >= 2 and parts[1].isdigit() and int(parts[1]) < len(self._kept):
                form = self._kept[int(parts[1])]
                attr = parts[2] if len(parts) > 2 else None
                name = _ATTRIBUTE_INPUT.get(attr, attr) if attr else None
                form.add_error(name if name in form.fields else None, message)
            else:
                self.errors.append(message)

    def add_row(self) -> None:
        """Re-bind with one more (blank) row — the no-JavaScript path of "add row"."""
        data: dict[str, Any] = {key: self.formset.data.get(key) for key in self.formset.data}
        total_key = f"{PREFIX}-TOTAL_FORMS"
        try:
            total = int(data.get(total_key, 0))
        except ValueError:
            total = 0
        data[total_key] = str(min(total + 1, MAX_FIELDS))
        self.formset = RowFormSet(data, prefix=PREFIX)


def new_row(index: int) -> forms.Form:
    """An unbound editor row at ``index`` (what the htmx "add row" button appends)."""
    formset = RowFormSet(prefix=PREFIX)
    form = formset.form(
        auto_id=formset.auto_id,
        prefix=formset.add_prefix(index),
        empty_permitted=True,
        use_required_attribute=False,
        initial={"type": TEXT},
        renderer=getattr(formset, "renderer", None),
    )
    formset.add_fields(form, None)
    return form


class FilingForm(forms.Form):
    """第3条: 报国务院教育行政部门备案 — the date and the reference of the filing."""

    filed_on = forms.DateField(
        label=_("报部备案日期"),
        required=False,
        widget=DateTextInput(),
        error_messages={"invalid": _("报部备案日期格式不正确（YYYY-MM-DD）")},
    )
    filing_reference = forms.CharField(
        label=_("备案文号"),
        required=False,
        max_length=60,
        error_messages={"max_length": _("备案文号不能超过 60 个字符")},
    )

    def attach(self, fields: dict[str, str]) -> None:
        for name, message in fields.items():
            self.add_error(name if name in self.fields else None, message)


class GradeAgeForm(forms.Form):
    """A new filed version of the province's age rules (issue 8 item 4; 第11条): school entry age, the counting
    day and, per stage, the normal and the allowed band in years from the expected age. The checks live in
    :func:`xueji.policies.rules.validate_rules`; the form only assembles the rule and puts its errors
    (``grade_age.primary.normal`` …) on the inputs."""

    school_entry_age = forms.TypedChoiceField(
        label=_("入学年龄（一年级）"),
        choices=[(6, _("6 周岁")), (7, _("7 周岁（条件不具备的地区）"))],
        coerce=int,
    )
    age_on = forms.CharField(
        label=_("年龄计算日（MM-DD）"), max_length=5, help_text=_("如 08-31：当年 8 月 31 日的周岁")
    )
    effective_from = forms.DateField(
        label=_("生效日期"),
        widget=DateTextInput(),
        error_messages={"invalid": _("生效日期格式不正确（YYYY-MM-DD）")},
    )
    filed_on = forms.DateField(
        label=_("报部备案日期"),
        widget=DateTextInput(),
        error_messages={"invalid": _("报部备案日期格式不正确（YYYY-MM-DD）")},
    )
    filing_reference = forms.CharField(label=_("备案文号"), max_length=80)

    STAGES = (("primary", _("小学")), ("junior", _("初中")), ("senior", _("普通高中")))
    BAND_INPUTS = (("normal", 0), ("normal", 1), ("allowed", 0), ("allowed", 1))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        labels = {
            ("normal", 0): _("正常下限"),
            ("normal", 1): _("正常上限"),
            ("allowed", 0): _("可确认下限"),
            ("allowed", 1): _("可确认上限"),
        }
        for stage, stage_label in self.STAGES:
            for band, end in self.BAND_INPUTS:
                self.fields[self.band_input(stage, band, end)] = forms.IntegerField(
                    label=f"{stage_label}{labels[(band, end)]}",
                    widget=forms.NumberInput(attrs={"step": 1}),
                )

    @staticmethod
    def band_input(stage: str, band: str, end: int) -> str:
        return f"{stage}_{band}_{'low' if end == 0 else 'high'}"

    @classmethod
    def initial_from(cls, rules: Any) -> dict[str, Any]:
        """Initial values from a resolved :class:`~xueji.policies.rules.GradeAgeRules` (the rule in force)."""
        data: dict[str, Any] = {
            "school_entry_age": rules.entry_age,
            "age_on": f"{rules.age_on[0]:02d}-{rules.age_on[1]:02d}",
        }
        for stage, _label in cls.STAGES:
            for band, end in cls.BAND_INPUTS:
                data[cls.band_input(stage, band, end)] = rules.bands[stage][band][end]
        return data

    def stage_rows(self) -> list[tuple[Any, list[forms.BoundField]]]:
        return [
            (label, [self[self.band_input(stage, b, e)] for b, e in self.BAND_INPUTS])
            for stage, label in self.STAGES
        ]

    def rules(self) -> dict[str, Any]:
        data = self.cleaned_data
        grade_age: dict[str, Any] = {"age_on": data["age_on"].strip()}
        for stage, _label in self.STAGES:
            grade_age[stage] = {
                band: [data[self.band_input(stage, band, 0)], data[self.band_input(stage, band, 1)]]
                for band in ("normal", "allowed")
            }
        return {"school_entry_age": data["school_entry_age"], "grade_age": grade_age}

    def attach(self, fields: dict[str, str]) -> None:
        """Put a service error (``school_entry_age``, ``grade_age.junior.allowed``, ``filed_on`` …) on its input."""
        for key, message in fields.items():
            parts = key.split(".")
            if key in self.fields:
                self.add_error(key, message)
            elif len(parts) == 3 and parts[0] == "grade_age":
                self.add_error(self.band_input(parts[1], parts[2], 0), message)
            elif key == "grade_age.age_on":
                self.add_error("age_on", message)
            else:
                self.add_error(None, message)


class CheckRulesForm(forms.Form):
    """A new filed version of the province's problem-record checks (第5条 the province files its rules; 第9、25条
    the checks; issue 10 §2): per rule (:data:`~xueji.policies.rules.CHECK_RULES`) whether it runs, who acts
    first, the owner's deadline in working days and the rule's thresholds. The checks live in
    :func:`xueji.policies.rules.checks_errors` (the same as the API's); the form only parses the inputs, keeps
    what differs from the national defaults as the province's override and puts the service's errors
    (``checks.age_grade.margin_years`` …) on the inputs."""

    effective_from = forms.DateField(
        label=_("生效日期"),
        widget=DateTextInput(),
        error_messages={"invalid": _("生效日期格式不正确（YYYY-MM-DD）"), "required": _("生效日期为必填项")},
    )
    filed_on = forms.DateField(
        label=_("报部备案日期"),
        widget=DateTextInput(),
        error_messages={
            "invalid": _("报部备案日期格式不正确（YYYY-MM-DD）"),
            "required": _("报部备案日期为必填项"),
        },
    )
    filing_reference = forms.CharField(
        label=_("备案文号"),
        max_length=80,
        error_messages={"required": _("备案文号为必填项"), "max_length": _("备案文号不能超过 80 个字符")},
    )

    KEY_LABELS: ClassVar[dict[str, Any]] = {
        "enabled": _("是否启用"),
        "owner": _("首先处理方"),
        "due_working_days": _("处理期限（工作日）"),
        "margin_years": _("放宽年数"),
        "max_days": _("休学最长天数"),
        "grace_days": _("宽限天数"),
        "check_from": _("检查起始日（MM-DD）"),
    }
    OWNER_LABELS: ClassVar[dict[str, Any]] = {"school": _("学校"), "county": _("县级教育行政部门")}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for rule, extra in CHECK_RULES.items():
            title = CHECK_RULE_LABELS[rule]
            for key in ("enabled", "owner", "due_working_days", *extra):
                label = f"{title} · {self.KEY_LABELS[key]}"
                required = {"required": _("请填写%(label)s") % {"label": label}}
                name = self.input_name(rule, key)
                if key == "enabled":
                    self.fields[name] = forms.TypedChoiceField(
                        label=label,
                        choices=[("1", _("启用")), ("0", _("停用"))],
                        coerce=lambda v: v == "1",
                        error_messages={
                            **required,
                            "invalid_choice": _("请选择%(label)s") % {"label": label},
                        },
                    )
                elif key == "owner":
                    self.fields[name] = forms.ChoiceField(
                        label=label,
                        choices=[(o, self.OWNER_LABELS[o]) for o in CHECK_OWNERS],
                        error_messages={
                            **required,
                            "invalid_choice": _("请选择%(label)s") % {"label": label},
                        },
                    )
                else:
                    # Text, not a number input: the values go to the service as they are (an integer when they
                    # read as one), and the service's message names what is wrong (one validation).
                    self.fields[name] = forms.CharField(label=label, max_length=10, error_messages=required)

    @staticmethod
    def input_name(rule: str, key: str) -> str:
        return f"{rule}__{key}"

    @classmethod
    def initial_from(cls, rules: Any) -> dict[str, Any]:
        """Initial values from a resolved :class:`~xueji.policies.rules.CheckRules` (the rules in force)."""
        data: dict[str, Any] = {}
        for rule, extra in CHECK_RULES.items():
            for key in ("enabled", "owner", "due_working_days", *extra):
                value = rules[rule][key]
                data[cls.input_name(rule, key)] = ("1" if value else "0") if key == "enabled" else str(value)
        return data

    def rule_rows(self) -> list[tuple[Any, str, list[forms.BoundField]]]:
        return [
            (
                CHECK_RULE_LABELS[rule],
                rule,
                [self[self.input_name(rule, k)] for k in ("enabled", "owner", "due_working_days", *extra)],
            )
            for rule, extra in CHECK_RULES.items()
        ]

    def checks(self) -> dict[str, dict[str, Any]]:
        """The province's override: every value that differs from the national default (a value set back to
        the default drops out and follows the national rule again)."""
        data = self.cleaned_data
        out: dict[str, dict[str, Any]] = {}
        for rule, extra in CHECK_RULES.items():
            for key in ("enabled", "owner", "due_working_days", *extra):
                value = data[self.input_name(rule, key)]
                if (
                    key in CHECK_BOUNDS
                    and isinstance(value, str)
                    and re.fullmatch(r"-?\d{1,6}", value.strip())
                ):
                    value = int(value.strip())
                elif isinstance(value, str):
                    value = value.strip()
                if value != CHECKS_DEFAULT[rule][key]:
                    out.setdefault(rule, {})[key] = value
        return out

    def attach(self, fields: dict[str, str]) -> None:
        """Put a service error (``checks.no_class.grace_days``, ``filed_on`` …) on its input."""
        for key, message in fields.items():
            parts = key.split(".")
            if key in self.fields:
                self.add_error(key, message)
            elif (
                len(parts) == 3 and parts[0] == CHECKS and self.input_name(parts[1], parts[2]) in self.fields
            ):
                # The message names the key (checks.no_class.grace_days); the page names the input's label.
                label = str(self.fields[self.input_name(parts[1], parts[2])].label)
                text = message.replace(key, label) if key in message else f"{label}：{message}"
                self.add_error(self.input_name(parts[1], parts[2]), text)
            else:
                self.add_error(None, message)
