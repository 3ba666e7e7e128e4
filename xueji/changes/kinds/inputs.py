"""The base of every kind's form and its input helpers (each kind module declares its own form).

Like the student forms, a kind's form only collects input: every rule lives in the kind's ``prepare`` and the
engine (:mod:`xueji.changes.services`), whose ``FieldError.field`` / ``ApplicationError.fields`` keys are the
input names, so a refusal lands next to the input it names and everything else at the top of the form.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django import forms
from django.utils.translation import gettext_lazy as _

from xueji.core.dates import DateTextInput
from xueji.students.enums import Nationality, grade_range
from xueji.students.forms import GRADE_LABELS, SpecForm

CHOOSE = ("", _("请选择"))


def text_input(
    label: Any, *, required: bool = False, help_text: Any = "", max_length: int = 100, **attrs: Any
):
    field = forms.CharField(
        label=label,
        required=False,
        help_text=help_text,
        strip=False,
        widget=forms.TextInput(attrs={"maxlength": max_length, **attrs}),
    )
    field.xj_required = required  # type: ignore[attr-defined]
    return field


def area_input(label: Any, *, required: bool = False, help_text: Any = "", max_length: int = 200):
    field = forms.CharField(
        label=label,
        required=False,
        help_text=help_text,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 2, "maxlength": max_length}),
    )
    field.xj_required = required  # type: ignore[attr-defined]
    field.xj_wide = True  # type: ignore[attr-defined]
    return field


def date_input(label: Any, *, required: bool = True, help_text: Any = ""):
    field = forms.CharField(label=label, required=False, help_text=help_text, widget=DateTextInput())
    field.xj_required = required  # type: ignore[attr-defined]
    return field


def select_input(label: Any, choices: list[tuple[Any, Any]], *, required: bool = True, help_text: Any = ""):
    field = forms.CharField(
        label=label,
        required=False,
        help_text=help_text,
        widget=forms.Select(choices=[CHOOSE, *choices] if required else choices),
    )
    field.xj_required = required  # type: ignore[attr-defined]
    return field


def grade_choices(stage: str | None = None) -> list[tuple[str, Any]]:
    grades = grade_range(stage) if stage else range(1, 13)
    return [(str(g), GRADE_LABELS[g]) for g in grades]


YES_NO = [("0", _("否")), ("1", _("是"))]
DESTINATIONS = [(c.value, c.label) for c in Nationality if c != Nationality.CHN]


class KindForm(SpecForm):
    """The facts of one kind. ``facts()`` returns what was typed (blanks dropped) for ``change_submit``."""

    kind: ClassVar[str]
    article: ClassVar[Any] = ""
    intro: ClassVar[Any] = ""
    # Input names that are not facts (e.g. ``reason`` goes to the request's own column too).
    reason_field: ClassVar[str] = ""

    def __init__(self, data: Any = None, *, enrollment: Any = None, school: Any = None, **kw: Any) -> None:
        super().__init__(data, initial=kw.pop("initial", None))
        self.enrollment = enrollment
        self.school = school
        self.setup(**kw)

    def setup(self, **kw: Any) -> None:
        """Per-kind adjustments (choices that depend on the record's stage or the school)."""

    def facts(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in self.fields:
            value = str(self.data.get(self.add_prefix(name), "")) if self.is_bound else ""
            if value.strip():
                out[name] = value.strip()
        return out

    def request_reason(self) -> str:
        """The request's own ``reason`` column (a code, e.g. 休学原因), where the kind has one."""
        return self.facts().get(self.reason_field, "")[:40] if self.reason_field else ""
