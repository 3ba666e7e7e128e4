"""The page's window: the period of refusals, late decisions and late changes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from .queries import Window


class WindowForm(forms.Form):
    start = forms.DateField(label=_("统计起始日期"), required=False)
    end = forms.DateField(label=_("统计截止日期"), required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("start"), data.get("end")
        if start and end and start > end:
            self.add_error("end", _("统计截止日期不能早于起始日期"))
        return data

    def window(self, now: datetime | None = None) -> Window:
        """The window the valid form names, defaults filling what it leaves out."""
        base = Window.default(now)
        data: dict[str, Any] = getattr(self, "cleaned_data", None) or {}  # unbound: the defaults
        return Window(
            base.now,
            data.get("start") or base.start,
            data.get("end") or base.end,
        )
