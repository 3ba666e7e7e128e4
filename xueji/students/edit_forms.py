"""Forms of the school's everyday edits of a record (issue 8 item 2): ordinary fields, the province's
non-basic fields, the class, family members, and 调班 of several students at once.

Like the registration form they only collect text; the services (:mod:`xueji.students.records`) decide, with
the same validators as registration, import and API, and their field errors land on the matching inputs.
Key fields (姓名、证件、性别、出生日期、学籍号) are not on these forms: they change only through the key-data
change (第13条).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from xueji.core.masking import mask_id_number, mask_phone

from .fields import GUARDIAN_FIELDS
from .forms import (
    BASIC_KEYS,
    CONTACT_KEYS,
    FLAG_KEYS,
    IDENTITY_KEYS,
    Section,
    SpecForm,
    extra_field,
    spec_field,
)
from .models import Enrollment, Guardian, Person
from .records import EDITABLE_FIELDS as EDITABLE_SPECS

_EDITABLE = {s.key for s in EDITABLE_SPECS}

#: Identifiers the record page masks (第24条): the edit forms do not send them to the browser either. The field
#: starts empty with the masked value as its placeholder; left empty, the stored value stays.
MASKED_ON_FORMS = {"phone": mask_phone, "id_number": mask_id_number}


def _mask_inputs(form: forms.Form, current: Mapping[str, Any]) -> None:
    for key, mask in MASKED_ON_FORMS.items():
        if key in form.fields:
            form.initial[key] = ""
            value = str(current.get(key) or "")
            form.fields[key].widget.attrs["placeholder"] = mask(value) if value else ""
            form.fields[key].help_text = _("留空则保持原号码不变")


def raw_value(value: Any) -> str:
    """A stored value as the form shows it (the text a registrar would type)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)


class StudentEditForm(SpecForm):
    """修改学生信息: every ordinary field, the class and the province's non-basic fields, pre-filled."""

    def __init__(
        self,
        data: Any = None,
        *,
        person: Person,
        enrollment: Enrollment,
        extra_specs: Iterable[Mapping[str, Any]] = (),
    ) -> None:
        self.extra_specs = list(extra_specs)
        initial: dict[str, Any] = {s.key: raw_value(getattr(person, s.key)) for s in EDITABLE_SPECS}
        initial.update(class_name=enrollment.class_name, class_number=enrollment.class_number)
        for item in self.extra_specs:
            initial[f"extra.{item['key']}"] = raw_value((person.extra or {}).get(item["key"]))
        super().__init__(data, initial=initial)
        for spec in EDITABLE_SPECS:
            self.fields[spec.key] = spec_field(spec)
        self.fields["class_name"] = forms.CharField(
            label=_("班级"), required=False, max_length=30, widget=forms.TextInput(attrs={"maxlength": 30})
        )
        self.fields["class_name"].xj_required = True  # type: ignore[attr-defined]
        self.fields["class_number"] = forms.CharField(
            label=_("班内学号"),
            required=False,
            max_length=10,
            widget=forms.TextInput(attrs={"maxlength": 10}),
        )
        for item in self.extra_specs:
            self.fields[f"extra.{item['key']}"] = extra_field(item)
        _mask_inputs(self, {k: getattr(person, k) for k in MASKED_ON_FORMS if hasattr(person, k)})

    def _raw(self, name: str) -> str:
        return str(self.data.get(name, "")) if self.is_bound else ""

    def raw_person(self) -> dict[str, str]:
        raw = {s.key: self._raw(s.key) for s in EDITABLE_SPECS}
        return {k: v for k, v in raw.items() if not (k in MASKED_ON_FORMS and not v.strip())}

    def raw_extra(self) -> dict[str, str]:
        out = {}
        for item in self.extra_specs:
            name = f"extra.{item['key']}"
            if item.get("type") == "multi_choice" and hasattr(self.data, "getlist"):
                out[item["key"]] = ",".join(self.data.getlist(name))
            else:
                out[item["key"]] = self._raw(name)
        return out

    def sections(self) -> list[Section]:
        def section(key: str, title: Any, names: Iterable[str]) -> Section:
            fields = [self[n] for n in names if n in self.fields]
            return Section(key, str(title), fields, False, any(f.errors for f in fields), True)

        out = [
            section("class", _("在校信息"), ("class_name", "class_number")),
            section("basic", _("基本信息"), [k for k in BASIC_KEYS if k in _EDITABLE]),
            section("identity", _("身份证件"), [k for k in IDENTITY_KEYS if k in _EDITABLE]),
            section("contact", _("联系方式"), CONTACT_KEYS),
            section("flags", _("其他标记"), FLAG_KEYS),
        ]
        if self.extra_specs:
            out.append(section("extra", _("非基础信息"), [f"extra.{i['key']}" for i in self.extra_specs]))
        return [s for s in out if s.fields]


class GuardianEditForm(SpecForm):
    """Edit one family member (pre-filled)."""

    prefix = "g"

    def __init__(self, data: Any = None, *, guardian: Guardian) -> None:
        self.current = {s.key: raw_value(getattr(guardian, s.key)) for s in GUARDIAN_FIELDS}
        super().__init__(data, initial=dict(self.current))
        for spec in GUARDIAN_FIELDS:
            self.fields[spec.key] = spec_field(spec)
        _mask_inputs(self, self.current)

    def raw(self) -> dict[str, str]:
        raw = {s.key: str(self.data.get(self.add_prefix(s.key), "")) for s in GUARDIAN_FIELDS}
        for key in MASKED_ON_FORMS:  # left empty: the stored number stays (it never went to the browser)
            if key in raw and not raw[key].strip():
                raw[key] = self.current.get(key, "")
        return raw


class ClassMoveForm(SpecForm):
    """调班 of the students selected on the list (their ids travel as repeated ``ids`` values)."""

    class_name = forms.CharField(
        label=_("调入班级"), required=False, max_length=30, widget=forms.TextInput(attrs={"maxlength": 30})
    )
