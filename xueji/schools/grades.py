"""How a grade (年级, stored 1–12) is named on every page, form, export preview and message (issue 8 item 11).

The one table of grade names: the student pages, the school page's class table, the change requests, the
dashboard and the imports use :func:`grade_label` (or :data:`GRADE_LABELS` for a select's choices), so a
grade reads the same everywhere. It lives here, beside the stages (``schools.enums.Stage``), because the
schools app stands below students and changes and names grades too.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _

GRADE_LABELS = {
    1: _("一年级"),
    2: _("二年级"),
    3: _("三年级"),
    4: _("四年级"),
    5: _("五年级"),
    6: _("六年级"),
    7: _("初一（七年级）"),
    8: _("初二（八年级）"),
    9: _("初三（九年级）"),
    10: _("高一"),
    11: _("高二"),
    12: _("高三"),
}


def grade_label(grade: Any) -> str:
    """The name of ``grade`` (an int or a digit string, 1–12): 一年级 … 初一（七年级）… 高三. Any other value is
    shown as it is (an empty value as ``""``)."""
    if grade is None or grade == "":
        return ""
    try:
        number = int(grade)
    except (TypeError, ValueError):
        return str(grade)
    label = GRADE_LABELS.get(number)
    return str(label) if label is not None else str(grade)
