"""Forms for the student pages, generated from the national field specs (:mod:`xueji.students.fields`).

The forms only collect input and render it back; every rule lives in
:func:`xueji.students.validation.clean_registration` and the services, whose field errors (keys such as
``"name"``, ``"guardians.0.phone"``, ``"extra.<key>"``) are attached to the matching inputs here. So a form
field's name *is* the error key, and a registration typed in the browser is checked by exactly the code that
checks an import row or an API call.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django import forms
from django.conf import settings
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _

from xueji.core.dates import DateTextInput, MonthTextInput
from xueji.schools.grades import GRADE_LABELS  # the one table of grade names (re-exported for the forms)

from .enums import OverseasChineseStatus, Stage, grade_range
from .fields import ENROLLMENT_FIELDS, GUARDIAN_FIELDS, MAX_GUARDIANS, PERSON_FIELDS, FieldSpec
from .models import ArchiveDocument
from .validation import AGE_CONFIRM_REASON, AGE_CONFIRMED, REASON_MAX

YES_NO = [("", _("请选择")), ("1", _("是")), ("0", _("否"))]

# Layout of the registration form (national sheet order, grouped for a phone screen).
BASIC_KEYS = (
    "name",
    "gender",
    "birth_date",
    "ethnicity",
    "nationality",
    "birthplace_code",
    "native_place",
    "household_code",
    "household_type",
    "overseas_status",
    "health",
    "political_status",
    "name_pinyin",
    "former_name",
    "specialty",
)
IDENTITY_KEYS = ("id_type", "id_number", "id_valid_period")
CONTACT_KEYS = ("phone", "postal_code", "current_address", "mailing_address", "home_address", "email")
FLAG_KEYS = (
    "only_child",
    "preschool",
    "left_behind",
    "migrant_child",
    "orphan",
    "martyr_child",
    "inclusive_education",
    "disability_type",
    "govt_funded_place",
    "needs_aid",
    "boarding_subsidy",
)
WIDE_KINDS = frozenset({"current_address", "mailing_address", "home_address", "address"})

# Values a blank form starts with: the national template's defaults, never a guess about the child.
REGISTRATION_INITIAL = {
    "nationality": "CHN",
    "id_type": "1",
    "overseas_status": OverseasChineseStatus.NONE.value,
    "student_source": "1",
    "inclusive_education": "0",
    "disability_type": "0",
    "govt_funded_place": "0",
    "guardians.0.is_guardian": "1",
}


class RegionCodeInput(forms.TextInput):
    """A region code box (出生地, 户口所在地): a type-ahead over every current GB/T 2260 division of the country, by
    code prefix or by name (issue 8 item 11). As one types, htmx asks ``regions:suggest`` and fills the box's
    own ``<datalist>`` — rendered with it, so any page (registration, the record's family form) gets it."""

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        base = {"maxlength": 20, "autocomplete": "off", "placeholder": "440105"}  # a place name may be typed
        super().__init__(attrs={**base, **(attrs or {})})

    def render(
        self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None
    ) -> SafeString:
        attrs = dict(attrs or {})
        list_id = re.sub(r"[^A-Za-z0-9_-]", "-", str(attrs.get("id") or f"id_{name}")) + "-regions"
        attrs.update(
            {
                "list": list_id,
                "hx-get": reverse("regions:suggest"),
                "hx-trigger": "input changed delay:250ms",
                "hx-target": f"#{list_id}",
                "hx-swap": "innerHTML",
                "hx-sync": "this:replace",
            }
        )
        box = super().render(name, value, attrs, renderer)
        return box + format_html('<datalist id="{}"></datalist>', list_id)  # both parts escaped: safe


def _widget(spec: FieldSpec, stages: Iterable[str] = ()) -> forms.Widget:
    attrs: dict[str, Any] = {}
    if spec.required:
        attrs["aria-required"] = "true"
    if spec.kind == "code":
        assert spec.choices is not None
        return forms.Select(attrs=attrs, choices=[("", _("请选择")), *spec.choices.choices])
    if spec.kind == "bool":
        return forms.Select(attrs=attrs, choices=YES_NO)
    if spec.kind == "grade":
        grades = [g for s in stages if s in Stage.values for g in grade_range(s)] or list(range(1, 13))
        return forms.Select(
            attrs=attrs, choices=[("", _("请选择")), *[(str(g), GRADE_LABELS[g]) for g in grades]]
        )
    if spec.kind == "date":  # YYYY-MM-DD whatever the browser's locale (issue 8 item 12)
        return DateTextInput(attrs)
    if spec.kind == "ym":  # not the browser's month control: older browsers lack it
        return MonthTextInput(attrs)
    if spec.kind == "region":
        # Any current GB/T 2260 code, by code prefix or name, suggested as one types (regions:suggest).
        return RegionCodeInput(attrs)
    if spec.kind == "phone":
        return forms.TextInput(attrs={**attrs, "type": "tel", "autocomplete": "off"})
    if spec.kind == "postal":
        return forms.TextInput(attrs={**attrs, "inputmode": "numeric", "maxlength": 6})
    if spec.key == "email":
        return forms.TextInput(attrs={**attrs, "type": "email"})
    if spec.key == "id_number":
        attrs.update(autocomplete="off", spellcheck="false", autocapitalize="characters")
    return forms.TextInput(attrs={**attrs, "maxlength": spec.max_length})


def _help(spec: FieldSpec) -> Any:
    """The spec's help, minus format hints that a typed input (date, month, select) makes unnecessary."""
    if spec.kind in {"date", "grade", "code", "bool"}:
        return ""
    if spec.kind == "ym":
        return _("本学段入学年月")
    if spec.kind == "region":
        return _("6位行政区划代码，可输入地名查找")
    return _(spec.help) if spec.help else ""


def spec_field(spec: FieldSpec, *, stages: Iterable[str] = (), label: Any = None) -> forms.Field:
    """A permissive form field: it accepts any text; the validators decide (so the messages are the same as
    for imports and the API)."""
    field = forms.CharField(
        label=label or _(spec.label),
        required=False,
        help_text=_help(spec),
        widget=_widget(spec, stages),
        strip=False,
    )
    field.xj_required = spec.required  # type: ignore[attr-defined]
    field.xj_wide = spec.key in WIDE_KINDS  # type: ignore[attr-defined]
    return field


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    fields: list[forms.BoundField]
    optional: bool = False
    has_errors: bool = False
    filled: bool = False


class SpecForm(forms.Form):
    """Common behaviour: attach service/validator field errors to inputs, everything else to the form."""

    error_code = ""

    def apply_errors(self, errors: Mapping[str, str], message: str = "", code: str = "") -> None:
        """Attach a refusal's field errors to the inputs (the rest to the form); ``code`` is kept for the page
        (``data-error-code``) so tests and scripts can match the stable code, not the text."""
        self.error_code = code or self.error_code
        if not hasattr(self, "cleaned_data"):
            self.full_clean()
        placed = False
        for key, msg in errors.items():
            name = self.error_key(key)
            if name in self.fields:
                self.add_error(name, msg)
                widget = self.fields[name].widget
                widget.attrs["aria-invalid"] = "true"
                widget.attrs["aria-describedby"] = f"{self[name].auto_id}-error"
            else:
                self.add_error(None, msg)
            placed = True
        if not placed and message:
            self.add_error(None, message)

    def error_key(self, key: str) -> str:
        return key


class RegistrationForm(SpecForm):
    """新生注册 — one student: basic fields, enrollment, up to two family members, province extra fields."""

    def __init__(
        self,
        data: Any = None,
        *,
        stages: Iterable[str],
        extra_specs: Iterable[Mapping[str, Any]] = (),
        schools: Iterable[Any] = (),
    ) -> None:
        super().__init__(data, initial=None if data is not None else dict(REGISTRATION_INITIAL))
        stages = list(stages)
        schools = list(schools)
        if len(schools) > 1:
            self.fields["school"] = forms.CharField(
                label=_("学校"),
                required=False,
                widget=forms.Select(choices=[(str(s.pk), s.name) for s in schools]),
            )
            self.fields["school"].xj_required = True  # type: ignore[attr-defined]
        for spec in PERSON_FIELDS + ENROLLMENT_FIELDS:
            self.fields[spec.key] = spec_field(spec, stages=stages)
        for i in range(MAX_GUARDIANS):
            for spec in GUARDIAN_FIELDS:
                self.fields[f"guardians.{i}.{spec.key}"] = spec_field(spec)
        self.extra_specs = list(extra_specs)
        for item in self.extra_specs:
            self.fields[f"extra.{item['key']}"] = extra_field(item)
        # Issue 8 item 4: shown with the warning that the age does not fit the grade (see asks_age_confirmation).
        self.fields[AGE_CONFIRMED] = forms.BooleanField(label=_("年龄与年级属实，确认注册"), required=False)
        self.fields[AGE_CONFIRM_REASON] = forms.CharField(
            label=_("原因"),
            required=False,  # the length is checked with the rule (validation.check_grade_age)
            help_text=_("如缓学、留级、跳级、插班；原因随学籍保存，审计日志只记录“已确认”"),
            widget=forms.TextInput(attrs={"maxlength": REASON_MAX}),
        )

    @property
    def asks_age_confirmation(self) -> bool:
        """Show the age confirmation: the validation asked for it, or the registrar already ticked it."""
        return bool(
            self.is_bound
            and (
                self.errors.get(AGE_CONFIRMED)
                or self.errors.get(AGE_CONFIRM_REASON)
                or self._raw(AGE_CONFIRMED)
            )
        )

    # -- input, in the shapes clean_registration takes --------------------------------------------------
    def _raw(self, name: str) -> str:
        return str(self.data.get(name, "")) if self.is_bound else ""

    def raw_person(self) -> dict[str, str]:
        return {s.key: self._raw(s.key) for s in PERSON_FIELDS}

    def raw_enrollment(self) -> dict[str, str]:
        confirmation = {key: self._raw(key) for key in (AGE_CONFIRMED, AGE_CONFIRM_REASON)}
        return {**{s.key: self._raw(s.key) for s in ENROLLMENT_FIELDS}, **confirmation}

    def raw_guardians(self) -> list[dict[str, str]]:
        return [
            {s.key: self._raw(f"guardians.{i}.{s.key}") for s in GUARDIAN_FIELDS}
            for i in range(MAX_GUARDIANS)
        ]

    def raw_extra(self) -> dict[str, str]:
        out = {}
        for item in self.extra_specs:
            name = f"extra.{item['key']}"
            if item.get("type") == "multi_choice" and self.is_bound:
                out[item["key"]] = ",".join(self.data.getlist(name)) if hasattr(self.data, "getlist") else ""
            else:
                out[item["key"]] = self._raw(name)
        return out

    def school_choice(self) -> str:
        return self._raw("school")

    def error_key(self, key: str) -> str:
        # A guardian-level error without a field ("guardians") stays at form level; ids map to id_number.
        return key

    # -- layout ------------------------------------------------------------------------------------------
    def sections(self) -> list[Section]:
        def bound(names: Iterable[str]) -> list[forms.BoundField]:
            return [self[n] for n in names if n in self.fields]

        def section(key: str, title: Any, names: Iterable[str], optional: bool = False) -> Section:
            fields = bound(names)
            return Section(
                key,
                str(title),
                fields,
                optional,
                any(f.errors for f in fields),
                any(self._raw(f.name).strip() for f in fields),
            )

        school = ["school"] if "school" in self.fields else []
        out = [
            section("basic", _("基本信息"), BASIC_KEYS),
            section("identity", _("身份证件"), IDENTITY_KEYS),
            section("enrollment", _("在校信息"), school + [s.key for s in ENROLLMENT_FIELDS]),
            section("contact", _("联系方式"), CONTACT_KEYS),
        ]
        for i in range(MAX_GUARDIANS):
            out.append(
                section(
                    f"guardian{i}",
                    _("家庭成员%(n)s") % {"n": i + 1},
                    [f"guardians.{i}.{s.key}" for s in GUARDIAN_FIELDS],
                    optional=i > 0,
                )
            )
        out.append(section("flags", _("其他标记"), FLAG_KEYS))
        if self.extra_specs:
            out.append(
                section("extra", _("非基础信息"), [f"extra.{item['key']}" for item in self.extra_specs])
            )
        return out


def extra_field(item: Mapping[str, Any]) -> forms.Field:
    """A province-defined non-basic field (第3条) from its stored definition (``FieldDef.to_dict()``:
    ``{key, label, type, required, help?, max_length?, choices?: [{code, label}]}``)."""
    kind = str(item.get("type", "text"))
    required = bool(item.get("required"))
    attrs: dict[str, Any] = {"aria-required": "true"} if required else {}
    pairs = [
        (str(c["code"]), f"{c['label']}") if isinstance(c, Mapping) else (str(c), str(c))
        for c in item.get("choices") or ()
    ]
    widget: forms.Widget
    if kind == "multi_choice":
        widget = forms.CheckboxSelectMultiple(choices=pairs)
    elif pairs:
        widget = forms.Select(attrs=attrs, choices=[("", _("请选择")), *pairs])
    elif kind == "boolean":
        widget = forms.Select(attrs=attrs, choices=YES_NO)
    elif kind == "date":
        widget = DateTextInput(attrs)
    elif kind in {"integer", "decimal"}:
        widget = forms.TextInput(attrs={**attrs, "inputmode": "decimal" if kind == "decimal" else "numeric"})
    else:
        widget = forms.TextInput(attrs={**attrs, "maxlength": item.get("max_length") or 200})
    field: forms.Field
    if kind == "multi_choice":
        field = forms.MultipleChoiceField(
            label=str(item.get("label") or item["key"]),
            required=False,
            widget=widget,
            choices=pairs,
            help_text=str(item.get("help", "")),
        )
    else:
        field = forms.CharField(
            label=str(item.get("label") or item["key"]),
            required=False,
            widget=widget,
            strip=False,
            help_text=str(item.get("help", "")),
        )
    field.xj_required = required  # type: ignore[union-attr]
    return field


class GuardianForm(SpecForm):
    """Add one family member on the student page (services: guardian_add)."""

    prefix = "g"

    def __init__(self, data: Any = None) -> None:
        super().__init__(data, initial=None if data is not None else {"is_guardian": "1"})
        for spec in GUARDIAN_FIELDS:
            self.fields[spec.key] = spec_field(spec)

    def raw(self) -> dict[str, str]:
        return {s.key: str(self.data.get(self.add_prefix(s.key), "")) for s in GUARDIAN_FIELDS}


class ArchiveForm(SpecForm):
    """Upload one document into the electronic archive (第6条). The service checks type (by content) and size."""

    prefix = "a"
    kind = forms.ChoiceField(label=_("材料类型"), choices=ArchiveDocument.Kind.choices)
    title = forms.CharField(label=_("材料名称"), max_length=100)
    file = forms.FileField(
        label=_("文件"),
        widget=forms.ClearableFileInput(
            attrs={"accept": ".pdf,.jpg,.jpeg,.png,application/pdf,image/jpeg,image/png"}
        ),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["file"].help_text = _("PDF、JPEG 或 PNG（按文件内容识别），不超过 %(mb)s MB") % {
            "mb": settings.ARCHIVE_MAX_BYTES // (1024 * 1024)
        }
