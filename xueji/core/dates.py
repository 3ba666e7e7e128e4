"""Dates as every page writes and reads them: YYYY-MM-DD (and YYYY-MM for a month), whatever the browser's
language or locale (issue 8 item 12).

A browser's own date control shows the date in the format of its locale (05/20/2019 in an English browser,
2019/5/20 in a Chinese one) and its month control does not exist in older browsers (a bare text box that
accepts anything). So dates are plain text inputs with a placeholder and a pattern, and the server reads
what was typed: :class:`DateTextInput`, :class:`MonthTextInput` and :func:`parse_day`. Shown dates use the
``Y-m-d`` formats of ``config/formats``.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from typing import Any

from django import forms

#: What the browser checks before sending (the server checks again): 2019-05-20, 2019-5-20, 2019/05/20.
#: (``/`` and ``-`` escaped: browsers compile ``pattern`` with the ``v`` flag, which refuses them bare in a class.)
DAY_PATTERN = r"\d{4}[\-\/.]\d{1,2}[\-\/.]\d{1,2}|\d{8}"
MONTH_PATTERN = r"\d{4}-?\d{2}"
DAY_PLACEHOLDER = "YYYY-MM-DD"
MONTH_PLACEHOLDER = "YYYY-MM"

_DAY = re.compile(r"^(\d{4})[\-/.](\d{1,2})[\-/.](\d{1,2})$|^(\d{4})(\d{2})(\d{2})$")


def parse_day(raw: Any) -> date | None:
    """The date typed in a date box: 2019-05-20, 2019-5-20, 2019/05/20, 2019.5.20 or 20190520 (full-width
    digits and spaces tolerated); ``None`` for anything else, an empty box or an impossible date (2019-02-30)."""
    if isinstance(raw, date):
        return raw
    text = unicodedata.normalize("NFKC", str(raw or "")).strip()
    match = _DAY.match(text)
    if match is None:
        return None
    year, month, day = (match[1], match[2], match[3]) if match[1] else (match[4], match[5], match[6])
    try:
        return date(int(year), int(month), int(day))
    except ValueError:
        return None


def day_attrs(**attrs: Any) -> dict[str, Any]:
    """The attributes of a date text box (for a hand-written ``<input>`` or a widget)."""
    return {
        "type": "text",
        "inputmode": "numeric",
        "autocomplete": "off",
        "placeholder": DAY_PLACEHOLDER,
        "pattern": DAY_PATTERN,
        "maxlength": 10,
        **attrs,
    }


def month_attrs(**attrs: Any) -> dict[str, Any]:
    """The attributes of a month text box (YYYY-MM)."""
    return {
        "type": "text",
        "inputmode": "numeric",
        "autocomplete": "off",
        "placeholder": MONTH_PLACEHOLDER,
        "pattern": MONTH_PATTERN,
        "maxlength": 7,
        **attrs,
    }


class DateTextInput(forms.DateInput):
    """A date typed as YYYY-MM-DD in a text box (never the browser's locale-formatted date picker)."""

    input_type = "text"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs=day_attrs(**(attrs or {})), format="%Y-%m-%d")


class MonthTextInput(forms.TextInput):
    """A month typed as YYYY-MM in a text box (older browsers have no month control). A stored
    ``YYYYMM`` value is shown as ``YYYY-MM``."""

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs=month_attrs(**(attrs or {})))

    def format_value(self, value: Any) -> str | None:
        text = str(value or "")
        if re.fullmatch(r"\d{6}", text):
            return f"{text[:4]}-{text[4:]}"
        return super().format_value(value)
